/* target.c - LLVM set-up, the optimisation pipeline and object/assembly output.
 *
 * Target initialisation is process-wide and happens once in cg_init, called by cmd/
 * before any worker starts; everything else (context, module, target machine) is
 * created per compile, so compiles on several threads never share LLVM state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <llvm/Config/llvm-config.h>


#include "codegen/internal.h"

void cg_emit_module(cg_Emit *e, tc_Func *funcs, int n, const char *cpu, const char *features);

void cg_init(void) {
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  LLVMInitializeX86AsmParser();
  LLVMInitializeAArch64TargetInfo();
  LLVMInitializeAArch64Target();
  LLVMInitializeAArch64TargetMC();
  LLVMInitializeAArch64AsmPrinter();
  LLVMInitializeAArch64AsmParser();
  /* The loop vectoriser's second, narrower vector loop for a loop's remainder: a third
     copy of every elementwise body (a GELU epilogue's tanh among them) for the few
     elements past the last full vector, which the scalar remainder does as well; it cost a
     third of a contraction kernel's code generation time. Set once, before any thread
     compiles, and the same for every module. */
  const char *argv[] = {"tric", "-enable-epilogue-vectorization=false"};
  LLVMParseCommandLineOptions(2, argv, NULL);
}

void cg_shutdown(void) { LLVMShutdown(); }

const char *cg_llvm_version(void) { return LLVM_VERSION_STRING; }

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s);
  char *p = malloc(n + 1);
  if (!p) abort();
  memcpy(p, s, n + 1);
  return p;
}

void cg_describe_target(const cg_Options *o, char **triple, char **cpu, char **features) {
  if (o->triple) {
    *triple = dupstr(o->triple);
    *cpu = dupstr(o->cpu ? o->cpu : "generic");
    *features = dupstr(o->features ? o->features : "");
    return;
  }
  char *t = LLVMGetDefaultTargetTriple(), *c = LLVMGetHostCPUName(), *f = LLVMGetHostCPUFeatures();
  *triple = dupstr(t);
  *cpu = dupstr(o->cpu ? o->cpu : c);
  /* a named CPU brings its own features; the host's apply only to the host CPU */
  *features = dupstr(o->features ? o->features : o->cpu ? "" : f);
  LLVMDisposeMessage(t);
  LLVMDisposeMessage(c);
  LLVMDisposeMessage(f);
}

/* ---------------------------------------------------------------- checking a target
 *
 * LLVM-C has no call that says whether a CPU or feature name exists for a target, and a
 * target machine made with an unknown one prints a warning from every thread that makes
 * one (and, for an x86-64 CPU it does not know, aborts: it lacks 64-bit mode). What LLVM
 * does offer is the CPU name "help": making a target machine for it prints the target's
 * tables of CPUs and features to stderr, once per process. So cg_check_target reads
 * those tables through a memory file put in place of stderr for that one call, before any
 * other thread exists, and compares the names itself. */

/* A target's CPU and feature names, from LLVM's help text. */
typedef struct Names {
  char *text;       /* the help text, names NUL-terminated in place */
  char **cpus, **features;
  int ncpus, nfeatures;
} Names;

static void names_free(Names *n) {
  free(n->text), free(n->cpus), free(n->features);
  memset(n, 0, sizeof *n);
}

/* Splits the help text into its two tables: lines "  NAME - description" after
 * "Available CPUs" and after "Available features". */
static void parse_names(Names *n) {
  size_t lines = 1;
  for (const char *p = n->text; *p; p++) lines += *p == '\n';
  n->cpus = calloc(lines, sizeof *n->cpus);
  n->features = calloc(lines, sizeof *n->features);
  if (!n->cpus || !n->features) abort();
  int table = 0; /* 1 CPUs, 2 features */
  for (char *line = n->text; line && *line;) {
    char *eol = strchr(line, '\n');
    if (eol) *eol = 0;
    if (!strncmp(line, "Available CPUs", 14)) table = 1;
    else if (!strncmp(line, "Available features", 18)) table = 2;
    else if (table && line[0] == ' ' && line[1] == ' ' && line[2] && line[2] != ' ') {
      char *name = line + 2, *end = strchr(name, ' ');
      if (end) {
        *end = 0;
        if (table == 1) n->cpus[n->ncpus++] = name;
        else n->features[n->nfeatures++] = name;
      }
    }
    line = eol ? eol + 1 : NULL;
  }
}

