/* store.c - the on-disk cache: entries, statistics, manifests, pruning.
 *
 * Layout under the cache folder (docs/cache.md has the byte format):
 *   v1/entries/KK/KEY.tce   an entry (KK: first two hex digits of KEY)
 *   v1/manifests/ID.tcm     what a module's last build was made of (for --explain)
 *   v1/tmp/                 temporary files, renamed into place when complete
 *   v1/stats.log            one line per event, appended with O_APPEND
 *   v1/lock                 flock: shared for appends, exclusive to prune and compact
 *   v1/created              when the statistics started
 * An entry holds its kind and its whole key: a reader validates magic, version, lengths
 * and an XXH3-128 checksum, then that the entry is the one asked for (a valid entry copied
 * over another key's file is of no use there); anything else is reported, removed and
 * rebuilt. A cache that can be read but not written (restored read-only in CI) is read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/internal.h"

/* ---------------------------------------------------------------- helpers */

/* The one warning of a run about the cache as a whole. */
__attribute__((format(printf, 2, 3))) static void warn(ca_Cache *c, const char *fmt, ...) {
  if (c->warned) return;
  c->warned = true;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tric: warning: cache %s: ", c->dir);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* c->why, printf-style. */
__attribute__((format(printf, 2, 3))) static void set_why(ca_Cache *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->why, sizeof c->why, fmt, ap);
  va_end(ap);
}

static void path(char *out, size_t cap, const ca_Cache *c, const char *rel) { ca_local_path(c, rel, out, cap); }

/* Appends one statistics line under a shared lock (compaction takes it exclusively). */
static void stat_event(ca_Cache *c, const char *line) {
  if (!c->writable) return;
  char p[4096], l[4096];
  path(p, sizeof p, c, "stats.log");
  path(l, sizeof l, c, "lock");
  int lk = open(l, O_RDWR | O_CREAT, 0666);
  if (lk >= 0) flock(lk, LOCK_SH);
  int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0666);
  if (fd >= 0) {
    if (write(fd, line, strlen(line)) < 0) { /* statistics are best effort */ }
    close(fd);
  }
  if (lk >= 0) close(lk);
}

/* ---------------------------------------------------------------- open */

static bool is_dir(const char *p) {
  struct stat st;
  return !stat(p, &st) && S_ISDIR(st.st_mode);
}

ca_Open ca_open(ca_Cache *c, const char *dir, uint64_t max_size) {
  memset(c, 0, sizeof *c);
  if (strlen(dir) >= sizeof c->dir - 64) {
    set_why(c, "the folder name is longer than %zu bytes", sizeof c->dir - 64);
    return CA_OPEN_FAILED;
  }
  snprintf(c->dir, sizeof c->dir, "%s", dir);
  c->max_size = max_size;
  mode_t mask = umask(0); /* read once, before any thread starts: umask has no read-only form */
  umask(mask);
  c->file_mode = 0666 & ~mask;
  char p[4096];
  static const char *const sub[] = {"entries", "manifests", "tmp"};
  for (int i = 0; i < 3; i++) { /* a read-only cache may lack any but entries */
    path(p, sizeof p, c, sub[i]);
    if (ca_mkdir_p(p) && !c->why[0]) set_why(c, "cannot create %s: %s", p, strerror(errno));
    else if (!is_dir(p) && !access(p, F_OK)) {
      set_why(c, "%s is not a folder (tric cache clear makes the cache anew)", p);
      return CA_OPEN_FAILED;
    }
  }
  path(p, sizeof p, c, "entries");
  if (!is_dir(p)) return CA_OPEN_FAILED; /* why says it could not be created */
  if (access(p, R_OK | X_OK)) {
    set_why(c, "cannot read %s: %s", p, strerror(errno));
    return CA_OPEN_FAILED;
  }
  c->usable = true;
  if (!c->why[0]) {
    path(p, sizeof p, c, "tmp/.probe-XXXXXX");
    int fd = mkstemp(p);
    if (fd < 0) set_why(c, "cannot write there: %s", strerror(errno));
    else close(fd), unlink(p);
  }
  if (c->why[0]) return CA_OPEN_READONLY;
  c->writable = true;
  path(p, sizeof p, c, "created");
  if (access(p, F_OK)) {
    char t[32];
    snprintf(t, sizeof t, "%lld\n", (long long)time(NULL));
    ca_local_write(c, "created", t, strlen(t));
  }
  return CA_OPEN_OK;
}

