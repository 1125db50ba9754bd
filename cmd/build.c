/* build.c - the parallel module builder.
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
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "cmd/cmd.h"

/* Stages of the time report, in pipeline order. */
enum { ST_READ, ST_CHECK, ST_IR, ST_OPT, ST_CODEGEN, ST_CACHE, ST_WRITE, NSTAGES };
static const char *const stage_names[NSTAGES] = {"read, lex, parse", "typecheck", "lower/fuse, LLVM IR build",
                                                 "LLVM optimize", "code generation", "cache lookup/store", "write"};

/* A step of a compile on the thread pool: a module's start (emit), one of its kernels,
 * or its finish (its exported functions, joined with its kernels into the outputs). */
enum { TASK_START, TASK_UNIT, TASK_FINISH };
typedef struct Task {
  uv_work_t work;
  int kind;
  struct Target *t; /* the module whose job it works on */
  int unit;         /* TASK_UNIT: which kernel unit of t's job */
  struct Kernel *k; /* TASK_UNIT: the shared code it compiles */
  cg_Unit *out;
  char *err;
  cg_Machines *mach; /* while it runs: target machines no other task uses */
  pthread_t thread;  /* for the trace */
  double start, end, t_ir, t_opt, t_codegen;
  struct Task *next; /* in the build's queue */
} Task;

/* The code of one kernel key: compiled once per build, for every module that emits it. */
typedef struct Kernel {
  unsigned char key[16];
  bool done, cached; /* cached: its code came from the on-disk cache */
  char *err;         /* the compile failed */
  cg_Unit code;   /* once done */
  fe_Vec waiters; /* Target*: a module per unit of its job that waits for this code */
  Task task;
} Kernel;

typedef struct Target {
  Module *m;
  const char *file, *stem;
  const char *guard; /* the header's include guard (from the source and header paths) */
  const char *obj, *hdr, *ll, *as, *dep, *plan, *plan_json;
  ca_Key key;
  ca_Manifest *man; /* made on a cache miss, to record (and explain) it */
  ca_Lookup got;
  bool from_cache, failed, compile, queued;
  ca_Key code_key;             /* of its emitted code (cg_job_key), when it has one */
  bool code_keyed, same_code;  /* same_code: the outputs of that code came from the cache */
  cg_Result res;
  cg_Job *job; /* between cg_start and cg_finish */
  int nunits, pending, nkernels;
  const cg_Unit **units; /* per kernel unit of the job: its code, once compiled */
  Kernel **kern;         /* per kernel unit: the shared kernel */
  Task start, finish;
  char *err, *header, *plan_text, *plan_json_text; /* --emit=plan, plan-json (malloc'd) */
  char *diag_text; /* its check's diagnostics (malloc'd), stored with its entry */
  fe_Arena arena; /* the worker's own, for the header text */
  double stage[NSTAGES];
  struct Build *b;
} Target;

typedef struct Build {
  const Opts *o;
  bool colour, tty;
  Graph g;
  ca_Cache cache;
  bool cache_on;
  ca_Key opts;
  Target *t;
  int nt, done, built, cached, failed;
  double t0;
  int status;
  char made_dir[4096]; /* the output folder known to exist last time (one stat per folder) */
  /* the pool: at most `jobs` tasks queued in libuv at once; the rest wait here, the steps
     of modules already started (hi) before new modules (lo) */
  uv_loop_t loop;
  int jobs, inflight, nwaiting; /* nwaiting: tasks in hi and lo */
  cg_Machines **machines; /* the free ones (one per task in flight, made as needed) */
  int nmachines;
  Task *hi, **hi_tail, *lo, **lo_tail;
  Kernel **ktab; /* open-addressing table of kernels by key */
  int nkern, kcap;
  double kernel_cache_time; /* looking kernels up in the cache (on the loop thread) */
} Build;

/* ---------------------------------------------------------------- paths */

/* path with its extension (if any) replaced by ext. */
static char *with_ext(fe_Arena *a, const char *path, const char *ext) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(path, '.');
  size_t n = dot && (!slash || dot > slash) && dot != path ? (size_t)(dot - path) : strlen(path);
  return fe_sprintf(a, "%.*s%s", (int)n, path, ext);
}

static char *base_stem(fe_Arena *a, const char *path) {
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  return with_ext(a, base, "");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every *.tri under dir (sorted), as paths relative to dir. */
static void find_sources(fe_Arena *a, const char *dir, const char *rel, fe_Vec *out) {
  const char *full = rel[0] ? fe_sprintf(a, "%s/%s", dir, rel) : dir;
  DIR *d = opendir(full);
  if (!d) return;
  fe_Vec names = {0};
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') fe_vec_push(a, &names, fe_strndup(a, de->d_name, strlen(de->d_name)));
  closedir(d);
  if (names.n) qsort(names.items, (size_t)names.n, sizeof(void *), cmp_str);
  for (int i = 0; i < names.n; i++) {
    const char *r = rel[0] ? fe_sprintf(a, "%s/%s", rel, (char *)names.items[i]) : names.items[i];
    const char *p = fe_sprintf(a, "%s/%s", dir, r);
    struct stat st;
    if (stat(p, &st)) continue;
    size_t n = strlen(r);
    if (S_ISDIR(st.st_mode)) find_sources(a, dir, r, out);
    else if (n > 4 && !strcmp(r + n - 4, ".tri")) fe_vec_push(a, out, (void *)r);
  }
}

static int mkdirs_for(Build *b, const char *file) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", file);
  char *slash = strrchr(buf, '/');
  struct stat st;
  if (!slash) return 0;
  *slash = 0;
  if (!strcmp(buf, b->made_dir)) return 0;
  if (!stat(buf, &st) && S_ISDIR(st.st_mode)) { /* the common case: it exists */
    memcpy(b->made_dir, buf, sizeof buf);
    return 0;
  }
  *slash = '/';
  for (char *s = buf + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      if (mkdir(buf, 0777) && errno != EEXIST) return -1;
      *s = '/';
    }
  return 0;
}

