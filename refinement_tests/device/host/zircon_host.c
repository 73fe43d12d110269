// A host implementation, for Linux, of the Zircon syscalls the trace runner uses: a third
// implementation of the zircon-2025 semantics next to the spec and model/, written from
// docs/kernel-facts.md and notes/syscall-facts.md. notes/device.md lists where it deviates.
//
// Memory is real OS memory. Every VMO that owns pages has a memfd; each committed page is
// one page-sized frame slot in it. Freeing a frame punches a hole (fallocate), so the
// committed bytes ZX_INFO_VMO reports are the memfd's allocated blocks (fstat st_blocks),
// not a count kept on the side. A VMO's page list maps page numbers to slots, so a VMO of
// 2^64 bytes costs what its committed pages cost.
//
// Pager-backed VMOs work as on Zircon: a page that is needed and absent becomes a page
// request packet on the pager's port, and the calling thread blocks until the runner's
// pager thread supplies the page (zx_pager_supply_pages) or fails it (ZX_PAGER_OP_FAIL).
//
// One lock serializes the kernel; a thread waiting for pages waits on a condition
// variable, which releases it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <threads.h>
#include <unistd.h>
#include <zircon/syscalls.h>

#include "vmospec_host.h"

#define U64_MAX UINT64_MAX
#define DEFAULT_VMO_RIGHTS ((zx_rights_t)0xD0EFu)
#define DEFAULT_PAGER_RIGHTS \
  (ZX_RIGHT_INSPECT | ZX_RIGHT_TRANSFER | ZX_RIGHT_ATTACH_VMO | ZX_RIGHT_MANAGE_VMO)
#define DEFAULT_PORT_RIGHTS \
  (ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_INSPECT)

// --- page-number interval sets ------------------------------------------------------------

typedef struct {
  uint64_t a, b;  // [a, b)
} ival_t;

typedef struct {
  ival_t* v;
  size_t n, cap;
} iset_t;

// The host kernel failing itself (no memory for its own tables, an I/O error on a memfd)
// is not an outcome of the trace: the runner stops with one `error` line, which the
// Python side reports with the steps observed before it.
static _Noreturn void host_fail(const char* what) {
  const char* why = errno ? strerror(errno) : "failed";
  printf("error 0 host: %s: %s\n", what, why);
  fflush(stdout);
  fprintf(stderr, "vmospec-runner: host: %s: %s\n", what, why);
  exit(3);
}

static void* xrealloc(void* p, size_t n) {
  void* q = realloc(p, n ? n : 1);
  if (!q) host_fail("out of memory for the host kernel's own tables");
  return q;
}

static void iset_remove(iset_t* s, uint64_t a, uint64_t b) {
  if (a >= b) return;
  size_t out = 0;
  ival_t* res = xrealloc(NULL, (s->n + 1) * sizeof(ival_t));
  for (size_t i = 0; i < s->n; i++) {
    ival_t x = s->v[i];
    if (x.b <= a || x.a >= b) {
      res[out++] = x;
      continue;
    }
    if (x.a < a) res[out++] = (ival_t){x.a, a};
    if (x.b > b) res[out++] = (ival_t){b, x.b};
  }
  free(s->v);
  s->v = res;
  s->n = out;
  s->cap = s->n + 1;
}

static void iset_add(iset_t* s, uint64_t a, uint64_t b) {
  if (a >= b) return;
  iset_remove(s, a, b);
  size_t i = 0;
  while (i < s->n && s->v[i].a < a) i++;
  s->v = xrealloc(s->v, (s->n + 1) * sizeof(ival_t));
  memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(ival_t));
  s->v[i] = (ival_t){a, b};
  s->n++;
  // merge touching neighbours
  size_t out = 0;
  for (size_t k = 0; k < s->n; k++) {
    if (out && s->v[out - 1].b >= s->v[k].a) {
      if (s->v[k].b > s->v[out - 1].b) s->v[out - 1].b = s->v[k].b;
    } else {
      s->v[out++] = s->v[k];
    }
  }
  s->n = out;
}

static bool iset_has(const iset_t* s, uint64_t p) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->v[mid].b <= p) {
      lo = mid + 1;
    } else if (s->v[mid].a > p) {
      hi = mid;
    } else {
      return true;
    }
  }
  return false;
}

static void iset_free(iset_t* s) {
  free(s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

// --- page lists: page number -> frame slot, sorted -------------------------------------------

typedef struct {
  uint64_t page;
  uint64_t slot;
} pent_t;

typedef struct {
  pent_t* v;
  size_t n, cap;  // the array grows geometrically: one realloc per doubling
} plist_t;

static size_t plist_lower(const plist_t* l, uint64_t page) {
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->v[mid].page < page) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

static pent_t* plist_find(const plist_t* l, uint64_t page) {
  size_t i = plist_lower(l, page);
  return (i < l->n && l->v[i].page == page) ? &l->v[i] : NULL;
}

static void plist_insert(plist_t* l, uint64_t page, uint64_t slot) {
  size_t i = plist_lower(l, page);
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 16;
    l->v = xrealloc(l->v, l->cap * sizeof(pent_t));
  }
  memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(pent_t));
  l->v[i] = (pent_t){page, slot};
  l->n++;
}

// --- kernel state ----------------------------------------------------------------------------

enum { OBJ_VMO = 1, OBJ_PAGER, OBJ_PORT };
enum { ROLE_ROOT, ROLE_SLICE, ROLE_REFERENCE, ROLE_SNAPSHOT };
enum { BASE_ZERO, BASE_PAGER, BASE_FILL };
enum { TR_UNSET, TR_UNRECLAIMABLE, TR_RECLAIMABLE, TR_DISCARDED };

// Bytes [from, page end) of a page that reads its base content read zero instead.
typedef struct {
  uint64_t page, from;
} overlay_t;

// The pages a VMO owns (a root or a snapshot; slices and references own none).
typedef struct {
  int fd;
  uint64_t nslots;
  uint64_t* free_slots;
  size_t nfree;
  plist_t pages;
  iset_t zero;  // pages that read zero without a frame, over the base content
  int base;     // what an absent page reads
  uint64_t fill_shift, fill_limit;  // BASE_FILL: page n reads (n + shift + 1) % 256 if n < limit
  overlay_t* overlays;
  size_t noverlays;
} store_t;

typedef struct obj obj_t;

typedef struct packet_node {
  zx_port_packet_t pkt;
  struct packet_node* next;
} packet_node_t;

struct obj {
  int type;
  zx_koid_t koid;
  uint64_t refs;  // handles, plus children for a VMO
  uint64_t handles;
  obj_t* next_live;
  obj_t* prev_live;
  // VMO
  int role;
  bool resizable, discardable, pager_backed, immutable;
  uint32_t cache_policy;  // ZX_CACHE_POLICY_*; a slice takes its parent's
  uint64_t size;  // page-aligned; a reference follows its parent
  obj_t* parent;
  uint64_t window;
  store_t* store;
  int tstate;
  uint64_t tcount;
  obj_t* pager;  // a pager root's pager while it lives
  bool detached;
  iset_t dirty, always_need;
  obj_t* port;
  uint64_t key;
  // A child of a pager-backed VMO reads through `thru` (the VMO whose pages it sees)
  // where it holds nothing: its page n is thru's page n + thru_shift, for n < thru_limit
  // (cow.unidirectional). `shared`: it shares pages with a snapshot sibling.
  obj_t* thru;
  uint64_t thru_shift, thru_limit;
  bool shared;
  // port
  packet_node_t* head;
  packet_node_t* tail;
};

typedef struct {
  obj_t* obj;  // NULL once closed
  zx_rights_t rights;
} handle_t;

// A page request outstanding on a pager root.
typedef struct request {
  obj_t* vmo;
  uint64_t page;
  bool done;
  zx_status_t status;
  struct request* next;
} request_t;

static struct {
  once_flag once;
  mtx_t lock;
  cnd_t changed;  // pages supplied or failed, a packet queued
  handle_t* handles;
  size_t nhandles;
  obj_t* live;
  request_t* requests;
  uint64_t page;
  bool debugging_syscalls;
  uint64_t frames;
  uint64_t memory;  // bytes all frames may hold together (the runner's budget)
  zx_koid_t koids;
  bool blocks_exact;
} K = {.once = ONCE_FLAG_INIT};

static void init_once(void) {
  mtx_init(&K.lock, mtx_plain);
  cnd_init(&K.changed);
  K.page = 4096;
  K.memory = HOSTZX_DEFAULT_MEMORY;  // beyond it, NO_MEMORY
  // shmem huge pages are off unless this file says always, within_size or force
  K.blocks_exact = true;
  FILE* f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
  if (f) {
    char line[256] = {0};
    if (fgets(line, sizeof(line), f)) {
      K.blocks_exact = !strstr(line, "[always]") && !strstr(line, "[within_size]") &&
                       !strstr(line, "[force]");
    }
    fclose(f);
  }
}

static void lock(void) {
  call_once(&K.once, init_once);
  mtx_lock(&K.lock);
}

static void unlock(void) { mtx_unlock(&K.lock); }

// --- frames ------------------------------------------------------------------------------------

static store_t* store_new(int base) {
  store_t* s = xrealloc(NULL, sizeof(store_t));
  memset(s, 0, sizeof(*s));
  s->fd = memfd_create("vmospec-vmo", MFD_CLOEXEC);
  if (s->fd < 0) host_fail("memfd_create");
  s->base = base;
  return s;
}