/* ---------------------------------------------------------------- entries */

/* Removes a bad entry from b; what happened, for the message ("removed" or why not). */
static const char *remove_bad(ca_Cache *c, ca_Backend b, const char *name, char *buf, size_t cap) {
  if (b.ops->remove(b.self, name) != CA_B_FAILED) return "removed";
  snprintf(buf, cap, "not removed (%s%s)", strerror(errno), c->writable ? "" : ": the cache is read-only");
  return buf;
}

/* Decodes bytes read for key and kind: CA_HIT, CA_CORRUPT or CA_MISPLACED (e filled only
 * on a hit); *got_kind and *got_key say what the entry says it is. */
static ca_Lookup check_entry(const uint8_t *buf, size_t len, ca_Kind kind, const ca_Key *key, ca_Entry *e,
                             uint32_t *got_kind, ca_Key *got_key) {
  if (!ca_decode_entry(buf, len, e, got_kind, got_key)) return CA_CORRUPT;
  if (*got_kind != (uint32_t)kind || memcmp(got_key->b, key->b, 16)) {
    ca_entry_free(e);
    return CA_MISPLACED;
  }
  return CA_HIT;
}

void ca_report_bad(const char *where, ca_Lookup r, ca_Kind kind, uint32_t got_kind, const ca_Key *key,
                   const ca_Key *got_key) {
  char hex[33];
  ca_key_hex(got_key, hex);
  if (r == CA_CORRUPT) fprintf(stderr, "tric: warning: cache entry %s is corrupt; ", where);
  else if (memcmp(got_key->b, key->b, 16)) /* copied or renamed over this key's object */
    fprintf(stderr, "tric: warning: cache entry %s belongs to another key (a %s entry of key %s); ", where,
            ca_kind_name(got_kind), hex);
  else fprintf(stderr, "tric: warning: cache entry %s is a %s entry, not a %s entry; ", where, ca_kind_name(got_kind),
               ca_kind_name(kind));
}

ca_Lookup ca_decode_for(const uint8_t *buf, size_t len, ca_Kind kind, const ca_Key *key, ca_Entry *e, const char *where) {
  uint32_t got_kind = 0;
  ca_Key got_key;
  ca_Lookup r = check_entry(buf, len, kind, key, e, &got_kind, &got_key);
  if (r != CA_HIT) ca_report_bad(where, r, kind, got_kind, key, &got_key);
  return r;
}

static ca_Lookup lookup(ca_Cache *c, ca_Kind kind, const ca_Key *key, ca_Entry *e, bool count) {
  memset(e, 0, sizeof *e);
  if (!c->usable) return CA_UNAVAILABLE;
  ca_Backend b = ca_local_entries(c);
  char name[48], where[4096];
  ca_entry_name(key, name);
  size_t len = 0;
  int64_t used = 0;
  uint8_t *buf = NULL;
  errno = 0;
  ca_BStatus st = b.ops->get(b.self, name, &buf, &len, &used);
  if (st != CA_B_OK) {
    if (st == CA_B_FAILED && !c->unreadable_said) { /* there, but not for us: say so, once */
      int err = errno;
      c->unreadable_said = true;
      b.ops->where(b.self, name, where, sizeof where);
      fprintf(stderr, "tric: warning: cache entry %s cannot be read (%s); such entries are rebuilt\n", where, strerror(err));
    }
    c->misses += count;
    return CA_MISS;
  }
  b.ops->where(b.self, name, where, sizeof where);
  ca_Lookup r = ca_decode_for(buf, len, kind, key, e, where);
  free(buf);
  if (r != CA_HIT) {
    char what[256];
    fprintf(stderr, "%s, rebuilding\n", remove_bad(c, b, name, what, sizeof what));
    c->corrupt++;
    c->misses += count;
    return r;
  }
  if (c->writable && time(NULL) - used > 600) /* last use, for least-recently-used pruning (10-minute grain) */
    b.ops->touch(b.self, name);
  c->hits += count;
  return CA_HIT;
}

