"""The lockstep property as a plain hypothesis test: every generated trace runs on the
model (or another backend) and the spec in lockstep, and the spec allows every
outcome. In the test suite it runs a few dozen traces; HypoFuzz runs it for as long
as asked, with many workers sharing hypothesis's example database
(notes/fuzz-coverage.md, "Campaigns that outgrow a machine").

Environment: VMOSPEC_FUZZ_BACKEND (default `model`), VMOSPEC_FUZZ_BROKEN (a model
variant, to see a campaign catch something), VMOSPEC_FUZZ_PROFILE (default
zircon-2025), VMOSPEC_HYPOTHESIS_DB (the example database directory the workers
share; default hypothesis's own, .hypothesis/examples).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from refinement_tests.backends import BackendOptions, make_backend
from refinement_tests.fuzz import lockstep
from refinement_tests.generate import choice_bytes, decode
from spec.profiles import PROFILES

_DB = os.environ.get("VMOSPEC_HYPOTHESIS_DB")
_BROKEN = frozenset(filter(None, os.environ.get("VMOSPEC_FUZZ_BROKEN", "").split(",")))
_BACKEND = make_backend(os.environ.get("VMOSPEC_FUZZ_BACKEND", "model"),
                        BackendOptions(broken=_BROKEN))
_PROFILE = PROFILES[os.environ.get("VMOSPEC_FUZZ_PROFILE", "zircon-2025")]


if _DB:  # the default database of the whole run, as HypoFuzz wants it
    settings.register_profile("vmospec-shared-db", database=DirectoryBasedExampleDatabase(_DB))
    settings.load_profile("vmospec-shared-db")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(buf=choice_bytes())
def test_every_outcome_is_one_the_spec_allows(buf: bytes) -> None:
    trace = decode(buf)
    result = lockstep(trace, _BACKEND, _PROFILE)
    d = result.divergence
    assert d is None, f"{_BACKEND.name}: {d.summary()}; steps {trace.steps[:d.step]}"
