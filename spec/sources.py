"""Every fact and page sentence the spec relies on, by a stable dotted id: one definition.

A rung or an effect cites ids (`cx.why = "decommit.bounds.2025"`; several are joined by
", "), never prose; `explain` turns a citation into "id: one-line fact" for what the tool
prints. docs/kernel-facts.md and docs/page-index.md are rendered from these tables
(`vmospec sources --write-docs`; a test fails when they are stale), so the ids, the facts
and their sources (repository, path, commit; or the page's public address) live here only.

Ids: `<topic>.<detail>[.<era>]` for Zircon (an era suffix where 2023 and 2025 differ),
`zcore.`, `eclipse.`, `sel4zircon.` for the implementation profiles, `page.` for the
reference page, `decision.` for choices this project made where the sources are silent
(each names the note that argues it), `conv.` for the conventions every fact uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

PAGE_URL = "https://fuchsia.dev/reference/syscalls/vmo_op_range"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a fact was read: a public repository, a path in it and a commit."""

    repo: str
    path: str
    commit: str

    def text(self) -> str:
        if self.commit:
            return f"{self.repo}:{self.path}@{self.commit}"
        return f"{self.repo}: {self.path}" if self.path else self.repo


@dataclass(frozen=True, slots=True)
class Fact:
    id: str
    text: str  # one line, in the project's own words
    sources: tuple[str, ...]  # keys of SOURCES
    section: str  # the heading it is listed under in docs/
    quote: str = ""  # page sentences: the section and a short phrase that finds it
    background: bool = False  # relied on by the docs and the reader, cited by no rung


_FUCHSIA_25 = "misttech/fuchsia"
_MIST_24 = "misttech/mist-os"
_FUCHSIA_23 = "gnoliyil/fuchsia"
_K = "zircon/kernel/"

SOURCES: MappingProxyType[str, Source] = MappingProxyType({
    # Zircon 2025 (upstream with fork patches); the newest tree read.
    "z25/syscall": Source(_FUCHSIA_25, _K + "lib/syscalls/vmo.cc",
                          "0650ebd2a9c535983060cceacd7447517b39fa48"),
    "z25/dispatcher": Source(_FUCHSIA_25, _K + "object/vm_object_dispatcher.cc",
                             "0f631c7d9cb98eb56ee93c63916adefb080a8a27"),
    "z25/paged": Source(_FUCHSIA_25, _K + "vm/vm_object_paged.cc", "5cc6b502"),
    "z25/cow": Source(_FUCHSIA_25, _K + "vm/vm_cow_pages.cc", "a28ec820"),
    "z25/physical": Source(_FUCHSIA_25, _K + "vm/vm_object_physical.cc", "0767d429"),
    "z25/pager_syscall": Source(_FUCHSIA_25, _K + "lib/syscalls/pager.cc",
                                "9c03ce9a009fb90c45f7995b3698228852a9a080"),
    "z25/pager_dispatcher": Source(_FUCHSIA_25, _K + "object/pager_dispatcher.cc",
                                   "2e2b3562df4017f56a87248b88b6c3120c815bdc"),
    "z25/handle_ops": Source(_FUCHSIA_25, _K + "lib/syscalls/handle_ops.cc",
                             "185311099de611011eeebe586afe1b8ef1715ac6"),
    "z25/object": Source(_FUCHSIA_25, _K + "lib/syscalls/object.cc",
                         "3e83ba5a7ee974e61b1a690fded595e3a9425055"),
    "z25/vm_object_h": Source(_FUCHSIA_25, _K + "vm/include/vm/vm_object.h",
                              "9c03ce9a009fb90c45f7995b3698228852a9a080"),
    "z24/ddk": Source(_MIST_24, _K + "lib/syscalls/ddk.cc",
                      "3354f6fcf5f23357f99e53f5bfe7789b08ff6a69"),
    "z24a/ddk": Source("artem/fuchsia-mirror", _K + "lib/syscalls/ddk.cc",
                       "1bbe0de46e43d45cccbbb05ada50ac557b6c4ad0"),
    "z25/clone_tests": Source(_FUCHSIA_25, "zircon/system/utest/core/vmo/vmo-clone2.cc",
                              "bd5bba85932cd5b1a48f6b7aa9b5bec5f771ea20"),
    # Zircon 2024b (mist-os: 2024 upstream VM code).
    "z24/tracker": Source(_MIST_24, _K + "vm/discardable_vmo_tracker.cc", "42b0a090"),
    "z24/dispatcher": Source(_MIST_24, _K + "object/vm_object_dispatcher.cc", "03c6c9cb"),
    "z24/types": Source(_MIST_24, "zircon/system/public/zircon/types.h", "687f9a1b"),
    "z24/rights": Source(_MIST_24, "zircon/system/public/zircon/rights.h", "42b0a090"),
    "z24/vmo_fidl": Source(_MIST_24, "zircon/vdso/vmo.fidl", "03c6c9cb"),
    # Zircon 2023.
    "z23/dispatcher": Source(_FUCHSIA_23, _K + "object/vm_object_dispatcher.cc", "16e8eecb"),
    "z23/paged": Source(_FUCHSIA_23, _K + "vm/vm_object_paged.cc", "8d0e4b46"),
    "z23/cow": Source(_FUCHSIA_23, _K + "vm/vm_cow_pages.cc", "1aa74e42"),
    "z23/syscall": Source(_FUCHSIA_23, _K + "lib/syscalls/vmo.cc",
                          "11dbe3e4c12e8328c1e423e8a88c124e901a8ce7"),
    # Copy-on-write families and attribution (issue 11): share-count and legacy kernels.
    "z24/cow_share": Source(_MIST_24, _K + "vm/vm_cow_pages.cc", "d3d27672"),
    "z24/cow_legacy": Source(_MIST_24, _K + "vm/vm_cow_pages.cc", "00d05a78"),
    "z24/attribution": Source(_MIST_24, _K + "vm/include/vm/attribution.h", "7ebf345f"),
    "z24/object_h": Source(_MIST_24, "zircon/system/public/zircon/syscalls/object.h",
                           "2b2b8bde"),
    "z24.rfc0254": Source(_MIST_24, "docs/contribute/governance/rfcs/"
                          "0254_changing_attribution_for_copy_on_write_pages.md", "f8c15098"),
    "z24/clone_tests": Source(_MIST_24, "zircon/system/utest/core/vmo/vmo-clone2.cc",
                              "5d70ed15"),
    "z24/clone_tests_legacy": Source(_MIST_24, "zircon/system/utest/core/vmo/vmo-clone2.cc",
                                     "4239412c"),
    "z24/zero_tests": Source(_MIST_24, "zircon/system/utest/core/vmo/vmo-zero.cc", "7b976c04"),
    "z24/pager_proxy": Source(_MIST_24, _K + "object/pager_proxy.cc", "051562f9"),
    "z24/pager_tests": Source(_MIST_24, "zircon/system/utest/core/pager/pager.cc", "687f9a1b"),
    "z24/snapshot_tests": Source(_MIST_24, "zircon/system/utest/core/pager/snapshot.cc",
                                 "2b2b8bde"),
    "z24/kernel_tests": Source(_MIST_24, _K + "vm/unittests/vmo_unittest.cc", "1dab957b"),
    "z24a.cow": Source("artem/fuchsia-mirror", _K + "vm/vm_cow_pages.cc", "1bbe0de4"),
    # Other implementations.
    "zcore/syscall": Source("rcore-os/zCore", "zircon-syscall/src/vmo.rs", "43ff1c9d"),
    "zcore/paged": Source("rcore-os/zCore", "zircon-object/src/vm/vmo/paged.rs", "43ff1c9d"),
    "zcore/slice": Source("rcore-os/zCore", "zircon-object/src/vm/vmo/slice.rs", "43ff1c9d"),
    "eclipse/syscall": Source("Pryancito/eclipse", "zircon-syscall/src/vmo.rs", "2b0f1e8a"),
    "sel4zircon/syscall": Source("jsuann/sel4zircon",
                                 "apps/zircon-server/src/syscalls/vmo.cxx", "6dd006bd"),
    "sel4zircon/process": Source("jsuann/sel4zircon",
                                 "apps/zircon-server/src/object/process.cxx", "6dd006bd"),
    # The reference page, and this project's own documents.
    "page": Source(PAGE_URL, "", ""),
    "format": Source("this repository", "docs/trace-format.md", ""),
    "notes/spec": Source("this repository", "notes/spec-design.md", ""),
    "notes/syscalls": Source("this repository", "notes/syscall-facts.md", ""),
    "notes/impl": Source("this repository", "notes/implementations.md", ""),
    "notes/cow": Source("this repository", "notes/cow.md", ""),
})