ca_Lookup ca_get(ca_Cache *c, ca_Kind kind, const ca_Key *key, ca_Entry *e) { return lookup(c, kind, key, e, true); }

ca_Lookup ca_get_part(ca_Cache *c, ca_Kind kind, const ca_Key *key, ca_Entry *e) { return lookup(c, kind, key, e, false); }

int ca_put_bytes(ca_Cache *c, const ca_Key *key, const uint8_t *buf, size_t len) {
  if (!c->writable) return -1;
  ca_Backend b = ca_local_entries(c);
  char name[48];
  ca_entry_name(key, name);
  if (b.ops->put(b.self, name, buf, len) != CA_B_OK) { /* reading goes on: what is there is still good */
    warn(c, "cannot store an entry: %s; storing nothing more in this run", strerror(errno));
    ca_flush_stats(c);
    c->writable = false;
    return -1;
  }
  c->written++;
  c->written_bytes += len;
  return 0;
}

int ca_put(ca_Cache *c, ca_Kind kind, const ca_Key *key, const ca_Entry *e) {
  bool remote = c->remote && !c->remote_read_only && kind == CA_KIND_MODULE; /* only modules are shared */
  if (!c->writable && !remote) return -1;
  size_t len;
  uint8_t *buf = ca_encode_entry(kind, key, e, &len);
  if (!buf) return -1;
  if (remote) {
    char name[48];
    ca_entry_name(key, name);
    c->remote->ops->put(c->remote->self, name, buf, len); /* in the background; a failure is the backend's to say */
  }
  int rc = ca_put_bytes(c, key, buf, len);
  free(buf);
  return rc;
}

/* ---------------------------------------------------------------- the remote cache */

struct ca_Fetch {
  ca_Cache *c;
  ca_Kind kind;
  int n;
  ca_Key *keys;
  char (*names)[48];
  void *batch; /* the backend's, when it gets many at once */
};

int ca_remote_attach(ca_Cache *c, const ca_RemoteConfig *rc, char *why, size_t cap) {
  ca_Backend b = ca_http_backend(rc, why, cap);
  if (!b.ops) return -1;
  if (!(c->remote = malloc(sizeof *c->remote))) abort();
  *c->remote = b;
  c->remote_read_only = rc->read_only;
  return 0;
}

ca_Fetch *ca_remote_fetch(ca_Cache *c, ca_Kind kind, const ca_Key *keys, int n) {
  if (!c->remote || n <= 0) return NULL;
  ca_Fetch *f = calloc(1, sizeof *f);
  if (!f || !(f->keys = malloc(sizeof *keys * (size_t)n)) || !(f->names = malloc(sizeof *f->names * (size_t)n))) abort();
  f->c = c, f->kind = kind, f->n = n;
  memcpy(f->keys, keys, sizeof *keys * (size_t)n);
  const char **names = malloc(sizeof *names * (size_t)n);
  if (!names) abort();
  for (int i = 0; i < n; i++) ca_entry_name(&keys[i], f->names[i]), names[i] = f->names[i];
  const ca_BackendOps *ops = c->remote->ops;
  if (ops->get_start) f->batch = ops->get_start(c->remote->self, names, n);
  free(names);
  return f;
}

ca_Lookup ca_fetch_wait(ca_Fetch *f, int i, ca_Entry *e) {
  memset(e, 0, sizeof *e);
  ca_Cache *c = f->c;
  const ca_Backend *b = c->remote;
  uint8_t *buf = NULL;
  size_t len = 0;
  ca_BStatus st = f->batch ? b->ops->get_wait(f->batch, i, &buf, &len) : b->ops->get(b->self, f->names[i], &buf, &len, NULL);
  if (st == CA_B_ABSENT) {
    c->remote_run.misses++;
    return CA_MISS;
  }
  if (st != CA_B_OK) return CA_UNAVAILABLE; /* the backend said why, and counts its errors */
  c->remote_run.bytes_in += len;
  char where[4096];
  b->ops->where(b->self, f->names[i], where, sizeof where);
  ca_Lookup got = ca_decode_for(buf, len, f->kind, &f->keys[i], e, where);
  if (got != CA_HIT) {
    fprintf(stderr, "not used, compiling\n");
    c->remote_run.errors++;
  } else {
    c->remote_run.hits++;
    ca_put_bytes(c, &f->keys[i], buf, len); /* a remote hit is kept locally, the same bytes */
  }
  free(buf);
  return got;
}

