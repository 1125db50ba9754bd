/* store.c - the on-disk cache: entries, statistics, manifests, pruning.
 *
 * Layout under the cache folder (docs/cache.md has the byte format):
 *   v1/entries/KK/KEY.tce   an entry (KK: first two hex digits of KEY)
 *   v1/manifests/ID.tcm     what a module's last build was made of (for --explain)
 *   v1/tmp/                 temporary files, renamed into place when complete
 *   v1/stats.log            one line per event, appended with O_APPEND
 *   v1/lock                 flock: shared for appends, exclusive to prune and compact
 *   v1/created              when the statistics started
 * A reader validates magic, version, lengths and an XXH3-128 checksum before using an
 * entry; anything else is reported once, removed and rebuilt.
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
enum { FORMAT_VERSION = 1, HEADER_SIZE = 40 };

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

__attribute__((format(printf, 2, 3))) static void warn(ca_Cache *c, const char *fmt, ...) {
  if (c->warned) return;
  c->warned = true;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tric: warning: cache %s: ", c->dir);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "; building without the cache\n");
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
  const uint8_t *p = data;
  size_t left = len;
  int err = 0;
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
  if (!c->usable) return;
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

bool ca_open(ca_Cache *c, const char *dir, uint64_t max_size) {
  memset(c, 0, sizeof *c);
  if (strlen(dir) >= sizeof c->dir - 64) {
    snprintf(c->dir, sizeof c->dir, "(path too long)");
    warn(c, "the folder name is longer than %zu bytes", sizeof c->dir - 64);
    return false;
  }
  snprintf(c->dir, sizeof c->dir, "%s", dir);
  c->max_size = max_size;
  char p[4096];
  static const char *const sub[] = {"entries", "manifests", "tmp"};
  for (int i = 0; i < 3; i++) {
    path(p, sizeof p, c, sub[i]);
    if (mkdir_p(p)) {
      warn(c, "cannot create %s: %s", p, strerror(errno));
      return false;
    }
  }
  path(p, sizeof p, c, "tmp/.probe-XXXXXX");
  int fd = mkstemp(p);
  if (fd < 0) {
    warn(c, "cannot write there: %s", strerror(errno));
    return false;
  }
  close(fd);
  unlink(p);
  c->usable = true;
  path(p, sizeof p, c, "created");
  if (access(p, F_OK)) {
    char t[32];
    snprintf(t, sizeof t, "%lld\n", (long long)time(NULL));
    write_file(c, "created", t, strlen(t));
  }
  return true;
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

/* Parses and checks an entry's bytes; false for anything malformed. */
static bool parse_entry(const uint8_t *buf, size_t len, ca_Entry *e) {
  if (len < HEADER_SIZE || memcmp(buf, MAGIC, 8) || get_u32(buf + 8) != FORMAT_VERSION) return false;
  uint32_t nsec = get_u32(buf + 12);
  uint64_t plen = get_u64(buf + 16);
  if (plen != len - HEADER_SIZE || nsec > CA_NSECTIONS) return false;
  ca_Key want;
  memcpy(want.b, buf + 24, 16);
  ca_Key got = key_of(XXH3_128bits(buf + HEADER_SIZE, (size_t)plen));
  if (memcmp(want.b, got.b, 16)) return false;
  const uint8_t *p = buf + HEADER_SIZE, *end = buf + len;
  for (uint32_t i = 0; i < nsec; i++) {
    if (end - p < 16) return false;
    uint32_t kind = get_u32(p);
    uint64_t n = get_u64(p + 8);
    p += 16;
    if (kind == 0 || kind >= CA_NSECTIONS || e->data[kind] || n > (uint64_t)(end - p)) return false;
    e->data[kind] = malloc(n + 1);
    if (!e->data[kind]) return false;
    memcpy(e->data[kind], p, n);
    ((char *)e->data[kind])[n] = 0;
    e->len[kind] = n;
    p += n;
  }
  return p == end;
}

static ca_Lookup lookup(ca_Cache *c, const ca_Key *key, ca_Entry *e, bool count) {
  memset(e, 0, sizeof *e);
  if (!c->usable) return CA_UNAVAILABLE;
  char rel[128], p[4096];
  entry_rel(key, rel, sizeof rel);
  size_t len;
  time_t mtime = 0;
  path(p, sizeof p, c, rel);
  uint8_t *buf = read_all_m(p, &len, &mtime);
  if (!buf) {
    c->misses += count;
    return CA_MISS;
  }
  bool ok = parse_entry(buf, len, e);
  free(buf);
  if (!ok) {
    ca_entry_free(e);
    fprintf(stderr, "tric: warning: cache entry %s is corrupt; removed, rebuilding\n", p);
    unlink(p);
    c->corrupt++;
    c->misses += count;
    return CA_CORRUPT;
  }
  if (time(NULL) - mtime > 600) /* last use, for least-recently-used pruning (10-minute grain) */
    utimensat(AT_FDCWD, p, NULL, 0);
  c->hits += count;
  return CA_HIT;
}

ca_Lookup ca_get(ca_Cache *c, const ca_Key *key, ca_Entry *e) { return lookup(c, key, e, true); }

