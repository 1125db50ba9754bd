/* build.c - the parallel module builder: run_build's flow.
 *
 * One run loads every input (files, or folders searched for *.tri) into one module graph,
 * so a module imported by many is read and parsed once. Each input module is a target
 * with its own object and header. Targets are looked up in the cache first; a hit is
 * written out without checking or LLVM. The misses are checked (the whole graph once,
 * dependencies first) and then compiled on libuv's thread pool, one LLVMContext per
 * compile. The loop thread alone owns the graph, the targets and the outputs: workers
 * only read the checked TIR and fill their own target's result, and the loop thread
 * writes files, stores cache entries and prints progress as each one completes. Outputs
 * are byte-identical for any -j. A module that fails to load (syntax, a missing import)
 * fails with its importers before the cache is read; the others keep their cache.
 *
 * This file holds that flow, step by step; each step's details live in a file of its own:
 * inputs.c (targets and output paths), keys.c (cache keys and manifests), config.c (where
 * the cache is), kernels.c (the kernel table), sched.c (the pool), compile.c (a module's
 * compile steps), status.c (exit statuses of codegen's failures), output.c (writing
 * outputs) and report.c (progress and reports); build.h holds the state they share.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/build.h"

/* Diagnostics from `from` on, as tric prints them without colour (malloc'd). */
static char *render_diags(const fe_Diags *d, const fe_Diag *from) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) abort();
  fe_diags_print_from(d, from, f, false);
  if (fclose(f)) abort();
  return text;
}

/* Opens the cache for a build: one warning when it cannot be used, or can only be read. */
static bool open_cache(Build *b, const char *dir) {
  ca_Open st = ca_open(&b->cache, dir, cache_max_size());
  if (st == CA_OPEN_READONLY)
    fprintf(stderr, "tric: warning: cache %s is read-only (%s): using its entries, storing nothing\n", dir, b->cache.why);
  else if (st == CA_OPEN_FAILED)
    fprintf(stderr, "tric: warning: cache %s: %s; building without the cache\n", dir, b->cache.why);
  b->cache.warned = st != CA_OPEN_OK;
  if (st == CA_OPEN_FAILED) return false;
  ca_RemoteConfig rc;
  char why[512];
  if (remote_config(b->o, &rc, why, sizeof why) && rc.url) { /* checked before the build began */
    if (ca_remote_attach(&b->cache, &rc, why, sizeof why)) fprintf(stderr, "tric: warning: %s; building without it\n", why);
    else b->remote_used = true;
  }
  return true;
}

/* A target whose module (or an import) has errors: nothing is built, and its outputs
 * from an earlier build are removed, so nothing stale survives. */
static void fail_target(Build *b, Target *t) {
  t->failed = true;
  t->compile = false;
  b->failed++;
  b->status = EXIT_COMPILE;
  if (strcmp(b->o->cmd, "build")) return;
  remove_outputs(b->o, t);
  if (b->o->explain) fprintf(stderr, "tric: explain: %s: not built: it or a module it imports has errors\n", t->file);
  if (b->nt > 1) progress(b, t, "failed");
}

/* Makes the targets of every input and loads the module graph; an exit status. */
static int load_targets(Build *b) {
  const Opts *o = b->o;
  fe_Arena *arena = b->g.arena;
  fe_Vec targets = {0};
  int status = 0;
  for (int i = 0; i < o->nfiles && !status; i++) status = add_inputs(b, o->files[i], &targets);
  if (!status) status = check_outputs_apart(o, &targets);
  b->nt = targets.n;
  b->t = calloc((size_t)targets.n + 1, sizeof *b->t);
  if (!b->t) abort();
  for (int i = 0; i < targets.n && !status; i++) {
    Target *t = &b->t[i];
    *t = *(Target *)targets.items[i];
    t->b = b;
    name_outputs(o, t, arena);
    t->m = graph_load(&b->g, t->file);
    if (!t->m) status = b->g.io_error ? EXIT_IO : EXIT_COMPILE;
  }
  return status;
}