void ca_fetch_free(ca_Fetch *f) {
  if (!f) return;
  if (f->batch) f->c->remote->ops->get_end(f->batch);
  free(f->keys), free(f->names), free(f);
}

void ca_remote_finish(ca_Cache *c) {
  if (!c->remote) return;
  if (c->remote->ops->close) c->remote->ops->close(c->remote->self, &c->remote_run);
  free(c->remote);
  c->remote = NULL;
}

/* A statistics line of remote counts ("R hits misses errors puts in out"), or "" when all are 0. */
static void remote_line(char *line, size_t cap, const ca_RemoteCounts *r) {
  line[0] = 0;
  if (r->hits || r->misses || r->errors || r->puts || r->bytes_in || r->bytes_out)
    snprintf(line, cap, "R %llu %llu %llu %llu %llu %llu\n", (unsigned long long)r->hits, (unsigned long long)r->misses,
             (unsigned long long)r->errors, (unsigned long long)r->puts, (unsigned long long)r->bytes_in,
             (unsigned long long)r->bytes_out);
}

void ca_flush_stats(ca_Cache *c) {
  if (!c->writable) return;
  const ca_RemoteCounts *a = &c->remote_run, *b = &c->remote_flushed;
  ca_RemoteCounts d = {a->hits - b->hits,       a->misses - b->misses,     a->errors - b->errors,
                       a->puts - b->puts,       a->bytes_in - b->bytes_in, a->bytes_out - b->bytes_out};
  char line[512];
  remote_line(line, sizeof line, &d);
  if (line[0]) stat_event(c, line);
  c->remote_flushed = c->remote_run;
  if (!(c->hits || c->misses || c->corrupt || c->written)) return;
  snprintf(line, sizeof line, "S %llu %llu %llu %llu 0 0 %llu\n", (unsigned long long)c->hits,
           (unsigned long long)c->misses, (unsigned long long)c->corrupt, (unsigned long long)c->written,
           (unsigned long long)c->written_bytes);
  stat_event(c, line);
  c->hits = c->misses = c->corrupt = c->written = c->written_bytes = 0;
}

/* ---------------------------------------------------------------- statistics */

typedef struct Stats {
  uint64_t hits, misses, corrupt, written, evicted, evictions, bytes;
  ca_RemoteCounts remote;
  bool exact; /* bytes came from a walk, not the running total */
} Stats;

static void read_stats(ca_Cache *c, Stats *s) {
  memset(s, 0, sizeof *s);
  char p[4096];
  path(p, sizeof p, c, "stats.log");
  FILE *f = fopen(p, "r");
  if (!f) return;
  char line[256];
  int64_t live = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long a, b, d, e, g, h, i;
    unsigned long long v;
    if (line[0] == 'h') s->hits++;
    else if (line[0] == 'm') s->misses++;
    else if (line[0] == 'c') s->corrupt++;
    else if (line[0] == 'w' && sscanf(line + 1, "%llu", &v) == 1) s->written++, live += (int64_t)v;
    else if (line[0] == 'e' && sscanf(line + 1, "%llu", &v) == 1) s->evictions++, s->evicted += v, live -= (int64_t)v;
    else if (line[0] == 'R' && sscanf(line + 1, "%llu %llu %llu %llu %llu %llu", &a, &b, &d, &e, &g, &h) == 6) {
      ca_RemoteCounts *r = &s->remote;
      r->hits += a, r->misses += b, r->errors += d, r->puts += e, r->bytes_in += g, r->bytes_out += h;
    } else if (line[0] == 'S' && sscanf(line + 1, "%llu %llu %llu %llu %llu %llu %llu", &a, &b, &d, &e, &g, &h, &i) == 7) {
      s->hits += a, s->misses += b, s->corrupt += d, s->written += e, s->evictions += g, s->evicted += h;
      live += (int64_t)i;
    }
  }
  fclose(f);
  s->bytes = live > 0 ? (uint64_t)live : 0;
}