/* ---------------------------------------------------------------- cache keys */

/* Everything that changes the output besides the sources: tric itself, LLVM, the target
 * and the options. No path and no time goes in, so clones elsewhere hit. */
static ca_Key options_key(const Opts *o) {
  char bid[128], *triple, *cpu, *features;
  ca_Hasher *h = ca_hasher_new();
  ca_hash_str(h, "tric-cache-key-v1");
  ca_hash_str(h, TRIC_VERSION);
  ca_hash_str(h, ca_build_id(bid, sizeof bid));
  ca_hash_str(h, cg_llvm_version());
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

/* The cache key of part of a compile (`what`: a kernel's code, a module's code) from
 * codegen's own key for it (its bitcode, target and options): tric, LLVM and that key. */
static ca_Key part_cache_key(const char *what, const unsigned char unit_key[16]) {
  char bid[128];
  ca_Hasher *h = ca_hasher_new();
  ca_hash_str(h, what);
  ca_hash_str(h, TRIC_VERSION);
  ca_hash_str(h, ca_build_id(bid, sizeof bid));
  ca_hash_str(h, cg_llvm_version());
  ca_hash(h, unit_key, 16);
  return ca_hasher_finish(h);
}

/* The key of m: options, its name, its source, and its imports' keys, recursively. */
static ca_Key module_key(Module *m, const ca_Key *opts) {
  if (m->keyed) return m->key;
  ca_Hasher *h = ca_hasher_new();
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
static ca_Key target_key(Target *t, const ca_Key *opts) {
  ca_Key mk = module_key(t->m, opts);
  ca_Hasher *h = ca_hasher_new();
  ca_hash(h, mk.b, 16);
  ca_hash_str(h, t->stem);
  ca_hash_str(h, t->guard);
  return ca_hasher_finish(h);
}

static void make_manifest(Build *b, Target *t, const ca_Key *opts, ca_Manifest *man) {
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
static const char *miss_reason(Build *b, Target *t, char *buf, size_t cap) {
  if (b->o->recache) return "--recache";
  if (t->got == CA_CORRUPT) return "entry corrupt";
  if (t->got == CA_MISPLACED) return "entry misplaced";
  ca_Manifest old;
  if (!ca_manifest_get(&b->cache, t->file, &old)) return "no entry";
  const char *why = "no entry (evicted or never stored)";
  if (memcmp(old.options.b, t->man->options.b, 16)) why = "options changed";
  else if (memcmp(old.source.b, t->man->source.b, 16)) why = "source changed";
  for (int i = 0; i < t->man->nimports && !strncmp(why, "no entry", 8); i++) {
    bool same = false;
    for (int j = 0; j < old.nimports; j++)
      if (!strcmp(old.import_names[j], t->man->import_names[i]))
        same = !memcmp(old.import_keys[j].b, t->man->import_keys[i].b, 16);
    if (!same) {
      snprintf(buf, cap, "import %s changed", t->man->import_names[i]);
      why = buf;
    }
  }
  if (!strncmp(why, "no entry", 8) && old.nimports != t->man->nimports) why = "imports changed";
  ca_manifest_free(&old);
  return why;
}

/* ---------------------------------------------------------------- outputs */

static void dep_append(char **buf, size_t *len, size_t *cap, const char *s, bool path) {
  for (; *s; s++) {
    if (*len + 3 >= *cap) {
      *cap *= 2;
      *buf = realloc(*buf, *cap);
      if (!*buf) abort();
    }
    if (path && (*s == ' ' || *s == '#')) (*buf)[(*len)++] = '\\';
    if (path && *s == '$') (*buf)[(*len)++] = '$';
    (*buf)[(*len)++] = *s;
  }
}

/* The modules m depends on (itself first), each once. */
static void closure(Module *m, fe_Vec *seen, fe_Arena *a) {
  for (int i = 0; i < seen->n; i++)
    if (seen->items[i] == m) return;
  fe_vec_push(a, seen, m);
  for (int k = 0; k + 1 < m->deps.n; k += 2) closure(m->deps.items[k], seen, a);
}

/* Writes the depfile: the object depends on its source and every module it imports;
 * each import also gets an empty rule, so deleting one is no error for make. */
static int write_depfile(Build *b, Target *t) {
  fe_Vec mods = {0};
  closure(t->m, &mods, b->g.arena);
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) abort();
  dep_append(&buf, &len, &cap, t->obj, true);
  dep_append(&buf, &len, &cap, ":", false);
  for (int i = 0; i < mods.n; i++) {
    dep_append(&buf, &len, &cap, " ", false);
    dep_append(&buf, &len, &cap, ((Module *)mods.items[i])->path, true);
  }
  dep_append(&buf, &len, &cap, "\n", false);
  for (int i = 1; i < mods.n; i++) {
    dep_append(&buf, &len, &cap, "\n", false);
    dep_append(&buf, &len, &cap, ((Module *)mods.items[i])->path, true);
    dep_append(&buf, &len, &cap, ":\n", false);
  }
  int rc = write_atomic(t->dep, buf, len, b->o->keep_mtime ? NULL : &t->m->newest);
  free(buf);
  return rc;
}

/* Writes a target's outputs from its sections (cache entry or fresh compile). */
static int write_outputs(Build *b, Target *t, const void *const data[CA_NSECTIONS], const size_t len[CA_NSECTIONS]) {
  const Opts *o = b->o;
  double t0 = now_seconds();
  if (mkdirs_for(b, t->obj)) {
    fprintf(stderr, "tric: error: cannot create the folder of '%s': %s\n", t->obj, strerror(errno));
    return -1;
  }
  int rc = 0;
  const struct timespec *nb = o->keep_mtime ? NULL : &t->m->newest; /* touch an unchanged output? */
  if ((o->emit & CG_EMIT_OBJ) && write_atomic(t->obj, data[CA_OBJ], len[CA_OBJ], nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_HEADER) && write_atomic(t->hdr, data[CA_HEADER], len[CA_HEADER], nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_LLVM_IR) && write_atomic(t->ll, data[CA_LLVM_IR], len[CA_LLVM_IR], nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_ASM) && write_atomic(t->as, data[CA_ASM], len[CA_ASM], nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_PLAN) && write_atomic(t->plan, t->plan_text, strlen(t->plan_text), nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_PLAN_JSON) &&
      write_atomic(t->plan_json, t->plan_json_text, strlen(t->plan_json_text), nb))
    rc = -1;
  if (!rc && o->md && write_depfile(b, t)) rc = -1;
  t->stage[ST_WRITE] += now_seconds() - t0;
  return rc;
}

static void remove_outputs(const Opts *o, Target *t) {
  if (o->emit & CG_EMIT_OBJ) unlink(t->obj);
  if (o->emit & CG_EMIT_HEADER) unlink(t->hdr);
  if (o->emit & CG_EMIT_LLVM_IR) unlink(t->ll);
  if (o->emit & CG_EMIT_ASM) unlink(t->as);
  if (o->emit & CG_EMIT_PLAN) unlink(t->plan);
  if (o->emit & CG_EMIT_PLAN_JSON) unlink(t->plan_json);
}

/* ---------------------------------------------------------------- progress */

static void progress(Build *b, Target *t, const char *what) {
  const Opts *o = b->o;
  b->done++;
  bool show = b->nt > 1 || o->verbose;
  if (!show) return;
  if (b->tty && !o->verbose) {
    fprintf(stderr, "\r\033[K[%d/%d] %s %s", b->done, b->nt, what, t->file);
    if (b->done == b->nt) fputc('\n', stderr);
  } else {
    fprintf(stderr, "[%d/%d] %s %s", b->done, b->nt, what, t->file);
    if (o->verbose) {
      double total = 0;
      for (int s = 0; s < NSTAGES; s++) total += t->stage[s];
      fprintf(stderr, " (%.1f ms, cache %s)", total * 1e3,
              !b->cache_on ? "off" : t->from_cache ? "hit" : "miss");
    }
    fputc('\n', stderr);
  }
  if (b->tty) fflush(stderr);
}

/* ---------------------------------------------------------------- compiling */

/* A module compiles in steps on the pool: start (emit the module), each of its kernels
 * that no module of this build has compiled yet (a kernel met again waits for, or reuses,
 * the first compile of its key), and finish (compile the exported functions and join them
 * with the kernels into the outputs). The loop thread queues each step when what it
 * needs has ended, and alone touches the kernel table and the queues. */
static void compile_done(Target *t);

static void enqueue(Build *b, Task *task, int kind, Target *t, bool urgent) {
  task->kind = kind;
  task->t = t;
  task->work.data = task;
  task->next = NULL;
  Task ***tail = urgent ? &b->hi_tail : &b->lo_tail;
  **tail = task;
  *tail = &task->next;
  b->nwaiting++;
}

static void task_work(uv_work_t *w);
static void task_done(uv_work_t *w, int status);

/* A few more tasks than workers wait in libuv's queue, so that a worker that ends one
   starts the next without waiting for the loop thread. Under make's jobserver a task is
   queued only with a job slot for it (the implicit one, or a token from make): the loop
   asks for a token per waiting task that -j leaves room for, hands a finished task's
   token to the next, and gives back those no task needs. */
static void pump(Build *b) {
  Jobserver *js = b->o->js;
  int limit = !js ? 2 * b->jobs : b->jobs < 1 + js->nheld ? b->jobs : 1 + js->nheld;
  while (b->inflight < limit && (b->hi || b->lo)) {
    Task *task = b->hi ? b->hi : b->lo;
    if (task == b->hi) {
      if (!(b->hi = task->next)) b->hi_tail = &b->hi;
    } else if (!(b->lo = task->next)) b->lo_tail = &b->lo;
    b->inflight++;
    b->nwaiting--;
    task->mach = b->nmachines ? b->machines[--b->nmachines] : cg_machines_new();
    uv_queue_work(&b->loop, &task->work, task_work, task_done);
  }
  if (js) {
    int spare = js->nheld - (b->inflight > 0 ? b->inflight - 1 : 0);
    if (spare > 0) js_release(js, spare);
    int room = b->jobs - b->inflight;
    js_want(js, b->nwaiting < room ? b->nwaiting : room);
  }
}

/* Tokens arrived from make's jobserver. */
static void on_token(void *b) { pump(b); }

static void finish_work(Target *t, cg_Machines *m);

static void start_work(Target *t, cg_Machines *m) {
  const Opts *o = t->b->o;
  unsigned cgemit = o->emit & (CG_EMIT_OBJ | CG_EMIT_LLVM_IR | CG_EMIT_ASM);
  if (o->emit & CG_EMIT_PLAN) t->plan_text = cg_plan_text(t->m->funcs, t->m->nfuncs, &o->cg, &t->arena, false);
  if (o->emit & CG_EMIT_PLAN_JSON) t->plan_json_text = cg_plan_text(t->m->funcs, t->m->nfuncs, &o->cg, &t->arena, true);
  if (o->emit & CG_EMIT_HEADER) t->header = cg_header(t->stem, t->guard, t->m->funcs, t->m->nfuncs, &t->arena);
  double t0 = now_seconds();
  if (cgemit && cg_start(t->stem, t->m->funcs, t->m->nfuncs, &o->cg, cgemit, m, &t->job, &t->nunits, &t->err))
    t->job = NULL;
  t->start.t_ir = now_seconds() - t0;
  if (t->job && !t->nunits) { /* no kernels to wait for: all of it in this task */
    finish_work(t, m);
    t->start.t_opt = t->finish.t_opt, t->start.t_codegen = t->finish.t_codegen;
  }
}

static void finish_work(Target *t, cg_Machines *m) {
  if (cg_finish(t->job, t->units, m, &t->res, &t->err)) memset(&t->res, 0, sizeof t->res);
  t->job = NULL;
  t->finish.t_opt = t->res.t_opt;
  t->finish.t_codegen = t->res.t_codegen;
}

static void task_work(uv_work_t *w) {
  Task *task = w->data;
  task->thread = pthread_self();
  task->start = now_seconds();
  if (task->kind == TASK_START) start_work(task->t, task->mach);
  else if (task->kind == TASK_UNIT) cg_run_unit(task->t->job, task->unit, task->mach, task->out, &task->err);
  else finish_work(task->t, task->mach);
  task->end = now_seconds();
}

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) abort();
  return d;
}