# Headings of docs/kernel-facts.md, in order, each with a short introduction.
SECTIONS: MappingProxyType[str, str] = MappingProxyType({
    "Conventions": "The words every other fact uses.",
    "The common prefix of zx_vmo_op_range": "What every op goes through before its own checks.",
    "COMMIT": "Rounded out to whole pages; never an alignment error.",
    "DECOMMIT": "Frees a range; refused where pages are shared or come from a pager.",
    "ZERO": "Byte-exact; 2023 checks everything up front, 2025 works piece by piece.",
    "LOCK, TRY_LOCK, UNLOCK and discardable VMOs":
        "Only discardable VMOs can be locked; the whole VMO at once.",
    "Cache ops": "CACHE_SYNC, CACHE_INVALIDATE, CACHE_CLEAN, CACHE_CLEAN_INVALIDATE: no state "
                 "change.",
    "DONT_NEED and ALWAYS_NEED": "Hints: they act only under a pager-backed root.",
    "PREFETCH": "Op 14, dispatched from 2024b on.",
    "Reclaim": "What memory pressure (the trace event `reclaim`) does.",
    "zx_vmo_create": "",
    "zx_vmo_create_child": "",
    "zx_vmo_read and zx_vmo_write": "",
    "zx_vmo_get_size and zx_vmo_set_size": "",
    "zx_vmo_create_contiguous and zx_vmo_create_physical":
        "VMOs a trace makes through the recorder's BTI or MMIO resource; a recorder "
        "without one marks the step not run.",
    "zx_vmo_set_cache_policy": "Uncached VMOs: who may change a VMO's cache policy, and "
                               "what an uncached VMO refuses.",
    "Handles": "zx_handle_duplicate and zx_handle_close.",
    "ZX_INFO_VMO": "",
    "Copy-on-write families": "Hidden nodes, who sees which page, children that read "
                              "through a pager-backed parent (notes/cow.md).",
    "Pager calls": "zx_pager_create, zx_pager_create_vmo, zx_pager_supply_pages, "
                   "zx_pager_op_range(FAIL).",
    "zCore (profile zcore)": "rcore-os/zCore, a Rust re-implementation of Zircon. Each fact "
                             "states an input and zCore's answer; the 2025 kernel's is in "
                             "the facts above.",
    "eclipse (profile eclipse)": "Pryancito/eclipse, a zCore fork: zCore's facts hold but "
                                 "for these.",
    "sel4zircon (profile sel4zircon)": "jsuann/sel4zircon, a Zircon server on seL4 (2018 ABI).",
    "Project decisions": "Where the sources are silent, the project chose; each note argues "
                         "its choice.",
})

_S23, _S25 = ("z23/dispatcher", "z23/paged"), ("z25/dispatcher", "z25/paged")


