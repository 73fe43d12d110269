// Host build: port packets, as far as the runner's pager thread reads them.
#ifndef VMOSPEC_HOST_ZIRCON_SYSCALLS_PORT_H_
#define VMOSPEC_HOST_ZIRCON_SYSCALLS_PORT_H_

#include <zircon/types.h>

#define ZX_PKT_TYPE_USER ((uint32_t)0x00u)
#define ZX_PKT_TYPE_PAGE_REQUEST ((uint32_t)0x09u)

typedef struct zx_packet_user {
  uint64_t u64[4];
} zx_packet_user_t;

typedef struct zx_packet_page_request {
  uint16_t command;
  uint16_t flags;
  uint32_t reserved0;
  uint64_t offset;
  uint64_t length;
  uint64_t reserved1;
} zx_packet_page_request_t;

typedef struct zx_port_packet {
  uint64_t key;
  uint32_t type;
  zx_status_t status;
  union {
    zx_packet_user_t user;
    zx_packet_page_request_t page_request;
  };
} zx_port_packet_t;

#endif  // VMOSPEC_HOST_ZIRCON_SYSCALLS_PORT_H_