/* The kernel of key k, made (and *made set) if it is new. */
static Kernel *kernel_for(Build *b, const unsigned char key[16], bool *made) {
  if (2 * (b->nkern + 1) > b->kcap) {
    int cap = b->kcap ? 2 * b->kcap : 256;
    Kernel **tab = calloc((size_t)cap, sizeof *tab);
    if (!tab) abort();
    for (int i = 0; i < b->kcap; i++) {
      if (!b->ktab[i]) continue;
      unsigned h;
      memcpy(&h, b->ktab[i]->key, sizeof h);
      while (tab[h & (unsigned)(cap - 1)]) h++;
      tab[h & (unsigned)(cap - 1)] = b->ktab[i];
    }
    free(b->ktab);
    b->ktab = tab;
    b->kcap = cap;
  }
  unsigned h;
  memcpy(&h, key, sizeof h);
  for (;; h++) {
    Kernel **slot = &b->ktab[h & (unsigned)(b->kcap - 1)];
    if (*slot && !memcmp((*slot)->key, key, 16)) {
      *made = false;
      return *slot;
    }
    if (!*slot) {
      *slot = fe_alloc(b->g.arena, sizeof **slot);
      memcpy((*slot)->key, key, 16);
      b->nkern++;
      *made = true;
      return *slot;
    }
  }
}

