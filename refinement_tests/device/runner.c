// vmospec trace runner: runs batches of compiled vmo-traces against the Zircon syscall API
// and reports every outcome. The same source builds for Fuchsia (the SDK's headers and
// vDSO) and for Linux (host/: a host implementation of the same syscalls).
//
// Input (stdin) and output (stdout) are the compact text forms described in
// notes/device.md; `vmospec` compiles vmo-trace v1 into the input and turns the output
// back into observed vmo-traces. The whole input is read and checked before any step runs:
// malformed input is rejected with one `error` line and exit status 2. Output is flushed
// after every trace, so a runner that dies keeps every trace it finished.
//
// A pager thread answers page requests: page n of a pager-backed VMO holds the byte
// (n + 1) % 256, and a range a `pager_fail` step scripted is failed once, when it is next
// requested (docs/trace-format.md).
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <zircon/syscalls.h>
#include <zircon/syscalls/object.h>
#include <zircon/syscalls/port.h>
#include <zircon/types.h>

#ifdef VMOSPEC_HOST
#include "vmospec_host.h"
#endif

// A VMO created with ZX_VMO_TRAP_DIRTY asks before a clean page is first written; older
// SDKs declare these in <zircon/syscalls-next.h> only.
#ifndef ZX_PAGER_VMO_DIRTY
#define ZX_PAGER_VMO_DIRTY ((uint16_t)2)
#endif
#ifndef ZX_PAGER_OP_DIRTY
#define ZX_PAGER_OP_DIRTY ((uint32_t)2u)
#endif

#define MAX_INPUT ((size_t)256 << 20)   // bytes of one batch
#define MAX_DATA ((uint64_t)64 << 20)   // bytes one read, write or supply may move
#define MAX_HANDLES 65536u              // handle names per trace
#define MAX_RUNS 1048576u               // runs of one write, and of one read's answer
#define UNBOUND ((zx_handle_t)0xfffffff0u)  // an invalid value (low bits not 0b11)
#define INVALID_NAME (-1)                   // "$invalid": ZX_HANDLE_INVALID

enum {
  S_CREATE = 1, S_CHILD, S_DUP, S_CLOSE, S_OP, S_READ, S_WRITE, S_GETSIZE, S_SETSIZE,
  S_INFO, S_PAGER, S_PAGERVMO, S_SUPPLY, S_FAIL, S_RECLAIM, S_CACHEPOLICY, S_CONTIG, S_PHYS
};

typedef struct {
  const char* name;
  int kind;
  const char* shape;  // one letter per field: h handle, o out, u u64, i i64, w write runs
} stepdef_t;

static const stepdef_t STEPS[] = {
    {"create", S_CREATE, "uuo"},     {"child", S_CHILD, "huuuo"},
    {"dup", S_DUP, "huo"},           {"close", S_CLOSE, "h"},
    {"op", S_OP, "huuuuu"},          {"read", S_READ, "huu"},
    {"write", S_WRITE, "huw"},       {"getsize", S_GETSIZE, "h"},
    {"setsize", S_SETSIZE, "hu"},    {"info", S_INFO, "h"},
    {"pager", S_PAGER, "o"},         {"pagervmo", S_PAGERVMO, "huuo"},
    {"supply", S_SUPPLY, "hhuu"},    {"fail", S_FAIL, "hhuui"},
    {"reclaim", S_RECLAIM, "h"},     {"cachepolicy", S_CACHEPOLICY, "hu"},
    {"contig", S_CONTIG, "uuo"},     {"phys", S_PHYS, "uuo"},
};

typedef struct {
  int kind;
  int64_t h[2];   // handle name indices (INVALID_NAME for "$invalid")
  int64_t out;    // name index bound on success
  uint64_t u[5];  // numbers, in the order of the shape
  int64_t err;
  uint64_t* runs;  // write: byte, count pairs
  size_t nruns;
} step_t;

typedef struct {
  uint64_t page_size;
  bool debugging_syscalls;
  uint64_t nhandles;
  step_t* steps;
  size_t nsteps;
} trace_t;

// --- reading the batch ------------------------------------------------------------------------

