/* kernels.c - the build's table of kernels: each kernel key compiled once per build.
 *
 * Modules emit many identical kernels (the same loop nest over the same shapes, the
 * shared microkernels of contractions). A kernel unit's code depends only on its key, so
 * the first module that meets a key compiles it (or takes it from the on-disk cache) and
 * every other module of the build waits for, or reuses, that one compile. The table is
 * open-addressed by key, owned by the loop thread.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd/build.h"

Kernel *kernel_for(Build *b, const ca_Key *key, bool *made) {
  if (2 * (b->nkern + 1) > b->kcap) {
    int cap = b->kcap ? 2 * b->kcap : 256;
    Kernel **tab = calloc((size_t)cap, sizeof *tab);
    if (!tab) abort();
    for (int i = 0; i < b->kcap; i++) {
      if (!b->ktab[i]) continue;
      unsigned h;
      memcpy(&h, b->ktab[i]->key.b, sizeof h);
      while (tab[h & (unsigned)(cap - 1)]) h++;
      tab[h & (unsigned)(cap - 1)] = b->ktab[i];
    }
    free(b->ktab);
    b->ktab = tab;
    b->kcap = cap;
  }
  unsigned h;
  memcpy(&h, key->b, sizeof h);
  for (;; h++) {
    Kernel **slot = &b->ktab[h & (unsigned)(b->kcap - 1)];
    if (*slot && !memcmp((*slot)->key.b, key->b, 16)) {
      *made = false;
      return *slot;
    }
    if (!*slot) {
      *slot = fe_alloc(b->g.arena, sizeof **slot);
      (*slot)->key = *key;
      b->nkern++;
      *made = true;
      return *slot;
    }
  }
}

bool kernel_from_cache(Build *b, Kernel *k) {
  if (!b->cache_on || b->o->recache) return false;
  double t0 = now_seconds();
  ca_Entry e;
  bool hit = ca_get_part(&b->cache, CA_KIND_KERNEL, &k->key, &e) == CA_HIT && e.data[CA_ASM];
  if (hit) {
    k->code.asm_text.data = e.data[CA_ASM];
    k->code.asm_text.len = e.len[CA_ASM];
    e.data[CA_ASM] = NULL;
    k->done = k->cached = true;
  }
  ca_entry_free(&e);
  b->kernel_cache_time += now_seconds() - t0;
  return hit;
}

void kernel_store(Build *b, Kernel *k, Target *t) {
  double t0 = now_seconds();
  ca_Entry e;
  memset(&e, 0, sizeof e);
  e.data[CA_ASM] = k->code.asm_text.data;
  e.len[CA_ASM] = k->code.asm_text.len;
  ca_put(&b->cache, CA_KIND_KERNEL, &k->key, &e);
  t->stage[ST_CACHE] += now_seconds() - t0;
}

void kernels_free(Build *b) {
  for (int i = 0; i < b->kcap; i++)
    if (b->ktab[i]) cg_unit_free(&b->ktab[i]->code), free(b->ktab[i]->err);
  free(b->ktab);
  b->ktab = NULL;
  b->kcap = b->nkern = 0;
}