static off_t slot_off(uint64_t slot) { return (off_t)(slot * K.page); }

// The budget is in bytes, whatever the page size: frames * page never passes K.memory.
static uint64_t frame_limit(void) { return K.memory / K.page; }

static bool frames_available(uint64_t n) {
  return n <= frame_limit() && K.frames <= frame_limit() - n;
}

// pread/pwrite move fewer bytes than asked when they like (a signal, a large request):
// both loop until all is done.
static void pread_all(int fd, uint8_t* buf, uint64_t n, off_t off) {
  while (n) {
    ssize_t r = pread(fd, buf, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) host_fail("pread of a memfd");
    if (r == 0) {  // past the memfd's end: never written, so zero
      memset(buf, 0, n);
      return;
    }
    buf += r;
    n -= (uint64_t)r;
    off += r;
  }
}

static void pwrite_all(int fd, const uint8_t* buf, uint64_t n, off_t off) {
  while (n) {
    ssize_t r = pwrite(fd, buf, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) host_fail("pwrite to a memfd");
    buf += r;
    n -= (uint64_t)r;
    off += r;
  }
}

static uint64_t frame_alloc(store_t* s) {
  uint64_t slot = s->nfree ? s->free_slots[--s->nfree] : s->nslots++;
  K.frames++;
  return slot;
}

static void frame_free(store_t* s, uint64_t slot) {
  if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, slot_off(slot),
                (off_t)K.page) != 0) {
    host_fail("fallocate (punching a hole in a memfd)");
  }
  s->free_slots = xrealloc(s->free_slots, (s->nfree + 1) * sizeof(uint64_t));
  s->free_slots[s->nfree++] = slot;
  K.frames--;
}

static void store_free(store_t* s) {
  if (!s) return;
  K.frames -= s->pages.n;
  close(s->fd);
  free(s->free_slots);
  free(s->pages.v);
  free(s->overlays);
  iset_free(&s->zero);
  free(s);
}

// Committed bytes: what the OS has allocated for the memfd. Where shared memory may use
// transparent huge pages, one written page can allocate 2 MiB, and the blocks say nothing
// about pages: there the page list's count is used instead (notes/device.md).
static uint64_t store_committed(const store_t* s) {
  if (!K.blocks_exact) return (uint64_t)s->pages.n * K.page;
  struct stat st;
  if (fstat(s->fd, &st) != 0) host_fail("fstat of a memfd");
  uint64_t bytes = (uint64_t)st.st_blocks * 512u;
  return bytes - bytes % K.page;
}

static uint8_t base_byte(const store_t* s, uint64_t n) {
  switch (s->base) {
    case BASE_PAGER:
      return (uint8_t)((n + 1) & 0xff);
    case BASE_FILL:
      return n < s->fill_limit ? (uint8_t)((n + s->fill_shift + 1) & 0xff) : 0;
    default:
      return 0;
  }
}

// What page n reads, into buf (one page).
static void store_read_page(const store_t* s, uint64_t n, uint8_t* buf) {
  const pent_t* e = plist_find(&s->pages, n);
  if (e) {
    pread_all(s->fd, buf, K.page, slot_off(e->slot));
    return;
  }
  if (iset_has(&s->zero, n)) {
    memset(buf, 0, K.page);
    return;
  }
  memset(buf, base_byte(s, n), K.page);
  for (size_t i = 0; i < s->noverlays; i++) {
    if (s->overlays[i].page == n) memset(buf + s->overlays[i].from, 0, K.page - s->overlays[i].from);
  }
}

// Give page n a frame holding what it reads now (a fork, a commit, a page-in of zeros).
static void store_materialize(store_t* s, uint64_t n) {
  if (plist_find(&s->pages, n)) return;
  uint8_t* buf = xrealloc(NULL, K.page);
  store_read_page(s, n, buf);
  uint64_t slot = frame_alloc(s);
  pwrite_all(s->fd, buf, K.page, slot_off(slot));
  free(buf);
  plist_insert(&s->pages, n, slot);
  iset_remove(&s->zero, n, n + 1);
}

// Free the frames of pages [a, b).
static void store_release(store_t* s, uint64_t a, uint64_t b) {
  size_t i = plist_lower(&s->pages, a), j = i;
  while (j < s->pages.n && s->pages.v[j].page < b) frame_free(s, s->pages.v[j++].slot);
  if (j == i) return;
  memmove(&s->pages.v[i], &s->pages.v[j], (s->pages.n - j) * sizeof(pent_t));
  s->pages.n -= j - i;
}

static void store_write(store_t* s, uint64_t off, const uint8_t* data, uint64_t len) {
  while (len) {
    uint64_t n = off / K.page, in = off % K.page;
    uint64_t chunk = K.page - in < len ? K.page - in : len;
    store_materialize(s, n);
    const pent_t* e = plist_find(&s->pages, n);
    pwrite_all(s->fd, data, chunk, slot_off(e->slot) + (off_t)in);
    off += chunk;
    data += chunk;
    len -= chunk;
  }
}

// Does owner o read its page n through its parent? (It holds no frame or zero there.)
static bool reads_through(const obj_t* o, uint64_t n) {
  return o->thru && n < o->thru_limit && !plist_find(&o->store->pages, n) &&
         !iset_has(&o->store->zero, n);
}

// What page n of owner o reads: its own page, or its parent's where it reads through.
static void obj_read_page(const obj_t* o, uint64_t n, uint8_t* buf) {
  while (reads_through(o, n)) {
    n += o->thru_shift;
    o = o->thru;
  }
  store_read_page(o->store, n, buf);
}

static void obj_read(const obj_t* o, uint64_t off, uint8_t* out, uint64_t len) {
  uint8_t* buf = xrealloc(NULL, K.page);
  while (len) {
    uint64_t n = off / K.page, in = off % K.page;
    uint64_t chunk = K.page - in < len ? K.page - in : len;
    obj_read_page(o, n, buf);
    memcpy(out, buf + in, chunk);
    off += chunk;
    out += chunk;
    len -= chunk;
  }
  free(buf);
}

// --- objects and handles -------------------------------------------------------------------

static obj_t* obj_new(int type) {
  obj_t* o = xrealloc(NULL, sizeof(obj_t));
  memset(o, 0, sizeof(*o));
  o->type = type;
  o->koid = ++K.koids;
  o->next_live = K.live;
  if (K.live) K.live->prev_live = o;
  K.live = o;
  return o;
}

static void fail_requests_of(obj_t* vmo, zx_status_t status) {
  for (request_t* r = K.requests; r; r = r->next) {
    if (r->vmo == vmo && !r->done) {
      r->done = true;
      r->status = status;
    }
  }
  cnd_broadcast(&K.changed);
}

static void obj_unref(obj_t* o) {
  while (o && --o->refs == 0) {
    if (o->prev_live) {
      o->prev_live->next_live = o->next_live;
    } else {
      K.live = o->next_live;
    }
    if (o->next_live) o->next_live->prev_live = o->prev_live;
    obj_t* parent = NULL;
    if (o->type == OBJ_VMO) {
      fail_requests_of(o, ZX_ERR_BAD_STATE);
      store_free(o->store);
      iset_free(&o->dirty);
      iset_free(&o->always_need);
      parent = o->parent;
    } else if (o->type == OBJ_PAGER) {
      // The pager is gone: its VMOs' page source is detached (pager.detached).
      for (obj_t* v = K.live; v; v = v->next_live) {
        if (v->type == OBJ_VMO && v->pager == o) {
          v->pager = NULL;
          v->detached = true;
          fail_requests_of(v, ZX_ERR_BAD_STATE);
        }
      }
    } else if (o->type == OBJ_PORT) {
      while (o->head) {
        packet_node_t* n = o->head;
        o->head = n->next;
        free(n);
      }
    }
    if (o->type == OBJ_VMO && o->port) obj_unref(o->port);
    free(o);
    o = parent;
  }
}

static zx_handle_t handle_new(obj_t* o, zx_rights_t rights) {
  K.handles = xrealloc(K.handles, (K.nhandles + 1) * sizeof(handle_t));
  K.handles[K.nhandles] = (handle_t){o, rights};
  o->refs++;
  o->handles++;
  K.nhandles++;
  // Values are never reused, so a closed handle stays invalid; low bits as on Zircon.
  return (zx_handle_t)((K.nhandles << 2) | ZX_HANDLE_FIXED_BITS_MASK);
}

static handle_t* handle_get(zx_handle_t h) {
  if ((h & ZX_HANDLE_FIXED_BITS_MASK) != ZX_HANDLE_FIXED_BITS_MASK) return NULL;
  size_t i = (size_t)(h >> 2);
  if (i == 0 || i > K.nhandles) return NULL;
  handle_t* e = &K.handles[i - 1];
  return e->obj ? e : NULL;
}

static zx_status_t lookup(zx_handle_t h, int type, handle_t** out) {
  handle_t* e = handle_get(h);
  if (!e) return ZX_ERR_BAD_HANDLE;
  if (e->obj->type != type) return ZX_ERR_WRONG_TYPE;
  *out = e;
  return ZX_OK;
}

// --- what a call acts on ---------------------------------------------------------------------

typedef struct {
  obj_t* vmo;
  zx_rights_t rights;
  uint64_t size;   // as the caller sees it (a reference follows its parent)
  obj_t* owner;    // the VMO whose pages it sees
  uint64_t shift;  // its offset 0 in the owner's offsets
  obj_t* root;
} target_t;

