/* pool_test.c - unit tests of libtricrt.a's thread pool (runtime/tricrt_pool.h), linked
 * against the archive: every index runs exactly once with worker ids in range and never
 * shared by two chunks at once; loops really run on several threads; concurrent user
 * threads and nested calls; TRIC_NUM_THREADS (the binary re-runs itself with
 * --print-threads); idle workers sleep; a fork()ed child runs loops; workers start only
 * when needed and are joined at exit (--lifecycle, counted in /proc); the header compiles
 * as C and C++; the archive defines only tricrt_ symbols. Prints one "ok"/"FAIL"/"skip"
 * line per check and exits 1 on any failure (a skip is not counted as passed).
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "runtime/tricrt_pool.h"

enum { MAX_IDS = 64 };

typedef struct Tally {
  int passed, failed, skipped;
} Tally;

/* Records one check. */
static void expect(Tally *t, bool ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (ok) t->passed++;
  else t->failed++;
}

/* Records a check that could not run. */
static void skip(Tally *t, const char *what) {
  printf("skip %s\n", what);
  t->skipped++;
}

/* Sleeps ms milliseconds. */
static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {}
}

/* ---------------------------------------------------------------- coverage */

/* What a coverage loop saw: hits per index, and anything out of order. */
typedef struct Cover {
  atomic_int *hits;
  int64_t n, grain;
  int32_t limit;               /* worker ids must be below it */
  atomic_int inuse[MAX_IDS];   /* a chunk with this id is running */
  atomic_bool bad_id, overlap, bad_chunk;
} Cover;

/* Task: counts each index of [lo, hi), checking the chunk and its worker id. */
static void cover_task(void *ctx, int64_t lo, int64_t hi, int32_t w) {
  Cover *c = ctx;
  bool whole = lo == 0 && hi == c->n;
  if (lo < 0 || hi > c->n || lo >= hi || (hi - lo < c->grain && !whole)) atomic_store(&c->bad_chunk, true);
  if (w < 0 || w >= c->limit || w >= MAX_IDS) {
    atomic_store(&c->bad_id, true);
    w = -1;
  }
  if (w >= 0 && atomic_exchange(&c->inuse[w], 1)) atomic_store(&c->overlap, true);
  for (int64_t i = lo < 0 ? 0 : lo; i < hi && i < c->n; i++) atomic_fetch_add(&c->hits[i], 1);
  if (w >= 0) atomic_store(&c->inuse[w], 0);
}

/* Runs one coverage loop; true when every index ran once, ids and chunks were fine. */
static bool cover(int64_t n, int64_t grain, int32_t max_workers) {
  Cover *c = calloc(1, sizeof *c);
  c->hits = calloc((size_t)n + 1, sizeof *c->hits);
  c->n = n;
  c->grain = grain;
  c->limit = max_workers > 0 ? max_workers : tricrt_get_num_threads();
  tricrt_parallel_for(cover_task, c, n, grain, max_workers);
  bool ok = !c->bad_id && !c->overlap && !c->bad_chunk;
  for (int64_t i = 0; i < n; i++) ok &= c->hits[i] == 1;
  if (!ok)
    printf("     n=%lld grain=%lld max_workers=%d threads=%d:%s%s%s%s\n", (long long)n,
           (long long)grain, max_workers, tricrt_get_num_threads(), c->bad_id ? " id out of range" : "",
           c->overlap ? " two chunks at once with one id" : "", c->bad_chunk ? " bad chunk" : "",
           !c->bad_id && !c->overlap && !c->bad_chunk ? " an index not run exactly once" : "");
  free(c->hits);
  free(c);
  return ok;
}

