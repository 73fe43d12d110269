"""Kernel objects with reference counts, and the handle table that names them.

An object is held by its handles and by the objects built on it (a slice or reference
holds its parent VMO, a page node holds its parent node). When the last holder lets go
the object's `on_zero` runs: it frees what it owns and releases what it holds, so
destruction cascades the way it does in the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INVALID_HANDLE_NAME", "Handle", "HandleTable", "KernelObject"]

INVALID_HANDLE_NAME = "$invalid"


class KernelObject:
    """Something a handle or another object can hold."""

    def __init__(self) -> None:
        self.refs = 0
        self.alive = True

    def add_ref(self) -> None:
        if not self.alive:
            raise AssertionError(f"{type(self).__name__} revived after death")
        self.refs += 1

    def release(self) -> None:
        if self.refs <= 0:
            raise AssertionError(f"{type(self).__name__} released more than held")
        self.refs -= 1
        if self.refs == 0:
            self.alive = False
            self.on_zero()

    def on_zero(self) -> None:
        """Runs once, when nothing holds the object any more."""


@dataclass(slots=True)
class Handle:
    obj: KernelObject
    rights: int


class HandleTable:
    """Handle names (chosen by the trace) to handles. `$invalid` is never bound."""

    def __init__(self) -> None:
        self._handles: dict[str, Handle] = {}

    def get(self, name: str) -> Handle | None:
        return self._handles.get(name)

    def bind(self, name: str, obj: KernelObject, rights: int) -> Handle:
        if name == INVALID_HANDLE_NAME:
            raise ValueError(f"{INVALID_HANDLE_NAME!r} cannot be bound")
        old = self._handles.get(name)
        obj.add_ref()
        self._handles[name] = Handle(obj, rights)
        if old is not None:  # a name reused by a hand-made trace: the old handle goes
            old.obj.release()
        return self._handles[name]

    def close(self, name: str) -> bool:
        """Removes the handle; False when the name is not bound."""
        h = self._handles.pop(name, None)
        if h is None:
            return False
        h.obj.release()
        return True

    def __len__(self) -> int:
        return len(self._handles)

    def names(self) -> list[str]:
        return list(self._handles)

    def items(self) -> list[tuple[str, Handle]]:
        return list(self._handles.items())