/* Reads target t's (triple's) CPU and feature tables; CG_OK, or a failure with a message. */
static cg_Status read_names(LLVMTargetRef t, const char *triple, Names *n, char *msg, size_t cap) {
  memset(n, 0, sizeof *n);
  FILE *tmp = tmpfile();
  int saved = dup(2);
  if (!tmp || saved < 0) {
    snprintf(msg, cap, "cannot check the CPU and features: no temporary file: %s", strerror(errno));
    if (tmp) fclose(tmp);
    if (saved >= 0) close(saved);
    return CG_ERR_RESOURCE;
  }
  fflush(stderr);
  dup2(fileno(tmp), 2);
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(t, triple, "help", "", LLVMCodeGenLevelNone, LLVMRelocPIC, LLVMCodeModelDefault);
  dup2(saved, 2);
  close(saved);
  if (tm) LLVMDisposeTargetMachine(tm);
  long len = ftell(tmp);
  if (len > 0) {
    n->text = malloc((size_t)len + 1);
    if (!n->text) abort();
    rewind(tmp);
    len = (long)fread(n->text, 1, (size_t)len, tmp);
    n->text[len] = 0;
  }
  fclose(tmp);
  if (!n->text) {
    snprintf(msg, cap, "internal error: LLVM printed no CPU table for '%s' (it does so once per process)", triple);
    return CG_ERR_INTERNAL;
  }
  parse_names(n);
  if (!n->ncpus) {
    snprintf(msg, cap, "internal error: no CPU names in LLVM's table for '%s'", triple);
    names_free(n);
    return CG_ERR_INTERNAL;
  }
  return CG_OK;
}

/* Edit distance of a and b (both short names), for suggestions. */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return la > lb ? la : lb;
  size_t row[64];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* Appends to msg "; did you mean A, B?" with up to four of the names of list closest to
 * name, when any is within a few edits. */
static void suggest(const char *name, char *const *list, int n, char *msg, size_t cap) {
  size_t limit = strlen(name) / 3 + 1, used = strlen(msg);
  int shown = 0;
  for (size_t d = 0; d <= limit && !shown; d++) /* the closest names only */
    for (int i = 0; i < n && shown < 4; i++)
      if (distance(name, list[i]) == d && used < cap)
        used += (size_t)snprintf(msg + used, cap - used, "%s%s", shown++ ? ", " : "; did you mean ", list[i]);
  if (shown && used < cap) snprintf(msg + used, cap - used, "?");
}

static bool listed(const char *name, char *const *list, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(list[i], name)) return true;
  return false;
}

/* Checks every item of a feature list (+NAME or -NAME, comma-separated). */
static cg_Status check_features(const char *list, const char *triple, const Names *n, char *msg, size_t cap) {
  for (const char *p = list; *p;) {
    size_t len = strcspn(p, ",");
    char item[128];
    snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
    if (len && item[0] != '+' && item[0] != '-') {
      snprintf(msg, cap, "--features takes +NAME or -NAME items, not '%s'", item);
      return CG_ERR_CPU;
    }
    if (len && (len >= sizeof item || !listed(item + 1, n->features, n->nfeatures))) {
      snprintf(msg, cap, "unknown CPU feature '%s' for target %s", item + 1, triple);
      suggest(item + 1, n->features, n->nfeatures, msg, cap);
      return CG_ERR_CPU;
    }
    p += len;
    if (*p == ',') p++;
  }
  return CG_OK;
}