static void test_coverage(Tally *t) {
  static const int64_t ns[] = {0, 1, 7, 13, 1000, 100003}, grains[] = {1, 3, 64};
  static const int32_t counts[] = {1, 2, 3, 7};
  char what[200];
  for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
    int32_t th = counts[k];
    int32_t mws[] = {0, th, (th + 1) / 2, 1, th + 2};
    tricrt_set_num_threads(th);
    bool ok = tricrt_get_num_threads() == th;
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
      for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
        for (size_t m = 0; m < sizeof mws / sizeof *mws; m++) ok &= cover(ns[i], grains[g], mws[m]);
    snprintf(what, sizeof what,
             "%d thread(s): every index of [0,n) runs once, ids below max_workers and never two "
             "chunks at once with one id, chunks >= grain (n 0..100003, grain 1/3/64, max_workers "
             "0/%d/%d/1/%d)", th, th, (th + 1) / 2, th + 2);
    expect(t, ok, what);
  }
  tricrt_set_num_threads(0);
}

/* ---------------------------------------------------------------- parallelism */

/* Which thread ran each index of a loop of slow chunks. */
typedef struct Who {
  pthread_t thread[64];
  int64_t n;
  int32_t limit;
  atomic_int inuse[MAX_IDS];
  atomic_bool bad_id;   /* out of range, or two chunks at once with one id */
} Who;

/* Task: records the thread and takes 40 ms per chunk, long enough for a sleeping worker
 * to wake even on a loaded machine, and for chunks to overlap in time. */
static void who_task(void *ctx, int64_t lo, int64_t hi, int32_t w) {
  Who *who = ctx;
  bool in_range = w >= 0 && w < who->limit && w < MAX_IDS;
  if (!in_range || atomic_exchange(&who->inuse[w], 1)) atomic_store(&who->bad_id, true);
  for (int64_t i = lo; i < hi; i++) who->thread[i] = pthread_self();
  sleep_ms(40);
  if (in_range) atomic_store(&who->inuse[w], 0);
}

/* The number of distinct threads that ran a loop of n slow chunks, -1 if a worker id
 * was out of range or held by two chunks at once. */
static int distinct_threads(int64_t n, int32_t max_workers) {
  Who who = {.n = n, .limit = max_workers > 0 ? max_workers : tricrt_get_num_threads()};
  tricrt_parallel_for(who_task, &who, n, 1, max_workers);
  if (who.bad_id) return -1;
  int distinct = 0;
  for (int64_t i = 0; i < n; i++) {
    bool seen = false;
    for (int64_t j = 0; j < i; j++) seen |= pthread_equal(who.thread[i], who.thread[j]) != 0;
    distinct += !seen;
  }
  return distinct;
}

static void test_parallelism(Tally *t) {
  tricrt_set_num_threads(2);
  int two = distinct_threads(8, 0);
  tricrt_set_num_threads(7);
  int seven = distinct_threads(16, 0), capped = distinct_threads(16, 1), four = distinct_threads(16, 4);
  tricrt_set_num_threads(0);
  char what[200];
  snprintf(what, sizeof what, "2 threads set: a loop of 8 slow chunks runs on 2 threads (%d)", two);
  expect(t, two == 2, what);
  snprintf(what, sizeof what, "7 threads set: a loop of 16 slow chunks runs on 2..7 threads (%d)", seven);
  expect(t, seven >= 2 && seven <= 7, what);
  snprintf(what, sizeof what, "max_workers 1: the loop runs on the caller alone (%d)", capped);
  expect(t, capped == 1, what);
  snprintf(what, sizeof what, "7 threads, max_workers 4: 2..4 threads (%d), ids below 4", four);
  expect(t, four >= 2 && four <= 4, what);
  expect(t, seven > 0 && four > 0, "chunks that overlap in time (40 ms each) never share a worker id");
}

/* ---------------------------------------------------------------- several callers, nesting */

/* A user thread's result: every one of its loops was correct. */
typedef struct Caller {
  int id;
  bool ok;
} Caller;

/* Thread body: 60 coverage loops of varying sizes. */
static void *caller_main(void *arg) {
  Caller *c = arg;
  c->ok = true;
  for (int i = 0; i < 60; i++) c->ok &= cover(1000 + 37 * i + c->id, 1 + i % 5, i % 3 == 0 ? 0 : 2);
  return NULL;
}

