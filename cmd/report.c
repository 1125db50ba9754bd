/* report.c - what a build says about itself: progress lines, the summary, --time-report
 * and --time-trace.
 *
 * Stage times are kept per target (and per task for the trace) by the steps that spend
 * them, added up over threads; these functions only print them, on the loop thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmd/build.h"

const char *const stage_names[NSTAGES] = {"read, lex, parse", "typecheck", "lower/fuse, LLVM IR build",
                                                 "LLVM optimize", "code generation", "cache lookup/store", "write"};

void progress(Build *b, Target *t, const char *what) {
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

void summary(Build *b, double wall) {
  int skipped = b->nt - b->built - b->cached - b->failed; /* not started after a failure */
  fprintf(stderr, "tric: %d module%s: %d built, %d from cache, %d failed", b->nt, b->nt == 1 ? "" : "s", b->built,
          b->cached, b->failed);
  if (skipped > 0) fprintf(stderr, ", %d not built", skipped);
  fprintf(stderr, ", %.1f ms\n", wall * 1e3);
}

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

void time_report(Build *b, double wall) {
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
  const ca_RemoteCounts *r = b->remote_used ? &b->cache.remote_run : NULL;
  if (!strcmp(b->o->time_report, "json")) {
    fprintf(stderr, "{\"wall_s\": %.6f, \"stages\": {", wall);
    for (int s = 0; s < NSTAGES; s++) fprintf(stderr, "%s\"%s\": %.6f", s ? ", " : "", stage_names[s], stage[s]);
    fprintf(stderr, "}, \"peak_rss_kb\": %ld, \"cache_hits\": %d, \"cache_misses\": %d, \"kernels\": %d, \"kernels_compiled\": %d, \"kernels_cached\": %d, \"same_code\": %d, \"modules\": %d",
            rss, hits, misses, kernels, compiled, kcached, same_code, b->nt);
    if (r)
      fprintf(stderr, ", \"remote\": {\"hits\": %llu, \"misses\": %llu, \"errors\": %llu, \"puts\": %llu, \"bytes_received\": %llu, \"bytes_sent\": %llu}",
              (unsigned long long)r->hits, (unsigned long long)r->misses, (unsigned long long)r->errors,
              (unsigned long long)r->puts, (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out);
    fprintf(stderr, "}\n");
    return;
  }
  fprintf(stderr, "time report (%d modules, wall %.1f ms; stage times add up over threads):\n", b->nt, wall * 1e3);
  for (int s = 0; s < NSTAGES; s++)
    fprintf(stderr, "  %-28s %9.2f ms %5.1f%%\n", stage_names[s], stage[s] * 1e3, total > 0 ? 100 * stage[s] / total : 0);
  fprintf(stderr, "  peak RSS %ld KB, cache %d hits / %d misses (%d of them emitted the same code as before); kernels: %d "
          "emitted, %d compiled, %d from the cache (the rest shared)\n",
          rss, hits, misses, same_code, kernels, compiled, kcached);
  if (r)
    fprintf(stderr, "  remote cache: %llu hits, %llu misses, %llu errors, %llu bytes received, %llu bytes sent (%llu puts)\n",
            (unsigned long long)r->hits, (unsigned long long)r->misses, (unsigned long long)r->errors,
            (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out, (unsigned long long)r->puts);
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
void time_trace(Build *b) {
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