cg_Status cg_check_target(const cg_Options *o, FILE *list, char *msg, size_t cap) {
  char *triple, *cpu, *features, *err = NULL;
  cg_describe_target(o, &triple, &cpu, &features);
  LLVMTargetRef t;
  cg_Status rc = CG_OK;
  if (LLVMGetTargetFromTriple(triple, &t, &err)) {
    snprintf(msg, cap, "unknown target '%s' (%s)", triple, err ? err : "LLVM knows no such target");
    rc = CG_ERR_TARGET;
  }
  if (err) LLVMDisposeMessage(err);
  Names n = {0};
  bool need = list || o->cpu || o->features;
  if (!rc && need) rc = read_names(t, triple, &n, msg, cap);
  if (!rc && list) {
    fprintf(list, "CPUs of %s (--cpu NAME):\n", triple);
    for (int i = 0; i < n.ncpus; i++) fprintf(list, "  %s\n", n.cpus[i]);
    fprintf(list, "features of %s (--features +NAME,-NAME):\n", triple);
    for (int i = 0; i < n.nfeatures; i++) fprintf(list, "  %s\n", n.features[i]);
  } else if (!rc && o->cpu && !listed(o->cpu, n.cpus, n.ncpus)) {
    snprintf(msg, cap, "unknown CPU '%s' for target %s", o->cpu, triple);
    suggest(o->cpu, n.cpus, n.ncpus, msg, cap);
    rc = CG_ERR_CPU;
  } else if (!rc && o->features) rc = check_features(o->features, triple, &n, msg, cap);
  names_free(&n);
  free(triple), free(cpu), free(features);
  return rc;
}

static void blob_from_buffer(LLVMMemoryBufferRef buf, cg_Blob *b) {
  b->len = LLVMGetBufferSize(buf);
  b->data = malloc(b->len + 1);
  if (!b->data) abort();
  memcpy(b->data, LLVMGetBufferStart(buf), b->len);
  b->data[b->len] = 0;
  LLVMDisposeMemoryBuffer(buf);
}

/* Fails a step with status st: *err is what, and LLVM's message msg (taken) if any. */
static cg_Status fail(char **err, cg_Status st, const char *what, char *msg) {
  size_t n = strlen(what) + (msg ? strlen(msg) : 0) + 4;
  *err = malloc(n);
  if (!*err) abort();
  snprintf(*err, n, "%s%s%s", what, msg ? ": " : "", msg ? msg : "");
  if (msg) LLVMDisposeMessage(msg);
  return st;
}

/* ---------------------------------------------------------------- compiles in units
 *
 * For an ELF object or assembly, cg_start emits each kernel into a module of its own
 * (defining CG_KERNEL_NAME) and the exported functions into the entry module, which
 * declares kernel i as tric.kernel.<i>; every module is kept as bitcode, and the context
 * is freed. Each kernel unit reads its bitcode into its own context, optimises it and
 * prints its assembly. cg_finish reads the entry module back and gives it, as module
 * assembly, every kernel's assembly in unit order, each with its local labels renamed
 * apart, its name made tric.kernel.<u> and its .globl/.hidden lines dropped, so that the
 * kernels are local symbols of the one object it then generates. The shared
 * microkernels that contraction kernels call (CG_UKERNEL_PREFIX) are units after the
 * kernels', each defining its own name, which stays as it is and becomes local the same
 * way. A unit's assembly depends only on its bitcode, the target and the options, which
 * cg_unit_key_feed gives the builder to key it by, so one compile serves every module
 * that emits the same kernel or microkernel. */

typedef struct Unit {
  char *bitcode;
  size_t len;
} Unit;

struct cg_Job {
  char *triple, *cpu, *features, *name;
  LLVMTargetRef target;
  int opt_level;
  unsigned emit;
  bool stream;
  double t_ir;
  int nkernels;
  /* whole: the module as emitted */
  fe_Arena arena;
  cg_Emit e;
  /* in units: the entry module's bitcode, and each kernel module's */
  bool split;
  cg_Machines *mach; /* the current step's (or own_mach) */
  cg_Machines *own_mach;
  Unit entry, *units;
  int nunits;
};

/* Target machines kept for reuse, per code generation level: making one (with its
 * subtarget tables for the CPU and features) costs about a millisecond, which every step
 * would pay. A target machine keeps nothing from one module's emission that changes the
 * next one's output. */
struct cg_Machines {
  LLVMTargetMachineRef tm[4];
  char *triple[4], *cpu[4], *features[4];
};

cg_Machines *cg_machines_new(void) {
  cg_Machines *m = calloc(1, sizeof *m);
  if (!m) abort();
  return m;
}

void cg_machines_free(cg_Machines *m) {
  if (!m) return;
  for (int i = 0; i < 4; i++)
    if (m->tm[i]) {
      LLVMDisposeTargetMachine(m->tm[i]);
      free(m->triple[i]), free(m->cpu[i]), free(m->features[i]);
    }
  free(m);
}

/* A target machine for j at `level`, from m (made there if it has none that fits). m is
 * the calling step's own: a TargetMachine is not safe to use from two threads at once. */
