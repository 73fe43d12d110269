"""A concrete, kernel-like implementation of Zircon's VMO syscalls (docs/architecture.md).

It imports nothing of ours but `spec.abi` (numbers): agreement with the spec then means
something. Entry point: `model.kernel.Kernel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.kernel import Kernel
    from model.variants import VARIANTS

__all__ = ["VARIANTS", "Kernel"]


def __getattr__(name: str) -> Any:
    # Imported when first asked for: `vmospec check` needs only model.ranges, and the
    # kernel's modules cost every check process a twentieth of a second to load.
    if name == "Kernel":
        from model.kernel import Kernel

        return Kernel
    if name == "VARIANTS":
        from model.variants import VARIANTS

        return VARIANTS
    raise AttributeError(f"module 'model' has no attribute {name!r}")
