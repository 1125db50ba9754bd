/* compile.c - the steps of a module's compile, and what the loop thread does after each.
 *
 * A module compiles in steps on the pool: start (emit the module), each of its kernels
 * that no module of this build has compiled yet (a kernel met again waits for, or reuses,
 * the first compile of its key: kernels.c), and finish (compile the exported functions
 * and join them with the kernels into the outputs). A step's worker fills only its own
 * target's (or kernel's) results; the loop thread queues each step when what it needs has
 * ended, looks kernels and code up in the cache, and writes a module's outputs, stores its
 * entry and prints its progress when its last step ends.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd/build.h"

static void compile_done(Target *t);
static void finish_work(Target *t, cg_Machines *m);

static void start_work(Target *t, cg_Machines *m) {
  const Opts *o = t->b->o;
  unsigned cgemit = o->emit & (CG_EMIT_OBJ | CG_EMIT_LLVM_IR | CG_EMIT_ASM);
  if (o->emit & CG_EMIT_PLAN) t->plan_text = cg_plan_text(t->m->funcs, t->m->nfuncs, &o->cg, &t->arena, false);
  if (o->emit & CG_EMIT_PLAN_JSON) t->plan_json_text = cg_plan_text(t->m->funcs, t->m->nfuncs, &o->cg, &t->arena, true);
  if (o->emit & CG_EMIT_HEADER) t->header = cg_header(t->stem, t->guard, t->m->funcs, t->m->nfuncs, &t->arena);
  double t0 = now_seconds();
  if (cgemit) t->status = cg_start(t->stem, t->m->funcs, t->m->nfuncs, &o->cg, cgemit, m, &t->job, &t->nunits, &t->err);
  if (t->status) t->job = NULL;
  if (t->job && t->nunits) { /* the kernel table's keys, here rather than on the loop thread */
    t->ukeys = malloc(sizeof *t->ukeys * (size_t)t->nunits);
    if (!t->ukeys) abort();
    for (int u = 0; u < t->nunits; u++) t->ukeys[u] = kernel_key(&t->b->tool, t->job, u);
  }
  t->start.t_ir = now_seconds() - t0;
  if (t->job && !t->nunits) { /* no kernels to wait for: all of it in this task */
    finish_work(t, m);
    t->start.t_opt = t->finish.t_opt, t->start.t_codegen = t->finish.t_codegen;
  }
}

static void finish_work(Target *t, cg_Machines *m) {
  if ((t->status = cg_finish(t->job, t->units, m, &t->res, &t->err))) memset(&t->res, 0, sizeof t->res);
  t->job = NULL;
  t->finish.t_opt = t->res.t_opt;
  t->finish.t_codegen = t->res.t_codegen;
}

void compile_step(Task *task) {
  if (task->kind == TASK_START) start_work(task->t, task->mach);
  else if (task->kind == TASK_UNIT) task->status = cg_run_unit(task->t->job, task->unit, task->mach, task->out, &task->err);
  else finish_work(task->t, task->mach);
}

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) abort();
  return d;
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
  if (!b->cache_on || !code_key(&b->tool, t->job, t->nunits, t->ukeys, &t->code_key)) return false;
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
    bool made;
    Kernel *k = t->kern[u] = kernel_for(b, &t->ukeys[u], &made);
    if (made && kernel_from_cache(b, k)) t->units[u] = &k->code;
    else if (k->done) t->units[u] = &k->code;
    else if (k->err) {
      if (!t->err) t->err = xstrdup(k->err), t->status = k->status;
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
  k->status = task->status;
  task->err = NULL;
  k->done = !k->err;
  if (k->done && b->cache_on) kernel_store(b, k, t); /* for later builds */
  fe_Vec waiters = k->waiters;
  k->waiters = (fe_Vec){0};
  for (int i = 0; i < waiters.n; i++) {
    Target *w = waiters.items[i];
    if (k->err && !w->err) w->err = xstrdup(k->err), w->status = k->status;
    for (int u = 0; !k->err && u < w->nunits; u++)
      if (w->kern[u] == k && !w->units[u]) {
        w->units[u] = &k->code;
        break;
      }
    unit_settled(b, w);
  }
}

static void compile_done(Target *t) {
  Build *b = t->b;
  t->stage[ST_IR] += t->res.t_ir;
  t->stage[ST_OPT] += t->res.t_opt;
  t->stage[ST_CODEGEN] += t->res.t_codegen;
  t->nkernels = t->res.nkernels;
  free(t->units), free(t->kern), free(t->ukeys);
  t->units = NULL, t->kern = NULL, t->ukeys = NULL;
  if (t->err) {
    fprintf(stderr, "tric: error: %s: %s\n", t->file, t->err);
    int s = exit_for(t->status ? t->status : CG_ERR_INTERNAL); /* a message always comes with a status */
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

void compile_step_done(Build *b, Task *task) {
  if (task->kind == TASK_START) start_done(b, task->t);
  else if (task->kind == TASK_UNIT) unit_done(b, task);
  else compile_done(task->t);
}