static LLVMTargetMachineRef machine_for(const cg_Job *j, cg_Machines *m, int level) {
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess, LLVMCodeGenLevelDefault,
                                               LLVMCodeGenLevelAggressive};
  int i = level & 3;
  if (m->tm[i] && !strcmp(m->triple[i], j->triple) && !strcmp(m->cpu[i], j->cpu) && !strcmp(m->features[i], j->features))
    return m->tm[i];
  if (m->tm[i]) {
    LLVMDisposeTargetMachine(m->tm[i]);
    free(m->triple[i]), free(m->cpu[i]), free(m->features[i]);
  }
  m->tm[i] = LLVMCreateTargetMachine(j->target, j->triple, j->cpu, j->features, levels[i], LLVMRelocPIC,
                                     LLVMCodeModelDefault);
  m->triple[i] = dupstr(j->triple), m->cpu[i] = dupstr(j->cpu), m->features[i] = dupstr(j->features);
  return m->tm[i];
}

/* The start and finish steps of a job run one after the other: they use j->mach. */
static LLVMTargetMachineRef make_tm_at(cg_Job *j, int level) { return machine_for(j, j->mach, level); }
static LLVMTargetMachineRef make_tm(cg_Job *j) { return make_tm_at(j, j->opt_level); }

static void set_layout(LLVMModuleRef mod, LLVMTargetMachineRef tm, const char *triple) {
  LLVMSetTarget(mod, triple);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(mod, layout);
  LLVMDisposeMessage(layout);
  LLVMDisposeTargetData(td);
}

/* ---------------------------------------------------------------- pipelines
 *
 * At -O2 a kernel unit's pipeline is the one its module asks for (CG_PIPELINE_MD, set by
 * the emitter, internal.h). default<O2> runs some 90 passes, and on a contraction kernel or
 * a microkernel most find nothing: their hot code is written with explicit vector types,
 * every loop but the epilogue's carries vectorize.enable=false, and loop unrolling only
 * grows the code that instruction selection and register allocation then pay for (a
 * contraction unit cost about as much in the code generator as in the optimiser). The
 * short pipelines keep what those kernels need: SROA and instruction combining for the
 * emitter's index arithmetic, loop rotation and LICM for the loop-invariant addresses,
 * GVN, and, for a contraction kernel, the loop vectoriser for its fused epilogue (the
 * scalar loop over a tile's accumulators). They cost about half of default<O2> in
 * the optimiser and the code generator together (docs/cli.md "Optimisation pipelines").
 * -O3 keeps default<O3> for every unit; -O1 and -O0 are unchanged. */

#define CG_IC "instcombine<no-verify-fixpoint>"
#define CG_LEAN_HEAD "sroa,early-cse," CG_IC ",simplifycfg,loop-mssa(loop-rotate,licm),gvn," CG_IC
static const char *const lean_pipelines[] = {
    [CG_PIPE_CONTRACTION] = "function(" CG_LEAN_HEAD ",loop-vectorize," CG_IC ",simplifycfg,dce)",
    [CG_PIPE_MICROKERNEL] = "function(" CG_LEAN_HEAD ",simplifycfg,dce)",
};

/* The pipeline module mod asks for (CG_PIPE_DEFAULT if none). */
static cg_Pipeline unit_pipeline(LLVMModuleRef mod) {
  if (LLVMGetNamedMetadataNumOperands(mod, CG_PIPELINE_MD) != 1) return CG_PIPE_DEFAULT;
  LLVMValueRef node;
  LLVMGetNamedMetadataOperands(mod, CG_PIPELINE_MD, &node);
  if (LLVMGetMDNodeNumOperands(node) != 1) return CG_PIPE_DEFAULT;
  LLVMValueRef kind;
  LLVMGetMDNodeOperands(node, &kind);
  if (!LLVMIsAConstantInt(kind)) return CG_PIPE_DEFAULT;
  unsigned long long k = LLVMConstIntGetZExtValue(kind);
  return k == CG_PIPE_CONTRACTION || k == CG_PIPE_MICROKERNEL ? (cg_Pipeline)k : CG_PIPE_DEFAULT;
}

