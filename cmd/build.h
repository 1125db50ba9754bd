/* build.h - private to cmd/: the state of one build run, shared by the files that make it.
 *
 * run_build (build.c) owns a Build: its targets (one per input module), the kernel table
 * (kernels.c), the pool's queues (sched.c) and the numbers the reports print (report.c).
 * Everything here is touched by the loop thread alone, but for the fields a Task's worker
 * fills for its own target or kernel while it runs (compile.c says which).
 */
#ifndef TRIC_CMD_BUILD_H
#define TRIC_CMD_BUILD_H

#include <pthread.h>
#include <uv.h>

#include "cmd/cmd.h"

/* Stages of the time report, in pipeline order. */
enum { ST_READ, ST_CHECK, ST_IR, ST_OPT, ST_CODEGEN, ST_CACHE, ST_WRITE, NSTAGES };
extern const char *const stage_names[NSTAGES];

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
  cg_Status status; /* TASK_UNIT: of its compile, with err */
  cg_Machines *mach; /* while it runs: target machines no other task uses */
  pthread_t thread;  /* for the trace */
  double start, end, t_ir, t_opt, t_codegen;
  struct Task *next; /* in the build's queue */
} Task;

/* The code of one kernel key: compiled once per build, for every module that emits it. */
typedef struct Kernel {
  ca_Key key; /* kernel_key: also its cache entry's */
  bool done, cached; /* cached: its code came from the on-disk cache */
  char *err;         /* the compile failed */
  cg_Status status;  /* and how (with err) */
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
  bool remote_pending, from_remote; /* asked of the remote cache (answer not yet taken); found there */
  int remote_i;                     /* its GET in the build's fetch */
  ca_Key *ukeys;               /* per kernel unit of the job: its key (kernel_key) */
  ca_Key code_key;             /* of its emitted code (keys.c's code_key), when it has one */
  bool code_keyed, same_code;  /* same_code: the outputs of that code came from the cache */
  cg_Result res;
  cg_Job *job; /* between cg_start and cg_finish */
  int nunits, pending, nkernels;
  const cg_Unit **units; /* per kernel unit of the job: its code, once compiled */
  Kernel **kern;         /* per kernel unit: the shared kernel */
  Task start, finish;
  cg_Status status; /* of a failed step, with err */
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
  ca_Fetch *fetch; /* the remote cache's GETs for the targets that missed locally */
  bool remote_used; /* a remote cache was attached in this build (its counts are reported) */
  ca_Key tool, opts; /* tool_key, options_key */
  Target *t;
  int nt, done, built, cached, failed;
  double t0;
  int status;
  char made_dir[4096]; /* the output folder known to exist last time (one stat per folder) */
  /* the pool: at most `jobs` tasks queued in libuv at once; the rest wait here, the steps
     of modules already started (hi) before new modules (lo) */
  uv_loop_t loop;
  bool pool; /* open (sched.c) */
  int jobs, inflight, nwaiting; /* nwaiting: tasks in hi and lo */
  cg_Machines **machines; /* the free ones (one per task in flight, made as needed) */
  int nmachines;
  Task *hi, **hi_tail, *lo, **lo_tail;
  Kernel **ktab; /* open-addressing table of kernels by key */
  int nkern, kcap;
  double kernel_cache_time; /* looking kernels up in the cache (on the loop thread) */
} Build;

/* ---------------------------------------------------------------- inputs.c */

/* Adds the targets of one input (a file, or every *.tri under a folder); an exit status. */
int add_inputs(Build *b, const char *input, fe_Vec *targets);
/* EXIT_USAGE (message printed) when two targets would write one object, or -MF names one
 * depfile for several modules; else 0. */
int check_outputs_apart(const Opts *o, fe_Vec *targets);
/* Names t's outputs after its object (header, IR, assembly, plan, depfile) and its guard. */
void name_outputs(const Opts *o, Target *t, fe_Arena *a);

/* ---------------------------------------------------------------- keys.c */

/* The key of tric itself: its version, its build id and LLVM's version. */
ca_Key tool_key(void);
/* The key of everything besides the sources that changes every output: tric, LLVM, the
 * target and the options. */
ca_Key options_key(const Opts *o, const ca_Key *tool);
/* The key of kernel unit u's code: tric, LLVM and what the code depends on. */
ca_Key kernel_key(const ca_Key *tool, const cg_Job *job, int u);
/* The key of a job's outputs from what they depend on and its units' keys (nunits of
 * them, kernel_key's); false for a job without units. */
bool code_key(const ca_Key *tool, const cg_Job *job, int nunits, const ca_Key *unit_keys, ca_Key *out);
/* A target's cache key: its module's (source, name, imports' keys) and its output names. */
ca_Key target_key(Target *t, const ca_Key *opts);
/* What t's build is made of, recorded with its entry so --explain can compare. */
void make_manifest(Build *b, Target *t, const ca_Key *opts, ca_Manifest *man);
/* Why t is rebuilt, from its manifest and the one of its last build (in the build's arena). */
const char *miss_reason(Build *b, Target *t);

/* ---------------------------------------------------------------- output.c */

/* Writes a target's outputs from its sections (cache entry or fresh compile): 0 or -1. */
int write_outputs(Build *b, Target *t, const void *const data[CA_NSECTIONS], const size_t len[CA_NSECTIONS]);
/* Removes the outputs an earlier build left at t's paths. */
void remove_outputs(const Opts *o, Target *t);

/* ---------------------------------------------------------------- kernels.c */

/* The kernel of key, made (and *made set) if it is new. */
Kernel *kernel_for(Build *b, const ca_Key *key, bool *made);
/* A new kernel's code from the on-disk cache: true (k done) on a hit. */
bool kernel_from_cache(Build *b, Kernel *k);
/* Stores a kernel's fresh code in the on-disk cache, for later builds. */
void kernel_store(Build *b, Kernel *k, Target *t);
/* Frees the kernel table. */
void kernels_free(Build *b);

/* ---------------------------------------------------------------- sched.c */

/* Starts the pool (libuv's, with -j workers, and make's jobserver) on first use. */
void pool_open(Build *b);
/* Runs the pool until every queued task ended, then closes it. */
void pool_close(Build *b);
/* Queues a task: urgent (hi) for steps of modules already started, else (lo) a new module. */
void enqueue(Build *b, Task *task, int kind, Target *t, bool urgent);
/* Hands waiting tasks to libuv while -j and the jobserver leave room. */
void pump(Build *b);

/* ---------------------------------------------------------------- compile.c */

/* On a worker: runs one task's step of a module's compile. */
void compile_step(Task *task);
/* On the loop thread: what follows a task's step (more tasks, or the module's outputs). */
void compile_step_done(Build *b, Task *task);

/* ---------------------------------------------------------------- report.c */

/* Counts a settled target and prints its progress line (what: build, cached, failed). */
void progress(Build *b, Target *t, const char *what);
/* The closing line of a build of several modules (or -v). */
void summary(Build *b, double wall);
/* --time-report: time and share per stage, peak memory, cache and kernel counts. */
void time_report(Build *b, double wall);
/* --time-trace: Chrome trace-event JSON of the build's tasks. */
void time_trace(Build *b);

#endif
