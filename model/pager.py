"""The user pager, as the trace format fixes it.

A pager-backed VMO's root page node has a `PageSource`. When the kernel needs a page
that is absent it sends a page request to the source; the pager of a trace answers every
request at once with page n filled with the byte (n + 1) % 256 (counting from offset 0
of the pager VMO), unless a `pager_fail` step named that page: then the request fails
once with the given status and the failure is used up. Supplying pages ahead of need is
`pager_supply_pages`; the kernel side of it (filling absent slots) is in vmo.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.handles import KernelObject

__all__ = ["PageSource", "Pager", "PendingFailure", "page_content_byte"]


def page_content_byte(page: int) -> int:
    """The byte a pager fills page `page` of its VMO with (docs/trace-format.md)."""
    return (page + 1) % 256


@dataclass(slots=True)
class PendingFailure:
    first: int  # first page of the failed range
    end: int  # one past the last page
    status: int


@dataclass(eq=False)
class PageSource:
    """The link between a pager and one VMO it backs."""

    pager: Pager
    detached: bool = False
    failures: list[PendingFailure] = field(default_factory=list)
    ignore_failures: bool = False  # the broken variant "pager_failure_ignored"

    def add_failure(self, first: int, end: int, status: int) -> None:
        self.failures.append(PendingFailure(first, end, status))

    def take_failure(self, page: int) -> int | None:
        """The status a request for `page` fails with now, if a pending failure names it;
        the failure of the whole named range is used up by this one request."""
        if self.ignore_failures:
            return None
        for i, f in enumerate(self.failures):
            if f.first <= page < f.end:
                del self.failures[i]
                return f.status
        return None

    def drop_failures_from(self, first_page: int) -> None:
        """A shrink removes pages, and with them the requests that could name them."""
        kept: list[PendingFailure] = []
        for f in self.failures:
            if f.first < first_page:
                kept.append(PendingFailure(f.first, min(f.end, first_page), f.status))
        self.failures = kept


class Pager(KernelObject):
    """A pager object. When its last handle goes, its page sources are detached: later
    page requests on their VMOs fail with BAD_STATE (pager.detached)."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[PageSource] = []

    def new_source(self) -> PageSource:
        src = PageSource(self)
        self.sources.append(src)
        return src

    def on_zero(self) -> None:
        for src in self.sources:
            src.detached = True
            src.failures.clear()
        self.sources.clear()