def _facts() -> list[Fact]:
    out: list[Fact] = []

    def sec(section: str, *items: tuple[str, str, tuple[str, ...]] | tuple[
            str, str, tuple[str, ...], bool]) -> None:
        for item in items:
            out.append(Fact(item[0], item[1], item[2], section,
                            background=bool(item[3]) if len(item) == 4 else False))

    sec("Conventions",
        ("conv.size", "S is a VMO's current size; the kernel keeps it a whole number of "
         "pages.", ("z25/paged",), True),
        ("conv.page", "P is the page size: a parameter of the trace (4096 on today's "
         "builds), never assumed.", ("format",), True),
        ("conv.in_bounds", "In bounds means offset + size <= S computed in u64; a sum that "
         "overflows is out of bounds.", ("z25/paged",), True),
        ("conv.rounded_out", "Rounded out: the offset rounded down to a page boundary and "
         "offset + size rounded up to one.", ("z25/paged",), True),
        ("conv.status", "Statuses are named without ZX_ERR_; their numbers are "
         "zircon/errors.h's.", ("z24/types",), True))
    sec("The common prefix of zx_vmo_op_range",
        ("prefix.order", "Every op first looks the handle up (BAD_HANDLE), checks it is a VMO "
         "(WRONG_TYPE), then decodes the op as an exact value (INVALID_ARGS), with no right "
         "checked before the decode.", ("z25/syscall", "z25/dispatcher"), True),
        ("prefix.handle_lookup", "An unknown or closed handle value, or ZX_HANDLE_INVALID, "
         "gives BAD_HANDLE; looking a handle up needs no right.", ("z25/syscall",)),
        ("prefix.ops", "Ops 1-4 and 6-14 are dispatched; 0, 5 (the old LOOKUP) and every "
         "value above 14 are INVALID_ARGS; OR-ed ops are just another number.",
         ("z24/types", "z25/dispatcher")),
        ("rights.per_op", "COMMIT, DECOMMIT and ZERO need WRITE; the LOCK family READ or "
         "WRITE; cache ops READ (INVALIDATE WRITE, after its gate); hints none; PREFETCH "
         "READ; a missing right is ACCESS_DENIED.", ("z25/dispatcher",)),
        ("status.precedence", "When several errors apply the kernel returns the first of: "
         "handle, type, op decode, the CACHE_INVALIDATE gate, rights, the VMO's kind, size-0 "
         "cache op, range, DECOMMIT's later checks, execution errors, LOCK's buffer.",
         ("z25/dispatcher", "z25/paged"), True))
    sec("COMMIT",
        ("commit.physical", "COMMIT on a physical VMO is NOT_SUPPORTED, after the rights "
         "check.", ("z25/paged", "z25/physical")),
        ("commit.bounds", "COMMIT fails OUT_OF_RANGE when offset + size, or that end rounded "
         "up, overflows, or when the rounded-out range ends past S (2023 and 2025).",
         ("z25/paged", "z23/paged")),
        ("commit.empty", "A COMMIT whose rounded-out range is empty succeeds before any "
         "work.", ("z25/paged",)),
        ("commit.effect", "COMMIT gives every page of the rounded-out range a real page "
         "(a clone forks its parent's content; a pager VMO pages in); nothing done is undone "
         "on a later error.", ("z25/paged", "z25/cow")),
        ("commit.pager_errors", "A COMMIT that pages in returns the pager's failure code "
         "(IO, IO_DATA_INTEGRITY, BAD_STATE, NO_SPACE, BUFFER_TOO_SMALL) as it is.",
         ("z25/cow", "z25/pager_dispatcher")))
    sec("DECOMMIT",
        ("decommit.physical", "DECOMMIT on a physical VMO is NOT_SUPPORTED.", ("z25/paged",)),
        ("decommit.contiguous", "DECOMMIT on a contiguous VMO is NOT_SUPPORTED unless page "
         "loaning is on.", ("z25/paged",)),
        ("decommit.bounds.2025", "DECOMMIT fails OUT_OF_RANGE when offset + size overflows or "
         "ends past S; nothing is trimmed (2024 on).", _S25),
        ("decommit.bounds.2023", "2023 DECOMMIT trims an over-long range to S and fails "
         "OUT_OF_RANGE only when the offset is past S; alignment is then tested on the "
         "untrimmed size (a slice forwards the trimmed one).", _S23),
        ("decommit.empty", "A DECOMMIT of size 0 (after trimming) succeeds before the "
         "support and alignment checks.", ("z25/paged",)),
        ("decommit.cow_or_pager", "DECOMMIT is NOT_SUPPORTED on a copy-on-write clone, on a "
         "VMO with a live SNAPSHOT child and on a pager-backed VMO.", ("z25/cow",)),
        ("decommit.aligned", "DECOMMIT needs a page-aligned offset and size (INVALID_ARGS), "
         "checked after the bounds and support checks.", ("z25/cow",)),
        ("decommit.effect", "DECOMMIT frees the range's pages: it reads as zero and the "
         "committed bytes drop.", ("z25/cow",)))
    sec("ZERO",
        ("zero.physical", "ZERO on a physical VMO is NOT_SUPPORTED.", ("z25/paged",)),
        ("zero.uncached.2023", "2023 ZERO of an uncached VMO is BAD_STATE before the range "
         "is checked.", _S23),
        ("zero.bounds.2023", "2023 ZERO checks offset + size <= S up front (OUT_OF_RANGE) "
         "before zeroing anything.", _S23),
        ("zero.overflow.2025", "2025 ZERO has no up-front range check; an offset + size that "
         "overflows u64 is OUT_OF_RANGE before any piece.", ("z25/paged", "notes/spec")),
        ("zero.pieces.2025", "2025 ZERO works on a partial head page, the whole pages, then "
         "a partial tail page, each checked on its own; a finished piece is kept.",
         ("z25/paged",)),
        ("zero.piece_bounds.2025", "A ZERO piece that reaches past S is OUT_OF_RANGE; the "
         "pieces before it stay zeroed.", ("z25/paged",)),
        ("zero.uncached.2025", "2025 ZERO returns BAD_STATE where bytes of an uncached VMO "
         "would have to be written.", ("z25/paged",)),
        ("zero.effect", "ZERO's content effect is that of writing zeros; whole pages of a "
         "root are decommitted, a clone gets zero markers.", ("z25/cow",)))
    sec("LOCK, TRY_LOCK, UNLOCK and discardable VMOs",
        ("lock.not_discardable", "The LOCK family on a VMO that is not discardable is "
         "NOT_SUPPORTED, before the range or buffer is looked at.", ("z25/dispatcher",
                                                                    "z24/tracker")),
        ("lock.whole_range", "The LOCK family takes exactly (0, S): any other range is "
         "OUT_OF_RANGE.", ("z24/tracker",)),
        ("lock.effect", "LOCK adds one lock (Unreclaimable) and reports discarded (0, S) "
         "exactly when the VMO was discarded since it was last locked.", ("z24/tracker",)),
        ("try_lock.effect", "TRY_LOCK adds one lock unless the VMO is discarded "
         "(UNAVAILABLE, no change).", ("z24/tracker",)),
        ("unlock.effect", "UNLOCK removes one lock; the last makes the VMO Reclaimable; with "
         "none held it is BAD_STATE.", ("z24/tracker",)),
        ("lock.bad_buffer", "LOCK takes the lock before checking its buffer; a null or short "
         "buffer then unlocks again and returns INVALID_ARGS.", ("z25/dispatcher",)),
        ("discard.effect", "A discard frees every page of a Reclaimable VMO and keeps S.",
         ("z24/tracker", "z25/cow")),
        ("discard.commit.not_found", "COMMIT of a discarded VMO not locked again is "
         "NOT_FOUND.", ("z25/cow",)),
        ("discard.read_write.not_found", "zx_vmo_read and zx_vmo_write of a discarded VMO "
         "not locked again are NOT_FOUND (an empty one is OK).", ("z25/paged",)),
        ("discard.zero.ok", "ZERO of a discarded VMO succeeds with nothing to zero.",
         ("z25/paged",)),
        ("discardable.no_children", "A discardable VMO can have no child: "
         "zx_vmo_create_child is NOT_SUPPORTED.", ("z25/dispatcher",)),
        ("discardable.states", "A discardable VMO is Unset, Unreclaimable (count >= 1), "
         "Reclaimable or Discarded; only Reclaimable can be discarded.", ("z24/tracker",),
         True))
    sec("Cache ops",
        ("cache.invalidate_gate", "CACHE_INVALIDATE is NOT_SUPPORTED unless the boot option "
         "kernel.enable-debugging-syscalls is on, checked before rights (2022 on).",
         ("z25/dispatcher",)),
        ("cache.physical.2025", "Cache ops on a physical VMO are NOT_SUPPORTED (2025).",
         ("z25/physical",)),
        ("cache.size_zero", "A cache op of size 0 is INVALID_ARGS, before the bounds check.",
         ("z25/paged",)),
        ("cache.effect", "Cache ops change no VMO state.", ("z25/paged",)))
    sec("DONT_NEED and ALWAYS_NEED",
        ("hints.non_pager.2025", "A hint on a VMO whose root is not pager-backed is OK for "
         "any arguments (2024 on).", ("z25/cow",)),
        ("hints.non_pager.2023", "2023 hints on a VMO not backed by a pager are OK unless "
         "offset + size overflows u64 (OUT_OF_RANGE).", _S23),
        ("hints.overflow", "A hint under a pager-backed root fails OUT_OF_RANGE when "
         "offset + size overflows u64.", ("z25/cow",)),
        ("dont_need.empty", "DONT_NEED of size 0 under a pager root is OK: at any offset in "
         "2025 (before the bounds check), only in bounds in 2023.", ("z25/cow", "z23/cow")),
        ("dont_need.bounds", "DONT_NEED under a pager root out of bounds is OUT_OF_RANGE.",
         ("z25/cow",)),
        ("dont_need.effect", "DONT_NEED commits nothing; it moves clean root pages to the "
         "front of reclaim.", ("z25/cow",)),
        ("always_need.bounds", "ALWAYS_NEED under a pager root out of bounds is "
         "OUT_OF_RANGE (checked before size 0).", ("z25/cow",)),
        ("always_need.empty", "ALWAYS_NEED of size 0 in bounds is OK.", ("z25/cow",)),
        ("always_need.effect", "ALWAYS_NEED pages the range into the root and marks it; a "
         "failure to page in is ignored and the call succeeds.", ("z25/cow",)))
    sec("PREFETCH",
        ("prefetch.dispatched", "PREFETCH (op 14) is dispatched from 2024b on; before, it is "
         "an unknown op (INVALID_ARGS).", ("z24/dispatcher", "z25/dispatcher")),
        ("prefetch.rights", "PREFETCH needs READ.", ("z25/dispatcher",)),
        ("prefetch.bounds", "PREFETCH fails OUT_OF_RANGE when offset + size or its rounded "
         "end overflows, or the rounded-out range ends past S.", ("z25/paged",)),
        ("prefetch.empty", "A PREFETCH whose rounded-out range is empty succeeds.",
         ("z25/paged",)),
        ("prefetch.non_pager", "Outside a pager-backed root PREFETCH only decompresses: no "
         "page is committed.", ("z25/paged",)),
        ("prefetch.pager", "Under a pager-backed root PREFETCH pages the range in; pager "
         "errors come back.", ("z25/paged",)))
    sec("Reclaim",
        ("reclaim.discards", "Reclaim discards a Reclaimable discardable VMO.",
         ("z24/tracker",)),
        ("reclaim.not_eligible", "Reclaim never discards a VMO that is locked or was never "
         "locked.", ("z24/tracker",)),
        ("reclaim.first_page", "From 2024 a discard happens when reclaim reaches the VMO's "
         "first committed page, so a VMO holding no page is not discarded.",
         ("z24/tracker",)),
        ("reclaim.evicts", "Reclaim may evict clean, unpinned pages of a pager-backed VMO: "
         "DONT_NEED ones first, ALWAYS_NEED ones not.", ("z25/cow",)))
    sec("zx_vmo_create",
        ("create.options", "zx_vmo_create accepts RESIZABLE, DISCARDABLE and (newer trees) "
         "UNBOUNDED; any other bit, TRAP_DIRTY included, is INVALID_ARGS.",
         ("z24/dispatcher",)),
        ("create.unbounded_resizable", "UNBOUNDED together with RESIZABLE is INVALID_ARGS.",
         ("z24/dispatcher",)),
        ("create.size", "A size that rounds up past 2^64 or past the maximum VMO size is "
         "OUT_OF_RANGE.", ("z25/syscall", "notes/syscalls")),
        ("create.effect", "zx_vmo_create rounds the size up to a page; the handle gets the "
         "default VMO rights, plus RESIZE when resizable.", ("z25/syscall", "z24/rights")))
    sec("zx_vmo_create_child",
        ("child.size", "A child size that rounds past 2^64 or the maximum size is "
         "OUT_OF_RANGE, checked first.", ("z25/syscall", "notes/syscalls")),
        ("child.no_write_resizable", "NO_WRITE with RESIZABLE is INVALID_ARGS.",
         ("z25/syscall", "notes/syscalls")),
        ("child.rights", "The parent handle needs DUPLICATE and READ (ACCESS_DENIED).",
         ("z25/syscall", "notes/syscalls")),
        ("child.options", "An unknown or contradictory child option is INVALID_ARGS.",
         ("z25/dispatcher", "notes/syscalls")),
        ("child.slice.aligned", "A SLICE offset must be page-aligned (INVALID_ARGS).",
         ("z25/paged", "notes/syscalls")),
        ("child.slice.bounds", "A SLICE must lie within its parent (OUT_OF_RANGE).",
         ("z25/paged", "notes/syscalls")),
        ("child.slice.resizable", "A SLICE of a resizable VMO is NOT_SUPPORTED.",
         ("z25/paged", "notes/syscalls")),
        ("child.reference.range", "A REFERENCE takes offset 0 and size 0 only "
         "(INVALID_ARGS).", ("z25/paged", "notes/syscalls")),
        ("child.reference.parent_kind", "A REFERENCE of a slice or contiguous VMO is "
         "NOT_SUPPORTED.", ("z25/paged", "notes/syscalls")),
        ("child.reference.resizable", "A resizable REFERENCE of a fixed-size VMO is "
         "NOT_SUPPORTED.", ("z25/paged", "notes/syscalls")),
        ("child.snapshot.aligned", "A snapshot-family child's offset must be page-aligned "
         "(INVALID_ARGS).", ("z25/paged", "notes/syscalls")),
        ("child.snapshot.slice_bounds", "A snapshot of a slice must fit that slice "
         "(OUT_OF_RANGE).", ("z25/paged", "notes/syscalls")),
        ("child.snapshot.overflow", "A snapshot whose offset + size overflows is "
         "OUT_OF_RANGE.", ("z25/paged", "notes/syscalls")),
        ("child.snapshot.pager", "A full SNAPSHOT of a pager-backed VMO is NOT_SUPPORTED.",
         ("z25/paged", "notes/syscalls")),
        ("child.snapshot.root_overflow", "A snapshot range that overflows once projected "
         "onto the root is OUT_OF_RANGE.", ("z25/paged", "notes/syscalls")),
        ("child.snapshot.slice_unidirectional", "A snapshot of a slice needs a "
         "unidirectional clone (under a pager root); otherwise NOT_SUPPORTED.",
         ("z25/paged", "notes/syscalls")),
        ("child.uncached", "A snapshot-family child, a REFERENCE, or a SLICE of a VMO that "
         "is not contiguous, taken of a VMO whose cache policy is not CACHED, is BAD_STATE "
         "(after the range checks); a SLICE of an uncached contiguous VMO takes its policy.",
         ("z25/paged",)),
        ("child.effect", "A child reads as its parent's range did (zeros past the parent's "
         "end); a slice or reference shares the parent's pages, a snapshot copies on "
         "write.", ("z25/cow", "z25/clone_tests")),
        ("child.shared_pages", "A slice or reference acts on its parent's pages, only in "
         "its window.", ("z25/paged",)))
    sec("zx_vmo_read and zx_vmo_write",
        ("rw.rights", "zx_vmo_read needs READ, zx_vmo_write needs WRITE (ACCESS_DENIED).",
         ("z25/syscall",)),
        ("rw.bounds", "A read or write must lie within the VMO's size (OUT_OF_RANGE).",
         ("z25/paged",)),
        ("rw.uncached", "zx_vmo_read and zx_vmo_write of a VMO whose cache policy is not "
         "CACHED are BAD_STATE: after the u64 overflow check, before the bounds, at any "
         "length.", ("z25/paged",)),
        ("read.effect", "zx_vmo_read returns the bytes, paging absent pages in from the "
         "pager.", ("z25/paged",)),
        ("write.effect", "zx_vmo_write stores the bytes; under a pager the pages before a "
         "failing one stay written.", ("z25/paged", "notes/syscalls")))
    sec("zx_vmo_get_size and zx_vmo_set_size",
        ("size.get", "zx_vmo_get_size needs no right.", ("z25/syscall",)),
        ("set_size.rights", "zx_vmo_set_size needs WRITE.", ("z25/syscall",)),
        ("set_size.resize_right", "Resizing a resizable VMO also needs RESIZE "
         "(ACCESS_DENIED).", ("z25/syscall",)),
        ("set_size.overflow", "A new size that rounds past 2^64 is OUT_OF_RANGE.",
         ("z25/syscall", "notes/syscalls")),
        ("set_size.not_resizable", "zx_vmo_set_size of a VMO that is not resizable is "
         "UNAVAILABLE.", ("z25/paged",)),
        ("set_size.max_size", "A new size past the maximum VMO size is OUT_OF_RANGE.",
         ("z25/paged", "notes/syscalls")),
        ("set_size.root_overflow", "Growing a child so that its end overflows once "
         "projected onto the root is OUT_OF_RANGE.", ("z25/paged", "notes/syscalls")),
        ("set_size.effect", "Shrinking frees the cut pages, growing adds zeros; the bytes "
         "from the new size to its page end are zeroed.", ("z25/cow", "notes/syscalls")))
    sec("zx_vmo_create_contiguous and zx_vmo_create_physical",
        ("contiguous.size", "zx_vmo_create_contiguous refuses a size of 0 or not whole pages "
         "(INVALID_ARGS); past the largest VMO, OUT_OF_RANGE. (2024b's tree rounds an "
         "unaligned size up instead.)", ("z24a/ddk", "z25/paged", "z24/ddk")),
        ("contiguous.alignment", "alignment_log2 0 means a page; below the page shift, or 64 "
         "and above, is INVALID_ARGS, before the BTI is looked at.", ("z24a/ddk", "z24/ddk")),
        ("contiguous.effect", "A contiguous VMO has every page committed from creation, "
         "reading zero; the handle has the default VMO rights; it is not resizable.",
         ("z24a/ddk", "z25/paged")),
        ("physical.size", "zx_vmo_create_physical refuses a size of 0 or not whole pages "
         "(INVALID_ARGS).", ("z25/physical",)),
        ("physical.range", "A physical address that is not page-aligned, or whose range "
         "wraps past 2^64, is INVALID_ARGS.", ("z25/physical",)),
        ("physical.effect", "A physical VMO starts UNCACHED and holds no RAM page: ZX_INFO_VMO "
         "shows no TYPE_PAGED flag and 0 committed bytes.", ("z25/physical",)),
        ("child.physical", "A REFERENCE or snapshot of a physical VMO is NOT_SUPPORTED "
         "(VmObject's defaults); a SLICE is a physical VMO over the window, with the "
         "parent's policy.", ("z25/physical", "z25/vm_object_h")),
        ("child.snapshot.contiguous", "A snapshot-family child of a contiguous VMO is "
         "INVALID_ARGS, before the other snapshot checks.", ("z25/paged",)),
        ("rw.physical", "zx_vmo_read and zx_vmo_write of a physical VMO are NOT_SUPPORTED "
         "(it has no read or write of its own: VmObject's default), after the right.",
         ("z25/physical", "z25/vm_object_h")),
        ("set_size.physical", "zx_vmo_set_size of a physical VMO is NOT_SUPPORTED "
         "(VmObject's default resize).", ("z25/physical", "z25/vm_object_h")),
        ("cache_policy.physical", "zx_vmo_set_cache_policy of a physical VMO with the policy "
         "it has is OK at once; otherwise a child or a parent is BAD_STATE, and the policy "
         "is set (no committed-page, pager or discardable rule).", ("z25/physical",)))
    sec("zx_vmo_set_cache_policy",
        ("cache_policy.prefix", "zx_vmo_set_cache_policy refuses a policy with a bit outside "
         "ZX_CACHE_POLICY_MASK (3) as INVALID_ARGS before it looks the handle up; the handle "
         "needs MAP (ACCESS_DENIED).", ("z25/syscall", "z23/syscall")),
        ("cache_policy.committed.2023", "2023: a VMO whose policy is not CACHED and that "
         "holds committed pages cannot change its policy (BAD_STATE), checked first; from "
         "CACHED, committed pages are cleaned and the change is allowed.", ("z23/paged",)),
        ("cache_policy.family", "A VMO with a child (slice, reference or snapshot) or with a "
         "parent cannot change its policy (BAD_STATE); nor can a mapped or pinned one, which "
         "a trace cannot make.", ("z23/paged", "z25/paged")),
        ("cache_policy.reference.2025", "2025: a slice or reference is refused (BAD_STATE) "
         "even once its parent is gone.", ("z25/paged",)),
        ("cache_policy.cached_only.2025", "2025: a pager-backed or discardable VMO stays "
         "CACHED: asking for CACHED is OK and changes nothing, any other policy is "
         "BAD_STATE. 2023 has no such rule.", ("z25/paged", "z23/paged")),
        ("cache_policy.effect", "Otherwise the VMO takes the policy; its pages and content "
         "stay (2025 also lets committed pages go back to CACHED).", ("z25/paged",)),
        ("info.cache_policy", "ZX_INFO_VMO reports the VMO's cache policy.",
         ("z24/object_h", "z25/object")))
    sec("Handles",
        ("handle.lookup", "A handle value that names no live handle is BAD_HANDLE.",
         ("z25/handle_ops",)),
        ("dup.rights", "zx_handle_duplicate needs DUPLICATE (ACCESS_DENIED).",
         ("z25/handle_ops",)),
        ("dup.subset", "The new handle's rights must be a subset of the old one's "
         "(INVALID_ARGS); SAME_RIGHTS copies them.", ("z25/handle_ops",)),
        ("dup.effect", "zx_handle_duplicate makes a new handle to the same object.",
         ("z25/handle_ops",)),
        ("close.invalid", "Closing ZX_HANDLE_INVALID succeeds and does nothing.",
         ("z25/handle_ops",)),
        ("close.unknown", "Closing a value that names no handle is BAD_HANDLE.",
         ("z25/handle_ops",)),
        ("close.effect", "Closing a handle frees what nothing else keeps alive.",
         ("z25/handle_ops", "z25/cow")))
    sec("ZX_INFO_VMO",
        ("info.committed_bytes", "ZX_INFO_VMO reports the size and the committed bytes: "
         "COMMIT raises them, DECOMMIT, whole-page ZERO of a root and a discard lower them.",
         ("z25/object", "z25/cow")))
    sec("Copy-on-write families",
        ("cow.hidden_node", "SNAPSHOT moves the original's pages into a new hidden node; the "
         "original and the new child both hang from it (both eras).",
         ("z24/cow_share", "z24/cow_legacy")),
        ("cow.lookup", "A lookup walks up from a VMO to the first node holding the offset (a "
         "page or a zero marker), within each node's window on its parent.",
         ("z24/cow_share",), True),
        ("cow.fork", "A write to a page a VMO sees in a hidden node copies it into the "
         "writer, or moves it there when no other VMO sees it.", ("z24/cow_share",)),
        ("cow.zero", "ZERO of a page a child sees in a hidden node leaves a zero marker in "
         "the child; the page loses that sharer and is freed with its last one.",
         ("z24/cow_share", "z24/zero_tests")),
        ("cow.merge", "Closing releases what a VMO holds; a hidden node left with one child "
         "merges into it: the pages the child sees become its own, the rest are freed; "
         "zeroed offsets stay zero.", ("z24/cow_share", "z24/zero_tests")),
        ("cow.resize", "Shrinking a VMO clamps the window through which each direct child "
         "sees it; regrowing never widens it again.", ("z24/cow_share", "z24/pager_tests")),
        ("cow.copy_down.2023", "Legacy kernels copy a forked or zeroed page into each "
         "hidden node between its holder and the VMO where the other side still sees it.",
         ("z24/cow_legacy", "z24/zero_tests")),
        ("cow.unidirectional", "AT_LEAST_ON_WRITE under a pager-backed root, and "
         "SNAPSHOT_MODIFIED of the root itself, give a child that reads through its parent; "
         "elsewhere they become a snapshot.", ("z24/cow_share",)),
        ("cow.read_through", "A child reading through sees its parent's later writes where "
         "it has not forked; its reads page in at the root, where the pages land and may "
         "be evicted.", ("z24/pager_tests", "z24/snapshot_tests")),
        ("cow.through_fork", "A write or COMMIT in a child reading through pages the root in "
         "first, then copies the page into the child.", ("z24/pager_tests",)),
        ("decommit.after_merge", "DECOMMIT is refused on every node with a parent, an "
         "original under a live snapshot's hidden node too, and allowed again once the "
         "hidden node merged back (2024a, legacy and share-count kernels).",
         ("z24a.cow", "z24/cow_legacy", "z24/cow_share")),
        ("info.attribution.2025", "Share counts: committed and populated bytes count every "
         "page a VMO sees, private bytes those no other VMO sees, scaled bytes P/k for a page "
         "k VMOs see, with its truncated 63-bit fraction in the fractional fields.",
         ("z24/cow_share", "z24/object_h", "z24.rfc0254", "z24/clone_tests")),
        ("info.attribution.legacy", "Legacy attribution (2023, 2024a): each shared page "
         "counts for one VMO; a transition kernel reads 0 in the private and scaled fields "
         "and UINT64_MAX in the fractional ones.",
         ("z24/cow_legacy", "z24/attribution", "z24.rfc0254", "z24/clone_tests_legacy")),
        ("info.slices", "Slices and references report no memory of their own.",
         ("z24/kernel_tests",)),
        ("info.through_child", "A child reading through counts only the pages it forked or "
         "committed; the root's pages are the root's alone.",
         ("z24/kernel_tests", "z24/pager_tests"), True))
    sec("Pager calls",
        ("pager.create", "zx_pager_create makes a pager.", ("z25/pager_syscall",)),
        ("pager.handle", "A pager call's pager handle must name a pager (BAD_HANDLE, "
         "WRONG_TYPE).", ("z25/pager_syscall",)),
        ("pager.create_vmo.rights", "zx_pager_create_vmo needs ATTACH_VMO on the pager.",
         ("z25/pager_syscall",)),
        ("pager.create_vmo.options", "zx_pager_create_vmo takes RESIZABLE, TRAP_DIRTY and "
         "UNBOUNDED (not with RESIZABLE); any other bit is INVALID_ARGS.",
         ("z25/pager_syscall", "z24/dispatcher")),
        ("pager.create_vmo.discardable", "A pager-backed VMO cannot be DISCARDABLE "
         "(INVALID_ARGS).", ("z25/pager_syscall",)),
        ("pager.create_vmo.size", "A pager VMO size that rounds past 2^64 or the maximum "
         "size is OUT_OF_RANGE.", ("z25/pager_syscall", "notes/syscalls")),
        ("pager.create_vmo.effect", "zx_pager_create_vmo makes a VMO whose absent pages "
         "are read from the pager.", ("z25/pager_syscall",)),
        ("pager.op.aligned", "supply and fail need a page-aligned offset and length, "
         "checked before the handles (INVALID_ARGS).", ("z25/pager_syscall",)),
        ("pager.op.rights", "supply and fail need MANAGE_VMO on the pager handle.",
         ("z25/pager_syscall",)),
        ("pager.op.vmo_handle", "supply and fail's VMO handle must name a VMO.",
         ("z25/pager_syscall",)),
        ("pager.op.vmo_rights", "supply and fail need WRITE on the VMO handle.",
         ("z25/pager_syscall",)),
        ("pager.op.foreign_vmo", "supply and fail on a VMO this pager does not back are "
         "INVALID_ARGS.", ("z25/pager_dispatcher",)),
        ("pager.op.bounds", "supply and fail must lie within the VMO (OUT_OF_RANGE).",
         ("z25/pager_dispatcher",)),
        ("pager.op.detached", "supply and fail on a detached VMO are BAD_STATE.",
         ("z25/pager_dispatcher",)),
        ("pager.detached", "A detached page source cannot supply pages: paging in is "
         "BAD_STATE.", ("z25/cow",)),
        ("pager.close_keeps_pages", "Closing a pager's last handle detaches its page "
         "sources but frees no page: present pages still read, in the root and through a "
         "child; only zx_pager_detach_vmo, which no trace call makes, frees the root's "
         "pages (why pager CloneDetachTest's child faults on a page it had been reading).",
         ("z24/pager_proxy", "z25/pager_dispatcher", "z25/pager_syscall", "z24/pager_tests"),
         True),
        ("pager.supply.empty", "Supplying an empty range is OK.", ("z25/pager_dispatcher",)),
        ("pager.supply.effect", "Supplied pages become present, with the content the trace "
         "format fixes.", ("z25/pager_dispatcher", "format")),
        ("pager.fail.codes", "ZX_PAGER_OP_FAIL accepts IO, IO_DATA_INTEGRITY, BAD_STATE, "
         "NO_SPACE and BUFFER_TOO_SMALL; any other code is INVALID_ARGS.",
         ("z25/pager_syscall",)),
        ("pager.fail.effect", "A failed range fails once, with that code, when it is next "
         "requested.", ("format",)))
    sec("zCore (profile zcore)",
        ("zcore.op_range.decode_first", "zCore decodes the op before it looks the handle up: "
         "an op not in 1-4, 6-10 is INVALID_ARGS even through an invalid handle.",
         ("zcore/syscall",)),
        ("zcore.hints.undecoded", "zCore has no DONT_NEED or ALWAYS_NEED: INVALID_ARGS, "
         "even on an anonymous VMO.", ("zcore/syscall",)),
        ("zcore.try_lock.undecoded", "zCore has no TRY_LOCK: INVALID_ARGS.",
         ("zcore/syscall",)),
        ("zcore.prefetch.undecoded", "zCore has no PREFETCH: INVALID_ARGS.",
         ("zcore/syscall",)),
        ("zcore.unimplemented.panic", "zCore's LOCK, UNLOCK and cache ops panic "
         "(unimplemented!()): no status comes back.", ("zcore/syscall",)),
        ("zcore.range.aligned", "zCore's COMMIT and DECOMMIT need a page-aligned offset and "
         "size (INVALID_ARGS), right after the rights check.", ("zcore/syscall",)),
        ("zcore.range.unbounded", "zCore's COMMIT and DECOMMIT check no bounds on a paged "
         "VMO: past S they succeed.", ("zcore/paged",)),
        ("zcore.decommit.physical_ok", "zCore's DECOMMIT of a physical VMO is an OK no-op "
         "(no trace can create a physical VMO).", ("zcore/syscall",), True),
        ("zcore.decommit.contiguous_frees", "zCore's DECOMMIT of a contiguous VMO frees its "
         "pages, OK (no trace can create a contiguous VMO).", ("zcore/paged",), True),
        ("zcore.zero.physical_panic", "zCore's ZERO past the end of a physical VMO fails an "
         "assertion (no trace can create a physical VMO).", ("zcore/syscall",), True),
        ("zcore.zero.upfront_bounds", "zCore checks ZERO's offset + size <= S once, before "
         "zeroing anything (OUT_OF_RANGE, even for size 0 past S).", ("zcore/paged",)),
        ("zcore.zero.slice_off_by_one", "A zCore slice refuses ZERO whose end equals its "
         "size (OUT_OF_RANGE).", ("zcore/slice",)),
        ("zcore.zero.wraps", "zCore does not catch an overflowing ZERO offset + size: its "
         "release build wraps (a panic in debug builds).", ("zcore/paged",)),
        ("zcore.create.resizable_only", "zCore's zx_vmo_create accepts RESIZABLE only; "
         "DISCARDABLE is INVALID_ARGS.", ("zcore/syscall",)))
    sec("eclipse (profile eclipse)",
        ("eclipse.cache.rights", "eclipse's cache ops need READ (CACHE_INVALIDATE WRITE): "
         "ACCESS_DENIED, with no debugging gate before it.", ("eclipse/syscall",)),
        ("eclipse.cache.checked_noop", "eclipse's cache ops check an overflow-safe range "
         "(OUT_OF_RANGE), then do nothing: size 0 is OK.", ("eclipse/syscall",)),
        ("eclipse.cache.no_gate", "eclipse's CACHE_INVALIDATE has no debugging gate: with "
         "WRITE and a valid range it is OK, with READ only ACCESS_DENIED.",
         ("eclipse/syscall",)),
        ("eclipse.lock.not_supported", "eclipse's LOCK and UNLOCK are NOT_SUPPORTED before "
         "any rights check.", ("eclipse/syscall",)))
    sec("sel4zircon (profile sel4zircon)",
        ("sel4zircon.op_range.overflow_first", "sel4zircon refuses an overflowing "
         "offset + size (OUT_OF_RANGE) before it looks the handle up.",
         ("sel4zircon/syscall",)),
        ("sel4zircon.rights.write_all", "sel4zircon needs WRITE for every op "
         "(ACCESS_DENIED).", ("sel4zircon/syscall", "sel4zircon/process")),
        ("sel4zircon.op_range.bounds_first", "sel4zircon checks offset + size <= S "
         "before it decodes the op (OUT_OF_RANGE).", ("sel4zircon/syscall",)),
        ("sel4zircon.op_range.undecoded", "sel4zircon has no TRY_LOCK, DONT_NEED, "
         "ALWAYS_NEED or PREFETCH: INVALID_ARGS.", ("sel4zircon/syscall",)),
        ("sel4zircon.op5.not_supported", "sel4zircon answers op 5 with NOT_SUPPORTED.",
         ("sel4zircon/syscall",)),
        ("sel4zircon.zero.invalid_args", "sel4zircon has no ZERO: INVALID_ARGS.",
         ("sel4zircon/syscall",)),
        ("sel4zircon.lock.not_supported", "sel4zircon's LOCK and UNLOCK are NOT_SUPPORTED "
         "on every VMO.", ("sel4zircon/syscall",)),
        ("sel4zircon.cache.size0_ok", "A sel4zircon cache op of size 0 is a no-op OK.",
         ("sel4zircon/syscall",)),
        ("sel4zircon.range.strict", "sel4zircon's COMMIT and DECOMMIT past S are "
         "OUT_OF_RANGE, as in zircon-2025 (unlike the trimming eras).",
         ("sel4zircon/syscall",), True),
        ("sel4zircon.decommit.rounds_out", "sel4zircon's DECOMMIT rounds the range out to "
         "whole pages instead of requiring alignment.", ("sel4zircon/syscall",)))
    sec("Project decisions",
        ("decision.cow.legacy_owner", "Under legacy attribution a shared page counts for "
         "the oldest living VMO that sees it.", ("notes/cow", "z24.rfc0254")),
        ("decision.cow.one_shape", "Every SNAPSHOT makes a hidden node in both eras; the "
         "counts depend only on who sees which page.", ("notes/cow",), True),
        ("decision.cow.fraction", "The scaled fraction is summed per page, each page's "
         "share P * 2^63 / k truncated on its own.", ("notes/cow",), True),
        ("decision.cow.through_zero", "ZERO in a child reading through leaves a zero "
         "marker and commits nothing.", ("notes/cow",), True),
        ("decision.reclaim.anonymous", "Reclaim takes nothing from an anonymous VMO: the "
         "trace format's reclaim is about discardable and pager-backed VMOs.",
         ("format", "notes/spec")),
        ("decision.past_end_state", "Pages an implementation commits past S are not in the "
         "spec's state; only the part within S is modelled.", ("notes/impl",)),
        ("decision.info.bounds", "For slices, references and copy-on-write VMOs the spec "
         "bounds committed bytes instead of pinning them: attribution varies by era.",
         ("notes/syscalls", "notes/spec"), True))
    return out


