"""Readings: the places where the reference page is silent and a behaviour must still be
chosen, each with its alternatives.

A kernel profile pins every reading to the alternative its code takes (`kernel`); the
`doc` profile takes none of them quietly: it allows every alternative (`cx.reading`
chooses among them), so `vmospec hunt` sees each silence as two outcomes of one call
that a later call tells apart (proofs/effects.py). Each reading names the page
sentences around the silence (spec/sources.py ids) and the kernel facts of its
`kernel` alternative.
"""

from __future__ import annotations

from dataclasses import dataclass

ANY = "any"  # a profile's value for a reading: every alternative is allowed


@dataclass(frozen=True, slots=True)
class Reading:
    name: str
    question: str  # what the page leaves open, as a question
    alternatives: tuple[str, ...]
    kernel: str  # the alternative Zircon's code takes (every era)
    page: tuple[str, ...]  # the page sentences around the silence
    facts: tuple[str, ...]  # the kernel facts behind `kernel`


READINGS: tuple[Reading, ...] = (
    Reading("lock-nesting",
            "Do locks nest: does a second LOCK need a second UNLOCK before the VMO is "
            "unlocked?",
            ("counted", "single"), "counted",
            ("page.errors.unlock_not_locked", "page.lock.prevents_discard"),
            ("lock.effect",)),
    Reading("lock-failed_leaves",
            "What does a LOCK that fails on its buffer leave behind: nothing, or a VMO "
            "that was locked and unlocked again (so now discardable)?",
            ("nothing", "unlocked"), "unlocked",
            ("page.errors.invalid_buffer", "page.lock.buffer"),
            ("lock.bad_buffer",)),
    Reading("lock-discarded_range",
            "Which range does LOCK report as discarded: the whole VMO, or only the part "
            "within the locked range (\"the maximal range within the locked range\")?",
            ("whole_vmo", "locked_range"), "whole_vmo",
            ("page.lock.discarded_range", "page.lock.whole_vmo"),
            ("lock.effect",)),
    Reading("discard-unlocked_at_creation",
            "Is a discardable VMO that was never locked already unlocked, so that the "
            "kernel may discard it?",
            ("kept", "discardable"), "kept",
            ("page.lock.prevents_discard", "page.errors.unlock_not_locked"),
            ("reclaim.not_eligible",)),
    Reading("zero-partial_no_memory",
            "When ZERO fails with NO_MEMORY part-way, are the pages it already zeroed kept "
            "zero, or is the whole range left as it was?",
            ("nothing", "prefix"), "prefix",
            ("page.errors.no_memory", "page.zero.resets"),
            ("zero.pieces.2025",)),
    Reading("commit-partial_no_memory",
            "When COMMIT fails with NO_MEMORY part-way, do the pages it already committed "
            "stay committed?",
            ("nothing", "prefix"), "prefix",
            ("page.errors.no_memory",),
            ("commit.effect",)),
    Reading("zero-decommits",
            "Does ZERO free the committed pages of the whole pages it zeroes (\"de-duping "
            "to shared zero pages\"), or leave them committed?",
            ("frees", "keeps"), "frees",
            ("page.zero.dedupe", "page.zero.resets"),
            ("zero.effect",)),
    Reading("commit-rounding",
            "Which pages does an unaligned COMMIT commit: every page the range touches, or "
            "size bytes worth of pages from the page holding offset?",
            ("touched", "size_worth"), "touched",
            ("page.description.range",),
            ("commit.effect",)),
    Reading("unlock-not_locked",
            "Is UNLOCK of a VMO that was locked once and unlocked since \"not previously "
            "locked\" (BAD_STATE), or does it succeed?",
            ("now", "ever"), "now",
            ("page.errors.unlock_not_locked",),
            ("unlock.effect",)),
    Reading("dont_need-clears_always_need",
            "Does DONT_NEED undo an earlier ALWAYS_NEED on the same pages, so that reclaim "
            "may take them?",
            ("keeps", "clears"), "keeps",
            ("page.always_need.trivially_succeeds", "page.dont_need.trivially_succeeds"),
            ("dont_need.effect", "reclaim.evicts")),
    Reading("dont_need-frees",
            "Does DONT_NEED free the committed pages of the range at once, or only make "
            "them the first that reclaim takes?",
            ("keeps", "frees"), "keeps",
            ("page.dont_need.commits_nothing",),
            ("dont_need.effect",)),
    Reading("always_need-commits",
            "ALWAYS_NEED \"may commit pages\": does it commit the range of a pager-backed "
            "VMO, or only mark it?",
            ("commits", "marks_only"), "commits",
            ("page.always_need.trivially_succeeds",),
            ("always_need.effect",)),
    Reading("info-locked_pages",
            "\"Unlocked pages that have not been discarded yet will be counted as "
            "committed\": are a locked VMO's pages counted as committed too?",
            ("counted", "not_counted"), "counted",
            ("page.unlock.counted", "page.lock.commits_nothing"),
            ("info.committed_bytes",)),
    Reading("always_need-pager_errors",
            "When the pager fails a page ALWAYS_NEED asks for, does the hint report the "
            "error (the page lists the pager's errors for COMMIT only), or succeed?",
            ("ignored", "reports"), "ignored",
            ("page.errors.pager_io", "page.always_need.trivially_succeeds"),
            ("always_need.effect",)),
    Reading("zero-commits",
            "Does ZERO give the pages of its range that held none a page of their own, or "
            "leave them reading zero without one?",
            ("none", "commits"), "none",
            ("page.zero.resets", "page.zero.dedupe"),
            ("zero.effect",)),
)

READING_BY_NAME = {r.name: r for r in READINGS}