/* Runs the optimisation pipeline at `level` (and marks streaming stores); seconds spent in *t. */
static cg_Status optimise(cg_Job *j, LLVMModuleRef mod, LLVMTargetMachineRef tm, int level, double *t, char **err) {
  double t0 = seconds();
  char passes[32];
  snprintf(passes, sizeof passes, "default<O%d>", level & 3);
  cg_Pipeline pipe = (level & 3) == 2 ? unit_pipeline(mod) : CG_PIPE_DEFAULT;
  const char *pipeline = pipe == CG_PIPE_DEFAULT ? passes : lean_pipelines[pipe];
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, j->opt_level >= 2);
  /* SLP finds nothing to widen in loop kernels but is superlinear on the long straight-line
     size checks of a large model's entry function (93% of -O2 time at 160 layers) */
  LLVMPassBuilderOptionsSetSLPVectorization(po, false);
  LLVMPassBuilderOptionsSetLoopInterleaving(po, j->opt_level >= 2);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, j->opt_level >= 2);
  LLVMErrorRef perr = LLVMRunPasses(mod, pipeline, tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (perr) {
    char *m = LLVMGetErrorMessage(perr);
    fail(err, CG_ERR_INTERNAL, "internal error: LLVM optimisation failed", dupstr(m));
    LLVMDisposeErrorMessage(m);
    return CG_ERR_INTERNAL;
  }
  if (j->stream) {
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    cg_mark_streaming_stores(mod, td);
    LLVMDisposeTargetData(td);
  }
  *t = seconds() - t0;
  return CG_OK;
}

static cg_Status emit_file(LLVMTargetMachineRef tm, LLVMModuleRef mod, LLVMCodeGenFileType kind, cg_Blob *out, char **err) {
  char *msg = NULL;
  LLVMMemoryBufferRef buf;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, kind, &msg, &buf))
    return fail(err, CG_ERR_INTERNAL,
                kind == LLVMObjectFile ? "internal error: object output failed" : "internal error: assembly output failed", msg);
  blob_from_buffer(buf, out);
  return CG_OK;
}

/* Collects the first error LLVM reports through the context (the join assembles text:
 * without a handler, an error there would end the process). */
static void on_diagnostic(LLVMDiagnosticInfoRef di, void *ctx) {
  char **first = ctx;
  if (LLVMGetDiagInfoSeverity(di) != LLVMDSError || *first) return;
  *first = LLVMGetDiagInfoDescription(di);
}

static bool is_elf(const char *triple) {
  static const char *other[] = {"apple", "darwin", "macos", "ios", "windows", "win32", "mingw", "cygwin", "msvc"};
  for (size_t i = 0; i < sizeof other / sizeof *other; i++)
    if (strstr(triple, other[i])) return false;
  return true;
}

static void to_bitcode(LLVMModuleRef mod, Unit *u) {
  LLVMMemoryBufferRef bc = LLVMWriteBitcodeToMemoryBuffer(mod);
  u->len = LLVMGetBufferSize(bc);
  u->bitcode = malloc(u->len ? u->len : 1);
  if (!u->bitcode) abort();
  memcpy(u->bitcode, LLVMGetBufferStart(bc), u->len);
  LLVMDisposeMemoryBuffer(bc);
}

/* Feeds the target and the options (and, with_emit, the outputs asked for): what every
 * step's code depends on besides its bitcode. Strings go with their NUL, so that no two
 * lists of them feed the same bytes. */
static void feed_target(const cg_Job *j, bool with_emit, cg_KeyFeed *feed, void *ctx) {
  const char *parts[] = {j->triple, j->cpu, j->features};
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) feed(ctx, parts[i], strlen(parts[i]) + 1);
  unsigned char opts[3] = {(unsigned char)j->opt_level, (unsigned char)j->stream, (unsigned char)j->emit};
  feed(ctx, opts, with_emit ? 3 : 2);
}

/* Feeds a unit's bitcode, its length first. */
static void feed_bitcode(const Unit *u, cg_KeyFeed *feed, void *ctx) {
  uint64_t len = u->len;
  feed(ctx, &len, sizeof len);
  feed(ctx, u->bitcode, u->len);
}

static cg_Status verify(LLVMModuleRef mod, char **err) {
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg))
    return fail(err, CG_ERR_INTERNAL, "internal error: invalid LLVM IR generated", msg);
  LLVMDisposeMessage(msg);
  return CG_OK;
}

