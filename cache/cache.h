/* cache.h - the contract of the content-hashed compilation cache.
 *
 * An entry holds everything a later build needs from one module compile (object, header,
 * and the IR or assembly when asked for), or one kernel's compiled code, keyed by
 * XXH3-128 over every input that changes those bytes; cmd/ computes the key (it knows the module graph and options),
 * this layer stores, validates, counts and prunes entries. The on-disk format is
 * documented in docs/cache.md. All functions are safe against other processes using the
 * same folder at the same time: entries appear by rename, statistics are O_APPEND lines,
 * pruning takes an flock. Every entry records its key and kind, checked on each read.
 * Failures never fail a build: they return an error code and the caller compiles without
 * the cache, or reads a cache it cannot write without storing anything.
 */
#ifndef TRIC_CACHE_H
#define TRIC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- keys */


typedef struct ca_Key {
  uint8_t b[16];
} ca_Key;

typedef struct ca_Hasher ca_Hasher;

/* A new XXH3-128 hasher (malloc'd). */
ca_Hasher *ca_hasher_new(void);
/* Feeds bytes; ca_hash_str feeds a string with its length, so "ab"+"c" != "a"+"bc". */
void ca_hash(ca_Hasher *h, const void *p, size_t n);
void ca_hash_str(ca_Hasher *h, const char *s);
void ca_hash_u64(ca_Hasher *h, uint64_t v);
/* The digest; frees the hasher. */
ca_Key ca_hasher_finish(ca_Hasher *h);
/* 32 lowercase hex digits and a NUL. */
void ca_key_hex(const ca_Key *k, char out[33]);
/* The GNU build id of the running tric binary, as hex (or "" when it has none). */
const char *ca_build_id(char *buf, size_t cap);

/* ---------------------------------------------------------------- entries */

/* Sections of an entry. */
/* CA_DIAG: a module's diagnostics from its check (warnings, as text without colour),
 * shown again whenever the module comes from the cache. */
enum { CA_OBJ = 1, CA_HEADER = 2, CA_LLVM_IR = 3, CA_ASM = 4, CA_DIAG = 5, CA_NSECTIONS = 6 };

/* What an entry is for; stored in it with its key, and checked on every read, so an entry
 * copied over another key's file is never served. */
typedef enum { CA_KIND_MODULE = 1, CA_KIND_KERNEL = 2, CA_KIND_CODE = 3 } ca_Kind;

typedef struct ca_Entry {
  void *data[CA_NSECTIONS]; /* malloc'd, indexed by section kind; NULL when absent */
  size_t len[CA_NSECTIONS];
} ca_Entry;

/* CA_MISPLACED: a whole entry, but of another key or kind than the file it was read from. */
typedef enum { CA_HIT, CA_MISS, CA_CORRUPT, CA_MISPLACED, CA_UNAVAILABLE } ca_Lookup;

/* What the remote cache did (counted in the local cache's statistics). */
typedef struct ca_RemoteCounts {
  uint64_t hits, misses, errors, puts, bytes_in, bytes_out;
} ca_RemoteCounts;

/* An open cache folder. */
typedef struct ca_Cache {
  char dir[2048];
  bool usable;      /* entries can be read (false: every call is a no-op) */
  bool writable;    /* entries, manifests and statistics can be written */
  bool warned;      /* the one warning of this run was printed */
  bool unreadable_said; /* an entry that exists could not be read (warned once a run) */
  char why[512];    /* after ca_open: why the cache is unusable or read-only */
  uint64_t max_size; /* bytes; pruning keeps the cache under it */
  unsigned file_mode; /* of files written: 0666 less the umask, as any file the user makes */
  uint64_t hits, misses, corrupt, written, written_bytes; /* this run's, not yet in stats.log */
  struct ca_Backend *remote; /* the remote cache's backend, or NULL */
  bool remote_read_only;     /* never written to */
  ca_RemoteCounts remote_run, remote_flushed; /* this run's; of those, what stats.log has */
} ca_Cache;

typedef enum { CA_OPEN_FAILED, CA_OPEN_READONLY, CA_OPEN_OK } ca_Open;

/* Opens (creating if needed) the cache at dir. CA_OPEN_READONLY: its entries can be read
 * but nothing can be written there (a CI cache restored without write access, a full or
 * read-only file system); CA_OPEN_FAILED: it cannot be used at all. Either way c->why
 * says why; nothing is printed (the caller words the message). */
ca_Open ca_open(ca_Cache *c, const char *dir, uint64_t max_size);
/* Reads and validates the entry of that kind for key. CA_CORRUPT and CA_MISPLACED entries
 * are removed (with a warning) and must be rebuilt. Counts a hit or a miss. */
ca_Lookup ca_get(ca_Cache *c, ca_Kind kind, const ca_Key *key, ca_Entry *e);
/* The same for an entry that holds part of a compile (a kernel's code): not counted as a
 * hit or a miss, which count modules. */
ca_Lookup ca_get_part(ca_Cache *c, ca_Kind kind, const ca_Key *key, ca_Entry *e);
/* Stores an entry (temporary file, then rename; another process writing the same key
 * first is fine); a module entry is also written through to the remote, if any, in the
 * background (not when it is read-only). Returns 0, or -1 (after one warning, nothing more is stored this run;
 * silently on a read-only cache, whose warning the caller printed). */