/* A new kernel's code from the cache: true (k done) on a hit. */
static bool kernel_from_cache(Build *b, Kernel *k) {
  if (!b->cache_on || b->o->recache) return false;
  double t0 = now_seconds();
  ca_Key key = part_cache_key("tric-kernel-key-v1", k->key);
  ca_Entry e;
  bool hit = ca_get_part(&b->cache, CA_KIND_KERNEL, &key, &e) == CA_HIT && e.data[CA_ASM];
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

/* One unit of t's job has settled (compiled or failed); after the last, t finishes. */
static void unit_settled(Build *b, Target *t) {
  if (--t->pending) return;
  if (!t->err) {
    enqueue(b, &t->finish, TASK_FINISH, t, true);
    return;
  }
  cg_job_free(t->job);
  t->job = NULL;
  compile_done(t);
}

/* Early cutoff: a module rebuilt (its source or an import changed) that emitted the same
 * code as a module compiled before takes that compile's outputs from the cache. */
static bool code_from_cache(Build *b, Target *t) {
  unsigned char ck[16];
  if (!b->cache_on || !cg_job_key(t->job, ck)) return false;
  t->code_key = part_cache_key("tric-module-code-key-v1", ck);
  t->code_keyed = true;
  if (b->o->recache) return false;
  double t0 = now_seconds();
  ca_Entry e;
  bool hit = ca_get_part(&b->cache, CA_KIND_CODE, &t->code_key, &e) == CA_HIT;
  if (hit && (b->o->emit & CG_EMIT_OBJ) && !e.data[CA_OBJ]) hit = false;
  if (hit && (b->o->emit & CG_EMIT_ASM) && !e.data[CA_ASM]) hit = false;
  if (hit) {
    t->res.obj.data = e.data[CA_OBJ], t->res.obj.len = e.len[CA_OBJ];
    t->res.asm_text.data = e.data[CA_ASM], t->res.asm_text.len = e.len[CA_ASM];
    e.data[CA_OBJ] = e.data[CA_ASM] = NULL;
    t->res.nkernels = cg_job_nkernels(t->job);
    t->res.t_ir = t->start.t_ir;
    t->same_code = true;
    if (b->o->explain) fprintf(stderr, "tric: explain: %s: same code as an earlier build: its outputs came from the cache\n", t->file);
  }
  ca_entry_free(&e);
  t->stage[ST_CACHE] += now_seconds() - t0;
  return hit;
}

static void start_done(Build *b, Target *t) {
  if (t->job && code_from_cache(b, t)) {
    cg_job_free(t->job);
    t->job = NULL;
  }
  if (!t->job) { /* failed, finished in the one task, same code as before, or nothing for LLVM to do */
    compile_done(t);
    return;
  }
  t->units = calloc((size_t)t->nunits, sizeof *t->units);
  t->kern = calloc((size_t)t->nunits, sizeof *t->kern);
  if (!t->units || !t->kern) abort();
  t->pending = 1; /* until every kernel is queued */
  for (int u = 0; u < t->nunits; u++) {
    unsigned char key[16];
    cg_unit_key(t->job, u, key);
    bool made;
    Kernel *k = t->kern[u] = kernel_for(b, key, &made);
    if (made && kernel_from_cache(b, k)) t->units[u] = &k->code;
    else if (k->done) t->units[u] = &k->code;
    else if (k->err) {
      if (!t->err) t->err = xstrdup(k->err);
    } else {
      t->pending++;
      fe_vec_push(b->g.arena, &k->waiters, t);
      if (made) { /* compiled from this module's bitcode */
        k->task.unit = u;
        k->task.k = k;
        k->task.out = &k->code;
        enqueue(b, &k->task, TASK_UNIT, t, true);
      }
    }
  }
  unit_settled(b, t);
}

static void unit_done(Build *b, Task *task) {
  Target *t = task->t;
  t->stage[ST_OPT] += task->t_opt = task->out->t_opt;
  t->stage[ST_CODEGEN] += task->t_codegen = task->out->t_codegen;
  Kernel *k = task->k;
  k->err = task->err;
  task->err = NULL;
  k->done = !k->err;
  if (k->done && b->cache_on) { /* for later builds */
    double t0 = now_seconds();
    ca_Key key = part_cache_key("tric-kernel-key-v1", k->key);
    ca_Entry e;
    memset(&e, 0, sizeof e);
    e.data[CA_ASM] = k->code.asm_text.data;
    e.len[CA_ASM] = k->code.asm_text.len;
    ca_put(&b->cache, CA_KIND_KERNEL, &key, &e);
    t->stage[ST_CACHE] += now_seconds() - t0;
  }
  fe_Vec waiters = k->waiters;
  k->waiters = (fe_Vec){0};
  for (int i = 0; i < waiters.n; i++) {
    Target *w = waiters.items[i];
    if (k->err && !w->err) w->err = xstrdup(k->err);
    for (int u = 0; !k->err && u < w->nunits; u++)
      if (w->kern[u] == k && !w->units[u]) {
        w->units[u] = &k->code;
        break;
      }
    unit_settled(b, w);
  }
}

static void task_done(uv_work_t *w, int status) {
  Task *task = w->data;
  Build *b = task->t->b;
  (void)status;
  b->inflight--;
  b->machines[b->nmachines++] = task->mach;
  task->mach = NULL;
  if (task->kind == TASK_START) start_done(b, task->t);
  else if (task->kind == TASK_UNIT) unit_done(b, task);
  else compile_done(task->t);
  pump(b);
}

static void compile_done(Target *t) {
  Build *b = t->b;
  t->stage[ST_IR] += t->res.t_ir;
  t->stage[ST_OPT] += t->res.t_opt;
  t->stage[ST_CODEGEN] += t->res.t_codegen;
  t->nkernels = t->res.nkernels;
  free(t->units), free(t->kern);
  t->units = NULL, t->kern = NULL;
  if (t->err) {
    fprintf(stderr, "tric: error: %s: %s\n", t->file, t->err);
    int s = !strncmp(t->err, "unknown target", 14) ? EXIT_USAGE : EXIT_IO;
    free(t->err);
    t->err = NULL;
    if (s > b->status) b->status = s;
    t->failed = true;
    b->failed++;
    free(t->header), free(t->diag_text), free(t->plan_text), free(t->plan_json_text);
    t->header = t->diag_text = t->plan_text = t->plan_json_text = NULL;
    fe_arena_free(&t->arena);
    remove_outputs(b->o, t); /* no stale outputs from an earlier build */
    progress(b, t, "failed");
    return;
  }
  const void *data[CA_NSECTIONS] = {0};
  size_t len[CA_NSECTIONS] = {0};
  data[CA_OBJ] = t->res.obj.data, len[CA_OBJ] = t->res.obj.len;
  data[CA_HEADER] = t->header, len[CA_HEADER] = t->header ? strlen(t->header) : 0;
  data[CA_LLVM_IR] = t->res.ir.data, len[CA_LLVM_IR] = t->res.ir.len;
  data[CA_ASM] = t->res.asm_text.data, len[CA_ASM] = t->res.asm_text.len;
  if (t->diag_text) data[CA_DIAG] = t->diag_text, len[CA_DIAG] = strlen(t->diag_text);
  if (write_outputs(b, t, data, len)) {
    if (EXIT_IO > b->status) b->status = EXIT_IO;
    t->failed = true;
    b->failed++;
  } else {
    b->built++;
    if (b->cache_on) {
      double t0 = now_seconds();
      ca_Entry e;
      memset(&e, 0, sizeof e);
      for (int s = 1; s < CA_NSECTIONS; s++) e.data[s] = (void *)data[s], e.len[s] = len[s];
      if (ca_put(&b->cache, CA_KIND_MODULE, &t->key, &e) == 0) ca_manifest_put(&b->cache, t->file, t->man);
      if (t->code_keyed && !t->same_code) { /* for a later build that emits the same code */
        ca_Entry c;
        memset(&c, 0, sizeof c);
        c.data[CA_OBJ] = e.data[CA_OBJ], c.len[CA_OBJ] = e.len[CA_OBJ];
        c.data[CA_ASM] = e.data[CA_ASM], c.len[CA_ASM] = e.len[CA_ASM];
        ca_put(&b->cache, CA_KIND_CODE, &t->code_key, &c);
      }
      t->stage[ST_CACHE] += now_seconds() - t0;
    }
  }
  progress(b, t, "build");
  cg_result_free(&t->res);
  free(t->header), free(t->diag_text), free(t->plan_text), free(t->plan_json_text);
  t->header = t->diag_text = t->plan_text = t->plan_json_text = NULL;
  fe_arena_free(&t->arena);
}

/* ---------------------------------------------------------------- reports */

/* Peak resident memory of this process in KB (VmHWM: unlike getrusage's ru_maxrss it is
 * not inherited from the parent across exec). */
static long peak_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  if (kb < 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    kb = ru.ru_maxrss;
  }
  return kb;
}

