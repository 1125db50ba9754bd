/* cmd.h - private to cmd/: the module graph and the output writer used by the driver. */
#ifndef TRIC_CMD_H
#define TRIC_CMD_H

#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include "cache/cache.h"
#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "typecheck/typecheck.h"

/* Exit statuses: each means one thing. */
enum { EXIT_OK = 0, EXIT_COMPILE = 1, EXIT_USAGE = 2, EXIT_IO = 3 };
/* The exit status of a code generation failure (status.c): usage for a bad target, CPU or
 * feature name, I/O or internal failure for the rest. */
int exit_for(cg_Status st);

/* One source file of the build, parsed and (once its imports are) checked. */
typedef struct Module {
  const char *path;     /* as shown in diagnostics */
  const char *realpath; /* identity: device and inode of the file */
  const char *name;     /* dotted import name, or the file stem for a root */
  fe_Source *src;
  fe_Module *ast;
  tc_Module *tc;
  tc_Func *funcs; /* exported functions, once checked */
  int nfuncs;
  int state; /* 0 new, 1 loading (on the DFS stack), 2 loaded */
  double t_parse, t_check; /* seconds spent lexing and parsing, checking */
  ca_Key key; /* cache key, once computed */
  bool keyed;
  bool failed;
  bool check_clean; /* checked without errors of its own (warnings made errors aside) */
  bool imported;    /* another module of the run imports it */
  fe_Vec deps; /* Module* in import order */
  struct timespec mtime, newest; /* of its file; of it and everything it imports */
} Module;

/* All modules of one compile, with their shared arena and diagnostics. */
typedef struct Graph {
  fe_Arena *arena;
  fe_Diags *diags;
  const char *const *incdirs;
  int nincdirs;
  fe_Vec modules; /* Module*, dependencies before dependents */
  fe_Vec all;     /* Module*, in load order */
  Module **slots; /* hash table of all by real path */
  int nslots;
  const char **pkeys; /* hash table of every path a module was reached by (no second stat) */
  Module **pvals;
  int npaths, npslots;
  bool io_error;
} Graph;

/* Loads path and, recursively, everything it imports; reports missing modules and
 * cycles (with the whole cycle) as located errors. Returns the root module or NULL
 * when the root itself cannot be read (g->io_error, message printed). */
Module *graph_load(Graph *g, const char *path);
/* path cleaned in place: repeated slashes and "." components dropped, no trailing
 * slash ("src//a/./b.tri/" -> "src/a/b.tri", "./" -> "."), so that depfiles and
 * messages name each file one way (make takes "src//a.tri" for another file). ".." is
 * kept: what it means depends on symbolic links. */
char *path_clean(char *path);
/* dir/rel (rel alone when dir is "."). */
const char *path_join(fe_Arena *a, const char *dir, const char *rel);
/* Type-checks every loaded module, dependencies first. */
void graph_check(Graph *g);
/* Type-checks one module whose imports are checked already. */
void graph_check_one(Graph *g, Module *m);
/* Warns when m, checked clean or taken from the cache, exports nothing and no module of
 * this run imports it (the user forgot `export`); under -Werror that fails m. Not part of
 * the check: it depends on the other modules of the run, not on m's cache key. */
void graph_warn_no_export(Graph *g, Module *m);

#define TRIC_VERSION "0.1.0"

/* A client of GNU make's jobserver (jobserver.c): the job slots held beyond the implicit one. */
enum { JS_MAX_TOKENS = 1024 };
typedef struct Jobserver {
  int rfd, wfd; /* the token pipe's ends (one fd for a fifo); rfd never blocks */
  bool own_rfd, started, polling, broken;
  int wanted; /* tokens asked for and not yet read */
  char held[JS_MAX_TOKENS]; /* the bytes read, to be written back as they were */
  volatile sig_atomic_t nheld;
  uv_poll_t poll;
  void (*on_token)(void *arg);
  void *arg;
} Jobserver;

/* Finds make's jobserver in makeflags ($MAKEFLAGS, may be NULL): 1 connected, 0 none named,
 * -1 named but not usable here (why says so); call before opening any file, since it
 * trusts descriptor numbers. */
int js_connect(Jobserver *js, const char *makeflags, char *why, size_t cap);
/* Watches for tokens on loop; on_token(arg) runs on the loop thread when some arrived. */
void js_start(Jobserver *js, uv_loop_t *loop, void (*on_token)(void *arg), void *arg);
/* Asks for n tokens beyond those held (0: stop asking); never blocks. */
void js_want(Jobserver *js, int n);
/* Gives n held tokens back to make. */
void js_release(Jobserver *js, int n);
/* Gives every token back and closes the watch (before the loop closes). */
void js_stop(Jobserver *js);
/* Gives every token back and closes what js_connect opened. */
void js_close(Jobserver *js);

/* The command line. */
typedef struct Opts {
  const char *cmd;
  const char **files; /* argc entries at most */
  int nfiles;
  int jobs;          /* -j N, 0: the cores available */
  bool keep_going, verbose;
  const char *time_report; /* NULL, "text" or "json" */
  const char *time_trace;  /* --time-trace=FILE */
  const char *out;
  bool out_dir; /* -o PATH/ (a trailing slash): PATH is the output folder even for one file */
  const char **incdirs; /* -I folders, in order: argc entries at most */
  int nincdirs;
  unsigned emit;
  const char *dump;
  int color; /* -1 auto, 0 never, 1 always */
  fe_WarnMode warn; /* -Werror, -w */
  cg_Options cg;
  const char *cache_dir; /* --cache-dir */
  bool no_cache, recache, explain, md;
  const char *remote_cache; /* --remote-cache URL */
  bool no_remote_cache, remote_read_only; /* --no-remote-cache, --remote-cache-read-only */
  bool keep_mtime; /* --keep-mtime: an unchanged output is never touched (Ninja's restat) */
  const char *mf; /* -MF FILE */
  Jobserver *js;  /* make's jobserver, or NULL */
  const char **cache_args; /* tric cache SUBCOMMAND ARGS: argc entries at most */
  int ncache_args;
} Opts;

/* Builds (or, for `check`, only checks) every input; returns the exit status (build.c). */
int run_build(const Opts *o, bool colour);

/* The cache folder the options and environment name (maybe put in buf), or NULL (config.c). */
const char *cache_dir(const Opts *o, char *buf, size_t cap);
/* The remote cache the options and environment name (config->url NULL: none); false with
 * a message in why when a setting is bad (TRIC_REMOTE_CACHE_TIMEOUT not a number). */
bool remote_config(const Opts *o, ca_RemoteConfig *config, char *why, size_t cap);
/* The cache size limit: TRIC_CACHE_MAX_SIZE or 2 GiB (config.c). */
uint64_t cache_max_size(void);

/* Monotonic time in seconds. */
double now_seconds(void);

/* Reads a whole file into arena memory, NUL-terminated; NULL with errno set on failure.
 * st (may be NULL) receives the file's status. */
char *read_file(fe_Arena *a, const char *path, uint32_t *len, struct stat *st);

/* Writes data to path atomically (a temporary file in the same folder, renamed into
 * place). A file that holds these bytes already is left alone, but touched when it is
 * older than not_before, so that make sees it up to date with its sources (NULL: never
 * touched, for --keep-mtime). Returns 0, or -1 with a message printed. */
int write_atomic(const char *path, const void *data, size_t len, const struct timespec *not_before);
/* Installs handlers that remove unfinished temporary files on SIGINT/SIGTERM/SIGHUP
 * and give js's tokens (js may be NULL) back to make. */
void install_signal_cleanup(const Jobserver *js);

#endif
