/* main.c - the tric command line.
 *
 *   tric build FILE.tri... [-o PATH] [--emit=obj,header,llvm-ir,asm,plan,plan-json] [-O0..3] [-I DIR]
 *   tric check FILE.tri... [-I DIR]
 *
 * The driver owns every decision about files and exit statuses: it loads the module
 * graph, prints diagnostics, calls code generation and writes outputs atomically. On
 * compile errors it writes nothing and removes outputs a previous build left at the
 * same paths, so no stale object survives a failed build.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cmd/cmd.h"


static void usage(FILE *o) {
  fputs("usage: tric build FILE.tri... [options]   compile to FILE.o and FILE.h\n"
        "       tric check FILE.tri... [options]   only diagnose\n"
        "       tric cache stats [--json] | list | prune [--max-size SIZE] [--max-age AGE] | clear | verify | dir\n"
        "       tric --help | --version\n"
        "\noptions:\n"
        "  -o PATH              name the object file (one input file); with several inputs, a\n"
        "                       folder or a trailing slash, the output folder (mirroring the source tree)\n"
        "  -j N                 N worker threads, each running one compile task at a time (default:\n"
        "                       $TRIC_JOBS, or every core); under make -jN, make's jobserver limits it too\n"
        "  -k, --keep-going     build every module that does not depend on a failed one\n"
        "  -v                   one line per module with its time (added up over threads) and cache use\n"
        "  --time-report[=json] time and share per stage, peak memory, cache hits, kernels\n"
        "  --time-trace=FILE    Chrome trace-event JSON of the build (Perfetto, chrome://tracing)\n"
        "  --emit=LIST          any of obj,header,llvm-ir,asm,plan,plan-json (default obj,header);\n"
        "                       plan: FILE.plan, the kernels and what they fuse (not cached);\n"
        "                       plan-json: the same as FILE.plan.json\n"
        "  -O0 -O1 -O2 -O3      optimisation level (default -O2)\n"
        "  -I DIR               look for imported modules in DIR too (after the importer's folder)\n"
        "  --target TRIPLE      generate code for another target (default: this machine)\n"
        "  --cpu NAME           target CPU (default: this machine's, or generic with --target);\n"
        "                       --cpu help lists the target's CPUs and features\n"
        "  --features LIST      target features, as +avx2,-avx512f\n"
        "  --dump=WHAT          print tokens, ast, types or ir of the input to stdout\n"
        "  --color=WHEN         auto, always or never colour diagnostics (default auto)\n"
        "  -Werror              make warnings errors (exit 1, no outputs); -w: no warnings\n"
        "  --cache-dir DIR      the compilation cache (default $TRIC_CACHE_DIR, $XDG_CACHE_HOME/tric,\n"
        "                       ~/.cache/tric)\n"
        "  --no-cache           neither read nor write the cache (local or remote)\n"
        "  --remote-cache URL   share the cache through an HTTP server (default $TRIC_REMOTE_CACHE;\n"
        "                       docs/cache.md); --no-remote-cache: not\n"
        "  --remote-cache-read-only  read the remote cache, never write to it\n"
        "  --recache            compile even when cached, and overwrite the entry\n"
        "  --explain            say for each module why it was rebuilt or reused\n"
        "  -MD                  write a depfile (object: source and imported files) beside the object\n"
        "  -MF FILE             write the depfile to FILE (implies -MD; one module only)\n"
        "  --keep-mtime         leave an unchanged output untouched even when a source is newer\n"
        "                       (for Ninja's restat = 1; make would rerun tric on every build)\n"
        "\nexit status: 0 success, 1 compile errors, 2 usage errors, 3 I/O or internal failure\n",
        o);
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "tric: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(see tric --help)\n");
  return EXIT_USAGE;
}

static bool parse_emit(const char *list, unsigned *emit) {
  *emit = 0;
  const char *p = list;
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n == 3 && !strncmp(p, "obj", 3)) *emit |= CG_EMIT_OBJ;
    else if (n == 6 && !strncmp(p, "header", 6)) *emit |= CG_EMIT_HEADER;
    else if (n == 7 && !strncmp(p, "llvm-ir", 7)) *emit |= CG_EMIT_LLVM_IR;
    else if (n == 3 && !strncmp(p, "asm", 3)) *emit |= CG_EMIT_ASM;
    else if (n == 4 && !strncmp(p, "plan", 4)) *emit |= CG_EMIT_PLAN;
    else if (n == 9 && !strncmp(p, "plan-json", 9)) *emit |= CG_EMIT_PLAN_JSON;
    else return false;
    p += n;
    if (*p == ',') p++;
  }
  return *emit != 0;
}

/* A path argument cleaned in place (argv's strings are the program's to change). */
static const char *clean_arg(const char *arg) { return path_clean((char *)arg); }