/* Replaces the log by one summary line (under the exclusive lock). */
static void compact_stats(ca_Cache *c, uint64_t live_bytes) {
  Stats s;
  read_stats(c, &s);
  char line[768];
  int n = snprintf(line, sizeof line, "S %llu %llu %llu %llu %llu %llu %llu\n", (unsigned long long)s.hits,
                   (unsigned long long)s.misses, (unsigned long long)s.corrupt, (unsigned long long)s.written,
                   (unsigned long long)s.evictions, (unsigned long long)s.evicted, (unsigned long long)live_bytes);
  remote_line(line + n, sizeof line - (size_t)n, &s.remote);
  ca_local_write(c, "stats.log", line, strlen(line));
}

/* ---------------------------------------------------------------- walking and pruning */

typedef struct Item {
  char name[2 * 258]; /* the backend's name for it: "KK/KEY.tce" */
  uint64_t size;
  int64_t used;
  char key[33];
  bool misfiled; /* in another fan-out folder than its name's first two digits */
} Item;

typedef struct Walk {
  Item *v;
  int n, cap;
} Walk;

static int walk_one(void *ctx, const ca_Object *o) {
  Walk *w = ctx;
  size_t len = strlen(o->name);
  const char *slash = strrchr(o->name, '/');
  if (!slash || len >= sizeof w->v->name || strlen(slash + 1) != 36) return 0;
  if (w->n == w->cap) {
    int cap = w->cap ? 2 * w->cap : 256;
    Item *nv = realloc(w->v, sizeof *nv * (size_t)cap);
    if (!nv) return 1;
    w->v = nv, w->cap = cap;
  }
  Item *it = &w->v[w->n++];
  memcpy(it->name, o->name, len + 1);
  it->size = o->size;
  it->used = o->used;
  memcpy(it->key, slash + 1, 32);
  it->key[32] = 0;
  it->misfiled = slash - o->name != 2 || memcmp(o->name, slash + 1, 2);
  return 0;
}

/* Lists the entries of the local folder. */
static Item *walk(ca_Cache *c, int *n) {
  Walk w = {0};
  ca_Backend b = ca_local_entries(c);
  b.ops->list(b.self, walk_one, &w);
  *n = w.n;
  if (!w.v && !(w.v = malloc(sizeof *w.v))) abort(); /* never NULL: qsort and loops take it as it is */
  return w.v;
}

static int by_use(const void *a, const void *b) {
  const Item *x = a, *y = b;
  return x->used < y->used ? -1 : x->used > y->used;
}

static int lock_exclusive(ca_Cache *c) {
  char l[4096];
  path(l, sizeof l, c, "lock");
  int fd = open(l, O_RDWR | O_CREAT, 0666);
  if (fd >= 0) flock(fd, LOCK_EX);
  return fd;
}

/* Removes temporary files older than an hour (left by killed processes). */
static void clean_tmp(ca_Cache *c) {
  char root[2200];
  path(root, sizeof root, c, "tmp");
  DIR *d = opendir(root);
  if (!d) return;
  struct dirent *de;
  time_t now = time(NULL);
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.')) continue;
    char p[2500];
    snprintf(p, sizeof p, "%s/%s", root, de->d_name);
    struct stat st;
    if (!stat(p, &st) && now - st.st_mtime > 3600) unlink(p);
  }
  closedir(d);
}

/* Counts a removal that failed. */
static void removal_failed(ca_Removal *rm) {
  if (!rm) return;
  if (!rm->failed++) rm->err = errno;
}

