/* target.c - LLVM set-up, the optimisation pipeline and object/assembly output.
 *
 * Target initialisation is process-wide and happens once in cg_init, called by cmd/
 * before any worker starts; everything else (context, module, target machine) is
 * created per compile, so compiles on several threads never share LLVM state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
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

static void blob_from_buffer(LLVMMemoryBufferRef buf, cg_Blob *b) {
  b->len = LLVMGetBufferSize(buf);
  b->data = malloc(b->len + 1);
  if (!b->data) abort();
  memcpy(b->data, LLVMGetBufferStart(buf), b->len);
  b->data[b->len] = 0;
  LLVMDisposeMemoryBuffer(buf);
}

static int fail(char **err, const char *what, char *msg) {
  size_t n = strlen(what) + (msg ? strlen(msg) : 0) + 4;
  *err = malloc(n);
  if (!*err) abort();
  snprintf(*err, n, "%s%s%s", what, msg ? ": " : "", msg ? msg : "");
  if (msg) LLVMDisposeMessage(msg);
  return -1;
}

/* ---------------------------------------------------------------- compiles in parts
 *
 * A module whose functions weigh enough is compiled in parts that run at once: cg_start
 * emits the whole module once, assigns each function to a part (largest first, to the
 * lightest part; a kernel weighs four times its instructions, since the vectoriser
 * multiplies it) and keeps the module as bitcode. Each part reads the bitcode into its
 * own context, keeps the bodies of its functions (kernels become hidden globals so the
 * other parts can call them), optimises and emits assembly. cg_finish renames each part's
 * local labels apart, makes the kernels local again and assembles all parts into one
 * object. The parts depend only on the module, never on -j, so the object is the same
 * however many threads build it. Only objects for ELF targets are split; LLVM IR and
 * assembly outputs come from one whole module. */

enum { MAX_PARTS = CG_MAX_PARTS, PART_WEIGHT = 6000 };

typedef struct Part {
  cg_Blob asm_text;
  double t_opt, t_codegen;
} Part;

struct cg_Job {
  char *triple, *cpu, *features, *name;
  LLVMTargetRef target;
  int opt_level;
  unsigned emit;
  bool stream;
  int nparts;
  double t_ir;
  int nkernels;
  /* one part: the module as emitted */
  fe_Arena arena;
  cg_Emit e;
  cg_Result res;
  /* several parts: the bitcode and, per defined function, its part */
  char *bitcode;
  size_t bclen;
  char **fn_names;
  int *fn_part, nfn;
  Part parts[MAX_PARTS];
};

static LLVMTargetMachineRef make_tm(cg_Job *j) {
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess, LLVMCodeGenLevelDefault,
                                               LLVMCodeGenLevelAggressive};
  return LLVMCreateTargetMachine(j->target, j->triple, j->cpu, j->features, levels[j->opt_level & 3], LLVMRelocPIC,
                                 LLVMCodeModelDefault);
}

static void set_layout(LLVMModuleRef mod, LLVMTargetMachineRef tm, const char *triple) {
  LLVMSetTarget(mod, triple);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(mod, layout);
  LLVMDisposeMessage(layout);
  LLVMDisposeTargetData(td);
}

/* Runs the optimisation pipeline (and marks streaming stores); seconds spent in *t. */
static int optimise(cg_Job *j, LLVMModuleRef mod, LLVMTargetMachineRef tm, double *t, char **err) {
  double t0 = seconds();
  char passes[32];
  snprintf(passes, sizeof passes, "default<O%d>", j->opt_level & 3);
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, j->opt_level >= 2);
  /* SLP finds nothing to widen in loop kernels but is superlinear on the long straight-line
     size checks of a large model's entry function (93% of -O2 time at 160 layers) */
  LLVMPassBuilderOptionsSetSLPVectorization(po, false);
  LLVMPassBuilderOptionsSetLoopInterleaving(po, j->opt_level >= 2);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, j->opt_level >= 2);
  LLVMErrorRef perr = LLVMRunPasses(mod, passes, tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (perr) {
    char *m = LLVMGetErrorMessage(perr);
    fail(err, "internal error: LLVM optimisation failed", dupstr(m));
    LLVMDisposeErrorMessage(m);
    return -1;
  }
  if (j->stream) {
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    cg_mark_streaming_stores(mod, td);
    LLVMDisposeTargetData(td);
  }
  *t = seconds() - t0;
  return 0;
}

