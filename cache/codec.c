/* codec.c - the bytes of a cache entry, and the hashing every key is made with.
 *
 * An entry (docs/cache.md has the byte format): a 64-byte header ("TRICACHE", format
 * version, kind, the whole key, payload length, section count, an XXH3-128 checksum of the
 * header up to the checksum and of the payload), then each section as kind, length and
 * bytes. The same bytes go to every backend, so one decoder checks what any of them
 * returns.
 */
#include <stdlib.h>
#include <string.h>

#include <xxh_x86dispatch.h>
#include <xxhash.h>

#include "cache/internal.h"

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

ca_Key ca_hash_bytes(const void *p, size_t n) { return key_of(XXH3_128bits(p, n)); }

void ca_key_hex(const ca_Key *k, char out[33]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) out[2 * i] = digits[k->b[i] >> 4], out[2 * i + 1] = digits[k->b[i] & 15];
  out[32] = 0;
}

void ca_entry_name(const ca_Key *key, char out[48]) {
  char hex[33];
  ca_key_hex(key, hex);
  memcpy(out, hex, 2);
  out[2] = '/';
  memcpy(out + 3, hex, 32);
  memcpy(out + 35, ".tce", 5);
}

const char *ca_kind_name(uint32_t kind) {
  return kind == CA_KIND_MODULE ? "module" : kind == CA_KIND_KERNEL ? "kernel" : kind == CA_KIND_CODE ? "module code" : "?";
}

/* ---------------------------------------------------------------- entries */

static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get_u64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

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

uint8_t *ca_encode_entry(ca_Kind kind, const ca_Key *key, const ca_Entry *e, size_t *len) {
  size_t plen = 0;
  uint32_t nsec = 0;
  for (int i = 1; i < CA_NSECTIONS; i++)
    if (e->data[i]) plen += 16 + e->len[i], nsec++;
  uint8_t *buf = calloc(1, HEADER_SIZE + plen);
  if (!buf) return NULL;
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
  *len = HEADER_SIZE + plen;
  return buf;
}

bool ca_decode_entry(const uint8_t *buf, size_t len, ca_Entry *e, uint32_t *kind, ca_Key *key) {
  memset(e, 0, sizeof *e);
  memset(key, 0, sizeof *key);
  *kind = 0;
  bool ok = len >= HEADER_SIZE && !memcmp(buf, MAGIC, 8) && get_u32(buf + 8) == FORMAT_VERSION;
  uint64_t plen = ok ? get_u64(buf + 32) : 0;
  uint32_t nsec = ok ? get_u32(buf + 40) : 0;
  ok = ok && plen == len - HEADER_SIZE && nsec <= CA_NSECTIONS && !get_u32(buf + 44);
  if (ok) {
    ca_Key sum = entry_sum(buf, len);
    ok = !memcmp(sum.b, buf + SUM_AT, 16);
  }
  if (!ok) return false;
  *kind = get_u32(buf + 12);
  memcpy(key->b, buf + 16, 16);
  ok = *kind >= CA_KIND_MODULE && *kind <= CA_KIND_CODE;
  const uint8_t *p = buf + HEADER_SIZE, *end = buf + len;
  for (uint32_t i = 0; ok && i < nsec; i++) {
    if (end - p < 16) {
      ok = false;
      break;
    }
    uint32_t sec = get_u32(p);
    uint64_t n = get_u64(p + 8);
    p += 16;
    if (sec == 0 || sec >= CA_NSECTIONS || e->data[sec] || n > (uint64_t)(end - p) || !(e->data[sec] = malloc(n + 1))) {
      ok = false;
      break;
    }
    memcpy(e->data[sec], p, n);
    ((char *)e->data[sec])[n] = 0;
    e->len[sec] = n;
    p += n;
  }
  ok = ok && p == end;
  if (!ok) ca_entry_free(e);
  return ok;
}

void ca_entry_free(ca_Entry *e) {
  for (int i = 0; i < CA_NSECTIONS; i++) free(e->data[i]);
  memset(e, 0, sizeof *e);
}

/* ---------------------------------------------------------------- manifests */

/* A manifest: "TRICMAN2", the key, source and options hashes (16 bytes each), a u32 count
 * of imports, then per import a u32 name length, the name and its key; any number of
 * imports of any length. */
enum { MAN_FIXED = 8 + 3 * 16 + 4 };

uint8_t *ca_encode_manifest(const ca_Manifest *m, size_t *len) {
  size_t n = MAN_FIXED;
  for (int i = 0; i < m->nimports; i++) n += 4 + strlen(m->import_names[i]) + 16;
  uint8_t *buf = malloc(n);
  if (!buf) return NULL;
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
  *len = n;
  return buf;
}

bool ca_decode_manifest(const uint8_t *buf, size_t len, ca_Manifest *m) {
  memset(m, 0, sizeof *m);
  bool ok = len >= MAN_FIXED && !memcmp(buf, "TRICMAN2", 8);
  uint32_t n = ok ? get_u32(buf + 8 + 48) : 0;
  ok = ok && n <= (len - MAN_FIXED) / 20; /* each import takes at least 20 bytes */
  if (!ok) return false;
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
  if (!ok) ca_manifest_free(m);
  return ok;
}

void ca_manifest_free(ca_Manifest *m) {
  for (int i = 0; m->import_names && i < m->nimports; i++) free((char *)m->import_names[i]);
  free(m->import_names), free(m->import_keys);
  memset(m, 0, sizeof *m);
}