int ca_put(ca_Cache *c, ca_Kind kind, const ca_Key *key, const ca_Entry *e);
/* Frees the sections of an entry. */
void ca_entry_free(ca_Entry *e);

/* What a command that removes files did: removed, and failed to remove (err: the errno
 * of the first failure). */
typedef struct ca_Removal {
  int removed, failed, err;
} ca_Removal;

/* Prunes least recently used entries first until the cache holds at most max_size bytes
 * and no entry was last used max_age or more seconds ago (negative: no age limit). Returns the
 * number of entries removed; rm (may be NULL) also gets those that could not be. */
int ca_prune(ca_Cache *c, uint64_t max_size, int64_t max_age, ca_Removal *rm);
/* Appends this run's counts to the statistics (one line under the shared lock). */
void ca_flush_stats(ca_Cache *c);
/* Flushes the statistics, then prunes only when the running total says the cache is past
 * its limit (cheap). Call once at the end of a run. */
void ca_maybe_prune(ca_Cache *c);

/* ---------------------------------------------------------------- remote */

/* A shared cache on an HTTP server (docs/cache.md, "Remote cache"): module entries at
 * URL/v1/KK/KEY.tce, read with GET and written with PUT, checked like local ones. */
typedef struct ca_RemoteConfig {
  const char *url;     /* http:// or https:// */
  bool read_only;      /* never PUT */
  const char *token;   /* a bearer token, or NULL */
  const char *userpwd; /* "user:password" for basic auth, or NULL */
  long timeout_ms;     /* each transfer's bound (0: 10 s); connecting takes at most 2 s of it */
} ca_RemoteConfig;

/* Puts the remote behind c (an open, usable cache): 0, or -1 with why (a bad URL; nothing
 * is contacted yet). Credentials never appear in a message. */
int ca_remote_attach(ca_Cache *c, const ca_RemoteConfig *rc, char *why, size_t cap);
/* Starts GETs of the entries of kind for keys[0..n), all at once on the remote's own
 * thread; NULL without a remote. */
typedef struct ca_Fetch ca_Fetch;
ca_Fetch *ca_remote_fetch(ca_Cache *c, ca_Kind kind, const ca_Key *keys, int n);
/* Waits for keys[i]'s answer: CA_HIT (e filled; the entry is also stored in the local
 * folder), CA_MISS, CA_CORRUPT or CA_MISPLACED (warned, not used), or CA_UNAVAILABLE (the
 * server failed: one warning a run, and the remote is dropped for the rest of it). Counted
 * in c->remote_run. */
ca_Lookup ca_fetch_wait(ca_Fetch *f, int i, ca_Entry *e);
/* Frees a fetch (waiting for GETs still in flight, each bounded by its timeout). */
void ca_fetch_free(ca_Fetch *f);
/* Waits for the remote's PUTs (each bounded by its timeout), counts them, and detaches it.
 * ca_maybe_prune calls it; call it before reading c->remote_run for a report. */
void ca_remote_finish(ca_Cache *c);

/* ---------------------------------------------------------------- manifests */

/* What a module's last build was made of, remembered per module identity so that
 * --explain can say why it is rebuilt. */
typedef struct ca_Manifest {
  ca_Key key, source, options;
  int nimports;
  const char **import_names; /* nimports each; malloc'd by ca_manifest_get */
  ca_Key *import_keys;
} ca_Manifest;

/* Reads the manifest for identity (a relative path): false when there is none or it is
 * damaged. On true, free it with ca_manifest_free. */
bool ca_manifest_get(ca_Cache *c, const char *identity, ca_Manifest *m);
/* Frees what ca_manifest_get allocated. */
void ca_manifest_free(ca_Manifest *m);
/* Records the manifest of a build. */
void ca_manifest_put(ca_Cache *c, const char *identity, const ca_Manifest *m);

/* ---------------------------------------------------------------- commands */

/* tric cache stats [--json] */
int ca_cmd_stats(ca_Cache *c, FILE *out, bool json);
/* tric cache list: one line per entry (key, bytes, last use). */
int ca_cmd_list(ca_Cache *c, FILE *out);
/* tric cache verify: checks every entry (corrupt, or another key's entry under this
 * file name); reports bad ones and removes them (rm counts what could not be). Returns
 * the number of bad entries. */
int ca_cmd_verify(ca_Cache *c, FILE *out, ca_Removal *rm);
/* tric cache clear: removes everything under the cache's folder (entries, manifests,
 * statistics, temporary and stray files) and makes its layout anew; needs only c->dir,
 * so it also repairs a cache ca_open refused. Returns 0, or -1 when something could not
 * be removed or made (rm says what). */
int ca_cmd_clear(ca_Cache *c, ca_Removal *rm);

/* Parses "2G", "500M", "1024" (bytes) into *out. */
bool ca_parse_size(const char *s, uint64_t *out);
/* Parses "30d", "12h", "90m", "45s" into seconds. */
bool ca_parse_duration(const char *s, int64_t *out);

#endif
