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

#include <xxh_x86dispatch.h>
#include <xxhash.h>

#include "cache/cache.h"

#define MAGIC "TRICACHE"
enum { FORMAT_VERSION = 2, HEADER_SIZE = 64, SUM_AT = 48 }; /* SUM_AT: where the checksum is */

/* ---------------------------------------------------------------- hashing */

struct ca_Hasher {
  XXH3_state_t *s;
};

ca_Hasher *ca_hasher_new(void) {
  ca_Hasher *h = malloc(sizeof *h);
  if (!h || !(h->s = XXH3_createState())) abort();
  XXH3_128bits_reset(h->s);
  return h;
}

void ca_hash(ca_Hasher *h, const void *p, size_t n) { XXH3_128bits_update(h->s, p, n); }

void ca_hash_u64(ca_Hasher *h, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  ca_hash(h, b, 8);
}

void ca_hash_str(ca_Hasher *h, const char *s) {
  size_t n = s ? strlen(s) : 0;
  ca_hash_u64(h, n);
  if (n) ca_hash(h, s, n);
}

static ca_Key key_of(XXH128_hash_t d) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, d);
  ca_Key k;
  memcpy(k.b, c.digest, 16);
  return k;
}

ca_Key ca_hasher_finish(ca_Hasher *h) {
  ca_Key k = key_of(XXH3_128bits_digest(h->s));
  XXH3_freeState(h->s);
  free(h);
  return k;
}

void ca_key_hex(const ca_Key *k, char out[33]) {
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", k->b[i]);
}

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

static void path(char *out, size_t cap, const ca_Cache *c, const char *rel) { snprintf(out, cap, "%s/v1/%s", c->dir, rel); }

static int mkdir_p(const char *p) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", p);
  for (char *s = buf + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      if (mkdir(buf, 0777) && errno != EEXIST) return -1;
      *s = '/';
    }
  if (mkdir(buf, 0777) && errno != EEXIST) return -1;
  return 0;
}

static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get_u64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

/* Writes data to rel atomically: a file in v1/tmp, renamed into place. */
static int write_file(ca_Cache *c, const char *rel, const void *data, size_t len) {
  char tmp[4096], dst[4096];
  path(tmp, sizeof tmp, c, "tmp/XXXXXX");
  path(dst, sizeof dst, c, rel);
  int fd = mkstemp(tmp);
  if (fd < 0) return -1;
  int err = fchmod(fd, c->file_mode) ? errno : 0; /* mkstemp makes 0600: others could not read a shared cache */
  const uint8_t *p = data;
  size_t left = len;
  while (left && !err) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno != EINTR) err = errno;
    else if (w > 0) p += w, left -= (size_t)w;
  }
  if (close(fd) && !err) err = errno;
  if (!err && rename(tmp, dst)) {
    err = errno;
    if (err == ENOENT) { /* the fan-out folder does not exist yet */
      char *slash = strrchr(dst, '/');
      *slash = 0;
      err = mkdir_p(dst) ? errno : 0;
      *slash = '/';
      if (!err && rename(tmp, dst)) err = errno;
    }
  }
  if (err) {
    unlink(tmp);
    errno = err;
    return -1;
  }
  return 0;
}

static void *read_all_m(const char *p, size_t *len, time_t *mtime) {
  int fd = open(p, O_RDONLY);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    close(fd);
    return NULL;
  }
  if (mtime) *mtime = st.st_mtime;
  uint8_t *buf = malloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (buf && got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (!buf || got != (size_t)st.st_size) {
    free(buf);
    return NULL;
  }
  *len = got;
  return buf;
}

static void *read_all(const char *p, size_t *len) { return read_all_m(p, len, NULL); }

/* Reads the file at rel under the cache (its full path left in p). */
static void *read_rel(ca_Cache *c, const char *rel, char *p, size_t cap, size_t *len) {
  path(p, cap, c, rel);
  return read_all(p, len);
}

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
    if (mkdir_p(p) && !c->why[0]) set_why(c, "cannot create %s: %s", p, strerror(errno));
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
    write_file(c, "created", t, strlen(t));
  }
  return CA_OPEN_OK;
}

/* ---------------------------------------------------------------- entries */

