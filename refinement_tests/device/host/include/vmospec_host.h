// Host build only: what the host implementation offers beyond the Zircon syscalls. On a
// real system the boot options and memory pressure belong to the kernel; on the host the
// runner sets them per trace (runner.c uses these under VMOSPEC_HOST only).
#ifndef VMOSPEC_HOST_H_
#define VMOSPEC_HOST_H_

#include <zircon/types.h>

// The largest page the host build serves: every step may hold a few page-sized buffers.
#define HOSTZX_MAX_PAGE ((uint64_t)1 << 24)
// Bytes all frames may hold together unless the runner is told otherwise.
#define HOSTZX_DEFAULT_MEMORY ((uint64_t)1 << 30)

// The page size and the boot option kernel.enable-debugging-syscalls for what follows.
// Returns ZX_ERR_NOT_SUPPORTED for a page size the host cannot back with whole OS pages,
// one larger than HOSTZX_MAX_PAGE, or one larger than the memory budget.
zx_status_t hostzx_configure(uint64_t page_size, int debugging_syscalls);

// The memory budget: bytes all frames of all VMOs may hold together; a commit past it
// fails with ZX_ERR_NO_MEMORY, as the kernel's would when memory runs out.
zx_status_t hostzx_set_memory(uint64_t bytes);

// Memory pressure on one VMO: discard it if it is discardable and unlocked, or evict the
// clean pages of its pager-backed root (docs/trace-format.md, the reclaim event).
zx_status_t hostzx_reclaim(zx_handle_t vmo, int* discarded, uint64_t* evicted_bytes);

#endif  // VMOSPEC_HOST_H_