/* Points j at the step's target machines, or at machines of its own. */
static void use_machines(cg_Job *j, cg_Machines *m) {
  if (!m && !j->own_mach) j->own_mach = cg_machines_new();
  j->mach = m ? m : j->own_mach;
}

cg_Status cg_start(const char *module_name, tc_Func *funcs, int nfuncs, const cg_Options *o, unsigned emit,
                   cg_Machines *m, cg_Job **out, int *nunits, char **err) {
  *out = NULL;
  cg_Job *j = calloc(1, sizeof *j);
  if (!j) abort();
  use_machines(j, m);
  char *msg = NULL;
  cg_describe_target(o, &j->triple, &j->cpu, &j->features);
  j->name = dupstr(module_name);
  j->opt_level = o->opt_level;
  j->emit = emit;
  if (LLVMGetTargetFromTriple(j->triple, &j->target, &msg)) {
    cg_Status st = fail(err, CG_ERR_TARGET, "unknown target", msg);
    cg_job_free(j);
    return st;
  }
  j->stream = o->opt_level >= 2 && (!strncmp(j->triple, "x86_64", 6) || (j->triple[0] == 'i' && !strncmp(j->triple + 2, "86", 2)));
  LLVMTargetMachineRef tm = make_tm(j);
  cg_Emit *e = &j->e;
  e->arena = &j->arena;
  e->ctx = LLVMContextCreate();
  e->mod = LLVMModuleCreateWithNameInContext(module_name, e->ctx);
  e->b = LLVMCreateBuilderInContext(e->ctx);
  e->i1 = LLVMInt1TypeInContext(e->ctx);
  e->i8 = LLVMInt8TypeInContext(e->ctx);
  e->i16 = LLVMInt16TypeInContext(e->ctx);
  e->i32 = LLVMInt32TypeInContext(e->ctx);
  e->i64 = LLVMInt64TypeInContext(e->ctx);
  e->f16 = LLVMHalfTypeInContext(e->ctx);
  e->f32 = LLVMFloatTypeInContext(e->ctx);
  e->f64 = LLVMDoubleTypeInContext(e->ctx);
  e->ptr = LLVMPointerTypeInContext(e->ctx, 0);
  e->vd = LLVMVoidTypeInContext(e->ctx);
  e->stream = j->stream;
  e->fast_isel = o->opt_level == 0;
  e->split = !(emit & CG_EMIT_LLVM_IR) && is_elf(j->triple);
  set_layout(e->mod, tm, j->triple);
  /* a module without exports still gets a valid, empty object */
  double t0 = seconds();
  cg_emit_module(e, funcs, nfuncs, j->cpu, j->features);
  j->nkernels = e->kernel_fns.n + e->uk_names.n; /* the shared microkernels count as kernels */
  cg_Status rc = verify(e->mod, err);
  for (int i = 0; !rc && i < e->kernel_mods.n; i++) rc = verify(e->kernel_mods.items[i], err);
  for (int i = 0; !rc && i < e->uk_mods.n; i++) rc = verify(e->uk_mods.items[i], err);
  if (rc) {
    cg_job_free(j);
    return rc;
  }
  j->split = e->split;
  if (e->split) { /* every unit starts from bitcode, in a context of its own */
    j->nunits = e->kernel_mods.n + e->uk_mods.n; /* kernel i is unit i; the microkernels follow */
    j->units = calloc((size_t)j->nunits + 1, sizeof *j->units);
    if (!j->units) abort();
    to_bitcode(e->mod, &j->entry);
    for (int i = 0; i < j->nunits; i++) {
      int k = e->kernel_mods.n;
      to_bitcode(i < k ? e->kernel_mods.items[i] : e->uk_mods.items[i - k], &j->units[i]);
    }
    LLVMDisposeBuilder(e->b);
    LLVMContextDispose(e->ctx); /* and every module in it */
    e->b = NULL, e->mod = NULL, e->ctx = NULL;
    fe_arena_free(&j->arena);
  }
  j->t_ir = seconds() - t0;
  *nunits = j->nunits;
  *out = j;
  return CG_OK;
}

void cg_unit_key_feed(const cg_Job *j, int u, cg_KeyFeed *feed, void *ctx) {
  feed_target(j, false, feed, ctx);
  feed_bitcode(&j->units[u], feed, ctx);
}