static void time_report(Build *b, double wall) {
  double stage[NSTAGES] = {0}, total = 0;
  int kernels = 0, hits = 0, misses = 0, compiled = 0;
  for (int i = 0; i < b->g.modules.n; i++) {
    Module *m = b->g.modules.items[i];
    stage[ST_READ] += m->t_parse;
    stage[ST_CHECK] += m->t_check;
  }
  for (int i = 0; i < b->nt; i++) {
    for (int s = ST_IR; s < NSTAGES; s++) stage[s] += b->t[i].stage[s];
    kernels += b->t[i].compile ? b->t[i].nkernels : 0;
    compiled += b->t[i].compile && !b->t[i].nunits ? b->t[i].nkernels : 0; /* compiled whole */
    hits += b->t[i].from_cache;
    misses += b->cache_on && !b->t[i].from_cache && !b->t[i].failed;
  }
  int kcached = 0, same_code = 0;
  for (int i = 0; i < b->nt; i++) same_code += b->t[i].same_code;
  for (int i = 0; i < b->kcap; i++) {
    compiled += b->ktab[i] && b->ktab[i]->task.end > 0;
    kcached += b->ktab[i] && b->ktab[i]->cached;
  }
  stage[ST_CACHE] += b->kernel_cache_time;
  for (int s = 0; s < NSTAGES; s++) total += stage[s];
  long rss = peak_rss_kb();
  if (!strcmp(b->o->time_report, "json")) {
    fprintf(stderr, "{\"wall_s\": %.6f, \"stages\": {", wall);
    for (int s = 0; s < NSTAGES; s++) fprintf(stderr, "%s\"%s\": %.6f", s ? ", " : "", stage_names[s], stage[s]);
    fprintf(stderr, "}, \"peak_rss_kb\": %ld, \"cache_hits\": %d, \"cache_misses\": %d, \"kernels\": %d, \"kernels_compiled\": %d, \"kernels_cached\": %d, \"same_code\": %d, \"modules\": %d}\n",
            rss, hits, misses, kernels, compiled, kcached, same_code, b->nt);
    return;
  }
  fprintf(stderr, "time report (%d modules, wall %.1f ms; stage times add up over threads):\n", b->nt, wall * 1e3);
  for (int s = 0; s < NSTAGES; s++)
    fprintf(stderr, "  %-28s %9.2f ms %5.1f%%\n", stage_names[s], stage[s] * 1e3, total > 0 ? 100 * stage[s] / total : 0);
  fprintf(stderr, "  peak RSS %ld KB, cache %d hits / %d misses (%d of them emitted the same code as before); kernels: %d "
          "emitted, %d compiled, %d from the cache (the rest shared)\n",
          rss, hits, misses, same_code, kernels, compiled, kcached);
}