/* --dump=tokens and --dump=ast, of every target's module. */
static void dump_syntax(Build *b) {
  for (int i = 0; i < b->nt; i++) {
    if (!strcmp(b->o->dump, "tokens")) {
      int n;
      fe_Diags scratch = {.arena = b->g.arena};
      fe_Token *toks = fe_lex(b->g.arena, &scratch, b->t[i].m->src, &n);
      fe_dump_tokens(stdout, toks, n);
      free(toks);
    } else if (!strcmp(b->o->dump, "ast")) fe_dump_ast(stdout, b->t[i].m->ast);
  }
}

/* Prints the diagnostics added since *printed (the last one printed, or NULL). */
static void print_new_diags(Build *b, const fe_Diag **printed) {
  fe_diags_print_from(b->g.diags, *printed ? (*printed)->next : b->g.diags->first, stderr, b->colour);
  *printed = b->g.diags->last;
}

/* A target found whole in the cache: its warnings again, then its outputs. */
static void take_from_cache(Build *b, Target *t, ca_Entry *e, const fe_Diag **printed) {
  const Opts *o = b->o;
  t->from_cache = true;
  t->compile = false;
  if (e->data[CA_DIAG]) fputs(e->data[CA_DIAG], stderr); /* its warnings, as when it was compiled */
  graph_warn_no_export(&b->g, t->m);
  print_new_diags(b, printed);
  if (t->m->failed) { /* -Werror, and no module of this run imports it */
    fail_target(b, t);
    return;
  }
  if (o->explain) fprintf(stderr, "tric: explain: %s: %s\n", t->file, t->from_remote ? "from the remote cache" : "reused from the cache");
  if (write_outputs(b, t, (const void *const *)e->data, e->len)) b->status = EXIT_IO, t->failed = true, b->failed++;
  else b->cached++;
  progress(b, t, "cached");
}

/* Whether entry e has every section the build asks for. */
static bool entry_complete(const Opts *o, const ca_Entry *e) {
  static const unsigned need[CA_NSECTIONS] = {0, CG_EMIT_OBJ, CG_EMIT_HEADER, CG_EMIT_LLVM_IR, CG_EMIT_ASM};
  for (int s = 1; s < CA_NSECTIONS; s++)
    if ((o->emit & need[s]) && !e->data[s]) return false;
  return true;
}

/* A target that missed in every cache: --explain says why it is rebuilt. */
static void explain_miss(Build *b, Target *t, bool stopped) {
  if (!b->o->explain) return;
  const char *what = stopped ? "not built (a module failed and -k was not given)" : "rebuilt";
  fprintf(stderr, "tric: explain: %s: %s: %s\n", t->file, what, miss_reason(b, t));
}

/* Looks every target up in the local cache (a hit is written out at once) and starts the
 * remote cache's GETs for the targets to compile that missed; returns the number of
 * targets left to check and compile (those asked of the remote among them). */
static int look_up_targets(Build *b, bool stopped, const fe_Diag **printed) {
  const Opts *o = b->o;
  bool building = !strcmp(o->cmd, "build");
  int misses = 0;
  fe_Vec ask = {0}; /* ca_Key*: of the targets asked of the remote */
  for (int i = 0; i < b->nt; i++) {
    Target *t = &b->t[i];
    if (t->failed) continue;
    t->compile = building && !stopped;
    if (!b->cache_on) {
      misses++;
      continue;
    }
    double t0 = now_seconds();
    t->key = target_key(t, &b->opts);
    ca_Entry e;
    t->got = o->recache ? CA_MISS : ca_get(&b->cache, CA_KIND_MODULE, &t->key, &e);
    t->stage[ST_CACHE] += now_seconds() - t0;
    bool complete = t->got == CA_HIT && entry_complete(o, &e);
    if (complete) take_from_cache(b, t, &e, printed);
    else {
      if (t->got == CA_HIT) t->got = CA_MISS;
      misses++;
      t->man = fe_alloc(b->g.arena, sizeof *t->man);
      make_manifest(b, t, &b->opts, t->man);
      if (b->cache.remote && t->compile && !o->recache) { /* the answer is taken before its module is checked */
        t->remote_pending = true;
        t->remote_i = ask.n;
        fe_vec_push(b->g.arena, &ask, &t->key);
      } else explain_miss(b, t, stopped);
    }
    if (t->got == CA_HIT) ca_entry_free(&e);
  }
  if (ask.n) {
    ca_Key *keys = malloc(sizeof *keys * (size_t)ask.n);
    if (!keys) abort();
    for (int i = 0; i < ask.n; i++) keys[i] = *(ca_Key *)ask.items[i];
    b->fetch = ca_remote_fetch(&b->cache, CA_KIND_MODULE, keys, ask.n);
    free(keys);
  }
  return misses;
}

