// Host build: ZX_INFO_VMO and its record (the fields the runner reads keep their SDK names).
#ifndef VMOSPEC_HOST_ZIRCON_SYSCALLS_OBJECT_H_
#define VMOSPEC_HOST_ZIRCON_SYSCALLS_OBJECT_H_

#include <zircon/types.h>

#define ZX_INFO_TOPIC(topic, version) ((zx_object_info_topic_t)((topic) | ((version) << 28)))
#define ZX_INFO_VMO ZX_INFO_TOPIC(23u, 2u)

#define ZX_INFO_VMO_TYPE_PAGED (1u << 0)
#define ZX_INFO_VMO_RESIZABLE (1u << 1)
#define ZX_INFO_VMO_IS_COW_CLONE (1u << 2)
#define ZX_INFO_VMO_VIA_HANDLE (1u << 3)
#define ZX_INFO_VMO_VIA_MAPPING (1u << 4)
#define ZX_INFO_VMO_PAGER_BACKED (1u << 5)
#define ZX_INFO_VMO_CONTIGUOUS (1u << 6)
#define ZX_INFO_VMO_DISCARDABLE (1u << 7)
#define ZX_INFO_VMO_IMMUTABLE (1u << 8)

typedef struct zx_info_vmo {
  zx_koid_t koid;
  char name[32];
  uint64_t size_bytes;
  zx_koid_t parent_koid;
  size_t num_children;
  size_t num_mappings;
  size_t share_count;
  uint32_t flags;
  uint8_t padding1[4];
  uint64_t committed_bytes;
  zx_rights_t handle_rights;
  uint32_t cache_policy;
  uint64_t metadata_bytes;
  uint64_t committed_change_events;
  uint64_t content_size;
  uint64_t populated_bytes;
} zx_info_vmo_t;

#endif  // VMOSPEC_HOST_ZIRCON_SYSCALLS_OBJECT_H_