typedef struct {
  char* p;
  char* end;
  size_t line;
} cursor_t;

static _Noreturn void reject(size_t line, const char* what) {
  printf("error %zu %s\n", line, what);
  fflush(stdout);
  fprintf(stderr, "vmospec-runner: input line %zu: %s\n", line, what);
  exit(2);
}

// The next line as a NUL-terminated string, or NULL at the end of the input.
static char* next_line(cursor_t* c) {
  if (c->p >= c->end) return NULL;
  char* s = c->p;
  char* nl = memchr(s, '\n', (size_t)(c->end - s));
  if (nl) {
    *nl = '\0';
    c->p = nl + 1;
  } else {
    c->p = c->end;
  }
  c->line++;
  if (strlen(s) != (size_t)((nl ? nl : c->end) - s)) reject(c->line, "NUL byte in the input");
  return s;
}

static char* token(char** s) {
  while (**s == ' ') (*s)++;
  if (!**s) return NULL;
  char* t = *s;
  while (**s && **s != ' ') (*s)++;
  if (**s) *(*s)++ = '\0';
  return t;
}

static bool parse_u64(const char* t, uint64_t* out) {
  if (!t || !*t || strlen(t) > 20) return false;
  uint64_t v = 0;
  for (const char* p = t; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    uint64_t d = (uint64_t)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static uint64_t need_u64(size_t line, char** s, const char* what) {
  uint64_t v;
  if (!parse_u64(token(s), &v)) reject(line, what);
  return v;
}

static int64_t need_i64(size_t line, char** s) {
  char* t = token(s);
  bool neg = t && *t == '-';
  uint64_t v;
  if (!parse_u64(neg ? t + 1 : t, &v) || v > (uint64_t)INT64_MAX) {
    reject(line, "expected a signed number");
  }
  return neg ? -(int64_t)v : (int64_t)v;
}

static int64_t need_name(size_t line, char** s, uint64_t nhandles, bool allow_invalid) {
  char* t = token(s);
  if (t && allow_invalid && strcmp(t, "-") == 0) return INVALID_NAME;
  uint64_t v;
  if (!parse_u64(t, &v) || v >= nhandles) reject(line, "expected a handle name index");
  return (int64_t)v;
}

static void parse_step(cursor_t* c, char* s, uint64_t nhandles, step_t* st) {
  memset(st, 0, sizeof(*st));
  char* name = token(&s);
  const stepdef_t* def = NULL;
  for (size_t i = 0; name && i < sizeof(STEPS) / sizeof(STEPS[0]); i++) {
    if (strcmp(name, STEPS[i].name) == 0) def = &STEPS[i];
  }
  if (!def) reject(c->line, "unknown step");
  st->kind = def->kind;
  int nh = 0, nu = 0;
  for (const char* f = def->shape; *f; f++) {
    switch (*f) {
      case 'h':
        st->h[nh++] = need_name(c->line, &s, nhandles, true);
        break;
      case 'o':
        st->out = need_name(c->line, &s, nhandles, false);
        break;
      case 'u':
        st->u[nu++] = need_u64(c->line, &s, "expected an unsigned 64-bit number");
        break;
      case 'i':
        st->err = need_i64(c->line, &s);
        break;
      case 'w': {
        uint64_t n = need_u64(c->line, &s, "expected a run count");
        if (n > MAX_RUNS) reject(c->line, "too many runs");
        st->runs = malloc((size_t)(n ? n : 1) * 2 * sizeof(uint64_t));
        if (!st->runs) reject(c->line, "out of memory");
        st->nruns = (size_t)n;
        for (uint64_t i = 0; i < n; i++) {
          uint64_t byte = need_u64(c->line, &s, "expected a byte");
          if (byte > 255) reject(c->line, "a byte is 0..255");
          st->runs[2 * i] = byte;
          st->runs[2 * i + 1] = need_u64(c->line, &s, "expected a run length");
        }
        break;
      }
      default:
        reject(c->line, "internal: bad shape");
    }
  }
  if (token(&s)) reject(c->line, "extra fields");
}

static uint64_t memory_budget;  // bytes; 0: the host build's default

static trace_t* read_batch(size_t* ntraces) {
  size_t cap = 1 << 16, len = 0;
  char* buf = malloc(cap);
  if (!buf) reject(0, "out of memory");
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_INPUT) reject(0, "input larger than 256 MiB");
      cap *= 2;
      char* nb = realloc(buf, cap);
      if (!nb) reject(0, "out of memory");
      buf = nb;
    }
    size_t n = fread(buf + len, 1, cap - len, stdin);
    if (n == 0) break;
    len += n;
  }
  cursor_t c = {buf, buf + len, 0};
  char* s = next_line(&c);
  if (!s || strcmp(s, "vmorun 1") != 0) reject(c.line, "expected the header 'vmorun 1'");
  // An optional `memory BYTES` line: the budget for all frames (the host build's; a real
  // kernel has its own memory).
  if (c.p < c.end && strncmp(c.p, "memory ", 7) == 0) {
    s = next_line(&c);
    token(&s);
    memory_budget = need_u64(c.line, &s, "expected the memory budget in bytes");
    if (memory_budget == 0) reject(c.line, "the memory budget must be above 0");
    if (token(&s)) reject(c.line, "extra fields");
  }
  trace_t* traces = NULL;
  size_t n = 0;
  bool done = false;
  while (!done && (s = next_line(&c)) != NULL) {
    char* kw = token(&s);
    if (kw && strcmp(kw, "done") == 0) {
      if (token(&s)) reject(c.line, "extra fields");
      done = true;
      break;
    }
    if (!kw || strcmp(kw, "trace") != 0) reject(c.line, "expected 'trace' or 'done'");
    trace_t t = {0};
    t.page_size = need_u64(c.line, &s, "expected the page size");
    uint64_t dbg = need_u64(c.line, &s, "expected debugging_syscalls 0 or 1");
    uint64_t loan = need_u64(c.line, &s, "expected page_loaning 0 or 1");
    t.nhandles = need_u64(c.line, &s, "expected the number of handle names");
    uint64_t nsteps = need_u64(c.line, &s, "expected the number of steps");
    if (token(&s)) reject(c.line, "extra fields");
    if (dbg > 1 || loan > 1) reject(c.line, "a flag is 0 or 1");
    if (t.nhandles > MAX_HANDLES) reject(c.line, "too many handle names");
    if (nsteps > (uint64_t)(c.end - c.p)) reject(c.line, "more steps than the input has lines");
    t.debugging_syscalls = dbg == 1;
    t.steps = calloc((size_t)(nsteps ? nsteps : 1), sizeof(step_t));
    if (!t.steps) reject(c.line, "out of memory");
    t.nsteps = (size_t)nsteps;
    for (size_t i = 0; i < t.nsteps; i++) {
      char* line = next_line(&c);
      if (!line) reject(c.line, "the input ends inside a trace");
      parse_step(&c, line, t.nhandles, &t.steps[i]);
    }
    char* e = next_line(&c);
    if (!e || strcmp(e, "end") != 0) reject(c.line, "expected 'end' after the steps");
    trace_t* nt = realloc(traces, (n + 1) * sizeof(trace_t));
    if (!nt) reject(c.line, "out of memory");
    traces = nt;
    traces[n++] = t;
  }
  if (!done) reject(c.line, "the input ends without 'done'");
  while ((s = next_line(&c)) != NULL) {
    if (token(&s)) reject(c.line, "input after 'done'");
  }
  free(buf);
  *ntraces = n;
  return traces;
}

