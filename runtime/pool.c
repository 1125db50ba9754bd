/* pool.c - libtricrt.a's thread pool: tricrt_parallel_for runs the chunks of a generated
 * kernel's parallel loop on worker threads (ABI and promises in tricrt_pool.h).
 *
 * One job at a time: a caller takes the pool with an atomic exchange on `busy`, posts its
 * job, works on it as worker 0 and waits for the workers that joined. A caller that finds
 * the pool busy (another user thread's loop, or a nested call from inside a task) runs its
 * loop itself, so nothing ever waits for the pool and nothing deadlocks. Chunks are claimed
 * from an atomic counter, a few per worker, which balances a machine shared with other
 * processes. Workers start on demand (none before the first loop that needs one), sleep
 * on a condition variable between jobs, are forgotten in a fork()ed child (which starts
 * its own) and are stopped and joined by a destructor at exit or dlclose. All mutable
 * state is the one Pool below.
 */
#include "runtime/tricrt_pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum {
  MAX_THREADS = 1024,     /* cap of TRIC_NUM_THREADS, set_num_threads and the CPU count */
  CHUNKS_PER_WORKER = 4,  /* chunks per worker when the grain allows: load balance */
};

/* The loop being run: written under the lock before the job is posted, then read-only
 * until its last worker has left. */
typedef struct Job {
  tricrt_task_fn *fn;
  void *ctx;
  int64_t n, nchunks;
  atomic_int_fast64_t next; /* the next chunk to claim */
} Job;

/* The pool, the library's only mutable state. `lock` guards every field but the atomics;
 * a worker reads `job` only between joining it and leaving it. */
typedef struct Pool {
  pthread_mutex_t lock;
  pthread_cond_t wake;             /* workers: a job was posted, or stop */
  pthread_cond_t done;             /* the caller: the job's last worker left */
  pthread_t threads[MAX_THREADS];  /* the workers started, nthreads of them */
  int32_t nthreads;
  bool handlers;                   /* pthread_atfork done (at the first start) */
  bool stopping;                   /* at exit: workers leave, later loops run serially */
  uint64_t generation;             /* bumped by each posted job */
  int32_t slots, joined, running;  /* the job's helpers: wanted, joined, still working */
  bool closed;                     /* the caller is done claiming: nobody else joins */
  Job job;
  atomic_bool busy;                /* a caller owns the pool's workers */
  atomic_int requested;            /* tricrt_set_num_threads' count, 0 = the default */
  pthread_once_t once;             /* default_threads computed */
  int32_t default_threads;
} Pool;

static Pool pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .closed = true,
    .once = PTHREAD_ONCE_INIT,
};

/* ---------------------------------------------------------------- thread count */

/* The CPUs this process may run on (its affinity mask), else the online CPUs; 1..MAX. */
static int32_t cpu_count(void) {
  /* grow the mask until the kernel's fits: sched_getaffinity fails with EINVAL if smaller */
  for (int ncpu = 1024; ncpu <= (1 << 20); ncpu *= 2) {
    cpu_set_t *set = CPU_ALLOC((size_t)ncpu);
    if (!set) break;
    size_t size = CPU_ALLOC_SIZE((size_t)ncpu);
    CPU_ZERO_S(size, set);
    int rc = sched_getaffinity(0, size, set), count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    int err = errno;
    CPU_FREE(set);
    if (count > 0) return count < MAX_THREADS ? count : MAX_THREADS;
    if (rc == 0 || err != EINVAL) break;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int32_t)n;
}

/* The count s spells (decimal digits only, capped at MAX_THREADS), or 0 if it is no
 * positive integer or overflows an int32_t. */
static int32_t parse_count(const char *s) {
  int64_t v = 0;
  if (!*s) return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    v = v * 10 + (*s - '0');
    if (v > INT32_MAX) return 0;
  }
  return v > MAX_THREADS ? MAX_THREADS : (int32_t)v;
}

/* pthread_once body: TRIC_NUM_THREADS if valid (one warning line if set but invalid),
 * else the CPU count. */
static void init_default(void) {
  const char *env = getenv("TRIC_NUM_THREADS");
  int32_t n = env ? parse_count(env) : 0;
  if (env && n == 0)
    fprintf(stderr, "tricrt: ignoring TRIC_NUM_THREADS='%.100s': not a positive integer\n", env);
  pool.default_threads = n > 0 ? n : cpu_count();
}

/* The default thread count, computed once. */
static int32_t default_threads(void) {
  pthread_once(&pool.once, init_default);
  return pool.default_threads;
}

int32_t tricrt_get_num_threads(void) {
  int32_t n = atomic_load(&pool.requested);
  return n > 0 ? n : default_threads();
}

int32_t tricrt_set_num_threads(int32_t n) {
  int32_t old = atomic_exchange(&pool.requested, n <= 0 ? 0 : n > MAX_THREADS ? MAX_THREADS : n);
  return old > 0 ? old : default_threads();
}

