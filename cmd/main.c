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

#include "cache/cache.h"
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
  const char *cache_dir; /* --cache-dir */
  bool no_cache, recache, explain, md;
  const char *mf; /* -MF FILE */
  const char *cache_args[8]; /* tric cache SUBCOMMAND ARGS */
  int ncache_args;
} Opts;

/* State shared by the builds of one run. */
typedef struct Run {
  ca_Cache cache;
  bool llvm_ready;
} Run;

static void usage(FILE *o) {
  fputs("usage: tric build FILE.tri... [options]   compile to FILE.o and FILE.h\n"
        "       tric check FILE.tri... [options]   only diagnose\n"
        "       tric cache stats [--json] | list | prune [--max-size SIZE] [--max-age AGE] | clear | verify | dir\n"
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
        "  --cache-dir DIR      the compilation cache (default $TRIC_CACHE_DIR, $XDG_CACHE_HOME/tric,\n"
        "                       ~/.cache/tric)\n"
        "  --no-cache           neither read nor write the cache\n"
        "  --recache            compile even when cached, and overwrite the entry\n"
        "  --explain            say for each module why it was rebuilt or reused\n"
        "  -MD                  write a depfile (object: source and imported files) beside the object\n"
        "  -MF FILE             write the depfile to FILE (implies -MD)\n"
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
  if (!strcmp(o->cmd, "cache")) {
    for (int i = 2; i < argc; i++) {
      if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc) o->cache_dir = argv[++i];
      else if (!strncmp(argv[i], "--cache-dir=", 12)) o->cache_dir = argv[i] + 12;
      else if (o->ncache_args < 8) o->cache_args[o->ncache_args++] = argv[i];
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
    } else if (TAKES("--cache-dir")) o->cache_dir = val;
    else if (!strcmp(a, "--no-cache")) o->no_cache = true;
    else if (!strcmp(a, "--recache")) o->recache = true;
    else if (!strcmp(a, "--explain")) o->explain = true;
    else if (!strcmp(a, "-MD")) o->md = true;
    else if (TAKES("-MF")) o->mf = val, o->md = true;
    else if (TAKES("--target")) o->cg.triple = val;
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
  if (o->mf && o->nfiles > 1) return usage_error("-MF names one depfile, but %s inputs were given", "several");
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

/* ---------------------------------------------------------------- cache keys */

/* Everything that changes the output besides the sources: tric itself, LLVM, the target
 * and the options. No path and no time goes in, so clones elsewhere hit. */
static void hash_options(ca_Hasher *h, const Opts *o) {
  char bid[128], *triple, *cpu, *features;
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
}

/* The key of m: options, its name, its source, and the keys of its imports, recursively. */
static ca_Key module_key(const Opts *o, Module *m, const ca_Key *opts) {
  if (m->keyed) return m->key;
  ca_Hasher *h = ca_hasher_new();
  ca_hash(h, opts->b, 16);
  ca_hash_str(h, m->name);
  ca_hash_u64(h, m->src->len);
  ca_hash(h, m->src->text, m->src->len);
  for (int k = 0; k + 1 < m->deps.n; k += 2) {
    Module *dep = m->deps.items[k];
    ca_Key dk = module_key(o, dep, opts);
    ca_hash_str(h, ((const fe_Node *)m->deps.items[k + 1])->name);
    ca_hash(h, dk.b, 16);
  }
  m->key = ca_hasher_finish(h);
  m->keyed = true;
  return m->key;
}

static ca_Key source_hash(const Module *m) {
  ca_Hasher *h = ca_hasher_new();
  ca_hash(h, m->src->text, m->src->len);
  return ca_hasher_finish(h);
}

static void make_manifest(Module *m, const ca_Key *opts, ca_Manifest *man) {
  memset(man, 0, sizeof *man);
  man->key = m->key;
  man->source = source_hash(m);
  man->options = *opts;
  for (int k = 0; k + 1 < m->deps.n && man->nimports < 64; k += 2) {
    Module *dep = m->deps.items[k];
    snprintf(man->import_names[man->nimports], sizeof man->import_names[0], "%s", dep->name);
    man->import_keys[man->nimports++] = dep->key;
  }
}

/* Why the module is rebuilt, from what its last build was made of. */
static const char *miss_reason(Run *run, const char *identity, const ca_Manifest *now, ca_Lookup got, char *buf,
                               size_t cap) {
  if (got == CA_CORRUPT) return "entry corrupt";
  ca_Manifest old;
  if (!ca_manifest_get(&run->cache, identity, &old)) return "no entry";
  if (memcmp(old.options.b, now->options.b, 16)) return "options changed";
  if (memcmp(old.source.b, now->source.b, 16)) return "source changed";
  for (int i = 0; i < now->nimports; i++) {
    bool same = false;
    for (int j = 0; j < old.nimports; j++)
      if (!strcmp(old.import_names[j], now->import_names[i])) same = !memcmp(old.import_keys[j].b, now->import_keys[i].b, 16);
    if (!same) {
      snprintf(buf, cap, "import %s changed", now->import_names[i]);
      return buf;
    }
  }
  if (old.nimports != now->nimports) return "imports changed";
  return "no entry (evicted or never stored)";
}

/* ---------------------------------------------------------------- outputs */

/* Appends s to the growing buffer, escaping it as a Makefile path when path is set. */
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

/* Writes the depfile: the object depends on its source and every module it imports;
 * each import also gets an empty rule, so deleting one is no error for make. */
static int write_depfile(const char *dfile, const char *obj, Graph *g) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) abort();
  dep_append(&buf, &len, &cap, obj, true);
  dep_append(&buf, &len, &cap, ":", false);
  for (int i = g->modules.n - 1; i >= 0; i--) { /* the root first */
    dep_append(&buf, &len, &cap, " ", false);
    dep_append(&buf, &len, &cap, ((Module *)g->modules.items[i])->path, true);
  }
  dep_append(&buf, &len, &cap, "\n", false);
  for (int i = g->modules.n - 2; i >= 0; i--) {
    dep_append(&buf, &len, &cap, "\n", false);
    dep_append(&buf, &len, &cap, ((Module *)g->modules.items[i])->path, true);
    dep_append(&buf, &len, &cap, ":\n", false);
  }
  int rc = write_atomic(dfile, buf, len);
  free(buf);
  return rc;
}