int ca_prune(ca_Cache *c, uint64_t max_size, int64_t max_age, ca_Removal *rm) {
  if (rm) memset(rm, 0, sizeof *rm);
  if (!c->usable) return 0;
  ca_flush_stats(c);
  int lk = lock_exclusive(c);
  int n, removed = 0;
  Item *v = walk(c, &n);
  uint64_t total = 0;
  for (int i = 0; i < n; i++) total += v[i].size;
  qsort(v, (size_t)n, sizeof *v, by_use);
  int64_t now = (int64_t)time(NULL);
  char line[64];
  char p[4096];
  path(p, sizeof p, c, "stats.log");
  int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0666);
  ca_Backend b = ca_local_entries(c);
  for (int i = 0; i < n; i++) {
    bool old = max_age >= 0 && now - v[i].used >= max_age;
    if (total <= max_size && !old) continue;
    total -= v[i].size; /* removed, or counted as what could not be */
    ca_BStatus st = b.ops->remove(b.self, v[i].name);
    if (st == CA_B_OK) {
      removed++;
      snprintf(line, sizeof line, "e %llu\n", (unsigned long long)v[i].size);
      if (fd >= 0 && write(fd, line, strlen(line)) < 0) { /* best effort */ }
    } else if (st == CA_B_FAILED) /* absent: another process pruned it first */
      removal_failed(rm);
  }
  if (fd >= 0) close(fd);
  if (rm) rm->removed = removed;
  free(v);
  clean_tmp(c);
  compact_stats(c, total);
  if (lk >= 0) close(lk);
  return removed;
}

void ca_maybe_prune(ca_Cache *c) {
  ca_remote_finish(c);
  ca_flush_stats(c);
  if (!c->writable) return;
  Stats s;
  read_stats(c, &s);
  if (s.bytes > c->max_size) ca_prune(c, c->max_size, -1, NULL);
}

/* ---------------------------------------------------------------- manifests */

static void manifest_rel(const char *identity, char *out, size_t cap) {
  ca_Key k = ca_hash_bytes(identity, strlen(identity));
  char hex[33];
  ca_key_hex(&k, hex);
  snprintf(out, cap, "manifests/%s.tcm", hex);
}

bool ca_manifest_get(ca_Cache *c, const char *identity, ca_Manifest *m) {
  memset(m, 0, sizeof *m);
  if (!c->usable) return false;
  char rel[128];
  manifest_rel(identity, rel, sizeof rel);
  size_t len;
  uint8_t *buf = ca_local_read(c, rel, &len, NULL);
  if (!buf) return false;
  bool ok = ca_decode_manifest(buf, len, m);
  free(buf);
  return ok;
}

void ca_manifest_put(ca_Cache *c, const char *identity, const ca_Manifest *m) {
  if (!c->writable) return;
  char rel[128];
  manifest_rel(identity, rel, sizeof rel);
  size_t len;
  uint8_t *buf = ca_encode_manifest(m, &len);
  if (!buf) return;
  ca_local_write(c, rel, buf, len);
  free(buf);
}

/* ---------------------------------------------------------------- commands */