static target_t target_of(handle_t* e) {
  target_t t = {e->obj, e->rights, 0, e->obj, 0, e->obj};
  obj_t* o = e->obj;
  while (!o->store) {
    t.shift += o->window;
    o = o->parent;
  }
  t.owner = o;
  while (t.root->parent) t.root = t.root->parent;
  obj_t* s = e->obj;
  while (s->role == ROLE_REFERENCE) s = s->parent;
  t.size = s->size;
  return t;
}

static bool add_ovf(uint64_t a, uint64_t b, uint64_t* sum);
static bool discarded(const obj_t* v) { return v->discardable && v->tstate == TR_DISCARDED; }

static bool add_ovf(uint64_t a, uint64_t b, uint64_t* sum) {
  *sum = a + b;
  return *sum < a;
}

static bool ceil_page(uint64_t x, uint64_t* out) {
  if (x > U64_MAX - (K.page - 1)) return true;
  *out = (x + K.page - 1) / K.page * K.page;
  return false;
}

static uint64_t floor_page(uint64_t x) { return x / K.page * K.page; }

// VmObjectPaged::MAX_SIZE: the u64 range rounded down to 32 pages (the spec's value).
static uint64_t max_size(void) { return U64_MAX / (32 * K.page) * (32 * K.page); }

static obj_t* owner_of(obj_t* o) {
  while (!o->store && o->parent) o = o->parent;
  return o;
}

// A snapshot whose original is gone: nothing but this snapshot keeps the root it was
// taken of (or the references and slices it was taken through) alive. The kernel's
// hidden node has merged into it, and it is a root now (decommit.cow_or_pager).
static bool merged_to_root(const obj_t* v) {
  if (v->role != ROLE_SNAPSHOT || !v->parent) return false;
  const obj_t* p = v->parent;
  for (;;) {
    if (p->handles || p->refs != 1) return false;  // its one reference is the chain's
    if (p->store || !p->parent) break;
    p = p->parent;
  }
  return p->role == ROLE_ROOT && !p->pager_backed;
}

// Where byte 0 of `o` lies in its root (child.snapshot.root_overflow, set_size.root_overflow), and whether that overflows.
static bool root_offset(const obj_t* o, uint64_t* out) {
  uint64_t total = 0;
  while (o->parent && !merged_to_root(o)) {
    if (add_ovf(total, o->window, &total)) return true;
    o = o->parent;
  }
  *out = total;
  return false;
}

// --- paging ---------------------------------------------------------------------------------

static zx_status_t request_page(obj_t* vmo, uint64_t page) {
  request_t r = {vmo, page, false, ZX_OK, K.requests};
  K.requests = &r;
  packet_node_t* n = xrealloc(NULL, sizeof(packet_node_t));
  memset(n, 0, sizeof(*n));
  n->pkt.key = vmo->key;
  n->pkt.type = ZX_PKT_TYPE_PAGE_REQUEST;
  n->pkt.page_request.command = ZX_PAGER_VMO_READ;
  n->pkt.page_request.offset = page * K.page;
  n->pkt.page_request.length = K.page;
  obj_t* port = vmo->port;
  if (port->tail) {
    port->tail->next = n;
  } else {
    port->head = n;
  }
  port->tail = n;
  cnd_broadcast(&K.changed);
  while (!r.done) cnd_wait(&K.changed, &K.lock);
  request_t** p = &K.requests;
  while (*p != &r) p = &(*p)->next;
  *p = r.next;
  return r.status;
}

// Make the owner's pages [a, b) committed (commit.effect). A pager root asks its pager
// for absent pages, one page at a time in ascending order; a failure ends the call and the
// pages before it stay (nothing is rolled back). `reading` needs no frame where a page
// reads zero without one (a dirty zero interval).
static uint64_t present_in(const store_t* s, uint64_t a, uint64_t b) {
  return plist_lower(&s->pages, b) - plist_lower(&s->pages, a);
}

static uint64_t zero_in(const store_t* s, uint64_t a, uint64_t b) {
  uint64_t n = 0;
  for (size_t i = 0; i < s->zero.n; i++) {
    uint64_t x = s->zero.v[i].a > a ? s->zero.v[i].a : a;
    uint64_t y = s->zero.v[i].b < b ? s->zero.v[i].b : b;
    if (x < y) n += y - x;
  }
  return n;
}

// The first page at or after n in [n, b) that has no frame and, when `skip_zero`, is not
// in a zero interval; b if there is none. Costs what the frames and intervals cost, not
// what the range does.
static uint64_t next_absent(const store_t* s, uint64_t n, uint64_t b, bool skip_zero) {
  size_t i = plist_lower(&s->pages, n);
  while (n < b) {
    if (i < s->pages.n && s->pages.v[i].page == n) {
      n++;
      i++;
      continue;
    }
    if (!skip_zero) return n;
    bool moved = false;
    for (size_t k = 0; k < s->zero.n; k++) {
      if (s->zero.v[k].a <= n && n < s->zero.v[k].b) {
        n = s->zero.v[k].b;
        moved = true;
        break;
      }
    }
    if (!moved) return n;
    i = plist_lower(&s->pages, n);
  }
  return b;
}

// Make the owner's pages [a, b) committed (commit.effect). A pager root asks its pager
// for absent pages, one page at a time in ascending order; a failure ends the call and the
// pages before it stay (nothing is rolled back). `reading` needs no frame where a page
// reads zero without one (a dirty zero interval), nor outside a pager-backed VMO.
static zx_status_t commit_through(obj_t* owner, uint64_t a, uint64_t b, bool reading);

static zx_status_t commit_pages(obj_t* owner, uint64_t a, uint64_t b, bool reading) {
  if (owner->thru) return commit_through(owner, a, b, reading);
  store_t* s = owner->store;
  bool pager = s->base == BASE_PAGER;
  if (reading && !pager) return ZX_OK;
  uint64_t need = (b - a) - present_in(s, a, b) - (reading ? zero_in(s, a, b) : 0);
  if (!frames_available(need)) return ZX_ERR_NO_MEMORY;
  for (uint64_t n = next_absent(s, a, b, reading); n < b;
       n = next_absent(s, n + 1, b, reading)) {
    if (pager && !iset_has(&s->zero, n)) {
      // a detached source supplies nothing: the pages before this one stay committed
      if (owner->detached) return ZX_ERR_BAD_STATE;
      zx_status_t st = request_page(owner, n);
      if (st != ZX_OK) return st;
      if (!plist_find(&s->pages, n)) return ZX_ERR_BAD_STATE;  // resolved without a page
      continue;
    }
    store_materialize(s, n);
  }
  return ZX_OK;
}

// A child reading through (cow.read_through): a read pages its parent's pages in where
// the parent lacks them (they land in the root); a write or COMMIT first does the same,
// then copies each page into the child.
static zx_status_t commit_through(obj_t* owner, uint64_t a, uint64_t b, bool reading) {
  store_t* s = owner->store;
  if (!reading) {
    uint64_t need = (b - a) - present_in(s, a, b);
    if (!frames_available(need)) return ZX_ERR_NO_MEMORY;
  }
  uint8_t* buf = xrealloc(NULL, K.page);
  zx_status_t st = ZX_OK;
  for (uint64_t n = next_absent(s, a, b, reading); n < b && st == ZX_OK;
       n = next_absent(s, n + 1, b, reading)) {
    if (reads_through(owner, n)) {
      st = commit_pages(owner->thru, n + owner->thru_shift, n + owner->thru_shift + 1, true);
      if (st != ZX_OK || reading) continue;
      obj_read_page(owner, n, buf);
      store_write(s, n * K.page, buf, K.page);
    } else if (!reading) {
      store_materialize(s, n);
    }
  }
  free(buf);
  return st;
}

static void mark_dirty(obj_t* owner, uint64_t a, uint64_t b) {
  if (owner->pager_backed) iset_add(&owner->dirty, a, b);
}

// --- zx_vmo_create, zx_vmo_create_child ---------------------------------------------------------

uint32_t zx_system_get_page_size(void) {
  lock();
  uint32_t p = (uint32_t)K.page;
  unlock();
  return p;
}

zx_status_t hostzx_set_memory(uint64_t bytes) {
  lock();
  K.memory = bytes;
  unlock();
  return ZX_OK;
}

zx_status_t hostzx_configure(uint64_t page_size, int debugging_syscalls) {
  long os = sysconf(_SC_PAGESIZE);
  if (page_size == 0 || (page_size & (page_size - 1)) || os <= 0 ||
      page_size % (uint64_t)os || page_size > HOSTZX_MAX_PAGE) {
    return ZX_ERR_NOT_SUPPORTED;
  }
  lock();
  if (page_size > K.memory) {  // not one frame would fit in the budget
    unlock();
    return ZX_ERR_NOT_SUPPORTED;
  }
  K.page = page_size;
  K.debugging_syscalls = debugging_syscalls != 0;
  unlock();
  return ZX_OK;
}

