"""The minimal witness of each known spec/model disagreement (refinement_tests/known.py).

`python -m refinement_tests.known_witnesses` runs each witness on the model and writes
it, with the model's observed outcomes, to refinement_tests/traces/disagreements/NAME.jsonl.
`vmospec check` rejects each of those files at its last step for as long as the
disagreement stands; the tests check that, so a fix on either side shows up. The
witnesses of the disagreements resolved since are regression examples now
(refinement_tests/traces/examples/regression_*.jsonl).
"""

from __future__ import annotations

import sys
from pathlib import Path

from refinement_tests.backends import ModelBackend
from refinement_tests.fuzz import lockstep, write_failing_trace
from refinement_tests.generate import GenStep, GenTrace
from refinement_tests.known import KNOWN
from spec import abi as A
from spec.profiles import PROFILES

__all__ = ["DIRECTORY", "WITNESSES", "witness_trace"]

DIRECTORY = Path(__file__).parent / "traces" / "disagreements"
P = 4096
U = A.U64_MAX


WITNESSES: dict[str, list[GenStep]] = {}
assert set(WITNESSES) == set(KNOWN)


def witness_trace(name: str) -> GenTrace:
    return GenTrace(P, {"debugging_syscalls": False, "page_loaning": False},
                    tuple(WITNESSES[name]))


def main() -> int:
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    profile = PROFILES["zircon-2025"]
    status = 0
    for name in WITNESSES:
        trace = witness_trace(name)
        r = lockstep(trace, ModelBackend(), profile, waive=frozenset())
        if r.divergence is None or r.divergence.step != len(trace.steps):
            print(f"{name}: no longer diverges at its last step: {r.divergence}")
            status = 1
            continue
        write_failing_trace(DIRECTORY / f"{name}.jsonl", trace, r, {
            "origin": "witness of a known spec/model disagreement (refinement_tests/known.py)",
            "known": name, "backend": "model", "profile": profile.name})
        print(f"{name}: {r.divergence.summary()}")
    return status


if __name__ == "__main__":
    sys.exit(main())