bool cg_job_key_feed(const cg_Job *j, cg_KeyFeed *feed, void *ctx) {
  if (!j->split) return false;
  feed_target(j, true, feed, ctx);
  feed_bitcode(&j->entry, feed, ctx);
  return true;
}

int cg_job_nkernels(const cg_Job *j) { return j->nkernels; }

/* Optimises mod at `level` and generates the outputs j->emit asks for into out. */
static cg_Status compile_module(cg_Job *j, LLVMModuleRef mod, int level, cg_Result *out, char **err) {
  LLVMTargetMachineRef tm = make_tm_at(j, level);
  cg_Status rc = optimise(j, mod, tm, level, &out->t_opt, err);
  double t0 = seconds();
  if (!rc && (j->emit & CG_EMIT_LLVM_IR)) {
    char *ir = LLVMPrintModuleToString(mod);
    out->ir.len = strlen(ir);
    out->ir.data = dupstr(ir);
    LLVMDisposeMessage(ir);
  }
  if (!rc && (j->emit & CG_EMIT_ASM)) rc = emit_file(tm, mod, LLVMAssemblyFile, &out->asm_text, err);
  if (!rc && (j->emit & CG_EMIT_OBJ)) rc = emit_file(tm, mod, LLVMObjectFile, &out->obj, err);
  out->t_codegen = seconds() - t0;
  return rc;
}

cg_Status cg_run_unit(cg_Job *j, int u, cg_Machines *m, cg_Unit *out, char **err) {
  memset(out, 0, sizeof *out);
  /* Units of one job run at once on several threads, so this one never touches j->mach:
     it did, and two units could end up sharing one target machine (an ASan run saw a
     use-after-free in MCContext, another 'symbol tric.kernel is already defined'). */
  cg_Machines *own = m ? NULL : cg_machines_new();
  LLVMTargetMachineRef tm = machine_for(j, m ? m : own, j->opt_level);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(j->units[u].bitcode, j->units[u].len, j->name, 0);
  LLVMModuleRef mod = NULL;
  cg_Status rc = CG_OK;
  if (LLVMParseBitcodeInContext2(ctx, buf, &mod)) rc = fail(err, CG_ERR_INTERNAL, "internal error: cannot read back a unit's bitcode", NULL);
  if (!rc) rc = optimise(j, mod, tm, j->opt_level, &out->t_opt, err);
  double t0 = seconds();
  if (!rc) rc = emit_file(tm, mod, LLVMAssemblyFile, &out->asm_text, err);
  out->t_codegen = seconds() - t0;
  if (mod) LLVMDisposeModule(mod);
  LLVMDisposeMemoryBuffer(buf);
  LLVMContextDispose(ctx);
  cg_machines_free(own);
  return rc;
}

/* Growable text. */
typedef struct Text {
  char *s;
  size_t n, cap;
} Text;

static void put(Text *t, const char *s, size_t n) {
  if (t->n + n + 1 > t->cap) {
    t->cap = (t->n + n + 1) * 2;
    t->s = realloc(t->s, t->cap);
    if (!t->s) abort();
  }
  memcpy(t->s + t->n, s, n);
  t->n += n;
  t->s[t->n] = 0;
}