zx_status_t zx_vmo_create(uint64_t size, uint32_t options, zx_handle_t* out) {
  lock();
  zx_status_t st = ZX_OK;
  uint64_t rounded = 0;
  if (options & ~(ZX_VMO_RESIZABLE | ZX_VMO_DISCARDABLE | ZX_VMO_UNBOUNDED)) {
    st = ZX_ERR_INVALID_ARGS;
  } else if ((options & ZX_VMO_UNBOUNDED) && (options & ZX_VMO_RESIZABLE)) {
    st = ZX_ERR_INVALID_ARGS;
  } else if (options & ZX_VMO_UNBOUNDED) {
    rounded = max_size();
  } else if (ceil_page(size, &rounded) || rounded > max_size()) {
    st = ZX_ERR_OUT_OF_RANGE;
  }
  if (st == ZX_OK) {
    obj_t* v = obj_new(OBJ_VMO);
    v->role = ROLE_ROOT;
    v->resizable = options & ZX_VMO_RESIZABLE;
    v->discardable = options & ZX_VMO_DISCARDABLE;
    v->size = rounded;
    v->store = store_new(BASE_ZERO);
    *out = handle_new(v, DEFAULT_VMO_RIGHTS | (v->resizable ? ZX_RIGHT_RESIZE : 0));
  }
  unlock();
  return st;
}

#define SNAPSHOTS \
  (ZX_VMO_CHILD_SNAPSHOT | ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | ZX_VMO_CHILD_SNAPSHOT_MODIFIED)
#define KNOWN_CHILD \
  (SNAPSHOTS | ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_REFERENCE | ZX_VMO_CHILD_RESIZABLE | \
   ZX_VMO_CHILD_NO_WRITE)

// The one child type the options name, or 0 for an invalid combination (child.options).
static uint32_t child_type(uint32_t options) {
  if (options & ~KNOWN_CHILD) return 0;
  uint32_t types = options & (SNAPSHOTS | ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_REFERENCE);
  if (types == 0 || (types & (types - 1))) return 0;
  if (types == ZX_VMO_CHILD_SLICE && options != ZX_VMO_CHILD_SLICE) return 0;
  if (types == ZX_VMO_CHILD_REFERENCE &&
      (options & ~(ZX_VMO_CHILD_REFERENCE | ZX_VMO_CHILD_RESIZABLE))) {
    return 0;
  }
  return types;
}

// A snapshot reads as its parent read when it was taken, zero past the parent's end. The
// child gets a copy of the parent's frames in the window; what the parent reads without a
// frame (zero, or a pager's content) it reads the same way, without asking any pager.
static store_t* snapshot_store(const target_t* t, uint64_t offset, uint64_t rounded) {
  store_t* src = t->owner->store;
  uint64_t vis = t->size - (offset < t->size ? offset : t->size);
  if (vis > rounded) vis = rounded;
  uint64_t first = (offset + t->shift) / K.page, npages = vis / K.page;
  store_t* c = store_new(BASE_ZERO);
  if (src->base == BASE_PAGER || src->base == BASE_FILL) {
    c->base = BASE_FILL;
    c->fill_shift = first + (src->base == BASE_FILL ? src->fill_shift : 0);
    uint64_t lim = npages;
    if (src->base == BASE_FILL) {
      uint64_t rest = src->fill_limit > first ? src->fill_limit - first : 0;
      if (rest < lim) lim = rest;
    }
    c->fill_limit = lim;
  }
  for (size_t i = 0; i < src->zero.n; i++) {
    uint64_t a = src->zero.v[i].a, b = src->zero.v[i].b;
    if (b <= first || a >= first + npages) continue;
    if (a < first) a = first;
    if (b > first + npages) b = first + npages;
    iset_add(&c->zero, a - first, b - first);
  }
  uint8_t* buf = xrealloc(NULL, K.page);
  for (size_t i = plist_lower(&src->pages, first);
       i < src->pages.n && src->pages.v[i].page < first + npages; i++) {
    store_read_page(src, src->pages.v[i].page, buf);
    store_write(c, (src->pages.v[i].page - first) * K.page, buf, K.page);
  }
  for (size_t i = 0; i < src->noverlays; i++) {
    uint64_t n = src->overlays[i].page;
    if (n < first || n >= first + npages || plist_find(&src->pages, n)) continue;
    store_read_page(src, n, buf);
    store_write(c, (n - first) * K.page, buf, K.page);
  }
  free(buf);
  return c;
}

// A snapshot under a pager-backed root (cow.unidirectional). AT_LEAST_ON_WRITE, and
// MODIFIED of the root itself, read through the VMO they were taken of. Otherwise the
// pair shares: the child copies the frames and zero marks of the original in its window
// and, where the original holds nothing, reads through the original's own parent.
static void through_child(obj_t* c, const target_t* t, uint64_t offset, uint64_t rounded,
                          uint32_t kind) {
  obj_t* o = t->owner;
  uint64_t vis = t->size - (offset < t->size ? offset : t->size);
  if (vis > rounded) vis = rounded;
  uint64_t first = (offset + t->shift) / K.page, npages = vis / K.page;
  bool one_way = (kind == ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE && !o->shared) ||
                 (kind == ZX_VMO_CHILD_SNAPSHOT_MODIFIED && !o->parent);
  if (one_way) {
    c->store = store_new(BASE_ZERO);
    c->thru = o;
    c->thru_shift = first;
    c->thru_limit = npages;
    return;
  }
  c->store = snapshot_store(t, offset, rounded);
  c->store->base = BASE_ZERO;  // what the original holds nothing of is read through
  c->thru = o->thru;
  c->thru_shift = o->thru_shift + first;
  c->thru_limit = o->thru_limit > first ? o->thru_limit - first : 0;
  if (c->thru_limit > npages) c->thru_limit = npages;
  c->shared = o->shared = true;
}

zx_status_t zx_vmo_create_child(zx_handle_t handle, uint32_t options, uint64_t offset,
                                uint64_t size, zx_handle_t* out) {
  lock();
  uint64_t rounded = 0, end = 0, base = 0, pend = 0;
  bool size_ovf = ceil_page(size, &rounded) || rounded > max_size();
  uint32_t kind = child_type(options & ~ZX_VMO_CHILD_NO_WRITE);  // child.options
  bool is_slice = kind == ZX_VMO_CHILD_SLICE, is_ref = kind == ZX_VMO_CHILD_REFERENCE;
  bool snap = (kind & SNAPSHOTS) != 0;
  bool end_ovf = add_ovf(offset, rounded, &end);
  handle_t* e = NULL;
  zx_status_t st = ZX_OK;
  target_t t = {0};
  obj_t* parent = NULL;
  if (size_ovf) {
    st = ZX_ERR_OUT_OF_RANGE;
  } else if ((options & ZX_VMO_CHILD_NO_WRITE) && (options & ZX_VMO_CHILD_RESIZABLE)) {
    st = ZX_ERR_INVALID_ARGS;
  } else if ((st = lookup(handle, OBJ_VMO, &e)) != ZX_OK) {
  } else if ((e->rights & (ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ)) !=
             (ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ)) {
    st = ZX_ERR_ACCESS_DENIED;
  } else if (e->obj->discardable) {
    st = ZX_ERR_NOT_SUPPORTED;
  } else if (kind == 0) {
    st = ZX_ERR_INVALID_ARGS;
  }
  if (st == ZX_OK) {
    t = target_of(e);
    parent = e->obj;
    bool of_slice = parent->role == ROLE_SLICE;
    bool root_pager = t.root->pager_backed;
    // child.snapshot.slice_unidirectional: unidirectional clones exist only under a pager-backed root
    bool unidirectional =
        root_pager && (kind == ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE ||
                       (kind == ZX_VMO_CHILD_SNAPSHOT_MODIFIED && !t.owner->parent));
    bool projected = root_offset(parent, &base) || add_ovf(base, offset, &base) ||
                     add_ovf(base, rounded, &pend);
    if (is_slice && offset % K.page) {
      st = ZX_ERR_INVALID_ARGS;
    } else if (is_slice && (end_ovf || t.size < end)) {
      st = ZX_ERR_INVALID_ARGS;  // child.slice.bounds: a slice must lie within its parent
    } else if (is_slice && parent->resizable) {
      st = ZX_ERR_NOT_SUPPORTED;
    } else if (is_slice && parent->cache_policy != ZX_CACHE_POLICY_CACHED) {
      st = ZX_ERR_BAD_STATE;  // child.uncached
    } else if (is_ref && (offset != 0 || size != 0)) {
      st = ZX_ERR_INVALID_ARGS;
    } else if (is_ref && of_slice) {
      st = ZX_ERR_NOT_SUPPORTED;
    } else if (is_ref && (options & ZX_VMO_CHILD_RESIZABLE) && !parent->resizable) {
      st = ZX_ERR_NOT_SUPPORTED;
    } else if (is_ref && parent->cache_policy != ZX_CACHE_POLICY_CACHED) {
      st = ZX_ERR_BAD_STATE;  // child.uncached
    } else if (snap && offset % K.page) {
      st = ZX_ERR_INVALID_ARGS;
    } else if (snap && of_slice && (end_ovf || t.size < end)) {
      st = ZX_ERR_OUT_OF_RANGE;  // child.snapshot.slice_bounds: within the slice it is taken of
    } else if (snap && end_ovf) {
      st = ZX_ERR_OUT_OF_RANGE;
    } else if (snap && parent->cache_policy != ZX_CACHE_POLICY_CACHED) {
      st = ZX_ERR_BAD_STATE;  // child.uncached
    } else if (kind == ZX_VMO_CHILD_SNAPSHOT && root_pager) {
      st = ZX_ERR_NOT_SUPPORTED;  // child.snapshot.pager
    } else if (snap && projected) {
      st = ZX_ERR_INVALID_ARGS;  // child.snapshot.root_overflow
    } else if (snap && of_slice && !unidirectional) {
      st = ZX_ERR_NOT_SUPPORTED;  // child.snapshot.slice_unidirectional
    }
  }
  if (st != ZX_OK) {
    unlock();
    return st;
  }
  if ((kind & SNAPSHOTS) && !frames_available(t.owner->store->pages.n)) {
    unlock();
    return ZX_ERR_NO_MEMORY;
  }
  zx_rights_t rights = (e->rights & ~ZX_RIGHT_RESIZE) | ZX_RIGHT_GET_PROPERTY |
                       ZX_RIGHT_SET_PROPERTY;
  if (options & ZX_VMO_CHILD_RESIZABLE) rights |= ZX_RIGHT_RESIZE;
  if (options & ZX_VMO_CHILD_NO_WRITE) {
    rights &= ~ZX_RIGHT_WRITE;
  } else if (kind & SNAPSHOTS) {
    rights = (rights & ~ZX_RIGHT_EXECUTE) | ZX_RIGHT_WRITE;
  }
  obj_t* c = obj_new(OBJ_VMO);
  c->parent = parent;
  parent->refs++;
  if (kind == ZX_VMO_CHILD_SLICE) {
    c->role = ROLE_SLICE;
    c->size = rounded;
    c->window = offset;
  } else if (kind == ZX_VMO_CHILD_REFERENCE) {
    c->role = ROLE_REFERENCE;
    c->resizable = parent->resizable;
  } else {
    c->role = ROLE_SNAPSHOT;
    c->resizable = options & ZX_VMO_CHILD_RESIZABLE;
    // child.effect: IMMUTABLE marks a SNAPSHOT taken with NO_WRITE
    c->immutable = kind == ZX_VMO_CHILD_SNAPSHOT && (options & ZX_VMO_CHILD_NO_WRITE);
    c->size = rounded;
    c->window = offset;
    if (t.root->pager_backed) {
      through_child(c, &t, offset, rounded, kind);
    } else {
      c->store = snapshot_store(&t, offset, rounded);
    }
  }
  *out = handle_new(c, rights);
  unlock();
  return ZX_OK;
}