/* The remote cache's answer for t: a hit is written out as a local one is (and kept in
 * the local cache); otherwise t is compiled. */
static void take_remote(Build *b, Target *t, const fe_Diag **printed) {
  t->remote_pending = false;
  double t0 = now_seconds();
  ca_Entry e;
  ca_Lookup r = ca_fetch_wait(b->fetch, t->remote_i, &e);
  t->stage[ST_CACHE] += now_seconds() - t0;
  if (r == CA_HIT && entry_complete(b->o, &e)) {
    t->from_remote = true;
    t->got = CA_HIT;
    ca_manifest_put(&b->cache, t->file, t->man); /* what this build was made of, for a later --explain */
    take_from_cache(b, t, &e, printed);
  } else explain_miss(b, t, false);
  if (r == CA_HIT) ca_entry_free(&e);
}

/* After module m is checked: its targets fail, or have their compile queued. Returns the
 * number queued. */
static int queue_targets_of(Build *b, Module *m) {
  const Opts *o = b->o;
  int queued = 0;
  for (int i = 0; i < b->nt; i++) {
    Target *t = &b->t[i];
    if (t->m != m || t->failed) continue;
    if (m->failed) {
      fail_target(b, t);
      continue;
    }
    if (o->dump && !strcmp(o->dump, "types")) tc_dump_types(stdout, m->funcs, m->nfuncs, b->g.arena);
    if (o->dump && !strcmp(o->dump, "ir")) tc_dump_ir(stdout, m->funcs, m->nfuncs, b->g.arena);
    if (!t->compile || (b->status && !o->keep_going)) { /* without --keep-going nothing more is built */
      if (t->compile && o->explain) fprintf(stderr, "tric: explain: %s: not built: a module failed and -k was not given\n", t->file);
      t->compile = false;
      continue;
    }
    pool_open(b);
    t->queued = true;
    enqueue(b, &t->start, TASK_START, t, false);
    pump(b);
    queued++;
  }
  return queued;
}

/* Checks the graph module by module, dependencies first; a target's compile is queued on
 * the thread pool as soon as its module is checked, while the loop thread goes on
 * checking, and completions (writes, cache stores, progress) are handled in between.
 * Returns the number of compiles queued. */
static int check_and_queue(Build *b, const fe_Diag **printed) {
  fe_Diags *diags = b->g.diags;
  int ncompile = 0;
  for (int mi = 0; mi < b->g.modules.n; mi++) {
    Module *m = b->g.modules.items[mi];
    Target *mt = NULL; /* m's target, if it has one */
    for (int i = 0; i < b->nt && !mt; i++)
      if (b->t[i].m == m) mt = &b->t[i];
    if (mt && mt->remote_pending) take_remote(b, mt, printed); /* before its check prints anything */
    graph_check_one(&b->g, m);
    if (diags->last != *printed) { /* this module's diagnostics, whole; a module from the cache showed its own */
      const fe_Diag *from = *printed ? (*printed)->next : diags->first;
      if (mt && mt->compile && b->cache_on && !m->failed) mt->diag_text = render_diags(diags, from);
      if (!mt || !mt->from_cache) fe_diags_print_from(diags, from, stderr, b->colour);
      *printed = diags->last;
    }
    if (m->check_clean && !(mt && mt->from_cache)) {
      graph_warn_no_export(&b->g, m);
      print_new_diags(b, printed);
    }
    ncompile += queue_targets_of(b, m);
    if (b->pool) uv_run(&b->loop, UV_RUN_NOWAIT);
  }
  return ncompile;
}

