/* target.c - LLVM set-up, the optimisation pipeline and object/assembly output.
 *
 * Target initialisation is process-wide and happens once in cg_init, called by cmd/
 * before any worker starts; everything else (context, module, target machine) is
 * created per compile, so compiles on several threads never share LLVM state.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Analysis.h>
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

int cg_compile(const char *module_name, tc_Func *funcs, int nfuncs, const cg_Options *o, unsigned emit,
               cg_Result *out, char **err) {
  memset(out, 0, sizeof *out);
  char *triple, *cpu, *features, *msg = NULL;
  cg_describe_target(o, &triple, &cpu, &features);
  LLVMTargetRef target;
  int rc = 0;
  if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
    rc = fail(err, "unknown target", msg);
    free(triple), free(cpu), free(features);
    return rc;
  }
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess, LLVMCodeGenLevelDefault,
                                               LLVMCodeGenLevelAggressive};
  LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu, features, levels[o->opt_level & 3],
                                                    LLVMRelocPIC, LLVMCodeModelDefault);
  fe_Arena arena = {0};
  cg_Emit e = {.arena = &arena};
  e.ctx = LLVMContextCreate();
  e.mod = LLVMModuleCreateWithNameInContext(module_name, e.ctx);
  e.b = LLVMCreateBuilderInContext(e.ctx);
  e.i1 = LLVMInt1TypeInContext(e.ctx);
  e.i8 = LLVMInt8TypeInContext(e.ctx);
  e.i16 = LLVMInt16TypeInContext(e.ctx);
  e.i32 = LLVMInt32TypeInContext(e.ctx);
  e.i64 = LLVMInt64TypeInContext(e.ctx);
  e.f16 = LLVMHalfTypeInContext(e.ctx);
  e.f32 = LLVMFloatTypeInContext(e.ctx);
  e.f64 = LLVMDoubleTypeInContext(e.ctx);
  e.ptr = LLVMPointerTypeInContext(e.ctx, 0);
  e.vd = LLVMVoidTypeInContext(e.ctx);
  LLVMSetTarget(e.mod, triple);
  e.stream = o->opt_level >= 2 && (!strncmp(triple, "x86_64", 6) || (triple[0] == 'i' && !strncmp(triple + 2, "86", 2)));
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(e.mod, layout);
  LLVMDisposeMessage(layout);
  /* a module without exports still gets a valid, empty object */
  double t0 = seconds();
  cg_emit_module(&e, funcs, nfuncs, cpu, features);
  out->nkernels = nfuncs;
  if (LLVMVerifyModule(e.mod, LLVMReturnStatusAction, &msg)) {
    rc = fail(err, "internal error: invalid LLVM IR generated", msg);
    goto done;
  }
  LLVMDisposeMessage(msg);
  msg = NULL;
  char passes[32];
  snprintf(passes, sizeof passes, "default<O%d>", o->opt_level & 3);
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, o->opt_level >= 2);
  /* SLP finds nothing to widen in loop kernels but is superlinear on the long straight-line
     size checks of a large model's entry function (93% of -O2 time at 160 layers) */
  LLVMPassBuilderOptionsSetSLPVectorization(po, false);
  LLVMPassBuilderOptionsSetLoopInterleaving(po, o->opt_level >= 2);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, o->opt_level >= 2);
  double t1 = seconds();
  out->t_ir = t1 - t0;
  LLVMErrorRef perr = LLVMRunPasses(e.mod, passes, tm, po);
  LLVMDisposePassBuilderOptions(po);
  double t2 = seconds();
  out->t_opt = t2 - t1;
  if (perr) {
    rc = fail(err, "internal error: LLVM optimisation failed", LLVMGetErrorMessage(perr));
    goto done;
  }
  if (e.stream) cg_mark_streaming_stores(&e, td);
  if (emit & CG_EMIT_LLVM_IR) {
    char *ir = LLVMPrintModuleToString(e.mod);
    out->ir.len = strlen(ir);
    out->ir.data = dupstr(ir);
    LLVMDisposeMessage(ir);
  }
  LLVMMemoryBufferRef buf;
  if (emit & CG_EMIT_ASM) {
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, e.mod, LLVMAssemblyFile, &msg, &buf)) {
      rc = fail(err, "internal error: assembly output failed", msg);
      goto done;
    }
    blob_from_buffer(buf, &out->asm_text);
  }
  if (emit & CG_EMIT_OBJ) {
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, e.mod, LLVMObjectFile, &msg, &buf)) {
      rc = fail(err, "internal error: object output failed", msg);
      goto done;
    }
    blob_from_buffer(buf, &out->obj);
  }
  out->t_codegen = seconds() - t2;
done:
  if (rc) cg_result_free(out);
  LLVMDisposeBuilder(e.b);
  LLVMDisposeModule(e.mod);
  LLVMContextDispose(e.ctx);
  LLVMDisposeTargetData(td);
  LLVMDisposeTargetMachine(tm);
  fe_arena_free(&arena);
  free(triple), free(cpu), free(features);
  return rc;
}

void cg_result_free(cg_Result *r) {
  free(r->obj.data);
  free(r->ir.data);
  free(r->asm_text.data);
  memset(r, 0, sizeof *r);
}