// --- handles --------------------------------------------------------------------------------

zx_status_t zx_handle_duplicate(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out) {
  lock();
  zx_status_t st = ZX_OK;
  handle_t* e = handle_get(handle);
  if (!e) {
    st = ZX_ERR_BAD_HANDLE;
  } else if (!(e->rights & ZX_RIGHT_DUPLICATE)) {
    st = ZX_ERR_ACCESS_DENIED;
  } else if (rights != ZX_RIGHT_SAME_RIGHTS && (rights & e->rights) != rights) {
    st = ZX_ERR_INVALID_ARGS;
  } else {
    *out = handle_new(e->obj, rights == ZX_RIGHT_SAME_RIGHTS ? e->rights : rights);
  }
  unlock();
  return st;
}

zx_status_t zx_handle_close(zx_handle_t handle) {
  if (handle == ZX_HANDLE_INVALID) return ZX_OK;
  lock();
  handle_t* e = handle_get(handle);
  zx_status_t st = ZX_ERR_BAD_HANDLE;
  if (e) {
    obj_t* o = e->obj;
    e->obj = NULL;
    o->handles--;
    obj_unref(o);
    st = ZX_OK;
  }
  unlock();
  return st;
}

// --- zx_vmo_op_range ---------------------------------------------------------------------------

static bool has_live_snapshot_child(obj_t* v) {
  for (const obj_t* o = K.live; o; o = o->next_live) {
    if (o->type == OBJ_VMO && o->role == ROLE_SNAPSHOT && o->parent && owner_of(o->parent) == v) {
      return true;
    }
  }
  return false;
}

static bool past_end(const target_t* t, uint64_t offset, uint64_t size) {
  uint64_t end;
  return add_ovf(offset, size, &end) || t->size < end;
}

static zx_status_t op_commit(target_t* t, uint64_t offset, uint64_t size) {
  uint64_t end, hi = 0;
  if (!(t->rights & ZX_RIGHT_WRITE)) return ZX_ERR_ACCESS_DENIED;
  if (add_ovf(offset, size, &end) || ceil_page(end, &hi) || t->size < hi) {
    return ZX_ERR_OUT_OF_RANGE;
  }
  uint64_t lo = floor_page(offset);
  if (lo == hi) return ZX_OK;
  if (discarded(t->vmo)) return ZX_ERR_NOT_FOUND;
  return commit_pages(t->owner, (lo + t->shift) / K.page, (hi + t->shift) / K.page, false);
}

static zx_status_t op_decommit(target_t* t, uint64_t offset, uint64_t size) {
  uint64_t end;
  if (!(t->rights & ZX_RIGHT_WRITE)) return ZX_ERR_ACCESS_DENIED;
  if (add_ovf(offset, size, &end) || t->size < end) return ZX_ERR_OUT_OF_RANGE;
  if (size == 0) return ZX_OK;
  if ((t->owner->role == ROLE_SNAPSHOT && !merged_to_root(t->owner)) ||
      has_live_snapshot_child(t->owner) ||
      t->root->pager_backed) {
    return ZX_ERR_NOT_SUPPORTED;
  }
  if (offset % K.page || size % K.page) return ZX_ERR_INVALID_ARGS;
  uint64_t a = (offset + t->shift) / K.page, b = (end + t->shift) / K.page;
  store_release(t->owner->store, a, b);
  if (t->owner->store->base != BASE_ZERO) iset_add(&t->owner->store->zero, a, b);
  return ZX_OK;
}

// ZERO of part of one page [lo, hi): nothing if the page reads zero already; otherwise the
// bytes are written in place, which commits (or pages in) that page (zero.effect).
static zx_status_t zero_partial(target_t* t, uint64_t lo, uint64_t hi) {
  store_t* s = t->owner->store;
  uint64_t n = (floor_page(lo) + t->shift) / K.page;
  bool zero = true;
  if (t->owner->pager_backed) {
    // only a dirty page without a frame is known to read zero; the rest is the pager's
    zero = iset_has(&t->owner->dirty, n) && !plist_find(&s->pages, n);
  } else {
    uint8_t* buf = xrealloc(NULL, K.page);
    obj_read_page(t->owner, n, buf);
    for (uint64_t i = 0; i < K.page && zero; i++) zero = buf[i] == 0;
    free(buf);
  }
  if (zero) return ZX_OK;
  zx_status_t st = commit_pages(t->owner, n, n + 1, false);
  if (st != ZX_OK) return st;
  uint8_t* zeros = xrealloc(NULL, hi - lo);
  memset(zeros, 0, hi - lo);
  store_write(s, lo + t->shift, zeros, hi - lo);
  free(zeros);
  mark_dirty(t->owner, n, n + 1);
  return ZX_OK;
}

static zx_status_t op_zero(target_t* t, uint64_t offset, uint64_t size) {
  uint64_t end, up = 0;
  if (!(t->rights & ZX_RIGHT_WRITE)) return ZX_ERR_ACCESS_DENIED;
  if (add_ovf(offset, size, &end)) return ZX_ERR_OUT_OF_RANGE;
  bool gone = discarded(t->vmo);  // discard.zero.ok: OK, but each piece checks S
  bool up_ovf = ceil_page(offset, &up);
  uint64_t head_end = up_ovf ? end : (up < end ? up : end);
  uint64_t floor_end = floor_page(end);
  uint64_t whole_end = head_end < floor_end ? floor_end : head_end;
  uint64_t pieces[3][2] = {{offset, head_end}, {head_end, whole_end}, {whole_end, end}};
  for (int i = 0; i < 3; i++) {
    uint64_t lo = pieces[i][0], hi = pieces[i][1];
    if (lo >= hi) continue;
    if (t->size < hi) return ZX_ERR_OUT_OF_RANGE;  // earlier pieces stay done
    // zero.uncached.2025: bytes of an uncached VMO are never written in place
    if (i != 1 && t->vmo->cache_policy != ZX_CACHE_POLICY_CACHED) return ZX_ERR_BAD_STATE;
    if (gone) continue;
    if (i != 1) {
      zx_status_t st = zero_partial(t, lo, hi);
      if (st != ZX_OK) return st;
      continue;
    }
    store_t* s = t->owner->store;
    uint64_t a = (lo + t->shift) / K.page, b = (hi + t->shift) / K.page;
    store_release(s, a, b);
    if (s->base != BASE_ZERO || t->owner->thru) iset_add(&s->zero, a, b);
    mark_dirty(t->owner, a, b);
  }
  return ZX_OK;
}

static zx_status_t lock_checks(target_t* t, uint64_t offset, uint64_t size) {
  if (!(t->rights & (ZX_RIGHT_READ | ZX_RIGHT_WRITE))) return ZX_ERR_ACCESS_DENIED;
  if (!t->vmo->discardable) return ZX_ERR_NOT_SUPPORTED;
  if (past_end(t, offset, size)) return ZX_ERR_OUT_OF_RANGE;
  if (offset != 0 || size != t->size) return ZX_ERR_OUT_OF_RANGE;
  return ZX_OK;
}

static void tracker_lock(obj_t* v) {
  v->tcount = v->tstate == TR_UNRECLAIMABLE ? v->tcount + 1 : 1;
  v->tstate = TR_UNRECLAIMABLE;
}

static void tracker_unlock(obj_t* v) {
  v->tstate = v->tcount == 1 ? TR_RECLAIMABLE : TR_UNRECLAIMABLE;
  v->tcount--;
}