int ca_cmd_stats(ca_Cache *c, FILE *out, bool json) {
  Stats s;
  read_stats(c, &s);
  int n;
  Item *v = walk(c, &n);
  uint64_t bytes = 0;
  for (int i = 0; i < n; i++) bytes += v[i].size;
  free(v);
  char p[4096];
  path(p, sizeof p, c, "created");
  long long since = 0;
  FILE *f = fopen(p, "r");
  if (f) {
    if (fscanf(f, "%lld", &since) != 1) since = 0;
    fclose(f);
  }
  double rate = s.hits + s.misses ? (double)s.hits / (double)(s.hits + s.misses) : 0;
  const ca_RemoteCounts *r = &s.remote;
  if (json) {
    fprintf(out,
            "{\"dir\": \"%s\", \"entries\": %d, \"bytes\": %llu, \"max_bytes\": %llu, \"hits\": %llu, \"misses\": %llu, "
            "\"hit_rate\": %.4f, \"corrupt\": %llu, \"evictions\": %llu, \"since\": %lld, \"remote_hits\": %llu, "
            "\"remote_misses\": %llu, \"remote_errors\": %llu, \"remote_puts\": %llu, \"remote_bytes_received\": %llu, "
            "\"remote_bytes_sent\": %llu}\n",
            c->dir, n, (unsigned long long)bytes, (unsigned long long)c->max_size, (unsigned long long)s.hits,
            (unsigned long long)s.misses, rate, (unsigned long long)s.corrupt, (unsigned long long)s.evictions, since,
            (unsigned long long)r->hits, (unsigned long long)r->misses, (unsigned long long)r->errors,
            (unsigned long long)r->puts, (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out);
    return 0;
  }
  char when[64] = "never";
  time_t t = (time_t)since;
  struct tm tm;
  if (since && gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  fprintf(out, "cache:      %s\nentries:    %d\nsize:       %llu bytes (limit %llu)\nhits:       %llu\n"
               "misses:     %llu\nhit rate:   %.1f%%\ncorrupt:    %llu\nevictions:  %llu\nsince:      %s\n",
          c->dir, n, (unsigned long long)bytes, (unsigned long long)c->max_size, (unsigned long long)s.hits,
          (unsigned long long)s.misses, rate * 100, (unsigned long long)s.corrupt, (unsigned long long)s.evictions, when);
  fprintf(out, "remote hits:     %llu\nremote misses:   %llu\nremote errors:   %llu\nremote puts:     %llu\n"
               "remote received: %llu bytes\nremote sent:     %llu bytes\n",
          (unsigned long long)r->hits, (unsigned long long)r->misses, (unsigned long long)r->errors,
          (unsigned long long)r->puts, (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out);
  return 0;
}

int ca_cmd_list(ca_Cache *c, FILE *out) {
  int n;
  Item *v = walk(c, &n);
  qsort(v, (size_t)n, sizeof *v, by_use);
  for (int i = 0; i < n; i++) {
    char when[64];
    time_t t = (time_t)v[i].used;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(out, "%s %10llu %s\n", v[i].key, (unsigned long long)v[i].size, when);
  }
  free(v);
  return 0;
}

int ca_cmd_verify(ca_Cache *c, FILE *out, ca_Removal *rm) {
  memset(rm, 0, sizeof *rm);
  int n, corrupt = 0, misplaced = 0;
  Item *v = walk(c, &n);
  ca_Backend b = ca_local_entries(c);
  for (int i = 0; i < n; i++) {
    size_t len = 0;
    uint8_t *buf = NULL;
    errno = 0;
    ca_BStatus st = b.ops->get(b.self, v[i].name, &buf, &len, NULL);
    int rerr = st == CA_B_OK ? 0 : errno;
    if (st == CA_B_ABSENT) continue; /* pruned by another process since the walk */
    ca_Entry e;
    uint32_t kind = 0;
    ca_Key key;
    char hex[33] = "", where[4096];
    bool ok = buf && ca_decode_entry(buf, len, &e, &kind, &key);
    ca_entry_free(&e);
    free(buf);
    if (ok) ca_key_hex(&key, hex);
    if (ok && !strcmp(hex, v[i].key) && !v[i].misfiled) continue;
    b.ops->where(b.self, v[i].name, where, sizeof where);
    if (ok) { /* a whole entry, but no lookup of its key reads this file */
      fprintf(out, "misplaced: %s holds the %s entry of key %s", where, ca_kind_name(kind), hex);
      misplaced++;
    } else {
      fprintf(out, "corrupt: %s", where);
      if (rerr) fprintf(out, " (unreadable: %s)", strerror(rerr));
      corrupt++;
    }
    if (b.ops->remove(b.self, v[i].name) != CA_B_FAILED) fprintf(out, " (removed)\n"), rm->removed++;
    else {
      fprintf(out, " (not removed: %s)\n", strerror(errno));
      removal_failed(rm);
    }
  }
  fprintf(out, "%d entries checked, %d corrupt, %d misplaced\n", n, corrupt, misplaced);
  free(v);
  return corrupt + misplaced;
}

/* Removes everything in folder p (not p itself); counts what could not be removed. */
static void empty_folder(const char *p, ca_Removal *rm) {
  DIR *d = opendir(p);
  if (!d) {
    if (errno != ENOENT) removal_failed(rm);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char q[4096];
    snprintf(q, sizeof q, "%s/%s", p, de->d_name);
    struct stat st;
    if (lstat(q, &st)) continue;
    if (S_ISDIR(st.st_mode)) empty_folder(q, rm);
    if (S_ISDIR(st.st_mode) ? rmdir(q) : unlink(q)) removal_failed(rm);
    else rm->removed++;
  }
  closedir(d);
}

int ca_cmd_clear(ca_Cache *c, ca_Removal *rm) {
  memset(rm, 0, sizeof *rm);
  if (!c->dir[0]) { /* ca_open found the name too long */
    rm->failed = 1, rm->err = ENAMETOOLONG;
    return -1;
  }
  int lk = lock_exclusive(c);
  char root[2100];
  snprintf(root, sizeof root, "%s/v1", c->dir);
  DIR *d = opendir(root);
  struct dirent *de;
  while (d && (de = readdir(d))) { /* everything but the lock the command holds */
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "lock")) continue;
    char q[4096];
    snprintf(q, sizeof q, "%s/%s", root, de->d_name);
    bool layout = !strcmp(de->d_name, "entries") || !strcmp(de->d_name, "manifests") || !strcmp(de->d_name, "tmp");
    struct stat st;
    if (lstat(q, &st)) continue;
    if (S_ISDIR(st.st_mode)) empty_folder(q, rm);
    if (S_ISDIR(st.st_mode) && layout) continue;
    if (S_ISDIR(st.st_mode) ? rmdir(q) : unlink(q)) removal_failed(rm);
    else rm->removed++;
  }
  if (d) closedir(d);
  else if (errno != ENOENT) removal_failed(rm);
  static const char *const sub[] = {"entries", "manifests", "tmp"};
  int rc = rm->failed ? -1 : 0;
  for (int i = 0; i < 3; i++) {
    char p[4096];
    path(p, sizeof p, c, sub[i]);
    int err = ca_mkdir_p(p) ? errno : is_dir(p) ? 0 : ENOTDIR;
    if (err) {
      if (!rm->failed++) rm->err = err;
      rc = -1;
    }
  }
  char t[32];
  snprintf(t, sizeof t, "%lld\n", (long long)time(NULL));
  if (!rc) ca_local_write(c, "created", t, strlen(t));
  if (lk >= 0) close(lk);
  return rc;
}

bool ca_parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0) return false;
  double mul = 1;
  if (*end == 'k' || *end == 'K') mul = 1024, end++;
  else if (*end == 'm' || *end == 'M') mul = 1024.0 * 1024, end++;
  else if (*end == 'g' || *end == 'G') mul = 1024.0 * 1024 * 1024, end++;
  else if (*end == 't' || *end == 'T') mul = 1024.0 * 1024 * 1024 * 1024, end++;
  if (*end == 'i' && mul > 1) end++;
  if (*end == 'B' || *end == 'b') end++;
  if (*end) return false;
  *out = (uint64_t)(v * mul);
  return true;
}

