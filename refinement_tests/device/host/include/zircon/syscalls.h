// Host build: the Zircon syscalls the trace runner uses, declared with their real names
// and signatures. host/zircon_host.c implements them on Linux.
#ifndef VMOSPEC_HOST_ZIRCON_SYSCALLS_H_
#define VMOSPEC_HOST_ZIRCON_SYSCALLS_H_

#include <zircon/types.h>
#include <zircon/syscalls/object.h>
#include <zircon/syscalls/port.h>

uint32_t zx_system_get_page_size(void);

zx_status_t zx_vmo_create(uint64_t size, uint32_t options, zx_handle_t* out);
zx_status_t zx_vmo_create_child(zx_handle_t handle, uint32_t options, uint64_t offset,
                                uint64_t size, zx_handle_t* out);
zx_status_t zx_handle_duplicate(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out);
zx_status_t zx_handle_close(zx_handle_t handle);
zx_status_t zx_vmo_op_range(zx_handle_t handle, uint32_t op, uint64_t offset, uint64_t size,
                            void* buffer, size_t buffer_size);
zx_status_t zx_vmo_read(zx_handle_t handle, void* buffer, uint64_t offset, size_t buffer_size);
zx_status_t zx_vmo_write(zx_handle_t handle, const void* buffer, uint64_t offset,
                         size_t buffer_size);
zx_status_t zx_vmo_get_size(zx_handle_t handle, uint64_t* size);
zx_status_t zx_vmo_set_size(zx_handle_t handle, uint64_t size);
zx_status_t zx_vmo_set_cache_policy(zx_handle_t handle, uint32_t cache_policy);
zx_status_t zx_object_get_info(zx_handle_t handle, uint32_t topic, void* buffer,
                               size_t buffer_size, size_t* actual, size_t* avail);

zx_status_t zx_port_create(uint32_t options, zx_handle_t* out);
zx_status_t zx_port_wait(zx_handle_t handle, zx_time_t deadline, zx_port_packet_t* packet);
zx_status_t zx_port_queue(zx_handle_t handle, const zx_port_packet_t* packet);

zx_status_t zx_pager_create(uint32_t options, zx_handle_t* out);
zx_status_t zx_pager_create_vmo(zx_handle_t pager, uint32_t options, zx_handle_t port,
                                uint64_t key, uint64_t size, zx_handle_t* out);
zx_status_t zx_pager_supply_pages(zx_handle_t pager, zx_handle_t pager_vmo, uint64_t offset,
                                  uint64_t length, zx_handle_t aux_vmo, uint64_t aux_offset);
zx_status_t zx_pager_op_range(zx_handle_t pager, uint32_t op, zx_handle_t pager_vmo,
                              uint64_t offset, uint64_t length, uint64_t data);

#endif  // VMOSPEC_HOST_ZIRCON_SYSCALLS_H_