/* Task: each index runs an inner parallel loop over a row of 100. */
static void nested_task(void *ctx, int64_t lo, int64_t hi, int32_t w) {
  atomic_int *hits = ctx;
  (void)w;
  for (int64_t i = lo; i < hi; i++) {
    Cover *c = calloc(1, sizeof *c);
    c->hits = hits + i * 100;
    c->n = 100;
    c->grain = 1;
    c->limit = tricrt_get_num_threads();
    tricrt_parallel_for(cover_task, c, 100, 1, 0);
    if (c->bad_id || c->overlap || c->bad_chunk) atomic_fetch_add(&hits[800], 1);
    free(c);
  }
}

static void test_callers(Tally *t) {
  tricrt_set_num_threads(3);
  Caller callers[4];
  pthread_t threads[4];
  for (int i = 0; i < 4; i++) {
    callers[i].id = i;
    if (pthread_create(&threads[i], NULL, caller_main, &callers[i]) != 0) abort();
  }
  bool ok = true;
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    ok &= callers[i].ok;
  }
  expect(t, ok, "4 user threads, 60 loops each at once: every loop covers its range once with ids in range");

  atomic_int *hits = calloc(801, sizeof *hits);
  tricrt_parallel_for(nested_task, hits, 8, 1, 0);
  bool nested = hits[800] == 0;
  for (int i = 0; i < 800; i++) nested &= hits[i] == 1;
  free(hits);
  expect(t, nested, "a parallel loop inside a task completes and covers its range once");
  tricrt_set_num_threads(0);
}

/* ---------------------------------------------------------------- TRIC_NUM_THREADS */

/* The CPUs of this process's affinity mask (the library's default on this machine). */
static int affinity_cpus(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  return CPU_COUNT(&set);
}

/* Reads fd to its end into buf (NUL-terminated). */
static void read_all(int fd, char *buf, size_t cap) {
  size_t len = 0;
  ssize_t r;
  while (len + 1 < cap && (r = read(fd, buf + len, cap - 1 - len)) > 0) len += (size_t)r;
  buf[len] = 0;
  close(fd);
}

/* Runs this binary with --print-threads and TRIC_NUM_THREADS=value (unset if NULL), on
 * one CPU if one_cpu; returns its exit status, stdout and stderr. */
static int run_self(const char *value, bool one_cpu, char *out, char *err, size_t cap) {
  int po[2], pe[2];
  if (pipe(po) != 0 || pipe(pe) != 0) abort();
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
    dup2(po[1], 1);
    dup2(pe[1], 2);
    close(po[0]);
    close(pe[0]);
    if (value) setenv("TRIC_NUM_THREADS", value, 1);
    else unsetenv("TRIC_NUM_THREADS");
    cpu_set_t set;
    CPU_ZERO(&set);
    if (one_cpu && (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 1)) _exit(126);
    for (int c = 0, kept = 0; one_cpu && c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set) && kept++) CPU_CLR(c, &set);
    if (one_cpu && sched_setaffinity(0, sizeof set, &set) != 0) _exit(126);
    execl("/proc/self/exe", "pool_test", "--print-threads", (char *)NULL);
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  read_all(po[0], out, cap);
  read_all(pe[0], err, cap);
  int status;
  waitpid(pid, &status, 0);
  return status;
}