# The reference page, sentence by sentence: (id, section, short quoted phrase, meaning).
_PAGE: tuple[tuple[str, str, str, str], ...] = (
    ("page.description.range", "DESCRIPTION", "offset byte offset specifying the starting "
     "location", "each op acts on the bytes offset .. offset + size"),
    ("page.description.buffer_unused", "DESCRIPTION", "buffer and buffer_size are currently "
     "unused", "no op reads the buffer"),
    ("page.commit.rights", "DESCRIPTION, COMMIT", "Requires the ZX_RIGHT_WRITE right",
     "COMMIT needs WRITE"),
    ("page.decommit.rights", "DESCRIPTION, DECOMMIT", "Requires the ZX_RIGHT_WRITE right",
     "DECOMMIT needs WRITE"),
    ("page.decommit.resets", "DESCRIPTION, DECOMMIT", "which resets that range's bytes to 0",
     "after DECOMMIT the range reads zero"),
    ("page.decommit.supported_only", "DESCRIPTION, DECOMMIT", "only supported for vmos "
     "created from zx_vmo_create(), which do not have non-slice children", "DECOMMIT works "
     "only on zx_vmo_create VMOs without non-slice children, and their slices"),
    ("page.decommit.aligned", "DESCRIPTION, DECOMMIT", "Provided range must be page aligned",
     "DECOMMIT needs a page-aligned range"),
    ("page.zero.resets", "DESCRIPTION, ZERO", "semantically equivalent to writing 0's",
     "ZERO acts as writing zeros"),
    ("page.zero.dedupe", "DESCRIPTION, ZERO", "save memory by de-duping to shared zero "
     "pages", "ZERO may save memory, never cost more"),
    ("page.zero.rights", "DESCRIPTION, ZERO", "Requires the ZX_RIGHT_WRITE right",
     "ZERO needs WRITE"),
    ("page.lock.prevents_discard", "DESCRIPTION, LOCK", "preventing them from being "
     "discarded by the kernel", "a locked VMO is not discarded"),
    ("page.lock.guaranteed_ok", "DESCRIPTION, LOCK", "Guaranteed to successfully lock the "
     "VMO and return ZX_OK if the arguments are valid", "LOCK with valid arguments "
     "succeeds"),
    ("page.lock.discarded_range", "DESCRIPTION, LOCK", "Returns information about the locked "
     "and previously discarded ranges", "LOCK reports the discarded range, else 0"),
    ("page.lock.buffer", "DESCRIPTION, LOCK", "buffer should point to a zx_vmo_lock_state_t "
     "struct", "LOCK needs a buffer for its 32-byte lock state"),
    ("page.lock.whole_vmo", "DESCRIPTION, LOCK", "The entire VMO should be locked at once",
     "the LOCK family should take offset 0 and size S; the page leaves other ranges open"),
    ("page.lock.commits_nothing", "DESCRIPTION, LOCK", "locking itself does not commit any "
     "pages", "LOCK commits no page"),
    ("page.lock.rights", "DESCRIPTION, LOCK", "Requires the ZX_RIGHT_READ or "
     "ZX_RIGHT_WRITE right", "LOCK needs READ or WRITE"),
    ("page.try_lock.unavailable", "DESCRIPTION, TRY_LOCK", "will fail with "
     "ZX_ERR_UNAVAILABLE otherwise", "TRY_LOCK of a discarded VMO is UNAVAILABLE"),
    ("page.try_lock.only_undiscarded", "DESCRIPTION, TRY_LOCK", "Will only succeed if the "
     "range has not already been discarded", "TRY_LOCK of a discarded VMO never succeeds"),
    ("page.try_lock.commits_nothing", "DESCRIPTION, TRY_LOCK", "locking itself does not "
     "commit any pages", "TRY_LOCK commits no page"),
    ("page.try_lock.rights", "DESCRIPTION, TRY_LOCK", "Requires the ZX_RIGHT_READ or "
     "ZX_RIGHT_WRITE right", "TRY_LOCK needs READ or WRITE"),
    ("page.try_lock.whole_vmo", "DESCRIPTION, TRY_LOCK", "The entire VMO should be locked at "
     "once", "TRY_LOCK should take offset 0 and size S; the page leaves other ranges open"),
    ("page.unlock.whole_vmo", "DESCRIPTION, UNLOCK", "The entire VMO should be unlocked at "
     "once", "UNLOCK should take offset 0 and size S; the page leaves other ranges open"),
    ("page.unlock.counted", "DESCRIPTION, UNLOCK", "Unlocked pages that have not been "
     "discarded yet will be counted as committed pages", "an unlocked page not yet "
     "discarded counts as committed"),
    ("page.unlock.rights", "DESCRIPTION, UNLOCK", "Requires the ZX_RIGHT_READ or "
     "ZX_RIGHT_WRITE right", "UNLOCK needs READ or WRITE"),
    ("page.cache_sync.rights", "DESCRIPTION, CACHE_SYNC", "Requires the ZX_RIGHT_READ right",
     "CACHE_SYNC needs READ"),
    ("page.cache_invalidate.rights", "DESCRIPTION, CACHE_INVALIDATE", "Requires the "
     "ZX_RIGHT_WRITE right", "CACHE_INVALIDATE needs WRITE"),
    ("page.cache_clean.rights", "DESCRIPTION, CACHE_CLEAN", "Requires the ZX_RIGHT_READ "
     "right", "CACHE_CLEAN needs READ"),
    ("page.cache_clean_invalidate.rights", "DESCRIPTION, CACHE_CLEAN_INVALIDATE", "Requires "
     "the ZX_RIGHT_READ right", "CACHE_CLEAN_INVALIDATE needs READ"),
    ("page.dont_need.trivially_succeeds", "DESCRIPTION, DONT_NEED", "trivially succeeds for "
     "other VMOs", "DONT_NEED on a VMO not from zx_pager_create_vmo is OK"),
    ("page.dont_need.commits_nothing", "DESCRIPTION, DONT_NEED", "no new pages will be "
     "committed as a result of this op", "DONT_NEED commits no page"),
    ("page.always_need.trivially_succeeds", "DESCRIPTION, ALWAYS_NEED", "trivially succeeds "
     "for other VMOs", "ALWAYS_NEED on a VMO not from zx_pager_create_vmo is OK"),
    ("page.rights.commit", "RIGHTS", "If op is ZX_VMO_OP_COMMIT, handle must be ... and have "
     "ZX_RIGHT_WRITE", "COMMIT needs WRITE"),
    ("page.rights.decommit", "RIGHTS", "If op is ZX_VMO_OP_DECOMMIT, handle must be ... and "
     "have ZX_RIGHT_WRITE", "DECOMMIT needs WRITE"),
    ("page.rights.cache_sync", "RIGHTS", "If op is ZX_VMO_OP_CACHE_SYNC, handle must be ... "
     "and have ZX_RIGHT_READ", "CACHE_SYNC needs READ"),
    ("page.rights.cache_invalidate", "RIGHTS", "If op is ZX_VMO_OP_CACHE_INVALIDATE, handle "
     "must be ... and have ZX_RIGHT_WRITE", "CACHE_INVALIDATE needs WRITE"),
    ("page.rights.cache_clean", "RIGHTS", "If op is ZX_VMO_OP_CACHE_CLEAN, handle must be "
     "... and have ZX_RIGHT_READ", "CACHE_CLEAN needs READ"),
    ("page.rights.cache_clean_invalidate", "RIGHTS", "If op is "
     "ZX_VMO_OP_CACHE_CLEAN_INVALIDATE, handle must be ... and have ZX_RIGHT_READ",
     "CACHE_CLEAN_INVALIDATE needs READ"),
    ("page.rights.sufficient", "RIGHTS, ERRORS", "handle does not have sufficient rights",
     "ACCESS_DENIED only for a missing right the RIGHTS section names"),
    ("page.return_value", "RETURN VALUE", "In the event of failure, a negative error value "
     "is returned", "a failure returns an error status"),
    ("page.errors.listed", "ERRORS", "ZX_ERR_", "an op returns only the statuses the ERRORS "
     "section lists (or OK)"),
    ("page.errors.bad_handle", "ERRORS", "ZX_ERR_BAD_HANDLE handle is not a valid handle",
     "an invalid handle is BAD_HANDLE"),
    ("page.errors.out_of_range", "ERRORS", "ZX_ERR_OUT_OF_RANGE An invalid memory range "
     "specified by offset and size", "an invalid range is OUT_OF_RANGE"),
    ("page.errors.no_memory", "ERRORS", "Allocations to commit pages for ZX_VMO_OP_COMMIT or "
     "ZX_VMO_OP_ZERO failed", "COMMIT and ZERO may fail with NO_MEMORY"),
    ("page.errors.wrong_type", "ERRORS", "ZX_ERR_WRONG_TYPE handle is not a VMO handle",
     "a handle to another object is WRONG_TYPE"),
    ("page.errors.invalid_buffer", "ERRORS", "buffer is an invalid pointer (if required by "
     "the operation)", "LOCK with an invalid buffer is INVALID_ARGS"),
    ("page.errors.invalid_op", "ERRORS", "op is not a valid operation", "an unknown op is "
     "INVALID_ARGS"),
    ("page.errors.cache_size_zero", "ERRORS", "size is zero and op is a cache operation",
     "a cache op of size 0 is INVALID_ARGS"),
    ("page.errors.decommit_unaligned", "ERRORS", "op was ZX_VMO_OP_DECOMMIT and range was "
     "not page aligned", "an unaligned DECOMMIT is INVALID_ARGS"),
    ("page.errors.not_discardable", "ERRORS", "ZX_VMO_OP_UNLOCK and the VMO is not "
     "discardable", "the LOCK family on a VMO that is not discardable is NOT_SUPPORTED"),
    ("page.errors.decommit_not_allowed", "ERRORS", "the underlying VMO does not allow "
     "decommiting", "DECOMMIT where the VMO does not allow it is NOT_SUPPORTED"),
    ("page.errors.unavailable", "ERRORS", "the VMO was discardable and the VMO has been "
     "discarded by the kernel", "TRY_LOCK of a discarded VMO is UNAVAILABLE"),
    ("page.errors.unlock_not_locked", "ERRORS", "the VMO is discardable and the VMO was not "
     "previously locked", "UNLOCK of a VMO not locked is BAD_STATE"),
    ("page.errors.pager_commit", "ERRORS", "the VMO is backed by a pager and the pager or "
     "the VMO is in a bad state", "COMMIT of a pager VMO may fail with BAD_STATE"),
    ("page.errors.pager_io", "ERRORS", "the pager encountered an I/O error while committing",
     "COMMIT of a pager VMO may fail with IO"),
    ("page.errors.pager_data", "ERRORS", "the contents that were read in by the pager for the "
     "pages being committed are corrupted", "COMMIT of a pager VMO may fail with "
     "IO_DATA_INTEGRITY"),
    ("page.silent.physical", "(none)", "", "the page says nothing of physical VMOs: any "
     "error is allowed there"),
    ("page.silent.discarded", "(none)", "", "the page says nothing of COMMIT on a discarded "
     "VMO: any error is allowed there"),
)


