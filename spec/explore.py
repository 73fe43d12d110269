"""Running one transition: the context an op sees, guard ladders, and path exploration.

An op is ordinary Python. Where the semantics branch on a value it asks `cx.when(flag)`;
where the profile allows several outcomes it asks `cx.choose(options)`. On concrete
values `when` is the flag itself and only `choose` forks; on z3 terms `when` forks too
and records the path condition. `explore` re-runs the op once per combination of
choices, so the caller gets every allowed outcome (concrete) or every path with its
condition (symbolic). Paths an op rules out with `cx.assume(False)` are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from spec.outcome import ANY_ERROR
from spec.readings import ANY, READING_BY_NAME
from spec.values import Flag, Values

if TYPE_CHECKING:  # spec.profiles builds on the op code, which builds on this module
    from spec.profiles import Profile

T = TypeVar("T")

__all__ = ["ANY_ERROR", "Cx", "Infeasible", "Maybe", "Path", "Rung", "explore"]


class Infeasible(Exception):
    """This path contradicts an assumption; it has no outcome."""


class Maybe:
    """Marks a rung whose error the page allows but does not require."""

    __slots__ = ("status",)

    def __init__(self, status: int) -> None:
        self.status = status


# A rung of a guard ladder: (status or Maybe(status), condition thunk, source sentence).
Rung = tuple[int | Maybe, Callable[[], Flag], str]


class Cx:
    """What an op sees: the value backend, the profile, the page size, and choices."""

    __slots__ = ("_arity", "_pos", "_script", "config", "page", "path", "profile", "v", "why")

    def __init__(
        self, v: Values, profile: Profile, page: int, config: dict[str, bool], script: list[int]
    ) -> None:
        self.v = v
        self.profile = profile
        self.page = page
        self.config = config
        self._script = script
        self._arity: list[int] = []
        self._pos = 0
        self.path: list[Any] = []  # symbolic path condition
        self.why = ""  # the source of the rung or effect that decided the status

    def _pick(self, n: int) -> int:
        pos = self._pos
        self._pos += 1
        self._arity.append(n)
        if pos < len(self._script):
            return self._script[pos]
        self._script.append(0)
        return 0

    def when(self, c: Flag) -> bool:
        """Branch on a flag: on z3 terms both ways are explored."""
        if c is True or c is False:
            return c
        if not self.v.symbolic:
            return bool(c)
        import z3

        c = z3.simplify(c)
        if z3.is_true(c):
            return True
        if z3.is_false(c):
            return False
        if self._pick(2) == 0:
            self.path.append(c)
            return True
        self.path.append(z3.Not(c))
        return False

    def choose(self, options: Sequence[T]) -> T:
        """Nondeterminism the profile allows: every option is explored."""
        if len(options) == 1:
            return options[0]
        return options[self._pick(len(options))]

    def reading(self, name: str) -> str:
        """The profile's alternative for a reading of a silence of the page
        (spec/readings.py); where the profile allows every one, each is explored."""
        alt = self.profile.reading(name)
        return self.choose(READING_BY_NAME[name].alternatives) if alt == ANY else alt

    def assume(self, c: Flag) -> None:
        """Go on only where c holds; a path where it cannot hold has no outcome."""
        if isinstance(c, bool) or not self.v.symbolic:
            if not c:
                raise Infeasible
            return
        import z3

        c = z3.simplify(c)
        if z3.is_false(c):
            raise Infeasible
        if not z3.is_true(c):
            self.path.append(c)

    def ladder(self, *rungs: Rung) -> int | None:
        """The status of the first rung that holds (kernel profiles), or any rung that
        holds (the doc profile); None when no rung holds and the op goes on."""
        if self.profile.precedence == "first":
            return self._first_of(rungs)
        return self._any_rung(rungs)

    def first(self, *rungs: Rung) -> int | None:
        """The first rung that holds, in the given order. Calls the page does not cover
        use this directly: there every profile follows the kernel's order."""
        return self._first_of(rungs)

    def _first_of(self, rungs: tuple[Rung, ...]) -> int | None:
        for status, holds, why in rungs:
            c = holds()
            if c is False or not (c is True or self.when(c)):
                continue
            if isinstance(status, Maybe):
                if not self.choose((False, True)):
                    continue
                status = status.status
            self.why = why
            return status
        return None

    def _any_rung(self, rungs: Sequence[Rung]) -> int | None:
        v = self.v
        held = [(r, r[1]()) for r in rungs]
        if not v.symbolic:
            held = [(r, c) for r, c in held if c]
        # The op goes on only if no required rung holds.
        go_on = [c for r, c in held if not isinstance(r[0], Maybe)]
        options: list[tuple[Rung, Flag] | None] = [h for h in held if h[1] is not False]
        if not any(c is True for c in go_on):
            options.append(None)
        pick = self.choose(options)
        if pick is None:
            for c in go_on:
                self.assume(v.not_(c))
            return None
        rung, cond = pick
        self.assume(cond)
        self.why = rung[2]
        s = rung[0]
        return s.status if isinstance(s, Maybe) else s


class Path(NamedTuple, Generic[T]):
    """One way a transition can go: its result and (symbolic) the condition for it."""

    result: T
    condition: tuple[Any, ...]
    why: str


def explore(
    run: Callable[[Cx], T],
    v: Values,
    profile: Profile,
    page: int,
    config: dict[str, bool],
) -> list[Path[T]]:
    """Every outcome of `run` over all choices (and, on z3 terms, all branches)."""
    # Most steps of a trace make no choice: one run, nothing to enumerate.
    cx = Cx(v, profile, page, config, [])
    try:
        first = run(cx)
    except Infeasible:
        if not cx._arity:
            return []
    else:
        if not cx._arity:
            return [Path(first, tuple(cx.path) if cx.path else (), cx.why)]
    paths: list[Path[T]] = []
    pending: list[list[int]] = [[]]
    while pending:
        script = pending.pop()
        known = len(script)
        cx = Cx(v, profile, page, config, script)
        try:
            result = run(cx)
        except Infeasible:
            result = None
            feasible = False
        else:
            feasible = True
        taken = cx._script
        for pos in range(len(taken) - 1, known - 1, -1):
            for alt in range(cx._arity[pos] - 1, 0, -1):
                pending.append([*taken[:pos], alt])
        if feasible:
            paths.append(Path(result, tuple(cx.path), cx.why))  # type: ignore[arg-type]
    return paths