bool ca_parse_duration(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0) return false;
  double mul = 1;
  if (*end == 's') end++;
  else if (*end == 'm') mul = 60, end++;
  else if (*end == 'h') mul = 3600, end++;
  else if (*end == 'd') mul = 86400, end++;
  else if (*end == 'w') mul = 7 * 86400, end++;
  if (*end) return false;
  *out = (int64_t)(v * mul);
  return true;
}

/* ---------------------------------------------------------------- build id */

#include <elf.h>
#include <link.h>

typedef struct IdSearch {
  char *buf;
  size_t cap;
  bool found;
} IdSearch;

static int find_note(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  IdSearch *s = arg;
  if (info->dlpi_name && info->dlpi_name[0]) return 0; /* the executable has an empty name */
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE) continue;
    const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
      const uint8_t *name = p + sizeof *nh, *desc = name + ((nh->n_namesz + 3) & ~3u);
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
        size_t k = 0;
        for (uint32_t j = 0; j < nh->n_descsz && k + 3 < s->cap; j++, k += 2) snprintf(s->buf + k, 3, "%02x", desc[j]);
        s->found = true;
        return 1;
      }
      p = desc + ((nh->n_descsz + 3) & ~3u);
    }
  }
  return 0;
}

const char *ca_build_id(char *buf, size_t cap) {
  IdSearch s = {buf, cap, false};
  buf[0] = 0;
  dl_iterate_phdr(find_note, &s);
  return buf;
}