static zx_status_t op_lock(target_t* t, uint64_t offset, uint64_t size, void* buffer,
                           size_t buffer_size) {
  zx_status_t st = lock_checks(t, offset, size);
  if (st != ZX_OK) return st;
  bool was = discarded(t->vmo);
  tracker_lock(t->vmo);
  // lock.bad_buffer: the lock is taken before the buffer is looked at
  if (!buffer || buffer_size < sizeof(zx_vmo_lock_state_t)) {
    tracker_unlock(t->vmo);
    return ZX_ERR_INVALID_ARGS;
  }
  zx_vmo_lock_state_t ls = {offset, size, 0, was ? t->size : 0};
  memcpy(buffer, &ls, sizeof(ls));
  return ZX_OK;
}

static zx_status_t op_cache(target_t* t, uint32_t op, uint64_t offset, uint64_t size) {
  if (op == ZX_VMO_OP_CACHE_INVALIDATE && !K.debugging_syscalls) return ZX_ERR_NOT_SUPPORTED;
  zx_rights_t need = op == ZX_VMO_OP_CACHE_INVALIDATE ? ZX_RIGHT_WRITE : ZX_RIGHT_READ;
  if (!(t->rights & need)) return ZX_ERR_ACCESS_DENIED;
  if (size == 0) return ZX_ERR_INVALID_ARGS;
  if (past_end(t, offset, size)) return ZX_ERR_OUT_OF_RANGE;
  return ZX_OK;  // host memory is coherent: nothing to clean or invalidate
}

static zx_status_t op_hint(target_t* t, uint32_t op, uint64_t offset, uint64_t size) {
  uint64_t end;
  if (!t->root->pager_backed) return ZX_OK;  // hints.non_pager.2025
  if (add_ovf(offset, size, &end)) return ZX_ERR_OUT_OF_RANGE;
  if (op == ZX_VMO_OP_DONT_NEED) {
    if (size == 0) return ZX_OK;
    if (t->size < end) return ZX_ERR_OUT_OF_RANGE;
    return ZX_OK;  // reclaim here evicts every clean page, so the hint changes nothing
  }
  if (t->size < end) return ZX_ERR_OUT_OF_RANGE;
  if (size == 0) return ZX_OK;
  if (t->owner->thru) {
    // cow.read_through: through a child the root's pages are paged in and marked,
    // wherever the child's range maps onto the root through each window. As at the
    // root, a failed request is skipped and the pages after it are still paged in.
    uint64_t lo = (offset + t->shift) / K.page, top = 0;
    ceil_page(end + t->shift, &top);
    top /= K.page;
    store_t* cs = t->owner->store;
    for (uint64_t n = next_absent(cs, lo, top, true); n < top;
         n = next_absent(cs, n + 1, top, true)) {
      if (!frames_available(1)) break;  // paging in stops when memory runs out
      (void)commit_pages(t->owner, n, n + 1, true);  // per-page errors are ignored
    }
    obj_t* o = t->owner;
    while (o->thru) {
      if (top > o->thru_limit) top = o->thru_limit;
      lo += o->thru_shift;
      top += o->thru_shift;
      o = o->thru;
    }
    if (top > o->size / K.page) top = o->size / K.page;
    if (lo < top) iset_add(&o->always_need, lo, top);
    return ZX_OK;
  }
  if (!t->owner->pager_backed) return ZX_OK;
  uint64_t a = (offset + t->shift) / K.page, hi = 0;
  ceil_page(end + t->shift, &hi);
  store_t* s = t->owner->store;
  // Paging in that cannot finish for want of memory is not started (its failure would
  // be ignored anyway); notes/device.md, deviation 4.
  uint64_t b = hi / K.page;
  if (!frames_available((b - a) - present_in(s, a, b) - zero_in(s, a, b))) goto mark;
  // Dirty pages (zero intervals) hold no page and get none; a failed request is skipped.
  for (uint64_t n = next_absent(s, a, b, true); n < b; n = next_absent(s, n + 1, b, true)) {
    if (!frames_available(1)) break;  // paging in stops when memory runs out
    (void)commit_pages(t->owner, n, n + 1, false);  // per-page errors are ignored
  }
mark:
  iset_add(&t->owner->always_need, a, hi / K.page);
  return ZX_OK;
}

static zx_status_t op_prefetch(target_t* t, uint64_t offset, uint64_t size) {
  uint64_t end, hi = 0;
  if (!(t->rights & ZX_RIGHT_READ)) return ZX_ERR_ACCESS_DENIED;
  if (add_ovf(offset, size, &end) || ceil_page(end, &hi) || t->size < hi) {
    return ZX_ERR_OUT_OF_RANGE;
  }
  uint64_t lo = floor_page(offset);
  if (lo == hi) return ZX_OK;
  // through a child reading a pager-backed root, the pages it reads through are
  // requested at the root, as a read's are (cow.read_through)
  if (!t->root->pager_backed || (!t->owner->pager_backed && !t->owner->thru)) return ZX_OK;
  return commit_pages(t->owner, (lo + t->shift) / K.page, (hi + t->shift) / K.page, true);
}

zx_status_t zx_vmo_op_range(zx_handle_t handle, uint32_t op, uint64_t offset, uint64_t size,
                            void* buffer, size_t buffer_size) {
  lock();
  handle_t* e = NULL;
  zx_status_t st = lookup(handle, OBJ_VMO, &e);
  if (st == ZX_OK) {
    target_t t = target_of(e);
    switch (op) {
      case ZX_VMO_OP_COMMIT:
        st = op_commit(&t, offset, size);
        break;
      case ZX_VMO_OP_DECOMMIT:
        st = op_decommit(&t, offset, size);
        break;
      case ZX_VMO_OP_LOCK:
        st = op_lock(&t, offset, size, buffer, buffer_size);
        break;
      case ZX_VMO_OP_TRY_LOCK:
        st = lock_checks(&t, offset, size);
        if (st == ZX_OK && discarded(t.vmo)) st = ZX_ERR_UNAVAILABLE;
        if (st == ZX_OK) tracker_lock(t.vmo);
        break;
      case ZX_VMO_OP_UNLOCK:
        st = lock_checks(&t, offset, size);
        if (st == ZX_OK && t.vmo->tstate != TR_UNRECLAIMABLE) st = ZX_ERR_BAD_STATE;
        if (st == ZX_OK) tracker_unlock(t.vmo);
        break;
      case ZX_VMO_OP_CACHE_SYNC:
      case ZX_VMO_OP_CACHE_INVALIDATE:
      case ZX_VMO_OP_CACHE_CLEAN:
      case ZX_VMO_OP_CACHE_CLEAN_INVALIDATE:
        st = op_cache(&t, op, offset, size);
        break;
      case ZX_VMO_OP_ZERO:
        st = op_zero(&t, offset, size);
        break;
      case ZX_VMO_OP_DONT_NEED:
      case ZX_VMO_OP_ALWAYS_NEED:
        st = op_hint(&t, op, offset, size);
        break;
      case ZX_VMO_OP_PREFETCH:
        st = op_prefetch(&t, offset, size);
        break;
      default:
        st = ZX_ERR_INVALID_ARGS;  // prefix.order: no right is checked first
    }
  }
  unlock();
  return st;
}

// --- zx_vmo_read, zx_vmo_write, sizes --------------------------------------------------------

static zx_status_t rw_checks(zx_handle_t handle, zx_rights_t right, uint64_t offset,
                             uint64_t len, target_t* t) {
  handle_t* e = NULL;
  zx_status_t st = lookup(handle, OBJ_VMO, &e);
  if (st != ZX_OK) return st;
  *t = target_of(e);
  if (!(t->rights & right)) return ZX_ERR_ACCESS_DENIED;
  uint64_t end;
  if (add_ovf(offset, len, &end)) return ZX_ERR_OUT_OF_RANGE;
  // rw.uncached: before the bounds, at any length
  if (t->vmo->cache_policy != ZX_CACHE_POLICY_CACHED) return ZX_ERR_BAD_STATE;
  if (t->size < end) return ZX_ERR_OUT_OF_RANGE;
  if (discarded(t->vmo) && len != 0) return ZX_ERR_NOT_FOUND;  // rw.bounds: length 0 first
  return ZX_OK;
}

zx_status_t zx_vmo_read(zx_handle_t handle, void* buffer, uint64_t offset, size_t len) {
  lock();
  target_t t;
  zx_status_t st = rw_checks(handle, ZX_RIGHT_READ, offset, len, &t);
  if (st == ZX_OK && len) {
    uint64_t hi = 0;
    ceil_page(offset + len + t.shift, &hi);
    if (t.owner->pager_backed || t.owner->thru) {
      st = commit_pages(t.owner, (offset + t.shift) / K.page, hi / K.page, true);
    }
    if (st == ZX_OK) obj_read(t.owner, offset + t.shift, buffer, len);
  }
  unlock();
  return st;
}

