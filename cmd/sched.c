/* sched.c - the pool: a build's compile tasks on libuv's worker threads.
 *
 * At most a few more tasks than -j are handed to libuv at once; the others wait in two
 * queues, the steps of modules already started (hi) before new modules (lo), so that a
 * started module finishes, and frees its memory, before more are started. Under make's
 * jobserver a task runs only with a job slot. Workers run a task's step and nothing
 * else; the loop thread alone touches the queues (compile.c says what each step does).
 */
#include <stdlib.h>
#include <string.h>

#include "cmd/build.h"

static void task_work(uv_work_t *w);
static void task_done(uv_work_t *w, int status);

void enqueue(Build *b, Task *task, int kind, Target *t, bool urgent) {
  task->kind = kind;
  task->t = t;
  task->work.data = task;
  task->next = NULL;
  Task ***tail = urgent ? &b->hi_tail : &b->lo_tail;
  **tail = task;
  *tail = &task->next;
  b->nwaiting++;
}

/* A few more tasks than workers wait in libuv's queue, so that a worker that ends one
   starts the next without waiting for the loop thread. Under make's jobserver a task is
   queued only with a job slot for it (the implicit one, or a token from make): the loop
   asks for a token per waiting task that -j leaves room for, hands a finished task's
   token to the next, and gives back those no task needs. */
void pump(Build *b) {
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

static void task_work(uv_work_t *w) {
  Task *task = w->data;
  task->thread = pthread_self();
  task->start = now_seconds();
  compile_step(task);
  task->end = now_seconds();
}

static void task_done(uv_work_t *w, int status) {
  Task *task = w->data;
  Build *b = task->t->b;
  (void)status;
  b->inflight--;
  b->machines[b->nmachines++] = task->mach;
  task->mach = NULL;
  compile_step_done(b, task);
  pump(b);
}

void pool_open(Build *b) {
  if (b->pool) return;
  int jobs = b->o->jobs;
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
  if (b->o->js) js_start(b->o->js, &b->loop, on_token, b);
  b->pool = true;
}

void pool_close(Build *b) {
  if (!b->pool) return;
  uv_run(&b->loop, UV_RUN_DEFAULT);
  if (b->o->js) {
    js_stop(b->o->js);
    uv_run(&b->loop, UV_RUN_NOWAIT); /* closes the jobserver's watch */
  }
  uv_loop_close(&b->loop);
  for (int i = 0; i < b->nmachines; i++) cg_machines_free(b->machines[i]);
  free(b->machines);
  cg_shutdown();
  b->pool = false;
}