/* Chrome trace-event JSON being written. */
typedef struct Trace {
  FILE *f;
  double t0;
  bool first;
  pthread_t threads[64];
  int nthreads;
} Trace;

/* The trace track (1...) of a worker thread. */
static int trace_tid(Trace *tr, pthread_t th) {
  for (int k = 0; k < tr->nthreads; k++)
    if (pthread_equal(tr->threads[k], th)) return k + 1;
  if (tr->nthreads >= 64) return 64;
  tr->threads[tr->nthreads] = th;
  return ++tr->nthreads;
}

static void trace_event(Trace *tr, const char *name, int tid, double start, double dur) {
  fprintf(tr->f, "%s{\"name\": \"", tr->first ? "" : ",\n");
  for (const char *p = name; *p; p++) fputc(*p == '"' || *p == '\\' || (unsigned char)*p < 32 ? '_' : *p, tr->f);
  fprintf(tr->f, "\", \"cat\": \"tric\", \"ph\": \"X\", \"pid\": 1, \"tid\": %d, \"ts\": %.1f, \"dur\": %.1f}", tid,
          (start - tr->t0) * 1e6, dur * 1e6);
  tr->first = false;
}

/* A task that ran, on the track of its thread, and inside it its stages one after another. */
static void trace_task(Trace *tr, const Task *task, const char *name) {
  if (task->end <= 0) return;
  int tid = trace_tid(tr, task->thread);
  trace_event(tr, name, tid, task->start, task->end - task->start);
  const double times[] = {task->t_ir, task->t_opt, task->t_codegen};
  const int stages[] = {ST_IR, ST_OPT, ST_CODEGEN};
  double s = task->start;
  for (int k = 0; k < 3; k++)
    if (times[k] > 0) {
      trace_event(tr, stage_names[stages[k]], tid, s, times[k]);
      s += times[k];
    }
}

/* Chrome trace-event JSON: one track per thread; an event per task (a module's start,
 * named by its file; each kernel it compiled first; its finish), and inside each an event
 * per stage. */
static void time_trace(Build *b) {
  Trace tr = {.f = fopen(b->o->time_trace, "w"), .t0 = b->t0, .first = true};
  if (!tr.f) {
    fprintf(stderr, "tric: error: cannot write '%s': %s\n", b->o->time_trace, strerror(errno));
    if (EXIT_IO > b->status) b->status = EXIT_IO;
    return;
  }
  fprintf(tr.f, "{\"traceEvents\": [\n");
  for (int i = 0; i < b->nt; i++) {
    Target *t = &b->t[i];
    if (!t->compile || t->failed) continue;
    char name[600];
    trace_task(&tr, &t->start, t->file);
    snprintf(name, sizeof name, "%s finish", t->file);
    trace_task(&tr, &t->finish, name);
  }
  for (int i = 0; i < b->kcap; i++) {
    Kernel *k = b->ktab[i];
    if (!k) continue;
    char name[600];
    snprintf(name, sizeof name, "%s kernel %d", k->task.t->file, k->task.unit);
    trace_task(&tr, &k->task, name);
  }
  fprintf(tr.f, "%s{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 0, \"args\": {\"name\": \"main\"}}",
          tr.first ? "" : ",\n");
  for (int k = 0; k < tr.nthreads; k++)
    fprintf(tr.f, ",\n{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": %d, \"args\": {\"name\": \"worker %d\"}}",
            k + 1, k + 1);
  /* the clock's origin, so that traces of several processes (under one make) line up */
  fprintf(tr.f, "\n], \"otherData\": {\"monotonic_start_us\": %.1f}}\n", b->t0 * 1e6);
  if (fclose(tr.f)) {
    fprintf(stderr, "tric: error: cannot write '%s'\n", b->o->time_trace);
    if (EXIT_IO > b->status) b->status = EXIT_IO;
  }
}