static int build_one(const Opts *o, Run *run, const char *file, bool colour) {
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
  bool building = !strcmp(o->cmd, "build");
  const char *obj = o->out ? o->out : fe_sprintf(&arena, "%s.o", stem(&arena, file));
  const char *hdr = with_ext(&arena, obj, ".h"), *ll = with_ext(&arena, obj, ".ll"), *as = with_ext(&arena, obj, ".s");

  /* a cache hit needs no checking and no LLVM: the same inputs compiled before */
  bool use_cache = building && run->cache.usable && !diags.nerrors && !o->dump;
  ca_Key key, opts;
  memset(&key, 0, sizeof key), memset(&opts, 0, sizeof opts);
  ca_Manifest man;
  ca_Entry entry;
  memset(&entry, 0, sizeof entry);
  ca_Lookup got = CA_UNAVAILABLE;
  if (use_cache) {
    ca_Hasher *h = ca_hasher_new();
    hash_options(h, o);
    opts = ca_hasher_finish(h);
    key = module_key(o, root, &opts);
    make_manifest(root, &opts, &man);
    if (!o->recache) got = ca_get(&run->cache, &key, &entry);
    if (got == CA_HIT) {
      bool complete = (!(o->emit & CG_EMIT_OBJ) || entry.data[CA_OBJ]) && (!(o->emit & CG_EMIT_HEADER) || entry.data[CA_HEADER]) &&
                      (!(o->emit & CG_EMIT_LLVM_IR) || entry.data[CA_LLVM_IR]) && (!(o->emit & CG_EMIT_ASM) || entry.data[CA_ASM]);
      if (complete) {
        if (o->explain) fprintf(stderr, "tric: explain: %s: reused from the cache\n", file);
        if ((o->emit & CG_EMIT_OBJ) && write_atomic(obj, entry.data[CA_OBJ], entry.len[CA_OBJ])) status = EXIT_IO;
        if (!status && (o->emit & CG_EMIT_HEADER) && write_atomic(hdr, entry.data[CA_HEADER], entry.len[CA_HEADER])) status = EXIT_IO;
        if (!status && (o->emit & CG_EMIT_LLVM_IR) && write_atomic(ll, entry.data[CA_LLVM_IR], entry.len[CA_LLVM_IR])) status = EXIT_IO;
        if (!status && (o->emit & CG_EMIT_ASM) && write_atomic(as, entry.data[CA_ASM], entry.len[CA_ASM])) status = EXIT_IO;
        if (!status && o->md && write_depfile(o->mf ? o->mf : with_ext(&arena, obj, ".d"), obj, &g)) status = EXIT_IO;
        ca_entry_free(&entry);
        fe_arena_free(&arena);
        return status;
      }
      ca_entry_free(&entry);
      got = CA_MISS;
    }
    if (o->explain) {
      char buf[256];
      fprintf(stderr, "tric: explain: %s: rebuilt: %s\n", file,
              o->recache ? "--recache" : miss_reason(run, file, &man, got, buf, sizeof buf));
    }
  }

  graph_check(&g);
  if (!diags.nerrors) {
    if (o->dump && !strcmp(o->dump, "types")) tc_dump_types(stdout, root->funcs, root->nfuncs, &arena);
    if (o->dump && !strcmp(o->dump, "ir")) tc_dump_ir(stdout, root->funcs, root->nfuncs, &arena);
  }
  fe_diags_print(&diags, stderr, colour);
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
    cg_Result res = {0};
    char *err = NULL;
    unsigned cgemit = o->emit & (CG_EMIT_OBJ | CG_EMIT_LLVM_IR | CG_EMIT_ASM);
    if (cgemit && !run->llvm_ready) {
      cg_init();
      run->llvm_ready = true;
    }
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
    if (!status && o->md && write_depfile(o->mf ? o->mf : with_ext(&arena, obj, ".d"), obj, &g)) status = EXIT_IO;
    if (!status && use_cache) {
      ca_Entry put;
      memset(&put, 0, sizeof put);
      put.data[CA_OBJ] = res.obj.data, put.len[CA_OBJ] = res.obj.len;
      put.data[CA_HEADER] = h, put.len[CA_HEADER] = h ? strlen(h) : 0;
      put.data[CA_LLVM_IR] = res.ir.data, put.len[CA_LLVM_IR] = res.ir.len;
      put.data[CA_ASM] = res.asm_text.data, put.len[CA_ASM] = res.asm_text.len;
      if (ca_put(&run->cache, &key, &put) == 0) ca_manifest_put(&run->cache, file, &man);
    }
    free(h);
    if (cgemit) cg_result_free(&res);
  }
  fe_arena_free(&arena);
  return status;
}