/* Parses argv; returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, Opts *o) {
  o->emit = CG_EMIT_OBJ | CG_EMIT_HEADER;
  o->files = calloc((size_t)argc + 1, sizeof *o->files);
  o->incdirs = calloc((size_t)argc + 1, sizeof *o->incdirs);
  o->cache_args = calloc((size_t)argc + 1, sizeof *o->cache_args);
  if (!o->files || !o->incdirs || !o->cache_args) abort();
  o->color = -1;
  o->cg.opt_level = 2;
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("tric %s (LLVM %s)\n", TRIC_VERSION, cg_llvm_version());
    return EXIT_OK;
  }
  o->cmd = argv[1];
  if (!strcmp(o->cmd, "cache")) {
    for (int i = 2; i < argc; i++) {
      if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc) o->cache_dir = argv[++i];
      else if (!strncmp(argv[i], "--cache-dir=", 12)) o->cache_dir = argv[i] + 12;
      else o->cache_args[o->ncache_args++] = argv[i];
    }
    if (!o->ncache_args) return usage_error("tric cache needs a subcommand: stats, list, prune, clear, verify or dir%s", "");
    return -1;
  }
  if (strcmp(o->cmd, "build") && strcmp(o->cmd, "check")) return usage_error("unknown command '%s'", o->cmd);
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
#define TAKES(flag) \
  ((!strcmp(a, flag) && i + 1 < argc && (val = argv[++i])) || \
   (!strncmp(a, flag "=", sizeof flag) && (val = a + sizeof flag)))
    if (!strcmp(a, "--help")) {
      usage(stdout);
      return EXIT_OK;
    } else if (TAKES("-o")) {
      o->out_dir = *val && val[strlen(val) - 1] == '/';
      o->out = *val ? clean_arg(val) : val;
    } else if (!strncmp(a, "-I", 2) && a[2]) {
      o->incdirs[o->nincdirs++] = clean_arg(a + 2);
    } else if (TAKES("-I")) {
      o->incdirs[o->nincdirs++] = clean_arg(val);
    } else if (!strncmp(a, "-O", 2) && a[2] >= '0' && a[2] <= '3' && !a[3]) o->cg.opt_level = a[2] - '0';
    else if (TAKES("--emit")) {
      if (!parse_emit(val, &o->emit)) return usage_error("--emit takes a list of obj,header,llvm-ir,asm,plan,plan-json, not '%s'", val);
    } else if (TAKES("--dump")) {
      if (strcmp(val, "tokens") && strcmp(val, "ast") && strcmp(val, "types") && strcmp(val, "ir"))
        return usage_error("--dump takes tokens, ast, types or ir, not '%s'", val);
      o->dump = val;
    } else if (TAKES("--color")) {
      if (!strcmp(val, "auto")) o->color = -1;
      else if (!strcmp(val, "always")) o->color = 1;
      else if (!strcmp(val, "never")) o->color = 0;
      else return usage_error("--color takes auto, always or never, not '%s'", val);
    } else if (!strncmp(a, "-j", 2) && a[2]) {
      char *end;
      long j = strtol(a + 2, &end, 10);
      if (*end || j < 1 || j > 1024) return usage_error("-j takes a number of jobs from 1 to 1024, not '%s'", a + 2);
      o->jobs = (int)j;
    } else if (!strcmp(a, "-j") && i + 1 < argc) {
      char *end;
      long j = strtol(argv[++i], &end, 10);
      if (*end || j < 1 || j > 1024) return usage_error("-j takes a number of jobs from 1 to 1024, not '%s'", argv[i]);
      o->jobs = (int)j;
    } else if (!strcmp(a, "--keep-going") || !strcmp(a, "-k")) o->keep_going = true;
    else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) o->verbose = true;
    else if (!strcmp(a, "-Werror")) o->warn = FE_WARN_ERROR;
    else if (!strcmp(a, "-w")) o->warn = FE_WARN_NONE;
    else if (!strcmp(a, "--time-report")) o->time_report = "text";
    else if (!strcmp(a, "--time-report=json")) o->time_report = "json";
    else if (!strcmp(a, "--time-report=text")) o->time_report = "text";
    else if (TAKES("--time-trace")) o->time_trace = val;
    else if (TAKES("--cache-dir")) o->cache_dir = val;
    else if (!strcmp(a, "--no-cache")) o->no_cache = true;
    else if (TAKES("--remote-cache")) o->remote_cache = val;
    else if (!strcmp(a, "--no-remote-cache")) o->no_remote_cache = true;
    else if (!strcmp(a, "--remote-cache-read-only")) o->remote_read_only = true;
    else if (!strcmp(a, "--recache")) o->recache = true;
    else if (!strcmp(a, "--explain")) o->explain = true;
    else if (!strcmp(a, "-MD")) o->md = true;
    else if (!strcmp(a, "--keep-mtime")) o->keep_mtime = true;
    else if (TAKES("-MF")) o->mf = val, o->md = true;
    else if (TAKES("--target")) o->cg.triple = val;
    else if (TAKES("--cpu")) o->cg.cpu = val;
    else if (TAKES("--features")) o->cg.features = val;
    else if (a[0] == '-' && a[1]) return usage_error("unknown option '%s'", a);
    else o->files[o->nfiles++] = clean_arg(a);
#undef TAKES
  }
  if (o->cg.cpu && !strcmp(o->cg.cpu, "help")) return -1; /* lists the target's CPUs: no input needed */
  if (!o->nfiles) return usage_error("no input file%s", "");
  if (o->out && !*o->out) return usage_error("-o needs a path%s", "");
  return -1;
}

