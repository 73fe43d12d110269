"""Backends: one small protocol for "run this step, tell me what you observed".

A backend is anything that can run the calls and events of a vmo-trace and report the
outcome fields it observed, decoded the way the checker compares them (`status` as an
int for calls; `data` as normalized byte runs; `size`, `committed_bytes`,
`populated_bytes`, `evicted_bytes` as ints; `flags` as an int mask; `lock_state` as a
dict; `discarded` as a bool). A field the backend cannot observe is left out, and a
left-out field is not checked.

Three backends ship here: `SpecBackend` (the executable spec, one deterministic path),
`ModelBackend` (the kernel-like implementation in model/) and `device` (the trace runner
of refinement_tests/device/, on a Fuchsia system or its host build). Another one plugs in
without touching the harness: implement `Backend` and either call `register_backend` or
declare an entry point in the group `vmospec.backends` whose object is a
`BackendFactory`.

A backend whose round trips are expensive (a device over a slow link) also offers
`run_batch` (`BatchBackend`): whole traces at once, one round trip per batch; `vmospec
run` and `vmospec fuzz` use it when it is there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

from refinement_tests.trace import Header, data_from_runs
from spec.explore import ANY_ERROR, Cx, explore
from spec.outcome import Between, Outcome
from spec.profiles import PROFILES, Profile
from spec.state import EMPTY_STATE, State
from spec.transitions import transition
from spec.values import Concrete

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "BackendFactory",
    "BackendOptions",
    "BatchBackend",
    "ModelBackend",
    "SpecBackend",
    "backend_names",
    "make_backend",
    "register_backend",
]

ENTRY_POINT_GROUP = "vmospec.backends"


class BackendError(Exception):
    """A backend could not run a step (a lost device, an outcome it cannot report)."""


@runtime_checkable
class Backend(Protocol):
    """What the harness needs of an implementation under test."""

    @property
    def name(self) -> str:
        """Shown in reports and written to an observed trace's header as "backend"."""
        ...

    def start(self, header: Header) -> None:
        """Begin a fresh session for a trace with this header (page size, config);
        everything from an earlier session is gone."""
        ...

    def step(self, step_name: str, kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Run one step ("call" or "event") with the decoded arguments of a trace step;
        return the outcome fields observed, decoded."""
        ...


@runtime_checkable
class BatchBackend(Backend, Protocol):
    """A backend that runs whole traces, many per round trip. `traces` are
    refinement_tests.device.backend.BatchTrace values (a header and its steps); the result
    holds, per trace and step, the observed fields as `step` returns them, or
    {"not_run": why} for a step the implementation could not run. A failure part-way
    raises a BackendError that carries what did come back (RunnerFailed)."""

    def run_batch(self, traces: Sequence[Any]) -> list[list[dict[str, Any]]]:
        ...


def _normalize(out: Mapping[str, Any]) -> dict[str, Any]:
    """Observed fields in the checker's decoded form (runs merged, dicts copied)."""
    res: dict[str, Any] = {}
    for key, val in out.items():
        if key == "data":
            res[key] = data_from_runs(val)
        elif key == "lock_state":
            res[key] = {k: int(x) for k, x in val.items()}
        elif key == "discarded":
            res[key] = bool(val)
        else:
            res[key] = val
    return res


# --- the spec --------------------------------------------------------------------------------


class SpecBackend:
    """The executable spec as an implementation: where the profile allows several
    outcomes, the first path `explore` returns whose outcome is concrete is taken
    (deterministically). Outputs the profile pins only to bounds (committed bytes of a
    copy-on-write VMO) are left out: the spec does not say which value it would see."""

    def __init__(self, profile: Profile | str = "zircon-2025") -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self._page = 4096
        self._config: dict[str, bool] = {}
        self._v = Concrete(self._page)
        self.state: State = EMPTY_STATE

    @property
    def name(self) -> str:
        return f"spec:{self.profile.name}"

    def start(self, header: Header) -> None:
        self._page = header.page_size
        self._config = dict(header.config)
        self._v = Concrete(self._page)
        self.state = EMPTY_STATE

    def step(self, step_name: str, kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
        st = self.state

        def run(cx: Cx) -> Outcome:
            return transition(cx, st, step_name, args)

        paths = explore(run, self._v, self.profile, self._page, self._config)
        concrete = [p for p in paths if p.result.status != ANY_ERROR]
        if not concrete:
            raise BackendError(
                f"{step_name}: the spec allows only 'any error' here; no status to report"
                if paths else f"{step_name}: the spec allows no outcome here")
        o = concrete[0].result
        self.state = o.state
        out = {k: x for k, x in o.out.items() if x is not None and not isinstance(x, Between)}
        observed = _normalize(out)
        if kind == "call":
            observed = {"status": o.status, **observed}
        return observed


# --- the model -------------------------------------------------------------------------------


# How ModelBackend checks the model's representation invariant (model/invariants.py)
# after every step: "cheap" (frames counted, not visited: the cost is per object),
# "deep" (every frame visited too; the tests set it) or "off".
MODEL_CHECK = "cheap"


class ModelBackend:
    """The kernel-like implementation of model/, with `frames` physical frames and the
    named broken variants (model/variants.py) switched on. After every step the model's
    representation invariant is checked as `check` says (default MODEL_CHECK); a broken
    one is a BackendError naming the clause."""

    def __init__(self, frames: int = 1 << 20, broken: frozenset[str] | set[str] = frozenset(),
                 check: str | None = None) -> None:
        from model.variants import VARIANTS

        unknown = set(broken) - set(VARIANTS)
        if unknown:
            raise BackendError(f"unknown broken variant(s): {', '.join(sorted(unknown))}")
        if frames < 0:
            raise BackendError("frames must be >= 0")
        self.frames = frames
        self.broken = frozenset(broken)
        self.check = check or MODEL_CHECK
        if self.check not in ("off", "cheap", "deep"):
            raise BackendError(f"unknown model check {self.check!r}")
        self._kernel: Any = None

    @property
    def name(self) -> str:
        if self.broken:
            return "model+broken:" + ",".join(sorted(self.broken))
        return "model"

    def start(self, header: Header) -> None:
        from model.kernel import Kernel

        self._kernel = Kernel(header.page_size, frames=self.frames, config=header.config,
                              broken=self.broken)

    def step(self, step_name: str, kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if self._kernel is None:
            raise BackendError("ModelBackend.step before start")
        out = _normalize(self._kernel.step(step_name, args))
        if self.check != "off":
            from model.invariants import Broken, check

            try:
                check(self._kernel, deep=self.check == "deep")
            except Broken as e:
                raise BackendError(f"the model broke its invariant after {step_name}: {e}") \
                    from None
        return out


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendOptions:
    """What the command line knows when it makes a backend; a factory takes what it needs."""

    profile: Profile = field(default_factory=lambda: PROFILES["zircon-2025"])
    frames: int = 1 << 20
    broken: frozenset[str] = frozenset()
    runner: str | None = None  # the device backend's runner command (None: the host build)
    runner_timeout: float = 300.0  # seconds one batch may take before the device counts as lost
    memory: int | None = None  # bytes all frames of the host runner may hold (None: 1 GiB)


def _device(o: BackendOptions) -> Backend:
    from refinement_tests.device.backend import DeviceBackend

    return DeviceBackend(o.runner, timeout=o.runner_timeout, memory=o.memory)


BackendFactory = Callable[[BackendOptions], Backend]

BACKENDS: dict[str, BackendFactory] = {
    "spec": lambda o: SpecBackend(o.profile),
    "model": lambda o: ModelBackend(frames=o.frames, broken=o.broken),
    "device": _device,
}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make a backend available by name (to `vmospec run --backend NAME`, `fuzz`)."""
    BACKENDS[name] = factory


def _entry_points() -> dict[str, metadata.EntryPoint]:
    try:
        return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    except Exception:  # a broken installation must not break the built-in backends
        return {}


def backend_names() -> list[str]:
    return sorted(set(BACKENDS) | set(_entry_points()))


def make_backend(name: str, options: BackendOptions | None = None) -> Backend:
    """The backend registered under `name`; BackendError if there is none."""
    options = options or BackendOptions()
    factory = BACKENDS.get(name)
    if factory is None:
        ep = _entry_points().get(name)
        if ep is None:
            raise BackendError(
                f"unknown backend {name!r} (known: {', '.join(backend_names())})")
        try:
            factory = ep.load()
        except Exception as e:
            raise BackendError(f"backend {name!r} failed to load: {e}") from None
    backend = factory(options)
    if not isinstance(backend, Backend):
        raise BackendError(f"backend {name!r} does not implement the Backend protocol")
    return backend
