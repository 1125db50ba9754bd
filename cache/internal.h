/* internal.h - private to cache/: the entry codec and the backend seam.
 *
 * An entry is stored as one object of bytes (its codec below) under a name made from its
 * key ("KK/KEY.tce"). Where those bytes live is a backend's business: the local folder
 * (local.c) or an HTTP server (remote.c). store.c holds the cache's policy (what is
 * counted, what is removed, what is pruned) and talks to backends only through this
 * interface, so every backend is checked the same way: a reader decodes the bytes and
 * verifies their checksum, their key and their kind before anything is used.
 */
#ifndef TRIC_CACHE_INTERNAL_H
#define TRIC_CACHE_INTERNAL_H

#include "cache/cache.h"

/* ---------------------------------------------------------------- codec (codec.c) */

/* The whole bytes of an entry for key and kind (malloc'd; *len set); NULL when out of memory. */
uint8_t *ca_encode_entry(ca_Kind kind, const ca_Key *key, const ca_Entry *e, size_t *len);
/* Decodes an entry's bytes into e (sections malloc'd and NUL-terminated): false for
 * anything malformed or damaged (e left empty); *kind and *key get what the entry says it
 * is, which the caller compares with what it asked for. */
bool ca_decode_entry(const uint8_t *buf, size_t len, ca_Entry *e, uint32_t *kind, ca_Key *key);
/* "module", "kernel", "module code" (or "?"), for messages. */
const char *ca_kind_name(uint32_t kind);
/* An entry's object name: "KK/KEY.tce" (KK: the key's first two hex digits). */
void ca_entry_name(const ca_Key *key, char out[48]);
/* A manifest's bytes (malloc'd), and back (false for a damaged one; free with
 * ca_manifest_free). */
uint8_t *ca_encode_manifest(const ca_Manifest *m, size_t *len);
bool ca_decode_manifest(const uint8_t *buf, size_t len, ca_Manifest *m);
/* A hash of bytes (a manifest's name is the hash of the module's identity). */
ca_Key ca_hash_bytes(const void *p, size_t n);

/* Decodes bytes read for key and kind (where: the object's place, for the warning):
 * CA_HIT with e filled, or CA_CORRUPT / CA_MISPLACED after a warning that ends "; "
 * (the caller ends the line with what it does about it). */
ca_Lookup ca_decode_for(const uint8_t *buf, size_t len, ca_Kind kind, const ca_Key *key, ca_Entry *e, const char *where);
/* The start of that warning. */
void ca_report_bad(const char *where, ca_Lookup r, ca_Kind kind, uint32_t got_kind, const ca_Key *key,
                   const ca_Key *got_key);

/* Stores an entry's bytes in the local folder, counted as written: 0, or -1 (warned once;
 * nothing more is stored this run). */
int ca_put_bytes(ca_Cache *c, const ca_Key *key, const uint8_t *buf, size_t len);

/* ---------------------------------------------------------------- backends */

/* What a backend's call did. */
typedef enum { CA_B_OK, CA_B_ABSENT, CA_B_FAILED } ca_BStatus;

/* One object seen by list. */
typedef struct ca_Object {
  const char *name; /* "KK/KEY.tce", as the backend holds it (KK may differ from the key's) */
  uint64_t size;
  int64_t used; /* seconds since the epoch: last use (the local backend: the file's mtime) */
} ca_Object;

typedef struct ca_BackendOps {
  const char *kind; /* "local", "http" */
  /* The object's bytes (malloc'd) and its last use (used may be NULL). CA_B_FAILED: there
   * but unreadable, or the backend failed; errno (local) or the backend's reason says why. */
  ca_BStatus (*get)(void *self, const char *name, uint8_t **data, size_t *len, int64_t *used);
  /* Stores the object whole or not at all (a reader never sees part of it). */
  ca_BStatus (*put)(void *self, const char *name, const void *data, size_t len);
  /* Marks the object used now (least-recently-used pruning). */
  ca_BStatus (*touch)(void *self, const char *name);
  /* Calls each for every object; stops when each returns nonzero. */
  ca_BStatus (*list)(void *self, int (*each)(void *ctx, const ca_Object *o), void *ctx);
  ca_BStatus (*remove)(void *self, const char *name);
  /* Where the object is, for messages (a path, or a URL without credentials). */
  void (*where)(void *self, const char *name, char *out, size_t cap);
  /* Optional (NULL: the caller gets names one by one): starts getting names[0..n) all at
   * once, in the background; get_wait(batch, i, ...) waits for names[i] and answers as get
   * does (FAILED: the backend failed, and said so itself); get_end frees the batch (after
   * waiting for what is still in flight). */
  void *(*get_start)(void *self, const char *const *names, int n);
  ca_BStatus (*get_wait)(void *batch, int i, uint8_t **data, size_t *len);
  void (*get_end)(void *batch);
  /* Optional: waits for writes still in flight (a backend's put may return before its
   * object is stored), adds what it did to counts (puts, bytes sent, its own errors), and
   * frees the backend. */
  void (*close)(void *self, ca_RemoteCounts *counts);
} ca_BackendOps;

typedef struct ca_Backend {
  const ca_BackendOps *ops;
  void *self;
} ca_Backend;

/* An HTTP server's entries (remote.c): a backend, or .ops NULL with why (a bad URL, no
 * libcurl). Its put returns at once (the PUT runs in the background), its touch does
 * nothing, and it neither lists nor removes. */
ca_Backend ca_http_backend(const ca_RemoteConfig *rc, char *why, size_t cap);

/* The local folder's entries (DIR/v1/entries): a backend over c's folder. */
ca_Backend ca_local_entries(ca_Cache *c);
/* Writes data to DIR/v1/rel atomically (a file in v1/tmp, renamed into place; the folder
 * made when missing); 0, or -1 with errno set. For entries, manifests and statistics. */
int ca_local_write(ca_Cache *c, const char *rel, const void *data, size_t len);
/* Reads DIR/v1/rel whole (malloc'd, NUL-terminated); NULL with errno set. */
uint8_t *ca_local_read(const ca_Cache *c, const char *rel, size_t *len, int64_t *mtime);
/* mkdir -p: 0, or -1 with errno set. */
int ca_mkdir_p(const char *p);
/* DIR/v1/rel. */
void ca_local_path(const ca_Cache *c, const char *rel, char *out, size_t cap);

#endif