/* The cache folder: --cache-dir, $TRIC_CACHE_DIR, $XDG_CACHE_HOME/tric, ~/.cache/tric. */
static const char *cache_dir(const Opts *o, char *buf, size_t cap) {
  const char *d = o->cache_dir ? o->cache_dir : getenv("TRIC_CACHE_DIR");
  if (d && *d) return d;
  const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (x && *x) snprintf(buf, cap, "%s/tric", x);
  else if (home && *home) snprintf(buf, cap, "%s/.cache/tric", home);
  else return NULL;
  return buf;
}

static uint64_t cache_max_size(void) {
  uint64_t v = 2ull << 30;
  const char *e = getenv("TRIC_CACHE_MAX_SIZE");
  if (e && *e && !ca_parse_size(e, &v))
    fprintf(stderr, "tric: warning: TRIC_CACHE_MAX_SIZE='%s' is not a size like 2G; using 2G\n", e), v = 2ull << 30;
  return v;
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
  if (!ca_open(&c, dir, cache_max_size())) return EXIT_IO;
  if (!strcmp(sub, "stats")) {
    bool json = o->ncache_args > 1 && !strcmp(o->cache_args[1], "--json");
    if (o->ncache_args > 1 + json) return usage_error("unexpected argument '%s' to tric cache stats", o->cache_args[1 + json]);
    return ca_cmd_stats(&c, stdout, json);
  }
  if (!strcmp(sub, "list")) return ca_cmd_list(&c, stdout);
  if (!strcmp(sub, "clear")) return ca_cmd_clear(&c);
  if (!strcmp(sub, "verify")) return ca_cmd_verify(&c, stdout) ? EXIT_COMPILE : EXIT_OK;
  if (!strcmp(sub, "prune")) {
    uint64_t max = c.max_size;
    int64_t age = -1;
    for (int i = 1; i < o->ncache_args; i++) {
      const char *a = o->cache_args[i], *v = i + 1 < o->ncache_args ? o->cache_args[i + 1] : NULL;
      if (!strcmp(a, "--max-size") && v && ca_parse_size(v, &max)) i++;
      else if (!strncmp(a, "--max-size=", 11) && ca_parse_size(a + 11, &max)) continue;
      else if (!strcmp(a, "--max-age") && v && ca_parse_duration(v, &age)) i++;
      else if (!strncmp(a, "--max-age=", 10) && ca_parse_duration(a + 10, &age)) continue;
      else return usage_error("tric cache prune takes --max-size SIZE (like 500M) and --max-age AGE (like 30d), not '%s'", a);
    }
    int n = ca_prune(&c, max, age);
    printf("removed %d entr%s\n", n, n == 1 ? "y" : "ies");
    return EXIT_OK;
  }
  return usage_error("unknown cache subcommand '%s' (stats, list, prune, clear, verify, dir)", sub);
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
  if (!strcmp(o.cmd, "cache")) return cache_command(&o);
  install_signal_cleanup();
  Run run = {0};
  char buf[4096];
  const char *dir = cache_dir(&o, buf, sizeof buf);
  if (!strcmp(o.cmd, "build") && !o.no_cache && dir) ca_open(&run.cache, dir, cache_max_size());
  int status = EXIT_OK;
  for (int i = 0; i < o.nfiles; i++) {
    int s = build_one(&o, &run, o.files[i], colour);
    if (s > status) status = s;
  }
  ca_maybe_prune(&run.cache);
  if (o.explain && !strcmp(o.cmd, "build"))
    fprintf(stderr, "tric: explain: LLVM was %s\n", run.llvm_ready ? "started" : "not started (everything came from the cache)");
  if (run.llvm_ready) cg_shutdown();
  return status;
}