static void test_env(Tally *t) {
  int cpus = affinity_cpus();
  static const struct {
    const char *value;
    int want; /* 0: the default */
    bool warns;
  } cases[] = {
      {"3", 3, false},  {NULL, 0, false}, {"abc", 0, true}, {"0", 0, true}, {"", 0, true},
      {"-2", 0, true},  {"4x", 0, true},  {"99999999999999999999", 0, true}, {"5000", 1024, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char out[512], err[512], want_out[64], want_err[256], what[300];
    int status = run_self(cases[i].value, false, out, err, sizeof out);
    int want = cases[i].want ? cases[i].want : cpus;
    snprintf(want_out, sizeof want_out, "%d %d\n", want, want);
    if (cases[i].warns)
      snprintf(want_err, sizeof want_err,
               "tricrt: ignoring TRIC_NUM_THREADS='%s': not a positive integer\n", cases[i].value);
    else want_err[0] = 0;
    bool ok = cpus >= 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
              strcmp(out, want_out) == 0 && strcmp(err, want_err) == 0;
    snprintf(what, sizeof what, "TRIC_NUM_THREADS%s%s%s: get_num_threads is %d, twice%s", cases[i].value ? "='" : " unset",
             cases[i].value ? cases[i].value : "", cases[i].value ? "'" : "", want,
             cases[i].warns ? ", one stderr line" : ", nothing on stderr");
    expect(t, ok, what);
    if (!ok) printf("     got stdout '%s' stderr '%s' status %d\n", out, err, status);
  }
  char out[512], err[512];
  int status = run_self(NULL, true, out, err, sizeof out);
  expect(t, WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(out, "1 1\n") == 0 && !*err,
         "TRIC_NUM_THREADS unset, affinity mask of one CPU: get_num_threads is 1 (not the online CPUs)");
}

static void test_set_get(Tally *t) {
  int cpus = affinity_cpus();
  tricrt_set_num_threads(0);
  bool ok = tricrt_get_num_threads() == cpus;
  ok &= tricrt_set_num_threads(5) == cpus && tricrt_get_num_threads() == 5;
  ok &= tricrt_set_num_threads(2) == 5 && tricrt_get_num_threads() == 2;
  ok &= tricrt_set_num_threads(-4) == 2 && tricrt_get_num_threads() == cpus;
  expect(t, ok, "set_num_threads returns the previous count; get follows it; n <= 0 restores the default");
}

/* ---------------------------------------------------------------- idle, fork */

/* The process's CPU time in milliseconds. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_idle(Tally *t) {
  tricrt_set_num_threads(7);
  bool started = distinct_threads(16, 0) >= 2 && cover(100003, 1, 0);
  double before = cpu_ms();
  sleep_ms(300);
  double used = cpu_ms() - before;
  tricrt_set_num_threads(0);
  char what[200];
  snprintf(what, sizeof what, "7 workers idle for 300 ms use %.1f ms of CPU (< 60)", used);
  expect(t, started && used < 60, what);
}

static void test_fork(Tally *t) {
  tricrt_set_num_threads(2);
  bool started = distinct_threads(4, 0) == 2;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
    alarm(20);
    /* the parent's workers do not exist here: the child must start its own */
    int threads = distinct_threads(8, 0);
    bool ok = cover(100003, 3, 0) && cover(1000, 1, 2);
    _exit(!ok ? 1 : threads != 2 ? 2 : 0);
  }
  int status;
  waitpid(pid, &status, 0);
  tricrt_set_num_threads(0);
  bool ok = started && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  expect(t, ok, "after a parallel loop, a fork()ed child's loops are correct and run on 2 threads");
  if (!ok)
    printf("     child %s %d (1: wrong result, 2: not on 2 threads, SIGALRM: hung)\n",
           WIFEXITED(status) ? "exited" : "killed by signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  expect(t, cover(100003, 1, 0), "the parent's loops still work after the fork");
}

/* ---------------------------------------------------------------- thread lifecycle */

/* The pool's workers alive now: threads of this process named tricrt-worker (a
 * sanitizer's own threads are not counted). */
static int worker_count(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    char path[300], comm[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = e->d_name[0] == '.' ? NULL : fopen(path, "r");
    if (!f) continue;
    n += fgets(comm, sizeof comm, f) && strcmp(comm, "tricrt-worker\n") == 0;
    fclose(f);
  }
  if (d) closedir(d);
  return n;
}

/* Set in --lifecycle mode, for the destructor below. */
static bool lifecycle_mode;

/* Runs after libtricrt's own destructor (a destructor of lower priority runs later):
 * prints how many workers are left. */
__attribute__((destructor(101))) static void lifecycle_at_exit(void) {
  if (!lifecycle_mode) return;
  /* a joined thread can stay listed in /proc for a moment after pthread_join returns
     (the kernel releases its task a little later, more so on a loaded machine): wait up
     to 2 s for the count to reach 0, so a worker that was never joined still counts */
  int left = worker_count();
  for (int i = 0; i < 200 && left; i++) {
    nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    left = worker_count();
  }
  char line[64];
  int len = snprintf(line, sizeof line, " %d\n", left);
  if (write(1, line, (size_t)len) != len) _exit(3);
}