static int emit_file(LLVMTargetMachineRef tm, LLVMModuleRef mod, LLVMCodeGenFileType kind, cg_Blob *out, char **err) {
  char *msg = NULL;
  LLVMMemoryBufferRef buf;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, kind, &msg, &buf))
    return fail(err, kind == LLVMObjectFile ? "internal error: object output failed" : "internal error: assembly output failed",
                msg);
  blob_from_buffer(buf, out);
  return 0;
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

static bool is_kernel(const char *name) { return !strncmp(name, "tric.kernel.", 12); }

static int count_instructions(LLVMValueRef fn) {
  int n = 0;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) n++;
  return n;
}

/* Assigns the defined functions of j->e.mod to parts; sets j->nparts and the tables. */
static void plan_parts(cg_Job *j) {
  int n = 0;
  for (LLVMValueRef fn = LLVMGetFirstFunction(j->e.mod); fn; fn = LLVMGetNextFunction(fn))
    if (LLVMCountBasicBlocks(fn)) n++;
  long *w = calloc((size_t)n + 1, sizeof *w);
  j->fn_names = calloc((size_t)n + 1, sizeof *j->fn_names);
  j->fn_part = calloc((size_t)n + 1, sizeof *j->fn_part);
  if (!w || !j->fn_names || !j->fn_part) abort();
  long total = 0;
  int k = 0;
  for (LLVMValueRef fn = LLVMGetFirstFunction(j->e.mod); fn; fn = LLVMGetNextFunction(fn)) {
    if (!LLVMCountBasicBlocks(fn)) continue;
    size_t len;
    const char *name = LLVMGetValueName2(fn, &len);
    j->fn_names[k] = dupstr(name);
    w[k] = (long)count_instructions(fn) * (is_kernel(name) ? 20 : 1);
    total += w[k++];
  }
  j->nfn = n;
  long heaviest = 0;
  for (int i = 0; i < n; i++)
    if (w[i] > heaviest) heaviest = w[i];
  /* parts pay off when the work spreads; one function that is most of it (the entry of a
     very deep model) is one thread's work anyway */
  long np = heaviest * 2 > total ? 1 : total / PART_WEIGHT;
  j->nparts = np < 1 ? 1 : np > MAX_PARTS ? MAX_PARTS : (int)np;
  if (j->nparts > n) j->nparts = n > 0 ? n : 1;
  long load[MAX_PARTS] = {0};
  for (int done = 0; done < n; done++) { /* heaviest unassigned first, to the lightest part */
    int best = -1;
    for (int i = 0; i < n; i++)
      if (w[i] >= 0 && (best < 0 || w[i] > w[best])) best = i;
    int p = 0;
    for (int q = 1; q < j->nparts; q++)
      if (load[q] < load[p]) p = q;
    load[p] += w[best];
    j->fn_part[best] = p;
    w[best] = -1;
  }
  free(w);
}

