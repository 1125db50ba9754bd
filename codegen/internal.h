/* internal.h - private to codegen/: the LLVM emission state shared by emit.c (loops,
 * buffers, fusion) and mathfn.c (the vectorisable math library). */
#ifndef TRIC_CODEGEN_INTERNAL_H
#define TRIC_CODEGEN_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>

#include "codegen/codegen.h"
#include "codegen/plan.h"

/* The state of emitting one LLVM module. */
typedef struct cg_Emit {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTypeRef i1, i8, i16, i32, i64, f16, f32, f64, ptr, vd;
  fe_Arena *arena;
  const char *cpu, *features;
  cg_TargetInfo target; /* the cost model's view of cpu and features */
  bool stream; /* large flat outputs may use streaming stores (x86, -O2 and up) */
  bool fast_isel; /* -O0: kernels go through LLVM's fast instruction selector (see TC_SELECT) */
  fe_Vec kernel_keys, kernel_fns; /* loop-nest kernels emitted so far: plan key (16 bytes) -> function */
  fe_Vec tramp_kernels, tramp_fns; /* contraction kernels -> their thread pool task (contraction.c) */
  /* split: each kernel's body goes into a module of its own (kernel_mods, in kernel
     order), defining CG_KERNEL_NAME; e->mod, the entry module, declares kernel i as
     tric.kernel.<i>. Otherwise kernels are internal functions of e->mod. */
  bool split;
  fe_Vec kernel_mods;
  /* the shared microkernels emitted (contraction.c): their names, and with split their
     modules, compiled as units after the kernels' */
  fe_Vec uk_names, uk_mods;
} cg_Emit;

/* The optimisation pipeline a kernel unit asks for at -O2 (target.c, "Pipelines"): the
 * unit module carries it as named metadata CG_PIPELINE_MD, so it is part of the unit's
 * bitcode and key. At other levels, and for a unit that names none, default<On>. */
typedef enum {
  CG_PIPE_DEFAULT,     /* default<O2>: elementwise, reduction, pooling ... kernels */
  CG_PIPE_CONTRACTION, /* a contraction kernel: packing, microkernel calls, its epilogue */
  CG_PIPE_MICROKERNEL, /* a shared microkernel or packing routine: explicit vector code */
} cg_Pipeline;
#define CG_PIPELINE_MD "tric.pipeline"

/* The name of the kernel in a module of its own (and the prefix of every kernel's name). */
#define CG_KERNEL_NAME "tric.kernel"
/* The prefix of a shared microkernel's name (contraction.c), a symbol of a unit of its
 * own that the kernels of the object call: local to the object, like the kernels. */
#define CG_UKERNEL_PREFIX "tric.uk."

/* Calls the overloaded intrinsic `name` (llvm.fma, ...) on type ty. */
LLVMValueRef cg_intrinsic(cg_Emit *e, const char *name, LLVMTypeRef ty, LLVMValueRef *args, int n);
/* The declaration of a non-overloaded intrinsic (llvm.assume, ...). */
LLVMValueRef cg_intrinsic_decl(cg_Emit *e, const char *name);
/* After optimisation: marks the vector stores of large flat outputs non-temporal (emit.c). */
void cg_mark_streaming_stores(LLVMModuleRef mod, LLVMTargetDataRef td);
/* Emits op(x) for a float value x of type f32 or f64 (op: TC_EXP, TC_LOG, TC_TANH,
 * TC_SIGMOID, TC_ERF, TC_SIN, TC_COS): straight-line arithmetic, no libm call, so the
 * loop vectoriser widens it. */
LLVMValueRef cg_math(cg_Emit *e, int op, LLVMValueRef x);
/* pow(x, y) for floats, through exp2/log2 with exact handling of integer exponents of
 * negative bases, zeros, infinities and NaN as C's pow. */
LLVMValueRef cg_pow(cg_Emit *e, LLVMValueRef x, LLVMValueRef y);

#endif
