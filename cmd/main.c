/* main.c - the tric command line.
 *
 *   tric build FILE.tri... [-o PATH] [--emit=obj,header,llvm-ir,asm] [-O0..3] [-I DIR]
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

#include "cmd/cmd.h"

#define TRIC_VERSION "0.1.0"

typedef struct Opts {
  const char *cmd;
  const char *files[256];
  int nfiles;
  const char *out;
  const char *incdirs[64];
  int nincdirs;
  unsigned emit;
  const char *dump;
  int color; /* -1 auto, 0 never, 1 always */
  cg_Options cg;
} Opts;

static void usage(FILE *o) {
  fputs("usage: tric build FILE.tri... [options]   compile to FILE.o and FILE.h\n"
        "       tric check FILE.tri... [options]   only diagnose\n"
        "       tric --help | --version\n"
        "\noptions:\n"
        "  -o PATH              name the object file (one input only); the header goes beside it\n"
        "  --emit=LIST          any of obj,header,llvm-ir,asm (default obj,header)\n"
        "  -O0 -O1 -O2 -O3      optimisation level (default -O2)\n"
        "  -I DIR               look for imported modules in DIR too (after the importer's folder)\n"
        "  --target TRIPLE      generate code for another target (default: this machine)\n"
        "  --cpu NAME           target CPU (default: this machine's, or generic with --target)\n"
        "  --features LIST      target features, as +avx2,-avx512f\n"
        "  --dump=WHAT          print tokens, ast, types or ir of the input to stdout\n"
        "  --color=WHEN         auto, always or never colour diagnostics (default auto)\n"
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
    else return false;
    p += n;
    if (*p == ',') p++;
  }
  return *emit != 0;
}

/* Parses argv; returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, Opts *o) {
  o->emit = CG_EMIT_OBJ | CG_EMIT_HEADER;
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
    } else if (TAKES("-o")) o->out = val;
    else if (!strncmp(a, "-I", 2) && a[2]) {
      if (o->nincdirs < 64) o->incdirs[o->nincdirs++] = a + 2;
    } else if (TAKES("-I")) {
      if (o->nincdirs < 64) o->incdirs[o->nincdirs++] = val;
    } else if (!strncmp(a, "-O", 2) && a[2] >= '0' && a[2] <= '3' && !a[3]) o->cg.opt_level = a[2] - '0';
    else if (TAKES("--emit")) {
      if (!parse_emit(val, &o->emit)) return usage_error("--emit takes a list of obj,header,llvm-ir,asm, not '%s'", val);
    } else if (TAKES("--dump")) {
      if (strcmp(val, "tokens") && strcmp(val, "ast") && strcmp(val, "types") && strcmp(val, "ir"))
        return usage_error("--dump takes tokens, ast, types or ir, not '%s'", val);
      o->dump = val;
    } else if (TAKES("--color")) {
      if (!strcmp(val, "auto")) o->color = -1;
      else if (!strcmp(val, "always")) o->color = 1;
      else if (!strcmp(val, "never")) o->color = 0;
      else return usage_error("--color takes auto, always or never, not '%s'", val);
    } else if (TAKES("--target")) o->cg.triple = val;
    else if (TAKES("--cpu")) o->cg.cpu = val;
    else if (TAKES("--features")) o->cg.features = val;
    else if (a[0] == '-' && a[1]) return usage_error("unknown option '%s'", a);
    else if (o->nfiles < 256) o->files[o->nfiles++] = a;
    else return usage_error("too many input files (the limit is 256)%s", "");
#undef TAKES
  }
  if (!o->nfiles) return usage_error("no input file%s", "");
  if (o->out && o->nfiles > 1) return usage_error("-o names one output, but %s inputs were given", "several");
  if (o->out && !*o->out) return usage_error("-o needs a path%s", "");
  return -1;
}

/* path with its extension (if any) replaced by ext. */
static char *with_ext(fe_Arena *a, const char *path, const char *ext) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(path, '.');
  size_t n = dot && (!slash || dot > slash) && dot != path ? (size_t)(dot - path) : strlen(path);
  return fe_sprintf(a, "%.*s%s", (int)n, path, ext);
}

/* The stem of a source path (models/mlp.tri -> mlp), in the current folder. */
static char *stem(fe_Arena *a, const char *path) {
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  return with_ext(a, base, "");
}

