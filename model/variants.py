"""Deliberately broken behaviours of the model, for checking that the checks have teeth.

`Kernel(..., broken=frozenset({"name"}))` switches a variant on; each is a small
`if "name" in self.broken` branch at the place in the model where the real mistake would
be made. A trace that should catch the mistake then diverges.
"""

from __future__ import annotations

__all__ = ["VARIANTS"]

VARIANTS: dict[str, str] = {
    "commit_round_off_by_one": "COMMIT rounds the end of the range down instead of up, "
    "missing the last partial page",
    "commit_no_rights": "COMMIT does not check for ZX_RIGHT_WRITE",
    "decommit_keeps_pages": "DECOMMIT returns OK but forgets to free (and so zero) the pages",
    "decommit_unaligned_ok": "DECOMMIT skips its page-alignment check and rounds out",
    "decommit_with_snapshot_child": "DECOMMIT is allowed on a VMO with a live snapshot child",
    "zero_misses_last_byte": "ZERO leaves the last byte of the range unzeroed",
    "zero_upfront_range_check": "ZERO checks the whole range against S up front (2023 "
    "behaviour), so a partly in-bounds range zeroes nothing",
    "lock_range_unchecked": "LOCK/TRY_LOCK/UNLOCK accept any range, not just (0, S)",
    "lock_buffer_keeps_lock": "a LOCK that fails its buffer check keeps the lock it took",
    "lock_does_not_nest": "LOCK/TRY_LOCK on a locked VMO do not raise the lock count",
    "try_lock_ignores_discard": "TRY_LOCK succeeds on a discarded VMO",
    "unlock_at_zero_ok": "UNLOCK with a lock count of 0 returns OK",
    "reclaim_locked": "reclaim discards a discardable VMO even while it is locked",
    "discard_keeps_pages": "a discard marks the VMO discarded but keeps its pages",
    "read_discarded_allowed": "zx_vmo_read of a discarded, not re-locked VMO succeeds",
    "reclaim_evicts_always_need": "reclaim evicts pager pages marked ALWAYS_NEED",
    "cache_size_zero_ok": "a cache op with size 0 is not rejected with INVALID_ARGS",
    "cache_invalidate_ungated": "CACHE_INVALIDATE runs without the debugging-syscalls gate",
    "prefetch_no_read_check": "PREFETCH does not check for ZX_RIGHT_READ",
    "pager_failure_ignored": "pager_fail is ignored: failed pages are supplied anyway",
    "handle_close_noop": "handle_close returns OK but leaves the handle open",
    "duplicate_rights_escalate": "handle_duplicate accepts rights the source lacks",
    "cow_lost": "copy-on-write is lost: writes land in pages shared with a snapshot, so a "
    "snapshot child sees its parent's later writes",
    "zero_slice_forgets_window": "ZERO of whole pages through a slice zeroes the pages at "
    "the slice's offsets in the parent's own numbering, forgetting where the slice starts "
    "(wrong only for a slice at a page offset >= 1)",
    "set_size_tail_kept": "an unaligned zx_vmo_set_size that does not grow the VMO leaves "
    "the bytes past the new size in its last page (only a growing resize zeroes them)",
    "commit_maps_zero_page": "COMMIT leaves pages that read zero on the shared zero page "
    "instead of giving them frames, so committed_bytes misses them (commit.effect: a commit is "
    "never deduped to the zero page)",
    "contiguous_decommits": "DECOMMIT of a contiguous VMO frees its pages without page "
    "loaning (decommit.contiguous)",
    "uncached_rw_allowed": "zx_vmo_read and zx_vmo_write of an uncached VMO go through "
    "instead of failing with BAD_STATE (rw.uncached)",
}