// --- the pager thread ------------------------------------------------------------------------

typedef struct {
  uint64_t first, end;  // pages
  int64_t status;
  bool used;
} fail_t;

typedef struct {
  bool live;
  zx_handle_t pager;  // the trace's handle: closing it detaches the VMO, as it should
  zx_handle_t vmo;    // the runner's own duplicate
  zx_koid_t koid;
  fail_t* fails;
  size_t nfails;
} pager_vmo_t;

static struct {
  mtx_t lock;
  zx_handle_t port;
  pager_vmo_t* vmos;  // indexed by the packet key
  size_t n;
  uint64_t page;
} P;

// Supply pages [first, first + count) of a pager VMO with the format's content.
static zx_status_t supply(zx_handle_t pager, zx_handle_t vmo, uint64_t offset, uint64_t length) {
  uint64_t page = P.page;
  uint64_t aux_size = length % page ? length + (page - length % page) : length;
  zx_handle_t aux;
  zx_status_t st = zx_vmo_create(aux_size, 0, &aux);
  if (st != ZX_OK) return st;
  uint8_t* buf = malloc((size_t)page);
  if (!buf) {
    zx_handle_close(aux);
    return ZX_ERR_NO_MEMORY;
  }
  for (uint64_t off = 0; off < aux_size && st == ZX_OK; off += page) {
    memset(buf, (int)(((offset + off) / page + 1) & 0xff), (size_t)page);
    st = zx_vmo_write(aux, buf, off, (size_t)page);
  }
  free(buf);
  if (st == ZX_OK) st = zx_pager_supply_pages(pager, vmo, offset, length, aux, 0);
  zx_handle_close(aux);
  return st;
}