def _all() -> dict[str, Fact]:
    facts = _facts()
    facts += [Fact(i, meaning, ("page",), "Reference page", quote=f"{sec}: \"{q}\""
                   if q else sec) for i, sec, q, meaning in _PAGE]
    table: dict[str, Fact] = {}
    for f in facts:
        assert f.id not in table, f"fact id {f.id} defined twice"
        assert f.section in SECTIONS or f.section == "Reference page", f.section
        assert all(s in SOURCES for s in f.sources), f.id
        assert "\n" not in f.text, f.id
        table[f.id] = f
    return table


FACTS: MappingProxyType[str, Fact] = MappingProxyType(_all())


def quoted(why: str) -> str:
    """A citation of page sentences with the section and phrase that find each."""
    return "; ".join(f"{i} ({FACTS[i].quote})" if i in FACTS and FACTS[i].quote else i
                     for i in ids(why))


def ids(why: str) -> list[str]:
    """The ids a citation names, in order (a citation is ids joined by ", ")."""
    return [i for i in (p.strip() for p in why.split(",")) if i]


def explain(why: str) -> str:
    """A citation as the tool prints it: each id with its one-line fact."""
    out = []
    for i in ids(why):
        f = FACTS.get(i)
        out.append(f"{i}: {f.text.rstrip('.')}" if f is not None else i)
    return "; ".join(out)


def unknown(why: str) -> list[str]:
    """The ids of a citation that are not in the registry."""
    return [i for i in ids(why) if i not in FACTS]