static bool ident_char(char c) {
  return c == '_' || c == '.' || c == '$' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Appends unit u's assembly to the join: its local labels renamed apart (.Lx -> .Lu<u>_x),
 * its .globl/.hidden lines for kernels and microkernels and its .file lines dropped, a
 * kernel's name made tric.kernel.<u>. */
static void append_unit(Text *out, const cg_Blob *b, int u) {
  const size_t klen = strlen(CG_KERNEL_NAME), ulen = strlen(CG_UKERNEL_PREFIX);
  char prefix[24], kname[32];
  int plen = snprintf(prefix, sizeof prefix, ".Lu%d_", u);
  int knlen = snprintf(kname, sizeof kname, "%s.%d", CG_KERNEL_NAME, u);
  const char *s = b->data, *end = b->data + b->len;
  while (s < end) {
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    eol = eol ? eol + 1 : end;
    const char *t = s;
    while (t < eol && (*t == ' ' || *t == '\t')) t++;
    if (!strncmp(t, ".globl", 6) || !strncmp(t, ".hidden", 7)) {
      const char *a = t + (t[1] == 'g' ? 6 : 7);
      while (a < eol && (*a == ' ' || *a == '\t')) a++;
      if (((size_t)(eol - a) > klen && !strncmp(a, CG_KERNEL_NAME, klen)) ||
          ((size_t)(eol - a) > ulen && !strncmp(a, CG_UKERNEL_PREFIX, ulen))) {
        s = eol;
        continue;
      }
    }
    if (!strncmp(t, ".file", 5)) {
      s = eol;
      continue;
    }
    const char *run = s; /* the text since the last replacement */
    for (const char *c = s; c < eol; c++) {
      if (c > s && ident_char(c[-1])) continue;
      if (c + 2 < eol && c[0] == '.' && c[1] == 'L') {
        put(out, run, (size_t)(c - run));
        put(out, prefix, (size_t)plen);
        run = c + 2;
      } else if ((size_t)(eol - c) > klen && !strncmp(c, CG_KERNEL_NAME, klen) && !ident_char(c[klen])) {
        put(out, run, (size_t)(c - run));
        put(out, kname, (size_t)knlen);
        run = c + klen;
      }
    }
    put(out, run, (size_t)(eol - run));
    s = eol;
  }
}

cg_Status cg_finish(cg_Job *j, const cg_Unit *const *units, cg_Machines *m, cg_Result *out, char **err) {
  memset(out, 0, sizeof *out);
  use_machines(j, m);
  cg_Status rc = CG_OK;
  if (!j->split) rc = compile_module(j, j->e.mod, j->opt_level, out, err);
  else { /* the entry module, with every kernel's assembly as its module assembly */
    LLVMContextRef ctx = LLVMContextCreate();
    char *diag = NULL;
    LLVMContextSetDiagnosticHandler(ctx, on_diagnostic, &diag);
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(j->entry.bitcode, j->entry.len, j->name, 0);
    LLVMModuleRef mod = NULL;
    if (LLVMParseBitcodeInContext2(ctx, buf, &mod)) rc = fail(err, CG_ERR_INTERNAL, "internal error: cannot read back a unit's bitcode", NULL);
    else {
      Text text = {0};
      for (int u = 0; u < j->nunits; u++) append_unit(&text, &units[u]->asm_text, u);
      LLVMSetModuleInlineAsm2(mod, text.s ? text.s : "", text.n);
      free(text.s);
      /* the exported functions are not optimised (optnone: they check sizes, allocate and
         call kernels), so they need neither the pipeline nor the optimising code generator */
      rc = compile_module(j, mod, 0, out, err);
      if (!rc && diag) {
        rc = fail(err, CG_ERR_INTERNAL, "internal error: joining the kernels failed", diag);
        diag = NULL;
      }
      LLVMDisposeModule(mod);
    }
    if (diag) LLVMDisposeMessage(diag);
    LLVMDisposeMemoryBuffer(buf);
    LLVMContextDispose(ctx);
  }
  out->t_ir = j->t_ir;
  out->nkernels = j->nkernels;
  if (rc) cg_result_free(out);
  cg_job_free(j);
  return rc;
}

void cg_job_free(cg_Job *j) {
  if (!j) return;
  if (j->e.b) LLVMDisposeBuilder(j->e.b);
  if (j->e.ctx) LLVMContextDispose(j->e.ctx); /* and every module in it */
  fe_arena_free(&j->arena);
  for (int u = 0; u < j->nunits; u++) free(j->units[u].bitcode);
  free(j->units), free(j->entry.bitcode);
  cg_machines_free(j->own_mach);
  free(j->triple), free(j->cpu), free(j->features), free(j->name);
  free(j);
}

void cg_unit_free(cg_Unit *u) {
  free(u->asm_text.data);
  memset(u, 0, sizeof *u);
}

void cg_result_free(cg_Result *r) {
  free(r->obj.data);
  free(r->ir.data);
  free(r->asm_text.data);
  memset(r, 0, sizeof *r);
}

char *cg_plan_text(tc_Func *funcs, int nfuncs, const cg_Options *o, fe_Arena *a, bool json) {
  char *triple, *cpu, *features;
  cg_describe_target(o, &triple, &cpu, &features);
  cg_TargetInfo t;
  cg_target_info(triple, cpu, features, &t);
  free(triple), free(cpu), free(features);
  return cg_plan_write(funcs, nfuncs, a, json, &t);
}
