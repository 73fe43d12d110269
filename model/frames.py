"""Physical page frames: a bounded pool and the shared zero page.

A frame is one page of memory. A frame whose page is uniformly one byte (a freshly
committed zero page, a page the pager filled with its fixed content, a page written with
a single run) keeps just that byte in `fill` and has `data is None`; otherwise `data`
holds the page's bytes as runs. Runs, not a bytearray, so a frame costs what was written
into it, never the page size (a trace may name pages of 2^32 bytes and more).
Either way it is a real frame and is counted against the pool. The shared zero page is
the one frame that is never counted: every page that reads as zero and was never written
is backed by it, so reading a huge untouched range costs no frames.
"""

from __future__ import annotations

from model.ranges import Runs

__all__ = ["ZERO_PAGE", "Frame", "FramePool", "OutOfFrames"]


class OutOfFrames(Exception):
    """The pool has no free frame (callers check the need up front; this is a guard)."""


class Frame:
    """One page of memory, owned by exactly one page list (no sharing between lists:
    copy-on-write shares frames by putting them in a hidden parent node)."""

    __slots__ = ("clean", "data", "fill", "live")

    def __init__(self, fill: int = 0, *, clean: bool = False) -> None:
        self.data: Runs | None = None
        self.fill = fill
        # A pager-supplied page never written or zeroed since: reclaim may evict it.
        self.clean = clean
        self.live = True

    def uniform(self) -> int | None:
        """The byte every position holds, when the page is uniform and not materialized."""
        return self.fill if self.data is None else None

    def runs(self, page_size: int) -> Runs:
        """The page's bytes as runs."""
        return self.data if self.data is not None else ((self.fill, page_size),)

    def copy(self) -> Frame:
        f = Frame(self.fill)
        f.data = self.data  # runs are immutable: shared until one side is written
        return f


# The shared zero page: read-only, never in the pool's count, never freed.
ZERO_PAGE = Frame(0)


class FramePool:
    """A fixed number of physical frames. `alloc` takes one, `free` returns it."""

    def __init__(self, frames: int) -> None:
        if frames < 0:
            raise ValueError("a pool cannot have a negative number of frames")
        self.capacity = frames
        self.used = 0

    @property
    def available(self) -> int:
        return self.capacity - self.used

    def alloc(self, fill: int = 0, *, clean: bool = False) -> Frame:
        if self.used >= self.capacity:
            raise OutOfFrames
        self.used += 1
        return Frame(fill, clean=clean)

    def alloc_copy(self, source: Frame) -> Frame:
        """A new frame holding the same bytes as `source` (a copy-on-write fork)."""
        if self.used >= self.capacity:
            raise OutOfFrames
        self.used += 1
        return source.copy()

    def free(self, frame: Frame) -> None:
        if frame is ZERO_PAGE:
            return
        if not frame.live:
            raise AssertionError("frame freed twice")
        frame.live = False
        frame.data = None
        self.used -= 1