static void entry_rel(const ca_Key *k, char *out, size_t cap) {
  char hex[33];
  ca_key_hex(k, hex);
  snprintf(out, cap, "entries/%.2s/%s.tce", hex, hex);
}

void ca_entry_free(ca_Entry *e) {
  for (int i = 0; i < CA_NSECTIONS; i++) free(e->data[i]);
  memset(e, 0, sizeof *e);
}

/* The checksum of an entry: its header up to the checksum, and its payload. */
static ca_Key entry_sum(const uint8_t *buf, size_t len) {
  XXH3_state_t *st = XXH3_createState();
  if (!st) abort();
  XXH3_128bits_reset(st);
  XXH3_128bits_update(st, buf, SUM_AT);
  XXH3_128bits_update(st, buf + HEADER_SIZE, len - HEADER_SIZE);
  ca_Key k = key_of(XXH3_128bits_digest(st));
  XXH3_freeState(st);
  return k;
}

static const char *kind_name(uint32_t kind) {
  return kind == CA_KIND_MODULE ? "module" : kind == CA_KIND_KERNEL ? "kernel" : kind == CA_KIND_CODE ? "module code" : "?";
}

/* Parses and checks an entry's bytes (false for anything malformed); *kind and *key get
 * what the entry says it is. */
static bool parse_entry(const uint8_t *buf, size_t len, ca_Entry *e, uint32_t *kind, ca_Key *key) {
  if (len < HEADER_SIZE || memcmp(buf, MAGIC, 8) || get_u32(buf + 8) != FORMAT_VERSION) return false;
  uint64_t plen = get_u64(buf + 32);
  uint32_t nsec = get_u32(buf + 40);
  if (plen != len - HEADER_SIZE || nsec > CA_NSECTIONS || get_u32(buf + 44)) return false;
  ca_Key sum = entry_sum(buf, len);
  if (memcmp(sum.b, buf + SUM_AT, 16)) return false;
  *kind = get_u32(buf + 12);
  memcpy(key->b, buf + 16, 16);
  if (*kind < CA_KIND_MODULE || *kind > CA_KIND_CODE) return false;
  const uint8_t *p = buf + HEADER_SIZE, *end = buf + len;
  for (uint32_t i = 0; i < nsec; i++) {
    if (end - p < 16) return false;
    uint32_t sec = get_u32(p);
    uint64_t n = get_u64(p + 8);
    p += 16;
    if (sec == 0 || sec >= CA_NSECTIONS || e->data[sec] || n > (uint64_t)(end - p)) return false;
    e->data[sec] = malloc(n + 1);
    if (!e->data[sec]) return false;
    memcpy(e->data[sec], p, n);
    ((char *)e->data[sec])[n] = 0;
    e->len[sec] = n;
    p += n;
  }
  return p == end;
}

/* Removes a bad entry; what happened, for the message ("removed" or why not). */
static const char *remove_bad(ca_Cache *c, const char *p, char *buf, size_t cap) {
  if (!unlink(p)) return "removed";
  snprintf(buf, cap, "not removed (%s%s)", strerror(errno), c->writable ? "" : ": the cache is read-only");
  return buf;
}

static ca_Lookup lookup(ca_Cache *c, ca_Kind kind, const ca_Key *key, ca_Entry *e, bool count) {
  memset(e, 0, sizeof *e);
  if (!c->usable) return CA_UNAVAILABLE;
  char rel[128], p[4096];
  entry_rel(key, rel, sizeof rel);
  size_t len;
  time_t mtime = 0;
  path(p, sizeof p, c, rel);
  errno = 0;
  uint8_t *buf = read_all_m(p, &len, &mtime);
  if (!buf) {
    if (errno && errno != ENOENT && !c->unreadable_said) { /* there, but not for us: say so, once */
      c->unreadable_said = true;
      fprintf(stderr, "tric: warning: cache entry %s cannot be read (%s); such entries are rebuilt\n", p, strerror(errno));
    }
    c->misses += count;
    return CA_MISS;
  }
  uint32_t got_kind = 0;
  ca_Key got_key;
  ca_Lookup r = CA_HIT;
  if (!parse_entry(buf, len, e, &got_kind, &got_key)) r = CA_CORRUPT;
  else if (got_kind != kind || memcmp(got_key.b, key->b, 16)) r = CA_MISPLACED;
  free(buf);
  if (r != CA_HIT) {
    ca_entry_free(e);
    char what[256], hex[33];
    ca_key_hex(&got_key, hex);
    if (r == CA_CORRUPT) fprintf(stderr, "tric: warning: cache entry %s is corrupt; ", p);
    else if (memcmp(got_key.b, key->b, 16)) /* copied or renamed over this key's file */
      fprintf(stderr, "tric: warning: cache entry %s belongs to another key (a %s entry of key %s); ", p, kind_name(got_kind), hex);
    else fprintf(stderr, "tric: warning: cache entry %s is a %s entry, not a %s entry; ", p, kind_name(got_kind), kind_name(kind));
    fprintf(stderr, "%s, rebuilding\n", remove_bad(c, p, what, sizeof what));
    c->corrupt++;
    c->misses += count;
    return r;
  }
  if (c->writable && time(NULL) - mtime > 600) /* last use, for least-recently-used pruning (10-minute grain) */
    utimensat(AT_FDCWD, p, NULL, 0);
  c->hits += count;
  return CA_HIT;
}