zx_status_t zx_vmo_write(zx_handle_t handle, const void* buffer, uint64_t offset, size_t len) {
  lock();
  target_t t;
  zx_status_t st = rw_checks(handle, ZX_RIGHT_WRITE, offset, len, &t);
  if (st == ZX_OK && len) {
    uint64_t a = (offset + t.shift) / K.page, hi = 0;
    ceil_page(offset + len + t.shift, &hi);
    st = commit_pages(t.owner, a, hi / K.page, false);
    uint64_t upto = len;
    if (st != ZX_OK) {
      // write.effect: the pages before the one that failed are written; nothing is undone
      uint64_t stop = a;
      while (stop < hi / K.page && plist_find(&t.owner->store->pages, stop)) stop++;
      uint64_t cut = stop * K.page - t.shift;
      upto = cut > offset ? (cut - offset < len ? cut - offset : len) : 0;
    }
    if (upto) {
      store_write(t.owner->store, offset + t.shift, buffer, upto);
      mark_dirty(t.owner, a, (offset + t.shift + upto + K.page - 1) / K.page);
    }
  }
  unlock();
  return st;
}

zx_status_t zx_vmo_get_size(zx_handle_t handle, uint64_t* size) {
  lock();
  handle_t* e = NULL;
  zx_status_t st = lookup(handle, OBJ_VMO, &e);
  if (st == ZX_OK) *size = target_of(e).size;  // size.get: no right is needed
  unlock();
  return st;
}

zx_status_t zx_vmo_set_size(zx_handle_t handle, uint64_t size) {
  lock();
  handle_t* e = NULL;
  uint64_t rounded = 0, base = 0, pend = 0;
  zx_status_t st = lookup(handle, OBJ_VMO, &e);
  target_t t = {0};
  obj_t* o = NULL;
  if (st == ZX_OK) {
    t = target_of(e);
    o = t.vmo;
    while (o->role == ROLE_REFERENCE) o = o->parent;  // a reference resizes its parent
    bool ovf = ceil_page(size, &rounded);
    if (!(t.rights & ZX_RIGHT_WRITE)) {
      st = ZX_ERR_ACCESS_DENIED;
    } else if (t.vmo->resizable && !(t.rights & ZX_RIGHT_RESIZE)) {
      st = ZX_ERR_ACCESS_DENIED;
    } else if (ovf) {
      st = ZX_ERR_OUT_OF_RANGE;  // set_size.overflow
    } else if (!t.vmo->resizable) {
      st = ZX_ERR_UNAVAILABLE;  // set_size.not_resizable
    } else if (rounded > max_size()) {
      st = ZX_ERR_OUT_OF_RANGE;  // set_size.max_size
    } else if (t.size < rounded && (root_offset(o, &base) || add_ovf(base, rounded, &pend))) {
      st = ZX_ERR_INVALID_ARGS;  // set_size.root_overflow: growing past 2^64 projected onto the root
    }
  }
  if (st != ZX_OK) {
    unlock();
    return st;
  }
  store_t* s = t.owner->store;
  // The pages between the old and the new end are freed and read zero afterwards.
  uint64_t old_end = (t.size + t.shift) / K.page, new_end = (rounded + t.shift) / K.page;
  uint64_t a = old_end < new_end ? old_end : new_end, b = old_end < new_end ? new_end : old_end;
  store_release(s, a, b);
  if (s->base != BASE_ZERO) iset_add(&s->zero, a, b);
  mark_dirty(t.owner, a, b);
  o->size = rounded;
  // cow.resize: the windows through which it, and each child reading it, see
  // their parent are clamped to the new size, never to grow again
  if (t.owner->thru && t.owner->thru_limit > new_end) t.owner->thru_limit = new_end;
  for (obj_t* v = K.live; v; v = v->next_live) {
    if (v->type != OBJ_VMO || v->thru != t.owner) continue;
    uint64_t room = new_end > v->thru_shift ? new_end - v->thru_shift : 0;
    if (v->thru_limit > room) v->thru_limit = room;
  }
  // set_size.effect: the bytes from the unrounded size to the page end are zeroed as ZERO zeroes
  // part of a page (a pager page is paged in first)
  if (size % K.page) st = zero_partial(&t, size, rounded);
  unlock();
  return st;
}

zx_status_t zx_object_get_info(zx_handle_t handle, uint32_t topic, void* buffer,
                               size_t buffer_size, size_t* actual, size_t* avail) {
  lock();
  handle_t* e = NULL;
  zx_status_t st = lookup(handle, OBJ_VMO, &e);
  if (st == ZX_OK && topic != ZX_INFO_VMO) st = ZX_ERR_NOT_SUPPORTED;
  if (st == ZX_OK && buffer_size < sizeof(zx_info_vmo_t)) st = ZX_ERR_BUFFER_TOO_SMALL;
  if (st == ZX_OK) {
    target_t t = target_of(e);
    zx_info_vmo_t info;
    memset(&info, 0, sizeof(info));
    info.koid = t.vmo->koid;
    info.size_bytes = t.size;
    info.handle_rights = t.rights;
    info.flags = ZX_INFO_VMO_TYPE_PAGED | ZX_INFO_VMO_VIA_HANDLE;
    if (t.vmo->resizable) info.flags |= ZX_INFO_VMO_RESIZABLE;
    if (t.vmo->role == ROLE_SNAPSHOT) info.flags |= ZX_INFO_VMO_IS_COW_CLONE;
    if (t.root->pager_backed) info.flags |= ZX_INFO_VMO_PAGER_BACKED;
    if (t.vmo->discardable) info.flags |= ZX_INFO_VMO_DISCARDABLE;
    if (t.vmo->immutable) info.flags |= ZX_INFO_VMO_IMMUTABLE;
    // decision.info.bounds: slices and references are attributed nothing; pages count to their owner
    if (t.vmo->store) info.committed_bytes = store_committed(t.vmo->store);
    info.populated_bytes = info.committed_bytes;
    info.cache_policy = t.vmo->cache_policy;  // info.cache_policy
    memcpy(buffer, &info, sizeof(info));
    if (actual) *actual = 1;
    if (avail) *avail = 1;
  }
  unlock();
  return st;
}

// --- zx_vmo_set_cache_policy (cache_policy.*, 2025) -------------------------------------------

zx_status_t zx_vmo_set_cache_policy(zx_handle_t handle, uint32_t cache_policy) {
  if (cache_policy & ~ZX_CACHE_POLICY_MASK) return ZX_ERR_INVALID_ARGS;  // before the handle
  lock();
  handle_t* e = NULL;
  zx_status_t st = lookup(handle, OBJ_VMO, &e);
  if (st == ZX_OK && !(e->rights & ZX_RIGHT_MAP)) st = ZX_ERR_ACCESS_DENIED;
  obj_t* v = st == ZX_OK ? e->obj : NULL;
  bool family = v && v->parent && !merged_to_root(v);
  for (const obj_t* o = K.live; v && o && !family; o = o->next_live) {
    family = o->type == OBJ_VMO && o->parent == v;
  }
  if (st != ZX_OK) {
  } else if (family || v->role == ROLE_SLICE || v->role == ROLE_REFERENCE) {
    st = ZX_ERR_BAD_STATE;  // cache_policy.family, cache_policy.reference.2025
  } else if (v->pager_backed || v->discardable) {
    // cache_policy.cached_only.2025
    st = cache_policy == ZX_CACHE_POLICY_CACHED ? ZX_OK : ZX_ERR_BAD_STATE;
  } else {
    v->cache_policy = cache_policy;
  }
  unlock();
  return st;
}

// --- ports and pagers ------------------------------------------------------------------------

zx_status_t zx_port_create(uint32_t options, zx_handle_t* out) {
  if (options) return ZX_ERR_INVALID_ARGS;
  lock();
  *out = handle_new(obj_new(OBJ_PORT), DEFAULT_PORT_RIGHTS);
  unlock();
  return ZX_OK;
}

zx_status_t zx_port_queue(zx_handle_t handle, const zx_port_packet_t* packet) {
  lock();
  handle_t* e = NULL;
  zx_status_t st = lookup(handle, OBJ_PORT, &e);
  if (st == ZX_OK && !(e->rights & ZX_RIGHT_WRITE)) st = ZX_ERR_ACCESS_DENIED;
  if (st == ZX_OK) {
    packet_node_t* n = xrealloc(NULL, sizeof(packet_node_t));
    n->pkt = *packet;
    n->pkt.type = ZX_PKT_TYPE_USER;
    n->next = NULL;
    obj_t* port = e->obj;
    if (port->tail) {
      port->tail->next = n;
    } else {
      port->head = n;
    }
    port->tail = n;
    cnd_broadcast(&K.changed);
  }
  unlock();
  return st;
}

zx_status_t zx_port_wait(zx_handle_t handle, zx_time_t deadline, zx_port_packet_t* packet) {
  (void)deadline;  // the runner always waits without a deadline
  lock();
  handle_t* e = NULL;
  zx_status_t st = lookup(handle, OBJ_PORT, &e);
  if (st == ZX_OK && !(e->rights & ZX_RIGHT_READ)) st = ZX_ERR_ACCESS_DENIED;
  if (st == ZX_OK) {
    obj_t* port = e->obj;
    port->refs++;  // a concurrent close must not free the port under the waiter
    while (!port->head) cnd_wait(&K.changed, &K.lock);
    packet_node_t* n = port->head;
    port->head = n->next;
    if (!port->head) port->tail = NULL;
    *packet = n->pkt;
    free(n);
    obj_unref(port);
  }
  unlock();
  return st;
}

zx_status_t zx_pager_create(uint32_t options, zx_handle_t* out) {
  if (options) return ZX_ERR_INVALID_ARGS;
  lock();
  *out = handle_new(obj_new(OBJ_PAGER), DEFAULT_PAGER_RIGHTS);
  unlock();
  return ZX_OK;
}