int cg_start(const char *module_name, tc_Func *funcs, int nfuncs, const cg_Options *o, unsigned emit, cg_Job **out,
             int *nparts, char **err) {
  *out = NULL;
  cg_Job *j = calloc(1, sizeof *j);
  if (!j) abort();
  char *msg = NULL;
  cg_describe_target(o, &j->triple, &j->cpu, &j->features);
  j->name = dupstr(module_name);
  j->opt_level = o->opt_level;
  j->emit = emit;
  if (LLVMGetTargetFromTriple(j->triple, &j->target, &msg)) {
    fail(err, "unknown target", msg);
    cg_job_free(j);
    return -1;
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
  set_layout(e->mod, tm, j->triple);
  LLVMDisposeTargetMachine(tm);
  /* a module without exports still gets a valid, empty object */
  double t0 = seconds();
  cg_emit_module(e, funcs, nfuncs, j->cpu, j->features);
  j->nkernels = e->kernel_fns.n;
  if (LLVMVerifyModule(e->mod, LLVMReturnStatusAction, &msg)) {
    fail(err, "internal error: invalid LLVM IR generated", msg);
    cg_job_free(j);
    return -1;
  }
  LLVMDisposeMessage(msg);
  j->nparts = 1;
  if (emit == CG_EMIT_OBJ && is_elf(j->triple)) plan_parts(j);
  if (j->nparts > 1) { /* the parts start from bitcode, each in its own context */
    LLVMMemoryBufferRef bc = LLVMWriteBitcodeToMemoryBuffer(e->mod);
    j->bclen = LLVMGetBufferSize(bc);
    j->bitcode = malloc(j->bclen ? j->bclen : 1);
    if (!j->bitcode) abort();
    memcpy(j->bitcode, LLVMGetBufferStart(bc), j->bclen);
    LLVMDisposeMemoryBuffer(bc);
    LLVMDisposeBuilder(e->b);
    LLVMDisposeModule(e->mod);
    LLVMContextDispose(e->ctx);
    e->b = NULL, e->mod = NULL, e->ctx = NULL;
    fe_arena_free(&j->arena);
  }
  j->t_ir = seconds() - t0;
  *nparts = j->nparts;
  *out = j;
  return 0;
}

/* Part p's assembly: its local labels renamed apart (.Lx -> .Lp<p>_x) and the kernels'
 * .globl/.hidden lines dropped, so that in the joined object they are local again. */
static void rewrite_asm(cg_Blob *b, int p) {
  size_t cap = b->len + b->len / 4 + 64, n = 0;
  char *out = malloc(cap), prefix[16];
  if (!out) abort();
  int plen = snprintf(prefix, sizeof prefix, ".Lp%d_", p);
  const char *s = b->data, *end = b->data + b->len;
  while (s < end) {
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    eol = eol ? eol + 1 : end;
    const char *t = s;
    while (t < eol && (*t == ' ' || *t == '\t')) t++;
    bool drop = false;
    if (!strncmp(t, ".globl", 6) || !strncmp(t, ".hidden", 7)) {
      const char *a = t + (t[1] == 'g' ? 6 : 7);
      while (a < eol && (*a == ' ' || *a == '\t')) a++;
      drop = (size_t)(eol - a) > 12 && is_kernel(a);
    }
    if (!drop)
      for (const char *c = s; c < eol; c++) {
        if (n + (size_t)plen + 2 > cap) {
          cap *= 2;
          out = realloc(out, cap);
          if (!out) abort();
        }
        bool start = c == s || !(c[-1] == '_' || c[-1] == '.' || c[-1] == '$' || (c[-1] >= '0' && c[-1] <= '9') ||
                                 (c[-1] >= 'A' && c[-1] <= 'Z') || (c[-1] >= 'a' && c[-1] <= 'z'));
        if (start && c + 2 < eol && c[0] == '.' && c[1] == 'L') {
          memcpy(out + n, prefix, (size_t)plen);
          n += (size_t)plen;
          c++;
          continue;
        }
        out[n++] = *c;
      }
    s = eol;
  }
  free(b->data);
  b->data = out;
  b->len = n;
}

int cg_run_part(cg_Job *j, int p, char **err) {
  LLVMTargetMachineRef tm = make_tm(j);
  int rc = 0;
  if (j->nparts == 1) { /* the whole module, as emitted */
    cg_Result *out = &j->res;
    LLVMModuleRef mod = j->e.mod;
    if (optimise(j, mod, tm, &out->t_opt, err)) {
      LLVMDisposeTargetMachine(tm);
      return -1;
    }
    double t0 = seconds();
    if (j->emit & CG_EMIT_LLVM_IR) {
      char *ir = LLVMPrintModuleToString(mod);
      out->ir.len = strlen(ir);
      out->ir.data = dupstr(ir);
      LLVMDisposeMessage(ir);
    }
    if ((j->emit & CG_EMIT_ASM) && emit_file(tm, mod, LLVMAssemblyFile, &out->asm_text, err)) rc = -1;
    if (!rc && (j->emit & CG_EMIT_OBJ) && emit_file(tm, mod, LLVMObjectFile, &out->obj, err)) rc = -1;
    out->t_codegen = seconds() - t0;
    LLVMDisposeTargetMachine(tm);
    return rc;
  }
  Part *part = &j->parts[p];
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(j->bitcode, j->bclen, j->name, 0);
  LLVMModuleRef mod = NULL;
  if (LLVMParseBitcodeInContext2(ctx, buf, &mod)) {
    rc = fail(err, "internal error: cannot read back the module's bitcode", NULL);
    goto done;
  }
  for (int i = 0; i < j->nfn; i++) {
    LLVMValueRef fn = LLVMGetNamedFunction(mod, j->fn_names[i]);
    if (!fn) continue;
    bool kernel = is_kernel(j->fn_names[i]);
    if (j->fn_part[i] == p) {
      if (kernel) LLVMSetLinkage(fn, LLVMExternalLinkage), LLVMSetVisibility(fn, LLVMHiddenVisibility);
      continue;
    }
    if (!kernel) { /* another part's entry: nothing here calls it */
      LLVMDeleteFunction(fn);
      continue;
    }
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetFirstBasicBlock(fn)) LLVMDeleteBasicBlock(bb);
    LLVMSetLinkage(fn, LLVMExternalLinkage);
    LLVMSetVisibility(fn, LLVMHiddenVisibility);
  }
  if (optimise(j, mod, tm, &part->t_opt, err)) {
    rc = -1;
    goto done;
  }
  double t0 = seconds();
  if (emit_file(tm, mod, LLVMAssemblyFile, &part->asm_text, err)) rc = -1;
  else rewrite_asm(&part->asm_text, p);
  part->t_codegen = seconds() - t0;
done:
  if (mod) LLVMDisposeModule(mod);
  LLVMDisposeMemoryBuffer(buf);
  if (ctx) LLVMContextDispose(ctx);
  LLVMDisposeTargetMachine(tm);
  return rc;
}