static int cache_command(const Opts *o) {
  char buf[4096];
  const char *dir = cache_dir(o, buf, sizeof buf);
  if (!dir) {
    fprintf(stderr, "tric: error: no cache folder: set TRIC_CACHE_DIR or HOME, or pass --cache-dir\n");
    return EXIT_USAGE;
  }
  const char *sub = o->cache_args[0];
  if (!strcmp(sub, "dir")) {
    printf("%s\n", dir);
    return EXIT_OK;
  }
  ca_Cache c;
  ca_Open st = ca_open(&c, dir, cache_max_size());
  ca_Removal rm;
  if (!strcmp(sub, "clear")) { /* also makes anew a cache ca_open refused */
    if (!ca_cmd_clear(&c, &rm)) return EXIT_OK;
    fprintf(stderr, "tric: error: cannot clear cache %s: %d file%s or folder%s could not be removed or made (%s)\n", dir,
            rm.failed, rm.failed == 1 ? "" : "s", rm.failed == 1 ? "" : "s", strerror(rm.err));
    return EXIT_IO;
  }
  if (st == CA_OPEN_FAILED) {
    fprintf(stderr, "tric: error: cache %s: %s\n", dir, c.why);
    return EXIT_IO;
  }
  if (!strcmp(sub, "stats")) {
    bool json = o->ncache_args > 1 && !strcmp(o->cache_args[1], "--json");
    if (o->ncache_args > 1 + json) return usage_error("unexpected argument '%s' to tric cache stats", o->cache_args[1 + json]);
    return ca_cmd_stats(&c, stdout, json);
  }
  if (!strcmp(sub, "list")) return ca_cmd_list(&c, stdout);
  if (!strcmp(sub, "verify")) {
    int bad = ca_cmd_verify(&c, stdout, &rm);
    if (rm.failed)
      fprintf(stderr, "tric: error: cache %s: %d bad entr%s could not be removed (%s)\n", dir, rm.failed,
              rm.failed == 1 ? "y" : "ies", strerror(rm.err));
    return bad ? EXIT_COMPILE : EXIT_OK;
  }
  if (!strcmp(sub, "prune")) {
    uint64_t max = c.max_size;
    int64_t age = -1;
    for (int i = 1; i < o->ncache_args; i++) {
      const char *a = o->cache_args[i], *v = NULL;
      bool size = !strncmp(a, "--max-size", 10), age_arg = !strncmp(a, "--max-age", 9);
      if ((size && !a[10]) || (age_arg && !a[9])) v = i + 1 < o->ncache_args ? o->cache_args[++i] : NULL;
      else if (size && a[10] == '=') v = a + 11;
      else if (age_arg && a[9] == '=') v = a + 10;
      else return usage_error("tric cache prune takes --max-size SIZE (like 500M) and --max-age AGE (like 30d), not '%s'", a);
      if (!v) return usage_error("%s needs a value", a);
      if (size ? !ca_parse_size(v, &max) : !ca_parse_duration(v, &age))
        return usage_error(size ? "--max-size takes a size like 500M, 10G or a number of bytes, not '%s'"
                                : "--max-age takes an age like 30d, 12h or 90m, not '%s'", v);
    }
    int n = ca_prune(&c, max, age, &rm);
    printf("removed %d entr%s\n", n, n == 1 ? "y" : "ies");
    if (!rm.failed) return EXIT_OK;
    fprintf(stderr, "tric: error: cache %s: %d entr%s to prune could not be removed (%s)\n", dir, rm.failed,
            rm.failed == 1 ? "y" : "ies", strerror(rm.err));
    return EXIT_IO;
  }
  return usage_error("unknown cache subcommand '%s' (stats, list, prune, clear, verify, dir)", sub);
}