/* ---------------------------------------------------------------- the run */

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
  return st != CA_OPEN_FAILED;
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

static int cmp_obj(const void *a, const void *b) {
  int c = strcmp((*(Target *const *)a)->obj, (*(Target *const *)b)->obj);
  return c ? c : strcmp((*(Target *const *)a)->file, (*(Target *const *)b)->file);
}

/* Adds the targets of one input (a file, or every *.tri under a folder). */
static int add_inputs(Build *b, const char *input, fe_Vec *targets) {
  const Opts *o = b->o;
  fe_Arena *a = b->g.arena;
  struct stat st;
  bool many = o->nfiles > 1;
  if (!stat(input, &st) && S_ISDIR(st.st_mode)) {
    fe_Vec rels = {0};
    find_sources(a, input, "", &rels);
    if (!rels.n) {
      fprintf(stderr, "tric: error: no .tri files under '%s'\n", input);
      return EXIT_IO;
    }
    for (int i = 0; i < rels.n; i++) {
      const char *rel = rels.items[i];
      Target *t = fe_alloc(a, sizeof *t);
      t->file = path_join(a, input, rel);
      t->stem = base_stem(a, rel);
      t->obj = o->out ? path_join(a, o->out, with_ext(a, rel, ".o")) : with_ext(a, t->file, ".o");
      fe_vec_push(a, targets, t);
    }
    return 0;
  }
  Target *t = fe_alloc(a, sizeof *t);
  t->file = input;
  t->stem = base_stem(a, input);
  if (o->out && (many || o->out_dir)) t->obj = path_join(a, o->out, fe_sprintf(a, "%s.o", t->stem));
  else t->obj = o->out ? o->out : fe_sprintf(a, "%s.o", t->stem);
  fe_vec_push(a, targets, t);
  return 0;
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
  bool building = !strcmp(o->cmd, "build");

  /* targets and the module graph */
  fe_Vec targets = {0};
  for (int i = 0; i < o->nfiles && !b->status; i++) b->status = add_inputs(b, o->files[i], &targets);
  if (!b->status && targets.n > 1) { /* two modules writing one object would each overwrite the other */
    Target **by_obj = malloc(sizeof *by_obj * (size_t)targets.n);
    if (!by_obj) abort();
    memcpy(by_obj, targets.items, sizeof *by_obj * (size_t)targets.n);
    qsort(by_obj, (size_t)targets.n, sizeof *by_obj, cmp_obj);
    for (int i = 1; i < targets.n && !b->status; i++)
      if (!strcmp(by_obj[i - 1]->obj, by_obj[i]->obj)) {
        fprintf(stderr, "tric: error: '%s' and '%s' would both write '%s' (outputs are named after the file)\n"
                        "(see tric --help)\n", by_obj[i - 1]->file, by_obj[i]->file, by_obj[i]->obj);
        b->status = EXIT_USAGE;
      }
    free(by_obj);
  }
  if (!b->status && o->mf && targets.n > 1) { /* one file cannot hold several modules' rules */
    fprintf(stderr, "tric: error: -MF names one depfile, but the inputs hold %d modules; -MD writes one beside each object\n"
                    "(see tric --help)\n", targets.n);
    b->status = EXIT_USAGE;
  }
  b->nt = targets.n;
  b->t = calloc((size_t)targets.n + 1, sizeof *b->t);
  if (!b->t) abort();
  for (int i = 0; i < targets.n && !b->status; i++) {
    Target *t = &b->t[i];
    *t = *(Target *)targets.items[i];
    t->b = b;
    t->hdr = with_ext(&arena, t->obj, ".h");
    t->guard = cg_header_guard(&arena, t->file, t->hdr);
    t->ll = with_ext(&arena, t->obj, ".ll");
    t->as = with_ext(&arena, t->obj, ".s");
    t->plan = with_ext(&arena, t->obj, ".plan");
    t->plan_json = with_ext(&arena, t->obj, ".plan.json");
    t->dep = o->mf ? o->mf : with_ext(&arena, t->obj, ".d");
    t->m = graph_load(&b->g, t->file);
    if (!t->m) b->status = b->g.io_error ? EXIT_IO : EXIT_COMPILE;
  }
  if (b->status) {
    fe_diags_print(&diags, stderr, colour);
    goto out;
  }
  for (int i = 0; i < b->nt && o->dump; i++) {
    if (!strcmp(o->dump, "tokens")) {
      int n;
      fe_Diags scratch = {.arena = &arena};
      fe_Token *toks = fe_lex(&arena, &scratch, b->t[i].m->src, &n);
      fe_dump_tokens(stdout, toks, n);
      free(toks);
    } else if (!strcmp(o->dump, "ast")) fe_dump_ast(stdout, b->t[i].m->ast);
  }

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
  if (b->cache_on) b->opts = options_key(o);
  int misses = 0;
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
    bool complete = t->got == CA_HIT;
    for (int s = 1; complete && s < CA_NSECTIONS; s++) {
      static const unsigned need[CA_NSECTIONS] = {0, CG_EMIT_OBJ, CG_EMIT_HEADER, CG_EMIT_LLVM_IR, CG_EMIT_ASM};
      if ((o->emit & need[s]) && !e.data[s]) complete = false;
    }
    if (complete) {
      t->from_cache = true;
      t->compile = false;
      if (e.data[CA_DIAG]) fputs(e.data[CA_DIAG], stderr); /* its warnings, as when it was compiled */
      graph_warn_no_export(&b->g, t->m);
      fe_diags_print_from(&diags, printed ? printed->next : diags.first, stderr, colour);
      printed = diags.last;
      if (t->m->failed) { /* -Werror, and no module of this run imports it */
        ca_entry_free(&e);
        fail_target(b, t);
        continue;
      }
      if (o->explain) fprintf(stderr, "tric: explain: %s: reused from the cache\n", t->file);
      if (write_outputs(b, t, (const void *const *)e.data, e.len)) b->status = EXIT_IO, t->failed = true, b->failed++;
      else b->cached++;
      progress(b, t, "cached");
    } else {
      if (t->got == CA_HIT) t->got = CA_MISS;
      misses++;
      t->man = fe_alloc(b->g.arena, sizeof *t->man);
      make_manifest(b, t, &b->opts, t->man);
      if (o->explain) {
        char buf[256];
        const char *what = stopped ? "not built (a module failed and -k was not given)" : "rebuilt";
        fprintf(stderr, "tric: explain: %s: %s: %s\n", t->file, what, miss_reason(b, t, buf, sizeof buf));
      }
    }
    if (t->got == CA_HIT) ca_entry_free(&e);
  }

  /* Check the graph module by module, dependencies first; a target's compile is queued on
     the thread pool as soon as its module is checked, while the loop thread goes on
     checking, and completions (writes, cache stores, progress) are handled in between. */
  bool need_check = misses || !building || (o->dump && diags.nerrors == 0);
  int ncompile = 0;
  bool pool = false;
  b->hi_tail = &b->hi;
  b->lo_tail = &b->lo;
  for (int mi = 0; need_check && mi < b->g.modules.n; mi++) {
    Module *m = b->g.modules.items[mi];
    graph_check_one(&b->g, m);
    Target *mt = NULL; /* m's target, if it has one */
    for (int i = 0; i < b->nt && !mt; i++)
      if (b->t[i].m == m) mt = &b->t[i];
    if (diags.last != printed) { /* this module's diagnostics, whole; a module from the cache showed its own */
      const fe_Diag *from = printed ? printed->next : diags.first;
      if (mt && mt->compile && b->cache_on && !m->failed) mt->diag_text = render_diags(&diags, from);
      if (!mt || !mt->from_cache) fe_diags_print_from(&diags, from, stderr, colour);
      printed = diags.last;
    }
    if (m->check_clean && !(mt && mt->from_cache)) {
      graph_warn_no_export(&b->g, m);
      fe_diags_print_from(&diags, printed ? printed->next : diags.first, stderr, colour);
      printed = diags.last;
    }
    for (int i = 0; i < b->nt; i++) {
      Target *t = &b->t[i];
      if (t->m != m || t->failed) continue;
      if (m->failed) {
        fail_target(b, t);
        continue;
      }
      if (o->dump && !strcmp(o->dump, "types")) tc_dump_types(stdout, m->funcs, m->nfuncs, &arena);
      if (o->dump && !strcmp(o->dump, "ir")) tc_dump_ir(stdout, m->funcs, m->nfuncs, &arena);
      if (!t->compile || (b->status && !o->keep_going)) { /* without --keep-going nothing more is built */
        if (t->compile && o->explain) fprintf(stderr, "tric: explain: %s: not built: a module failed and -k was not given\n", t->file);
        t->compile = false;
        continue;
      }
      if (!pool) {
        int jobs = o->jobs;
        if (jobs <= 0) {
          const char *e = getenv("TRIC_JOBS");
          jobs = e && atoi(e) > 0 ? atoi(e) : (int)uv_available_parallelism();
        }
        if (jobs < 1) jobs = 1;
        if (jobs > 1024) jobs = 1024; /* libuv's limit */
        b->jobs = jobs;
        b->machines = calloc((size_t)(2 * jobs), sizeof *b->machines); /* pump() keeps <= 2 * jobs in flight */
        if (!b->machines) abort();
        char n[16];
        snprintf(n, sizeof n, "%d", jobs);
        setenv("UV_THREADPOOL_SIZE", n, 1); /* read by libuv when its pool starts */
        cg_init();
        uv_loop_init(&b->loop);
        if (o->js) js_start(o->js, &b->loop, on_token, b);
        pool = true;
      }
      t->queued = true;
      enqueue(b, &t->start, TASK_START, t, false);
      pump(b);
      ncompile++;
    }
    if (pool) uv_run(&b->loop, UV_RUN_NOWAIT);
  }
  if (building && b->status && !o->keep_going)
    for (int i = 0; i < b->nt; i++)
      if (!b->t[i].queued) b->t[i].compile = false;
  if (pool) {
    uv_run(&b->loop, UV_RUN_DEFAULT);
    if (o->js) {
      js_stop(o->js);
      uv_run(&b->loop, UV_RUN_NOWAIT); /* closes the jobserver's watch */
    }
    uv_loop_close(&b->loop);
    for (int i = 0; i < b->nmachines; i++) cg_machines_free(b->machines[i]);
    free(b->machines);
    cg_shutdown();
  }
  if (b->cache_on) ca_maybe_prune(&b->cache);
  double wall = now_seconds() - b->t0;
  if (building && (b->nt > 1 || o->verbose)) {
    int skipped = b->nt - b->built - b->cached - b->failed; /* not started after a failure */
    fprintf(stderr, "tric: %d module%s: %d built, %d from cache, %d failed", b->nt, b->nt == 1 ? "" : "s", b->built,
            b->cached, b->failed);
    if (skipped > 0) fprintf(stderr, ", %d not built", skipped);
    fprintf(stderr, ", %.1f ms\n", wall * 1e3);
  }
  if (o->explain && building)
    fprintf(stderr, "tric: explain: LLVM was %s\n",
            ncompile ? "started" : b->cached == b->nt ? "not started (everything came from the cache)" : "not started");
  if (o->time_report) time_report(b, wall);
  if (o->time_trace) time_trace(b);
out:;
  fflush(stderr);
  int status = b->status;
  for (int i = 0; i < b->kcap; i++)
    if (b->ktab[i]) cg_unit_free(&b->ktab[i]->code), free(b->ktab[i]->err);
  free(b->ktab);
  for (int i = 0; i < b->nt; i++) free(b->t[i].diag_text); /* of targets never compiled (a failure, no -k) */
  free(b->t);
  free(b);
  fe_arena_free(&arena);
  return status;
}