ca_Lookup ca_get(ca_Cache *c, ca_Kind kind, const ca_Key *key, ca_Entry *e) { return lookup(c, kind, key, e, true); }

ca_Lookup ca_get_part(ca_Cache *c, ca_Kind kind, const ca_Key *key, ca_Entry *e) { return lookup(c, kind, key, e, false); }

int ca_put(ca_Cache *c, ca_Kind kind, const ca_Key *key, const ca_Entry *e) {
  if (!c->writable) return -1;
  size_t plen = 0;
  uint32_t nsec = 0;
  for (int i = 1; i < CA_NSECTIONS; i++)
    if (e->data[i]) plen += 16 + e->len[i], nsec++;
  uint8_t *buf = calloc(1, HEADER_SIZE + plen);
  if (!buf) return -1;
  memcpy(buf, MAGIC, 8);
  put_u32(buf + 8, FORMAT_VERSION);
  put_u32(buf + 12, (uint32_t)kind);
  memcpy(buf + 16, key->b, 16);
  put_u64(buf + 32, plen);
  put_u32(buf + 40, nsec);
  uint8_t *p = buf + HEADER_SIZE;
  for (int i = 1; i < CA_NSECTIONS; i++) {
    if (!e->data[i]) continue;
    put_u32(p, (uint32_t)i);
    put_u32(p + 4, 0);
    put_u64(p + 8, e->len[i]);
    memcpy(p + 16, e->data[i], e->len[i]);
    p += 16 + e->len[i];
  }
  ca_Key sum = entry_sum(buf, HEADER_SIZE + plen);
  memcpy(buf + SUM_AT, sum.b, 16);
  char rel[128];
  entry_rel(key, rel, sizeof rel);
  int rc = write_file(c, rel, buf, HEADER_SIZE + plen);
  free(buf);
  if (rc) { /* reading goes on: what is there is still good */
    warn(c, "cannot store an entry: %s; storing nothing more in this run", strerror(errno));
    ca_flush_stats(c);
    c->writable = false;
    return -1;
  }
  c->written++;
  c->written_bytes += HEADER_SIZE + plen;
  return 0;
}

void ca_flush_stats(ca_Cache *c) {
  if (!c->writable || !(c->hits || c->misses || c->corrupt || c->written)) return;
  char line[256];
  snprintf(line, sizeof line, "S %llu %llu %llu %llu 0 0 %llu\n", (unsigned long long)c->hits,
           (unsigned long long)c->misses, (unsigned long long)c->corrupt, (unsigned long long)c->written,
           (unsigned long long)c->written_bytes);
  stat_event(c, line);
  c->hits = c->misses = c->corrupt = c->written = c->written_bytes = 0;
}

/* ---------------------------------------------------------------- statistics */

