/* keys.c - every cache key the builder derives, and the manifests that explain them.
 *
 * A module's entry is keyed by what changes its outputs: tric, LLVM, the target, the
 * options, its source and its imports' keys (recursively), and the names of its outputs.
 * A kernel's code, and a module's code (for the early cutoff), are keyed by tric, LLVM
 * and what codegen says that code depends on (cg_unit_key_feed, cg_job_key_feed: the
 * target, the options and the bitcode); the build's kernel table uses the same key. No
 * path and no time goes in, so a clone elsewhere hits. A miss records a manifest of a
 * module's key's parts, so that the next --explain can say which of them changed.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd/build.h"

/* Each kind of key starts with its own tag, so no two kinds of key can be equal; a tag's
 * version goes up when what its key covers changes, and old entries are then misses. */
static const char TAG_TOOL[] = "tric-tool-v1";
static const char TAG_OPTIONS[] = "tric-options-key-v2";
static const char TAG_MODULE[] = "tric-module-key-v2";
static const char TAG_TARGET[] = "tric-target-key-v2";
static const char TAG_KERNEL[] = "tric-kernel-key-v2";
static const char TAG_CODE[] = "tric-module-code-key-v2";

/* A cg_KeyFeed into a ca_Hasher. */
static void feed_hasher(void *h, const void *p, size_t n) { ca_hash(h, p, n); }

ca_Key tool_key(void) {
  char bid[128];
  ca_Hasher *h = ca_hasher_new();
  ca_hash_str(h, TAG_TOOL);
  ca_hash_str(h, TRIC_VERSION);
  ca_hash_str(h, ca_build_id(bid, sizeof bid));
  ca_hash_str(h, cg_llvm_version());
  return ca_hasher_finish(h);
}

ca_Key options_key(const Opts *o, const ca_Key *tool) {
  char *triple, *cpu, *features;
  ca_Hasher *h = ca_hasher_new();
  ca_hash_str(h, TAG_OPTIONS);
  ca_hash(h, tool->b, 16);
  cg_describe_target(&o->cg, &triple, &cpu, &features);
  ca_hash_str(h, triple);
  ca_hash_str(h, cpu);
  ca_hash_str(h, features);
  free(triple), free(cpu), free(features);
  ca_hash_u64(h, (uint64_t)o->cg.opt_level);
  ca_hash_u64(h, o->emit);
  ca_hash_u64(h, (uint64_t)o->warn); /* the warnings an entry holds (none under -w); none pass -Werror */
  return ca_hasher_finish(h);
}

ca_Key kernel_key(const ca_Key *tool, const cg_Job *job, int u) {
  ca_Hasher *h = ca_hasher_new();
  ca_hash_str(h, TAG_KERNEL);
  ca_hash(h, tool->b, 16);
  cg_unit_key_feed(job, u, feed_hasher, h);
  return ca_hasher_finish(h);
}

bool code_key(const ca_Key *tool, const cg_Job *job, int nunits, const ca_Key *unit_keys, ca_Key *out) {
  ca_Hasher *h = ca_hasher_new();
  ca_hash_str(h, TAG_CODE);
  ca_hash(h, tool->b, 16);
  if (!cg_job_key_feed(job, feed_hasher, h)) {
    ca_hasher_finish(h);
    return false;
  }
  ca_hash_u64(h, (uint64_t)nunits);
  for (int u = 0; u < nunits; u++) ca_hash(h, unit_keys[u].b, 16);
  *out = ca_hasher_finish(h);
  return true;
}

/* The key of m: options, its name, its source, and its imports' keys, recursively. */
static ca_Key module_key(Module *m, const ca_Key *opts) {
  if (m->keyed) return m->key;
  ca_Hasher *h = ca_hasher_new();
  ca_hash_str(h, TAG_MODULE);
  ca_hash(h, opts->b, 16);
  ca_hash_str(h, m->name);
  ca_hash_u64(h, m->src->len);
  ca_hash(h, m->src->text, m->src->len);
  for (int k = 0; k + 1 < m->deps.n; k += 2) {
    ca_Key dk = module_key(m->deps.items[k], opts);
    ca_hash_str(h, ((const fe_Node *)m->deps.items[k + 1])->name);
    ca_hash(h, dk.b, 16);
  }
  m->key = ca_hasher_finish(h);
  m->keyed = true;
  return m->key;
}

/* A target's key: its module's key and the stem its outputs are named after. */
ca_Key target_key(Target *t, const ca_Key *opts) {
  ca_Key mk = module_key(t->m, opts);
  ca_Hasher *h = ca_hasher_new();
  ca_hash_str(h, TAG_TARGET);
  ca_hash(h, mk.b, 16);
  ca_hash_str(h, t->stem);
  ca_hash_str(h, t->guard);
  return ca_hasher_finish(h);
}

void make_manifest(Build *b, Target *t, const ca_Key *opts, ca_Manifest *man) {
  memset(man, 0, sizeof *man);
  man->key = t->key;
  ca_Hasher *h = ca_hasher_new();
  ca_hash(h, t->m->src->text, t->m->src->len);
  man->source = ca_hasher_finish(h);
  man->options = *opts;
  int n = t->m->deps.n / 2;
  man->import_names = fe_alloc(b->g.arena, sizeof *man->import_names * (size_t)(n + 1));
  man->import_keys = fe_alloc(b->g.arena, sizeof *man->import_keys * (size_t)(n + 1));
  for (int k = 0; k + 1 < t->m->deps.n; k += 2) {
    Module *dep = t->m->deps.items[k];
    man->import_names[man->nimports] = dep->name;
    man->import_keys[man->nimports++] = dep->key;
  }
}

/* Why a target is rebuilt, from what its last build was made of. */
const char *miss_reason(Build *b, Target *t) {
  if (b->o->recache) return "--recache";
  if (t->got == CA_CORRUPT) return "entry corrupt";
  if (t->got == CA_MISPLACED) return "entry misplaced";
  ca_Manifest old;
  if (!ca_manifest_get(&b->cache, t->file, &old)) return "no entry";
  const char *why = NULL;
  if (memcmp(old.options.b, t->man->options.b, 16)) why = "options changed";
  else if (memcmp(old.source.b, t->man->source.b, 16)) why = "source changed";
  for (int i = 0; i < t->man->nimports && !why; i++) {
    bool same = false;
    for (int j = 0; j < old.nimports; j++)
      if (!strcmp(old.import_names[j], t->man->import_names[i]))
        same = !memcmp(old.import_keys[j].b, t->man->import_keys[i].b, 16);
    if (!same) why = fe_sprintf(b->g.arena, "import %s changed", t->man->import_names[i]); /* any length */
  }
  if (!why && old.nimports != t->man->nimports) why = "imports changed";
  ca_manifest_free(&old);
  return why ? why : "no entry (evicted or never stored)";
}