int run_build(const Opts *o, bool colour) {
  fe_Arena arena = {0};
  fe_Diags diags = {.arena = &arena, .warn = o->warn};
  Build *b = calloc(1, sizeof *b);
  if (!b) abort();
  b->o = o;
  b->colour = colour;
  b->tty = isatty(2);
  static char errbuf[1 << 16]; /* the driver's own: on a pipe, progress lines go out in blocks */
  if (!b->tty) setvbuf(stderr, errbuf, _IOFBF, sizeof errbuf);
  b->t0 = now_seconds();
  b->g = (Graph){.arena = &arena, .diags = &diags, .incdirs = o->incdirs, .nincdirs = o->nincdirs};
  b->hi_tail = &b->hi;
  b->lo_tail = &b->lo;
  bool building = !strcmp(o->cmd, "build");

  ca_RemoteConfig rc;
  char why[512];
  if (building && !o->no_cache && !remote_config(o, &rc, why, sizeof why)) { /* a bad setting: before any work */
    fprintf(stderr, "tric: error: %s\n", why);
    b->status = EXIT_USAGE;
    goto out;
  }

  /* targets and the module graph */
  b->status = load_targets(b);
  if (b->status) {
    fe_diags_print(&diags, stderr, colour);
    goto out;
  }
  if (o->dump) dump_syntax(b);

  /* A module with errors found while loading (syntax, a missing import, a cycle), or one
     that imports such a module, fails now: the others keep their cache, and without -k
     no compile is started. */
  const fe_Diag *printed = diags.last;
  fe_diags_print(&diags, stderr, colour);
  for (int i = 0; i < b->nt && building; i++)
    if (b->t[i].m->failed) fail_target(b, &b->t[i]);
  if (building && diags.nerrors) b->status = EXIT_COMPILE; /* errors were printed, whatever failed */
  bool stopped = building && b->status && !o->keep_going;

  /* the cache: a hit needs no checking and no LLVM */
  char dbuf[4096];
  const char *dir = cache_dir(o, dbuf, sizeof dbuf);
  /* the plan is not a section of a cache entry: --emit=plan checks and plans every module */
  b->cache_on = building && !o->no_cache && !o->dump && !(o->emit & (CG_EMIT_PLAN | CG_EMIT_PLAN_JSON)) && dir && open_cache(b, dir);
  b->tool = tool_key(); /* in every key, the kernel table's too */
  if (b->cache_on) b->opts = options_key(o, &b->tool);
  int misses = look_up_targets(b, stopped, &printed);

  /* the misses: checked, and compiled on the pool as each module's check ends */
  bool need_check = misses || !building || (o->dump && diags.nerrors == 0);
  int ncompile = need_check ? check_and_queue(b, &printed) : 0;
  if (building && b->status && !o->keep_going)
    for (int i = 0; i < b->nt; i++)
      if (!b->t[i].queued) b->t[i].compile = false;
  for (int i = 0; i < b->nt; i++) /* asked of the remote, but no check reached it */
    if (b->t[i].remote_pending) take_remote(b, &b->t[i], &printed);
  pool_close(b);
  ca_fetch_free(b->fetch);
  if (b->cache_on) ca_maybe_prune(&b->cache);
  double wall = now_seconds() - b->t0;
  if (building && (b->nt > 1 || o->verbose)) summary(b, wall);
  if (o->explain && building)
    fprintf(stderr, "tric: explain: LLVM was %s\n",
            ncompile ? "started" : b->cached == b->nt ? "not started (everything came from the cache)" : "not started");
  if (o->time_report) time_report(b, wall);
  if (o->time_trace) time_trace(b);
out:;
  fflush(stderr);
  int status = b->status;
  kernels_free(b);
  for (int i = 0; i < b->nt; i++) free(b->t[i].diag_text); /* of targets never compiled (a failure, no -k) */
  free(b->t);
  free(b);
  fe_arena_free(&arena);
  return status;
}