static int pager_thread(void* arg) {
  (void)arg;
  for (;;) {
    zx_port_packet_t pkt;
    if (zx_port_wait(P.port, ZX_TIME_INFINITE, &pkt) != ZX_OK) return 1;
    if (pkt.type == ZX_PKT_TYPE_USER) return 0;  // the runner is done
    if (pkt.type != ZX_PKT_TYPE_PAGE_REQUEST) continue;
    uint16_t cmd = pkt.page_request.command;
    if (cmd != ZX_PAGER_VMO_READ && cmd != ZX_PAGER_VMO_DIRTY) continue;
    mtx_lock(&P.lock);
    if (pkt.key >= P.n || !P.vmos[pkt.key].live) {
      mtx_unlock(&P.lock);
      continue;  // a request of a VMO whose trace has ended
    }
    pager_vmo_t* v = &P.vmos[pkt.key];
    if (cmd == ZX_PAGER_VMO_DIRTY) {
      // The format gives TRAP_DIRTY no meaning of its own: every page may become dirty.
      zx_pager_op_range(v->pager, ZX_PAGER_OP_DIRTY, v->vmo, pkt.page_request.offset,
                        pkt.page_request.length, 0);
      mtx_unlock(&P.lock);
      continue;
    }
    uint64_t a = pkt.page_request.offset / P.page;
    uint64_t b = a + pkt.page_request.length / P.page;
    // The earliest scripted failure in the request: pages before it are supplied, the
    // rest of the request fails with its code.
    fail_t* f = NULL;
    uint64_t at = b;
    for (size_t i = 0; i < v->nfails; i++) {
      fail_t* x = &v->fails[i];
      uint64_t lo = x->first > a ? x->first : a, hi = x->end < b ? x->end : b;
      if (!x->used && lo < hi && lo < at) {
        f = x;
        at = lo;
      }
    }
    if (at > a) supply(v->pager, v->vmo, a * P.page, (at - a) * P.page);
    if (f) {
      f->used = true;
      zx_pager_op_range(v->pager, ZX_PAGER_OP_FAIL, v->vmo, at * P.page, (b - at) * P.page,
                        (uint64_t)f->status);
    }
    mtx_unlock(&P.lock);
  }
}

static zx_koid_t koid_of(zx_handle_t h) {
  zx_info_vmo_t info;
  if (zx_object_get_info(h, ZX_INFO_VMO, &info, sizeof(info), NULL, NULL) != ZX_OK) return 0;
  return info.koid;
}

static void end_pager_vmos(void) {
  mtx_lock(&P.lock);
  for (size_t i = 0; i < P.n; i++) {
    if (!P.vmos[i].live) continue;
    zx_handle_close(P.vmos[i].vmo);
    free(P.vmos[i].fails);
    P.vmos[i] = (pager_vmo_t){0};
  }
  mtx_unlock(&P.lock);
}

// --- running steps ---------------------------------------------------------------------------

static zx_handle_t* slots;

static zx_handle_t name(int64_t i) { return i == INVALID_NAME ? ZX_HANDLE_INVALID : slots[i]; }