/* Frees what parse_args allocated. */
static void opts_free(Opts *o) { free(o->files), free(o->incdirs), free(o->cache_args); }

int main(int argc, char **argv) {
  Opts o = {0};
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0) {
    opts_free(&o);
    return rc;
  }
  bool colour = o.color == 1;
  if (o.color < 0) {
    const char *term = getenv("TERM");
    colour = isatty(2) && !getenv("NO_COLOR") && term && strcmp(term, "dumb");
  }
  if (!strcmp(o.cmd, "cache")) {
    rc = cache_command(&o);
    opts_free(&o);
    return rc;
  }
  /* make's job slots, first: it names descriptors, and opening any file could reuse a closed one */
  Jobserver js;
  char why[4200];
  int jc = js_connect(&js, !strcmp(o.cmd, "build") ? getenv("MAKEFLAGS") : NULL, why, sizeof why);
  if (jc > 0) o.js = &js;
  else if (jc < 0 && o.verbose) fprintf(stderr, "tric: %s; running without it\n", why);
  if (o.cg.triple || o.cg.cpu || o.cg.features) { /* once, before any thread: a bad name is one message */
    char msg[1024];
    bool list = o.cg.cpu && !strcmp(o.cg.cpu, "help");
    if (list) o.cg.cpu = NULL;
    cg_init();
    cg_Status st = cg_check_target(&o.cg, list ? stdout : NULL, msg, sizeof msg);
    if (st || list) {
      if (st == CG_ERR_TARGET) usage_error("%s", msg);
      else if (st)
        fprintf(stderr, "tric: error: %s\n(tric build --cpu help%s%s lists the target's CPUs and features)\n", msg,
                o.cg.triple ? " --target " : "", o.cg.triple ? o.cg.triple : "");
      opts_free(&o);
      js_close(&js);
      return exit_for(st);
    }
  }
  install_signal_cleanup(o.js);
  int status = run_build(&o, colour);
  install_signal_cleanup(NULL); /* js is about to go */
  opts_free(&o);
  js_close(&js);
  return status;
}
