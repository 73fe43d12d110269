// Host build: the Zircon types, constants and structures the trace runner uses, with
// their real names and values (docs/kernel-facts.md, notes/syscall-facts.md), so that
// runner.c compiles unchanged against this header and against the Fuchsia SDK's.
#ifndef VMOSPEC_HOST_ZIRCON_TYPES_H_
#define VMOSPEC_HOST_ZIRCON_TYPES_H_

#include <stddef.h>
#include <stdint.h>

typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef uint32_t zx_rights_t;
typedef uint64_t zx_koid_t;
typedef int64_t zx_time_t;
typedef uint32_t zx_object_info_topic_t;

#define ZX_HANDLE_INVALID ((zx_handle_t)0)
#define ZX_HANDLE_FIXED_BITS_MASK ((zx_handle_t)0x3)
#define ZX_TIME_INFINITE INT64_MAX

#include <zircon/errors.h>
#include <zircon/rights.h>

// zx_vmo_op_range ops.
#define ZX_VMO_OP_COMMIT 1u
#define ZX_VMO_OP_DECOMMIT 2u
#define ZX_VMO_OP_LOCK 3u
#define ZX_VMO_OP_UNLOCK 4u
#define ZX_VMO_OP_CACHE_SYNC 6u
#define ZX_VMO_OP_CACHE_INVALIDATE 7u
#define ZX_VMO_OP_CACHE_CLEAN 8u
#define ZX_VMO_OP_CACHE_CLEAN_INVALIDATE 9u
#define ZX_VMO_OP_ZERO 10u
#define ZX_VMO_OP_TRY_LOCK 11u
#define ZX_VMO_OP_DONT_NEED 12u
#define ZX_VMO_OP_ALWAYS_NEED 13u
#define ZX_VMO_OP_PREFETCH 14u

// zx_vmo_set_cache_policy policies.
#define ZX_CACHE_POLICY_CACHED 0u
#define ZX_CACHE_POLICY_UNCACHED 1u
#define ZX_CACHE_POLICY_UNCACHED_DEVICE 2u
#define ZX_CACHE_POLICY_WRITE_COMBINING 3u
#define ZX_CACHE_POLICY_MASK 3u

// zx_vmo_create options.
#define ZX_VMO_RESIZABLE ((uint32_t)0x2u)
#define ZX_VMO_DISCARDABLE ((uint32_t)0x4u)
#define ZX_VMO_TRAP_DIRTY ((uint32_t)0x8u)
#define ZX_VMO_UNBOUNDED ((uint32_t)0x10u)

// zx_vmo_create_child options.
#define ZX_VMO_CHILD_SNAPSHOT ((uint32_t)0x1u)
#define ZX_VMO_CHILD_RESIZABLE ((uint32_t)0x4u)
#define ZX_VMO_CHILD_SLICE ((uint32_t)0x8u)
#define ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE ((uint32_t)0x10u)
#define ZX_VMO_CHILD_NO_WRITE ((uint32_t)0x20u)
#define ZX_VMO_CHILD_REFERENCE ((uint32_t)0x40u)
#define ZX_VMO_CHILD_SNAPSHOT_MODIFIED ((uint32_t)0x80u)

// Pager.
#define ZX_PAGER_OP_FAIL 1u
#define ZX_PAGER_VMO_READ ((uint16_t)0)
#define ZX_PAGER_VMO_COMPLETE ((uint16_t)1)

typedef struct zx_vmo_lock_state {
  uint64_t offset;
  uint64_t size;
  uint64_t discarded_offset;
  uint64_t discarded_size;
} zx_vmo_lock_state_t;

#endif  // VMOSPEC_HOST_ZIRCON_TYPES_H_