static void bind(int64_t out, zx_status_t st, zx_handle_t h) {
  if (st == ZX_OK) slots[out] = h;
}

static void print_runs(const uint8_t* d, uint64_t len) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < len; i++) {
    if (i == 0 || d[i] != d[i - 1]) n++;
  }
  printf(" %llu", (unsigned long long)n);
  // More runs than a trace may hold: the count alone, not hundreds of megabytes of text
  // that the other side would refuse anyway.
  if (n > MAX_RUNS) return;
  for (uint64_t i = 0; i < len;) {
    uint64_t j = i;
    while (j < len && d[j] == d[i]) j++;
    printf(" %u %llu", d[i], (unsigned long long)(j - i));
    i = j;
  }
}

static void not_run(const char* why) { printf("notrun %s\n", why); }

static void run_step(const step_t* s) {
  zx_status_t st = ZX_OK;
  zx_handle_t h = ZX_HANDLE_INVALID;
  // options, rights and ops are 32-bit in the syscalls; a wider value cannot be passed
  bool wide = (s->kind == S_CREATE && s->u[1] > UINT32_MAX) ||
              ((s->kind == S_CHILD || s->kind == S_DUP || s->kind == S_PAGERVMO ||
                s->kind == S_OP || s->kind == S_CACHEPOLICY) && s->u[0] > UINT32_MAX);
  if (wide) {
    not_run("a flag or op value does not fit in 32 bits");
    return;
  }
  switch (s->kind) {
    case S_CREATE:
      st = zx_vmo_create(s->u[0], (uint32_t)s->u[1], &h);
      bind(s->out, st, h);
      break;
    case S_CHILD:
      st = zx_vmo_create_child(name(s->h[0]), (uint32_t)s->u[0], s->u[1], s->u[2], &h);
      bind(s->out, st, h);
      break;
    case S_DUP:
      st = zx_handle_duplicate(name(s->h[0]), (zx_rights_t)s->u[0], &h);
      bind(s->out, st, h);
      break;
    case S_CLOSE:
      st = zx_handle_close(name(s->h[0]));
      if (st == ZX_OK && s->h[0] != INVALID_NAME) slots[s->h[0]] = UNBOUND;
      break;
    case S_OP: {
      zx_vmo_lock_state_t ls = {0, 0, 0, 0};
      uint32_t op = (uint32_t)s->u[0];
      st = zx_vmo_op_range(name(s->h[0]), op, s->u[1], s->u[2], s->u[4] ? NULL : &ls,
                           (size_t)s->u[3]);
      printf("%d", st);
      if (op == ZX_VMO_OP_LOCK && st == ZX_OK) {
        printf(" %llu %llu %llu %llu", (unsigned long long)ls.offset,
               (unsigned long long)ls.size, (unsigned long long)ls.discarded_offset,
               (unsigned long long)ls.discarded_size);
      }
      printf("\n");
      return;
    }
    case S_READ: {
      if (s->u[1] > MAX_DATA) {
        not_run("read longer than the runner's 64 MiB buffer");
        return;
      }
      uint8_t* buf = malloc((size_t)(s->u[1] ? s->u[1] : 1));
      if (!buf) {
        not_run("out of memory for the read buffer");
        return;
      }
      st = zx_vmo_read(name(s->h[0]), buf, s->u[0], (size_t)s->u[1]);
      printf("%d", st);
      if (st == ZX_OK) print_runs(buf, s->u[1]);
      printf("\n");
      free(buf);
      return;
    }
    case S_WRITE: {
      uint64_t len = 0;
      for (size_t i = 0; i < s->nruns; i++) {
        if (s->runs[2 * i + 1] > MAX_DATA - len) {
          not_run("write longer than the runner's 64 MiB buffer");
          return;
        }
        len += s->runs[2 * i + 1];
      }
      uint8_t* buf = malloc((size_t)(len ? len : 1));
      if (!buf) {
        not_run("out of memory for the write buffer");
        return;
      }
      uint64_t at = 0;
      for (size_t i = 0; i < s->nruns; i++) {
        memset(buf + at, (int)s->runs[2 * i], (size_t)s->runs[2 * i + 1]);
        at += s->runs[2 * i + 1];
      }
      st = zx_vmo_write(name(s->h[0]), buf, s->u[0], (size_t)len);
      free(buf);
      break;
    }
    case S_GETSIZE: {
      uint64_t size = 0;
      st = zx_vmo_get_size(name(s->h[0]), &size);
      if (st == ZX_OK) {
        printf("%d %llu\n", st, (unsigned long long)size);
        return;
      }
      break;
    }
    case S_SETSIZE:
      st = zx_vmo_set_size(name(s->h[0]), s->u[0]);
      break;
    case S_CACHEPOLICY:
      st = zx_vmo_set_cache_policy(name(s->h[0]), (uint32_t)s->u[0]);
      break;
    case S_INFO: {
      zx_info_vmo_t info;
      memset(&info, 0, sizeof(info));
      st = zx_object_get_info(name(s->h[0]), ZX_INFO_VMO, &info, sizeof(info), NULL, NULL);
      if (st == ZX_OK) {
        printf("%d %llu %llu %llu %u %u", st, (unsigned long long)info.size_bytes,
               (unsigned long long)info.committed_bytes, (unsigned long long)info.populated_bytes,
               (unsigned)info.flags, (unsigned)info.cache_policy);
#ifdef ZX_INFO_VMO_V3
        // The 2024+ struct (RFC-0254 renamed the old topic ZX_INFO_VMO_V3): attribution.
        printf(" %llu %llu %llu %llu %llu %llu\n",
               (unsigned long long)info.committed_private_bytes,
               (unsigned long long)info.populated_private_bytes,
               (unsigned long long)info.committed_scaled_bytes,
               (unsigned long long)info.populated_scaled_bytes,
               (unsigned long long)info.committed_fractional_scaled_bytes,
               (unsigned long long)info.populated_fractional_scaled_bytes);
#else
        // A struct without them (the host build): each is reported as not known.
        printf(" - - - - - -\n");
#endif
        return;
      }
      break;
    }
    case S_PAGER:
      st = zx_pager_create(0, &h);
      bind(s->out, st, h);
      break;
    case S_PAGERVMO: {
      mtx_lock(&P.lock);
      pager_vmo_t* nv = realloc(P.vmos, (P.n + 1) * sizeof(pager_vmo_t));
      if (!nv) {
        mtx_unlock(&P.lock);
        not_run("out of memory");
        return;
      }
      P.vmos = nv;
      uint64_t key = P.n;
      P.vmos[P.n++] = (pager_vmo_t){0};
      mtx_unlock(&P.lock);
      st = zx_pager_create_vmo(name(s->h[0]), (uint32_t)s->u[0], P.port, key, s->u[1], &h);
      if (st == ZX_OK) {
        zx_handle_t mine = ZX_HANDLE_INVALID;
        zx_handle_duplicate(h, ZX_RIGHT_SAME_RIGHTS, &mine);
        mtx_lock(&P.lock);
        P.vmos[key] = (pager_vmo_t){true, name(s->h[0]), mine, koid_of(h), NULL, 0};
        mtx_unlock(&P.lock);
      }
      bind(s->out, st, h);
      break;
    }
    case S_SUPPLY:
      if (s->u[1] > MAX_DATA) {
        not_run("supply longer than the runner's 64 MiB buffer");
        return;
      }
      st = supply(name(s->h[0]), name(s->h[1]), s->u[0], s->u[1]);
      break;
    case S_FAIL:
      st = zx_pager_op_range(name(s->h[0]), ZX_PAGER_OP_FAIL, name(s->h[1]), s->u[0], s->u[1],
                             (uint64_t)s->err);
      if (st == ZX_OK) {
        // Nothing waits now; the runner fails the range when it is next requested.
        zx_koid_t koid = koid_of(name(s->h[1]));
        mtx_lock(&P.lock);
        for (size_t i = 0; i < P.n; i++) {
          pager_vmo_t* v = &P.vmos[i];
          if (!v->live || v->koid != koid) continue;
          fail_t* nf = realloc(v->fails, (v->nfails + 1) * sizeof(fail_t));
          if (nf) {
            v->fails = nf;
            v->fails[v->nfails++] =
                (fail_t){s->u[0] / P.page, (s->u[0] + s->u[1]) / P.page, s->err, false};
          }
        }
        mtx_unlock(&P.lock);
      }
      break;
    case S_CONTIG:
    case S_PHYS:
      // zx_vmo_create_contiguous needs a BTI and zx_vmo_create_physical an MMIO resource:
      // the runner is given neither (notes/device.md).
      not_run(s->kind == S_CONTIG ? "vmo_create_contiguous: the runner has no BTI handle"
                                  : "vmo_create_physical: the runner has no MMIO resource");
      return;
    case S_RECLAIM: {
#ifdef VMOSPEC_HOST
      int was = 0;
      uint64_t evicted = 0;
      hostzx_reclaim(name(s->h[0]), &was, &evicted);
      printf("ev %d %llu\n", was, (unsigned long long)evicted);
#else
      // Zircon offers no per-VMO reclaim to user space: the kernel console's
      // `scanner reclaim_all` is system-wide, asynchronous and needs the debug resource
      // (notes/device.md).
      not_run("reclaim: no per-VMO memory pressure on this system");
#endif
      return;
    }
    default:
      break;
  }
  printf("%d\n", st);
}