typedef struct Stats {
  uint64_t hits, misses, corrupt, written, evicted, evictions, bytes;
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
    else if (line[0] == 'S' && sscanf(line + 1, "%llu %llu %llu %llu %llu %llu %llu", &a, &b, &d, &e, &g, &h, &i) == 7) {
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
  char line[256];
  snprintf(line, sizeof line, "S %llu %llu %llu %llu %llu %llu %llu\n", (unsigned long long)s.hits,
           (unsigned long long)s.misses, (unsigned long long)s.corrupt, (unsigned long long)s.written,
           (unsigned long long)s.evictions, (unsigned long long)s.evicted, (unsigned long long)live_bytes);
  write_file(c, "stats.log", line, strlen(line));
}

/* ---------------------------------------------------------------- walking and pruning */

typedef struct Item {
  char path[2900];
  uint64_t size;
  int64_t used;
  char key[33];
  bool misfiled; /* in another fan-out folder than its name's first two digits */
} Item;

/* Lists entries (and, with tmp, stale temporary files) under the cache. */
static Item *walk(ca_Cache *c, int *n) {
  int cap = 256;
  Item *v = malloc(sizeof *v * (size_t)cap);
  *n = 0;
  char root[2200];
  path(root, sizeof root, c, "entries");
  DIR *d = opendir(root);
  if (!d || !v) {
    if (d) closedir(d);
    return v;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char sub[2500];
    snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
    DIR *d2 = opendir(sub);
    if (!d2) continue;
    struct dirent *f;
    while ((f = readdir(d2))) {
      size_t len = strlen(f->d_name);
      if (len != 36 || strcmp(f->d_name + 32, ".tce")) continue;
      if (*n == cap) {
        cap *= 2;
        Item *nv = realloc(v, sizeof *v * (size_t)cap);
        if (!nv) break;
        v = nv;
      }
      Item *it = &v[*n];
      snprintf(it->path, sizeof it->path, "%s/%s", sub, f->d_name);
      struct stat st;
      if (stat(it->path, &st)) continue;
      it->size = (uint64_t)st.st_size;
      it->used = (int64_t)st.st_mtime;
      memcpy(it->key, f->d_name, 32);
      it->key[32] = 0;
      it->misfiled = strlen(de->d_name) != 2 || memcmp(de->d_name, f->d_name, 2);
      (*n)++;
    }
    closedir(d2);
  }
  closedir(d);
  return v;
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
  for (int i = 0; i < n; i++) {
    bool old = max_age >= 0 && now - v[i].used >= max_age;
    if (total <= max_size && !old) continue;
    total -= v[i].size; /* removed, or counted as what could not be */
    if (unlink(v[i].path) == 0) {
      removed++;
      snprintf(line, sizeof line, "e %llu\n", (unsigned long long)v[i].size);
      if (fd >= 0 && write(fd, line, strlen(line)) < 0) { /* best effort */ }
    } else if (errno != ENOENT) /* ENOENT: another process pruned it first */
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
  ca_flush_stats(c);
  if (!c->writable) return;
  Stats s;
  read_stats(c, &s);
  if (s.bytes > c->max_size) ca_prune(c, c->max_size, -1, NULL);
}

/* ---------------------------------------------------------------- manifests */

static void manifest_rel(const char *identity, char *out, size_t cap) {
  ca_Key k = key_of(XXH3_128bits(identity, strlen(identity)));
  char hex[33];
  ca_key_hex(&k, hex);
  snprintf(out, cap, "manifests/%s.tcm", hex);
}

/* A manifest on disk: "TRICMAN2", the key, source and options hashes (16 bytes each), a
 * u32 count of imports, then per import a u32 name length, the name and its key; any
 * number of imports of any length. */
enum { MAN_FIXED = 8 + 3 * 16 + 4 };

bool ca_manifest_get(ca_Cache *c, const char *identity, ca_Manifest *m) {
  memset(m, 0, sizeof *m);
  if (!c->usable) return false;
  char rel[128], p[4096];
  manifest_rel(identity, rel, sizeof rel);
  size_t len;
  uint8_t *buf = read_rel(c, rel, p, sizeof p, &len);
  if (!buf) return false;
  bool ok = len >= MAN_FIXED && !memcmp(buf, "TRICMAN2", 8);
  uint32_t n = ok ? get_u32(buf + 8 + 48) : 0;
  ok = ok && n <= (len - MAN_FIXED) / 20; /* each import takes at least 20 bytes */
  if (ok) {
    memcpy(m->key.b, buf + 8, 16), memcpy(m->source.b, buf + 24, 16), memcpy(m->options.b, buf + 40, 16);
    m->import_names = calloc(n + 1, sizeof *m->import_names);
    m->import_keys = calloc(n + 1, sizeof *m->import_keys);
    if (!m->import_names || !m->import_keys) abort();
    size_t at = MAN_FIXED;
    for (uint32_t i = 0; ok && i < n; i++) {
      uint32_t nl = len - at >= 4 ? get_u32(buf + at) : UINT32_MAX;
      ok = nl != UINT32_MAX && nl <= len - at - 4 && len - at - 4 - nl >= 16;
      if (!ok) break;
      char *name = malloc(nl + 1);
      if (!name) abort();
      memcpy(name, buf + at + 4, nl);
      name[nl] = 0;
      m->import_names[m->nimports] = name;
      memcpy(m->import_keys[m->nimports++].b, buf + at + 4 + nl, 16);
      at += 4 + nl + 16;
    }
    ok = ok && at == len;
  }
  free(buf);
  if (!ok) ca_manifest_free(m);
  return ok;
}

void ca_manifest_free(ca_Manifest *m) {
  for (int i = 0; m->import_names && i < m->nimports; i++) free((char *)m->import_names[i]);
  free(m->import_names), free(m->import_keys);
  memset(m, 0, sizeof *m);
}

void ca_manifest_put(ca_Cache *c, const char *identity, const ca_Manifest *m) {
  if (!c->writable) return;
  char rel[128];
  manifest_rel(identity, rel, sizeof rel);
  size_t len = MAN_FIXED;
  for (int i = 0; i < m->nimports; i++) len += 4 + strlen(m->import_names[i]) + 16;
  uint8_t *buf = malloc(len);
  if (!buf) return;
  memcpy(buf, "TRICMAN2", 8);
  memcpy(buf + 8, m->key.b, 16), memcpy(buf + 24, m->source.b, 16), memcpy(buf + 40, m->options.b, 16);
  put_u32(buf + 56, (uint32_t)m->nimports);
  size_t at = MAN_FIXED;
  for (int i = 0; i < m->nimports; i++) {
    size_t nl = strlen(m->import_names[i]);
    put_u32(buf + at, (uint32_t)nl);
    memcpy(buf + at + 4, m->import_names[i], nl);
    memcpy(buf + at + 4 + nl, m->import_keys[i].b, 16);
    at += 4 + nl + 16;
  }
  write_file(c, rel, buf, len);
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
  if (json) {
    fprintf(out,
            "{\"dir\": \"%s\", \"entries\": %d, \"bytes\": %llu, \"max_bytes\": %llu, \"hits\": %llu, \"misses\": %llu, "
            "\"hit_rate\": %.4f, \"corrupt\": %llu, \"evictions\": %llu, \"since\": %lld}\n",
            c->dir, n, (unsigned long long)bytes, (unsigned long long)c->max_size, (unsigned long long)s.hits,
            (unsigned long long)s.misses, rate, (unsigned long long)s.corrupt, (unsigned long long)s.evictions, since);
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
  for (int i = 0; i < n; i++) {
    size_t len;
    errno = 0;
    uint8_t *buf = read_all(v[i].path, &len);
    int rerr = buf ? 0 : errno;
    ca_Entry e = {0};
    uint32_t kind = 0;
    ca_Key key;
    char hex[33] = "";
    bool ok = buf && parse_entry(buf, len, &e, &kind, &key);
    ca_entry_free(&e);
    free(buf);
    if (ok) ca_key_hex(&key, hex);
    if (ok && !strcmp(hex, v[i].key) && !v[i].misfiled) continue;
    if (ok) { /* a whole entry, but no lookup of its key reads this file */
      fprintf(out, "misplaced: %s holds the %s entry of key %s", v[i].path, kind_name(kind), hex);
      misplaced++;
    } else {
      fprintf(out, "corrupt: %s", v[i].path);
      if (rerr) fprintf(out, " (unreadable: %s)", strerror(rerr));
      corrupt++;
    }
    if (!unlink(v[i].path)) fprintf(out, " (removed)\n"), rm->removed++;
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
    int err = mkdir_p(p) ? errno : is_dir(p) ? 0 : ENOTDIR;
    if (err) {
      if (!rm->failed++) rm->err = err;
      rc = -1;
    }
  }
  char t[32];
  snprintf(t, sizeof t, "%lld\n", (long long)time(NULL));
  if (!rc) write_file(c, "created", t, strlen(t));
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