/* ---------------------------------------------------------------- workers */

/* Claims and runs chunks of job as worker id until none is left. */
static void run_chunks(Job *job, int32_t id) {
  int64_t q = job->n / job->nchunks, r = job->n % job->nchunks;
  for (;;) {
    int64_t c = atomic_fetch_add(&job->next, 1);
    if (c >= job->nchunks) return;
    /* near-equal chunks: the first r have q + 1 items */
    int64_t lo = c * q + (c < r ? c : r), hi = lo + q + (c < r);
    job->fn(job->ctx, lo, hi, id);
  }
}

/* A worker: joins each posted job that still has a free slot, sleeps otherwise. */
static void *worker_main(void *arg) {
  (void)arg;
  uint64_t seen = 0; /* the last generation looked at; 0 joins a job open at start */
  pthread_mutex_lock(&pool.lock);
  for (;;) {
    while (!pool.stopping && pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    if (pool.stopping) break;
    seen = pool.generation;
    if (pool.closed || pool.joined >= pool.slots) continue;
    int32_t id = ++pool.joined;
    pool.running++;
    pthread_mutex_unlock(&pool.lock);
    run_chunks(&pool.job, id);
    pthread_mutex_lock(&pool.lock);
    if (--pool.running == 0 && pool.closed) pthread_cond_signal(&pool.done);
  }
  pthread_mutex_unlock(&pool.lock);
  return NULL;
}

/* fork() handlers: the lock is held across the fork, so the child's copy is consistent. */
static void before_fork(void) { pthread_mutex_lock(&pool.lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&pool.lock); }

/* In the child only the forking thread exists: the pool has no workers and no job. */
static void after_fork_child(void) {
  pthread_cond_init(&pool.wake, NULL);
  pthread_cond_init(&pool.done, NULL);
  pool.nthreads = 0;
  pool.slots = pool.joined = pool.running = 0;
  pool.closed = true;
  atomic_store(&pool.busy, false);
  pthread_mutex_unlock(&pool.lock);
}

/* Starts workers (lock held) until `want` exist; returns how many there are, at most want
 * (fewer if pthread_create fails; 0 once stopping). Workers block all signals, which
 * stay the program's threads' business, and are named tricrt-worker. */
static int32_t start_workers(int32_t want) {
  if (pool.stopping) return 0;
  if (!pool.handlers && pool.nthreads < want) {
    if (pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0) return 0;
    pool.handlers = true;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  while (pool.nthreads < want &&
         pthread_create(&pool.threads[pool.nthreads], NULL, worker_main, NULL) == 0)
    /* named here rather than by the worker, so the name is there as soon as it exists */
    pthread_setname_np(pool.threads[pool.nthreads++], "tricrt-worker"); /* for ps, top, gdb */
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return pool.nthreads < want ? pool.nthreads : want;
}

/* At exit (or dlclose of a library holding this archive): stops and joins the workers; a
 * loop still running finishes first (a joined worker leaves only when no chunk is left). */
__attribute__((destructor)) static void stop_pool(void) {
  pthread_mutex_lock(&pool.lock);
  pool.stopping = true;
  int32_t n = pool.nthreads;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);
  for (int32_t i = 0; i < n; i++) pthread_join(pool.threads[i], NULL);
  pthread_mutex_lock(&pool.lock);
  pool.nthreads = 0;
  pthread_mutex_unlock(&pool.lock);
}

/* ---------------------------------------------------------------- parallel_for */

void tricrt_parallel_for(tricrt_task_fn *fn, void *ctx, int64_t n, int64_t grain, int32_t max_workers) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t pieces = n / grain; /* the most chunks of at least grain items */
  int32_t workers = tricrt_get_num_threads();
  if (max_workers > 0 && max_workers < workers) workers = max_workers;
  if (pieces < workers) workers = (int32_t)pieces;
  if (workers <= 1 || atomic_exchange(&pool.busy, true)) {
    fn(ctx, 0, n, 0);
    return;
  }
  pthread_mutex_lock(&pool.lock);
  int32_t helpers = start_workers(workers - 1);
  if (helpers == 0) {
    pthread_mutex_unlock(&pool.lock);
    atomic_store(&pool.busy, false);
    fn(ctx, 0, n, 0);
    return;
  }
  int64_t most = (int64_t)(helpers + 1) * CHUNKS_PER_WORKER;
  pool.job.fn = fn;
  pool.job.ctx = ctx;
  pool.job.n = n;
  pool.job.nchunks = pieces < most ? pieces : most;
  atomic_store(&pool.job.next, 0);
  pool.slots = helpers;
  pool.joined = pool.running = 0;
  pool.closed = false;
  pool.generation++;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);

  run_chunks(&pool.job, 0);

  pthread_mutex_lock(&pool.lock);
  pool.closed = true;
  while (pool.running > 0) pthread_cond_wait(&pool.done, &pool.lock);
  pthread_mutex_unlock(&pool.lock);
  atomic_store(&pool.busy, false);
}