static int build_one(const Opts *o, const char *file, bool colour) {
  fe_Arena arena = {0};
  fe_Diags diags = {.arena = &arena};
  Graph g = {.arena = &arena, .diags = &diags, .incdirs = o->incdirs, .nincdirs = o->nincdirs};
  int status = EXIT_OK;
  Module *root = graph_load(&g, file);
  if (!root) {
    fe_diags_print(&diags, stderr, colour);
    fe_arena_free(&arena);
    return g.io_error ? EXIT_IO : EXIT_COMPILE;
  }
  if (o->dump && !strcmp(o->dump, "tokens")) {
    int n;
    fe_Diags scratch = {.arena = &arena};
    fe_Token *toks = fe_lex(&arena, &scratch, root->src, &n);
    fe_dump_tokens(stdout, toks, n);
  }
  if (o->dump && !strcmp(o->dump, "ast")) fe_dump_ast(stdout, root->ast);
  graph_check(&g);
  if (!diags.nerrors) {
    if (o->dump && !strcmp(o->dump, "types")) tc_dump_types(stdout, root->funcs, root->nfuncs, &arena);
    if (o->dump && !strcmp(o->dump, "ir")) tc_dump_ir(stdout, root->funcs, root->nfuncs, &arena);
  }
  fe_diags_print(&diags, stderr, colour);
  const char *obj = o->out ? o->out : fe_sprintf(&arena, "%s.o", stem(&arena, file));
  const char *hdr = with_ext(&arena, obj, ".h"), *ll = with_ext(&arena, obj, ".ll"), *as = with_ext(&arena, obj, ".s");
  bool building = !strcmp(o->cmd, "build");
  if (diags.nerrors) {
    if (building) { /* no stale outputs from an earlier build */
      if (o->emit & CG_EMIT_OBJ) unlink(obj);
      if (o->emit & CG_EMIT_HEADER) unlink(hdr);
      if (o->emit & CG_EMIT_LLVM_IR) unlink(ll);
      if (o->emit & CG_EMIT_ASM) unlink(as);
    }
    fe_arena_free(&arena);
    return EXIT_COMPILE;
  }
  if (building) {
    cg_Result res;
    char *err = NULL;
    unsigned cgemit = o->emit & (CG_EMIT_OBJ | CG_EMIT_LLVM_IR | CG_EMIT_ASM);
    if (cgemit && cg_compile(root->name, root->funcs, root->nfuncs, &o->cg, cgemit, &res, &err)) {
      fprintf(stderr, "tric: error: %s\n", err);
      bool bad_target = !strncmp(err, "unknown target", 14);
      free(err);
      fe_arena_free(&arena);
      return bad_target ? EXIT_USAGE : EXIT_IO;
    }
    char *h = (o->emit & CG_EMIT_HEADER) ? cg_header(root->name, root->funcs, root->nfuncs, &arena) : NULL;
    if ((o->emit & CG_EMIT_OBJ) && write_atomic(obj, res.obj.data, res.obj.len)) status = EXIT_IO;
    if (!status && h && write_atomic(hdr, h, strlen(h))) status = EXIT_IO;
    if (!status && (o->emit & CG_EMIT_LLVM_IR) && write_atomic(ll, res.ir.data, res.ir.len)) status = EXIT_IO;
    if (!status && (o->emit & CG_EMIT_ASM) && write_atomic(as, res.asm_text.data, res.asm_text.len)) status = EXIT_IO;
    free(h);
    if (cgemit) cg_result_free(&res);
  }
  fe_arena_free(&arena);
  return status;
}

int main(int argc, char **argv) {
  Opts o = {0};
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0) return rc;
  bool colour = o.color == 1;
  if (o.color < 0) {
    const char *term = getenv("TERM");
    colour = isatty(2) && !getenv("NO_COLOR") && term && strcmp(term, "dumb");
  }
  install_signal_cleanup();
  if (!strcmp(o.cmd, "build")) cg_init();
  int status = EXIT_OK;
  for (int i = 0; i < o.nfiles; i++) {
    int s = build_one(&o, o.files[i], colour);
    if (s > status) status = s;
  }
  if (!strcmp(o.cmd, "build")) cg_shutdown();
  return status;
}