ca_Lookup ca_get_part(ca_Cache *c, const ca_Key *key, ca_Entry *e) { return lookup(c, key, e, false); }

int ca_put(ca_Cache *c, const ca_Key *key, const ca_Entry *e) {
  if (!c->usable) return -1;
  size_t plen = 0;
  uint32_t nsec = 0;
  for (int i = 1; i < CA_NSECTIONS; i++)
    if (e->data[i]) plen += 16 + e->len[i], nsec++;
  uint8_t *buf = malloc(HEADER_SIZE + plen);
  if (!buf) return -1;
  memcpy(buf, MAGIC, 8);
  put_u32(buf + 8, FORMAT_VERSION);
  put_u32(buf + 12, nsec);
  put_u64(buf + 16, plen);
  uint8_t *p = buf + HEADER_SIZE;
  for (int i = 1; i < CA_NSECTIONS; i++) {
    if (!e->data[i]) continue;
    put_u32(p, (uint32_t)i);
    put_u32(p + 4, 0);
    put_u64(p + 8, e->len[i]);
    memcpy(p + 16, e->data[i], e->len[i]);
    p += 16 + e->len[i];
  }
  ca_Key sum = key_of(XXH3_128bits(buf + HEADER_SIZE, plen));
  memcpy(buf + 24, sum.b, 16);
  char rel[128];
  entry_rel(key, rel, sizeof rel);
  int rc = write_file(c, rel, buf, HEADER_SIZE + plen);
  free(buf);
  if (rc) {
    warn(c, "cannot store an entry: %s", strerror(errno));
    c->usable = false;
    return -1;
  }
  c->written++;
  c->written_bytes += HEADER_SIZE + plen;
  return 0;
}

void ca_flush_stats(ca_Cache *c) {
  if (!c->usable || !(c->hits || c->misses || c->corrupt || c->written)) return;
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

int ca_prune(ca_Cache *c, uint64_t max_size, int64_t max_age) {
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
    if (unlink(v[i].path) == 0) {
      total -= v[i].size;
      removed++;
      snprintf(line, sizeof line, "e %llu\n", (unsigned long long)v[i].size);
      if (fd >= 0 && write(fd, line, strlen(line)) < 0) { /* best effort */ }
    }
  }
  if (fd >= 0) close(fd);
  free(v);
  clean_tmp(c);
  compact_stats(c, total);
  if (lk >= 0) close(lk);
  return removed;
}

void ca_maybe_prune(ca_Cache *c) {
  ca_flush_stats(c);
  if (!c->usable) return;
  Stats s;
  read_stats(c, &s);
  if (s.bytes > c->max_size) ca_prune(c, c->max_size, -1);
}

/* ---------------------------------------------------------------- manifests */

static void manifest_rel(const char *identity, char *out, size_t cap) {
  ca_Key k = key_of(XXH3_128bits(identity, strlen(identity)));
  char hex[33];
  ca_key_hex(&k, hex);
  snprintf(out, cap, "manifests/%s.tcm", hex);
}

bool ca_manifest_get(ca_Cache *c, const char *identity, ca_Manifest *m) {
  if (!c->usable) return false;
  char rel[128], p[4096];
  manifest_rel(identity, rel, sizeof rel);
  size_t len;
  uint8_t *buf = read_rel(c, rel, p, sizeof p, &len);
  if (!buf) return false;
  bool ok = len == sizeof *m + 8 && !memcmp(buf, "TRICMAN1", 8);
  if (ok) memcpy(m, buf + 8, sizeof *m);
  free(buf);
  return ok && m->nimports >= 0 && m->nimports <= 64;
}

void ca_manifest_put(ca_Cache *c, const char *identity, const ca_Manifest *m) {
  if (!c->usable) return;
  char rel[128];
  manifest_rel(identity, rel, sizeof rel);
  uint8_t *buf = malloc(sizeof *m + 8);
  if (!buf) return;
  memcpy(buf, "TRICMAN1", 8);
  memcpy(buf + 8, m, sizeof *m);
  write_file(c, rel, buf, sizeof *m + 8);
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

int ca_cmd_verify(ca_Cache *c, FILE *out) {
  int n, bad = 0;
  Item *v = walk(c, &n);
  for (int i = 0; i < n; i++) {
    size_t len;
    uint8_t *buf = read_all(v[i].path, &len);
    ca_Entry e = {0};
    bool ok = buf && parse_entry(buf, len, &e);
    ca_entry_free(&e);
    free(buf);
    if (!ok) {
      fprintf(out, "corrupt: %s (removed)\n", v[i].path);
      unlink(v[i].path);
      bad++;
    }
  }
  fprintf(out, "%d entries checked, %d corrupt\n", n, bad);
  free(v);
  return bad;
}

int ca_cmd_clear(ca_Cache *c) {
  int lk = lock_exclusive(c);
  int n;
  Item *v = walk(c, &n);
  for (int i = 0; i < n; i++) unlink(v[i].path);
  free(v);
  char p[4096];
  path(p, sizeof p, c, "stats.log");
  unlink(p);
  char t[32];
  snprintf(t, sizeof t, "%lld\n", (long long)time(NULL));
  write_file(c, "created", t, strlen(t));
  if (lk >= 0) close(lk);
  return 0;
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