zx_status_t zx_pager_create_vmo(zx_handle_t pager, uint32_t options, zx_handle_t port,
                                uint64_t key, uint64_t size, zx_handle_t* out) {
  lock();
  handle_t *pe = NULL, *qe = NULL;
  uint64_t rounded = 0;
  zx_status_t st = lookup(pager, OBJ_PAGER, &pe);
  if (st != ZX_OK) {
  } else if (!(pe->rights & ZX_RIGHT_ATTACH_VMO)) {
    st = ZX_ERR_ACCESS_DENIED;
  } else if ((st = lookup(port, OBJ_PORT, &qe)) != ZX_OK) {
  } else if (!(qe->rights & ZX_RIGHT_WRITE)) {
    st = ZX_ERR_ACCESS_DENIED;
  } else if (options &
             ~(ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY | ZX_VMO_UNBOUNDED | ZX_VMO_DISCARDABLE)) {
    st = ZX_ERR_INVALID_ARGS;  // pager.create_vmo.options: zx_vmo_create's flag parser
  } else if ((options & ZX_VMO_UNBOUNDED) && (options & ZX_VMO_RESIZABLE)) {
    st = ZX_ERR_INVALID_ARGS;
  } else if (!(options & ZX_VMO_UNBOUNDED) && ceil_page(size, &rounded)) {
    st = ZX_ERR_OUT_OF_RANGE;
  } else if (options & ZX_VMO_DISCARDABLE) {
    st = ZX_ERR_INVALID_ARGS;  // pager.create_vmo.discardable: a pager VMO cannot be discardable
  } else if (options & ZX_VMO_UNBOUNDED) {
    rounded = max_size();
  } else if (rounded > max_size()) {
    st = ZX_ERR_OUT_OF_RANGE;
  }
  if (st == ZX_OK) {
    obj_t* v = obj_new(OBJ_VMO);
    v->role = ROLE_ROOT;
    v->resizable = options & ZX_VMO_RESIZABLE;
    v->pager_backed = true;
    v->size = rounded;
    v->store = store_new(BASE_PAGER);
    v->pager = pe->obj;
    v->port = qe->obj;
    v->port->refs++;
    v->key = key;
    *out = handle_new(v, DEFAULT_VMO_RIGHTS | (v->resizable ? ZX_RIGHT_RESIZE : 0));
  }
  unlock();
  return st;
}

// The checks zx_pager_supply_pages and zx_pager_op_range share (pager.op.*), up to the point
// where the two differ.
static zx_status_t pager_checks(zx_handle_t pager, zx_handle_t vmo, uint64_t offset,
                                uint64_t length, handle_t** ve) {
  handle_t* pe = NULL;
  zx_status_t st;
  if (offset % K.page || length % K.page) return ZX_ERR_INVALID_ARGS;
  if ((st = lookup(pager, OBJ_PAGER, &pe)) != ZX_OK) return st;
  if (!(pe->rights & ZX_RIGHT_MANAGE_VMO)) return ZX_ERR_ACCESS_DENIED;
  if ((st = lookup(vmo, OBJ_VMO, ve)) != ZX_OK) return st;
  if (!((*ve)->rights & ZX_RIGHT_WRITE)) return ZX_ERR_ACCESS_DENIED;
  if (!(*ve)->obj->pager_backed || (*ve)->obj->pager != pe->obj) return ZX_ERR_INVALID_ARGS;
  return ZX_OK;
}

zx_status_t zx_pager_supply_pages(zx_handle_t pager, zx_handle_t pager_vmo, uint64_t offset,
                                  uint64_t length, zx_handle_t aux_vmo, uint64_t aux_offset) {
  lock();
  handle_t *ve = NULL, *ae = NULL;
  uint64_t end, aux_end;
  zx_status_t st = aux_offset % K.page ? ZX_ERR_INVALID_ARGS
                                       : pager_checks(pager, pager_vmo, offset, length, &ve);
  if (st != ZX_OK) {
  } else if ((st = lookup(aux_vmo, OBJ_VMO, &ae)) != ZX_OK) {
  } else if ((ae->rights & (ZX_RIGHT_READ | ZX_RIGHT_WRITE)) !=
             (ZX_RIGHT_READ | ZX_RIGHT_WRITE)) {
    st = ZX_ERR_ACCESS_DENIED;
  } else if (ae->obj->pager_backed || !ae->obj->store) {
    st = ZX_ERR_NOT_SUPPORTED;
  } else if (add_ovf(aux_offset, length, &aux_end) || ae->obj->size < aux_end) {
    st = ZX_ERR_OUT_OF_RANGE;
  } else if (length == 0) {
    st = ZX_OK;
  } else if (add_ovf(offset, length, &end) || ve->obj->size < end) {
    st = ZX_ERR_OUT_OF_RANGE;
  } else if (ve->obj->detached) {
    st = ZX_ERR_BAD_STATE;
  } else {
    store_t *s = ve->obj->store, *aux = ae->obj->store;
    uint64_t a = offset / K.page, b = end / K.page, n = a;
    uint8_t* buf = xrealloc(NULL, K.page);
    for (; n < b; n++) {
      uint64_t an = aux_offset / K.page + (n - a);
      // The aux VMO's page is taken (freed) before the VMO gets one, so a supply never
      // holds more than the budget; an aux page that had no frame needs a new one.
      store_read_page(aux, an, buf);
      store_release(aux, an, an + 1);
      // Supply never replaces what the VMO holds; a page that reads zero without a frame
      // (a dirty zero interval) is committed as zeros.
      if (!plist_find(&s->pages, n)) {
        if (!frames_available(1)) {
          st = ZX_ERR_NO_MEMORY;  // the pages before this one stay supplied
          break;
        }
        if (iset_has(&s->zero, n)) {
          store_materialize(s, n);
        } else {
          for (size_t i = 0; i < s->noverlays; i++) {
            if (s->overlays[i].page == n) {
              memset(buf + s->overlays[i].from, 0, K.page - s->overlays[i].from);
            }
          }
          store_write(s, n * K.page, buf, K.page);
        }
      }
    }
    free(buf);
    for (request_t* r = K.requests; r; r = r->next) {
      if (r->vmo == ve->obj && !r->done && r->page >= a && r->page < n) {
        r->done = true;
        r->status = ZX_OK;
      }
    }
    cnd_broadcast(&K.changed);
  }
  unlock();
  return st;
}

zx_status_t zx_pager_op_range(zx_handle_t pager, uint32_t op, zx_handle_t pager_vmo,
                              uint64_t offset, uint64_t length, uint64_t data) {
  lock();
  handle_t* ve = NULL;
  uint64_t end;
  zx_status_t st = pager_checks(pager, pager_vmo, offset, length, &ve);
  int64_t code = (int64_t)data;
  if (st != ZX_OK) {
  } else if (op != ZX_PAGER_OP_FAIL) {
    st = ZX_ERR_NOT_SUPPORTED;
  } else if (code != ZX_ERR_IO && code != ZX_ERR_IO_DATA_INTEGRITY && code != ZX_ERR_BAD_STATE &&
             code != ZX_ERR_NO_SPACE && code != ZX_ERR_BUFFER_TOO_SMALL) {
    st = ZX_ERR_INVALID_ARGS;
  } else if (add_ovf(offset, length, &end) || ve->obj->size < end) {
    st = ZX_ERR_OUT_OF_RANGE;
  } else if (ve->obj->detached) {
    st = ZX_ERR_BAD_STATE;
  } else {
    // Only requests outstanding now are failed; nothing is remembered (pager.fail.effect).
    for (request_t* r = K.requests; r; r = r->next) {
      if (r->vmo == ve->obj && !r->done && r->page >= offset / K.page && r->page < end / K.page) {
        r->done = true;
        r->status = (zx_status_t)code;
      }
    }
    cnd_broadcast(&K.changed);
  }
  unlock();
  return st;
}

// --- memory pressure (host only) -------------------------------------------------------------

zx_status_t hostzx_reclaim(zx_handle_t vmo, int* was_discarded, uint64_t* evicted_bytes) {
  lock();
  *was_discarded = 0;
  *evicted_bytes = 0;
  handle_t* e = NULL;
  if (lookup(vmo, OBJ_VMO, &e) != ZX_OK) {
    unlock();
    return ZX_OK;  // nothing to reclaim through an invalid handle
  }
  target_t t = target_of(e);
  obj_t* owner = t.owner;
  store_t* s = owner->store;
  if (owner->discardable) {
    if (owner->tstate == TR_RECLAIMABLE && s->pages.n) {  // reclaim.first_page
      // discard.effect: every page is freed, the size stays
      *evicted_bytes = store_committed(s);
      store_release(s, 0, U64_MAX);
      iset_free(&s->zero);
      s->noverlays = 0;
      owner->tstate = TR_DISCARDED;
      *was_discarded = 1;
    }
  } else if (owner->pager_backed) {
    // reclaim.evicts: clean pages not protected by ALWAYS_NEED are evicted; this host
    // evicts all of them (the spec allows none, the DONT_NEED ones, or all).
    uint64_t before = store_committed(s);
    size_t i = 0;
    while (i < s->pages.n) {
      uint64_t n = s->pages.v[i].page;
      if (iset_has(&owner->dirty, n) || iset_has(&owner->always_need, n)) {
        i++;
        continue;
      }
      store_release(s, n, n + 1);
    }
    *evicted_bytes = before - store_committed(s);
  }
  unlock();
  return ZX_OK;
}