/* --lifecycle: prints the workers alive after get/set_num_threads and a serial loop,
 * after a loop with 3 threads; the destructor adds those left after exit's cleanup. */
static int lifecycle(void) {
  lifecycle_mode = true;
  tricrt_set_num_threads(3);
  bool ok = tricrt_get_num_threads() == 3 && cover(5, 5, 0);
  printf("%d", worker_count());
  ok &= cover(100003, 1, 0);
  printf(" %d", worker_count());
  fflush(stdout);
  return ok ? 0 : 1;
}

static void test_lifecycle(Tally *t) {
  int po[2];
  if (pipe(po) != 0) abort();
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
    dup2(po[1], 1);
    close(po[0]);
    execl("/proc/self/exe", "pool_test", "--lifecycle", (char *)NULL);
    _exit(127);
  }
  close(po[1]);
  char out[256];
  read_all(po[0], out, sizeof out);
  int status;
  waitpid(pid, &status, 0);
  bool exited = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  int before = -1, during = -1, after = -1;
  bool parsed = sscanf(out, "%d %d %d", &before, &during, &after) == 3;
  expect(t, exited && parsed && before == 0, "no thread starts before a loop needs one (get/set, a loop of n <= grain)");
  expect(t, exited && parsed && during == 2, "a loop with 3 threads set starts 2 workers (the caller is the third)");
  expect(t, exited && parsed && after == 0, "at exit the workers are stopped and joined");
  if (!exited || !parsed) printf("     child output '%s' status %d\n", out, status);
}

/* ---------------------------------------------------------------- header, symbols */

/* True if a shell command of that name exists. */
static bool have(const char *tool) {
  char cmd[200];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
  return system(cmd) == 0;
}

static void test_header(Tally *t) {
  const char *hdr = POOL_SRC "/runtime/tricrt_pool.h";
  char cmd[600];
  static const char *tools[][2] = {{"cc", "-x c -std=c11"}, {"g++", "-x c++ -std=c++11"}};
  for (int i = 0; i < 2; i++) {
    char what[200];
    snprintf(what, sizeof what, "tricrt_pool.h compiles alone with %s %s -pedantic -Werror", tools[i][0], tools[i][1]);
    if (!have(tools[i][0])) {
      skip(t, what);
      continue;
    }
    snprintf(cmd, sizeof cmd, "%s -fsyntax-only %s -pedantic -Wall -Wextra -Werror %s", tools[i][0], tools[i][1], hdr);
    expect(t, system(cmd) == 0, what);
  }
}

static void test_symbols(Tally *t) {
  const char *what = "libtricrt.a defines no global symbol without the tricrt_ prefix";
  if (!have("nm")) {
    skip(t, what);
    return;
  }
  FILE *f = popen("nm -g --defined-only " POOL_LIB, "r");
  char line[512];
  int symbols = 0, bad = 0;
  while (f && fgets(line, sizeof line, f)) {
    char addr[64], type[8], name[400];
    if (sscanf(line, "%63s %7s %399s", addr, type, name) != 3) continue;
    symbols++;
    if (strncmp(name, "tricrt_", 7) != 0) {
      printf("     global symbol %s\n", name);
      bad++;
    }
  }
  bool ran = f && pclose(f) == 0;
  expect(t, ran && symbols >= 3 && bad == 0, what);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--print-threads") == 0) {
    int a = tricrt_get_num_threads(), b = tricrt_get_num_threads();
    printf("%d %d\n", a, b);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "--lifecycle") == 0) return lifecycle();
  alarm(120); /* a deadlock fails the run instead of hanging it */
  unsetenv("TRIC_NUM_THREADS"); /* the default is the CPU count; test_env sets it */
  Tally t = {0};
  test_set_get(&t);
  test_coverage(&t);
  test_parallelism(&t);
  test_callers(&t);
  test_env(&t);
  test_idle(&t);
  test_fork(&t);
  test_lifecycle(&t);
  test_header(&t);
  test_symbols(&t);
  printf("pool_test: %d passed, %d failed, %d skipped\n", t.passed, t.failed, t.skipped);
  return t.failed ? 1 : 0;
}