int cg_finish(cg_Job *j, cg_Result *out, char **err) {
  int rc = 0;
  if (j->nparts == 1) {
    *out = j->res;
    memset(&j->res, 0, sizeof j->res);
  } else { /* one module of nothing but the parts' assembly, in part order */
    memset(out, 0, sizeof *out);
    size_t len = 0;
    for (int p = 0; p < j->nparts; p++) len += j->parts[p].asm_text.len + 1;
    char *text = malloc(len + 1);
    if (!text) abort();
    size_t n = 0;
    for (int p = 0; p < j->nparts; p++) {
      memcpy(text + n, j->parts[p].asm_text.data, j->parts[p].asm_text.len);
      n += j->parts[p].asm_text.len;
      text[n++] = '\n';
      out->t_opt += j->parts[p].t_opt;
      out->t_codegen += j->parts[p].t_codegen;
    }
    double t0 = seconds();
    LLVMTargetMachineRef tm = make_tm(j);
    LLVMContextRef ctx = LLVMContextCreate();
    char *diag = NULL;
    LLVMContextSetDiagnosticHandler(ctx, on_diagnostic, &diag);
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(j->name, ctx);
    set_layout(mod, tm, j->triple);
    LLVMSetModuleInlineAsm2(mod, text, n);
    free(text);
    rc = emit_file(tm, mod, LLVMObjectFile, &out->obj, err);
    if (!rc && diag) rc = fail(err, "internal error: joining the parts failed", diag);
    else if (diag) LLVMDisposeMessage(diag);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    out->t_codegen += seconds() - t0;
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
  if (j->e.mod) LLVMDisposeModule(j->e.mod);
  if (j->e.ctx) LLVMContextDispose(j->e.ctx);
  fe_arena_free(&j->arena);
  cg_result_free(&j->res);
  for (int p = 0; p < MAX_PARTS; p++) free(j->parts[p].asm_text.data);
  for (int i = 0; i < j->nfn; i++) free(j->fn_names[i]);
  free(j->fn_names), free(j->fn_part), free(j->bitcode);
  free(j->triple), free(j->cpu), free(j->features), free(j->name);
  free(j);
}

int cg_compile(const char *module_name, tc_Func *funcs, int nfuncs, const cg_Options *o, unsigned emit,
               cg_Result *out, char **err) {
  memset(out, 0, sizeof *out);
  cg_Job *j;
  int n;
  if (cg_start(module_name, funcs, nfuncs, o, emit, &j, &n, err)) return -1;
  for (int p = 0; p < n; p++)
    if (cg_run_part(j, p, err)) {
      cg_job_free(j);
      return -1;
    }
  return cg_finish(j, out, err);
}

void cg_result_free(cg_Result *r) {
  free(r->obj.data);
  free(r->ir.data);
  free(r->asm_text.data);
  memset(r, 0, sizeof *r);
}