static void run_trace(size_t index, const trace_t* t) {
  printf("trace %zu\n", index);
#ifdef VMOSPEC_HOST
  if (hostzx_configure(t->page_size, t->debugging_syscalls) != ZX_OK) {
    printf("skip page size %llu is not supported by the host build (a power of two from "
           "the OS page size to %llu bytes, within the memory budget)\n",
           (unsigned long long)t->page_size, (unsigned long long)HOSTZX_MAX_PAGE);
    fflush(stdout);
    return;
  }
#else
  if (t->page_size != zx_system_get_page_size()) {
    printf("skip page size %llu is not this system's (%u)\n", (unsigned long long)t->page_size,
           zx_system_get_page_size());
    fflush(stdout);
    return;
  }
#endif
  P.page = t->page_size;
  slots = malloc((size_t)(t->nhandles ? t->nhandles : 1) * sizeof(zx_handle_t));
  if (!slots) {
    printf("skip out of memory\n");
    fflush(stdout);
    return;
  }
  for (uint64_t i = 0; i < t->nhandles; i++) slots[i] = UNBOUND;
  for (size_t i = 0; i < t->nsteps; i++) run_step(&t->steps[i]);
  for (uint64_t i = 0; i < t->nhandles; i++) {
    if (slots[i] != UNBOUND) zx_handle_close(slots[i]);
  }
  end_pager_vmos();
  free(slots);
  slots = NULL;
  printf("end %zu\n", index);
  fflush(stdout);
}

int main(void) {
  size_t n = 0;
  trace_t* traces = read_batch(&n);
#ifdef VMOSPEC_HOST
  if (memory_budget) hostzx_set_memory(memory_budget);
#endif
  if (mtx_init(&P.lock, mtx_plain) != thrd_success ||
      zx_port_create(0, &P.port) != ZX_OK) {
    printf("error 0 cannot create the pager port\n");
    return 1;
  }
  thrd_t thread;
  if (thrd_create(&thread, pager_thread, NULL) != thrd_success) {
    printf("error 0 cannot start the pager thread\n");
    return 1;
  }
  printf("vmorun-result 1\n");
  fflush(stdout);
  for (size_t i = 0; i < n; i++) {
    run_trace(i, &traces[i]);
    for (size_t k = 0; k < traces[i].nsteps; k++) free(traces[i].steps[k].runs);
    free(traces[i].steps);
  }
  zx_port_packet_t quit;
  memset(&quit, 0, sizeof(quit));
  quit.type = ZX_PKT_TYPE_USER;
  zx_port_queue(P.port, &quit);
  thrd_join(thread, NULL);
  zx_handle_close(P.port);
  free(P.vmos);
  free(traces);
  printf("done\n");
  return 0;
}
