/* parallel.c - runs a kernel from the entry function on libtricrt's thread pool
 * (runtime/tricrt_pool.h) when it pays, else on the calling thread.
 *
 * A parallel kernel takes range parameters after its output (and scratch): a
 * contraction the rows and columns of C it computes (4), a row-wise kernel the rows of
 * its outermost dimension (2). The entry stores the kernel's arguments in a context
 * struct on its stack and calls tricrt_parallel_for with a task function, one per kernel
 * in the entry module, which turns a chunk [lo, hi) of the parallel loop into the range
 * parameters, points the scratch argument at its worker's part and calls the kernel.
 * Below the kernel's threshold (or with one thread) the entry calls the task itself for
 * the whole loop: one code path either way. A kernel's items are independent, each
 * computed the same way whatever the chunk, so results do not depend on the thread count.
 */
#include <stdio.h>
#include <stdlib.h>

#include "codegen/lower.h"

enum { CTX_SPLIT_N, CTX_UNIT, CTX_M, CTX_N, CTX_STRIDE, CTX_EXTRA }; /* ctx fields after the kernel's */

LLVMValueRef cg_grain(Fn *F, LLVMValueRef unit_work, int64_t chunk_work) {
  LLVMBuilderRef b = F->e->b;
  LLVMValueRef uw = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, unit_work, cg_i64(F, 0), ""), unit_work, cg_i64(F, 1), "");
  LLVMValueRef g = LLVMBuildSDiv(b, cg_i64(F, chunk_work), uw, "");
  return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, g, cg_i64(F, 0), ""), g, cg_i64(F, 1), "");
}

/* The task tricrt_parallel_for calls for kernel kfn (one per kernel, cached). */
static LLVMValueRef task_of(cg_Emit *e, LLVMValueRef kfn, LLVMTypeRef fty, LLVMTypeRef st, int nargs, int nrange,
                            bool scratch) {
  for (int i = 0; i < e->tramp_kernels.n; i++)
    if (e->tramp_kernels.items[i] == kfn) return e->tramp_fns.items[i];
  LLVMTypeRef pt[4] = {e->ptr, e->i64, e->i64, e->i32};
  char name[48];
  snprintf(name, sizeof name, "tric.task.%d", e->tramp_fns.n);
  LLVMValueRef fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(e->vd, pt, 4, 0));
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  cg_add_fn_attrs(e, fn);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
  LLVMValueRef ctx = LLVMGetParam(fn, 0), lo = LLVMGetParam(fn, 1), hi = LLVMGetParam(fn, 2);
  LLVMValueRef worker = LLVMBuildSExt(b, LLVMGetParam(fn, 3), e->i64, "");
  LLVMTypeRef *ft = malloc(sizeof *ft * (size_t)(nargs + CTX_EXTRA));
  LLVMValueRef *args = malloc(sizeof *args * (size_t)nargs);
  if (!ft || !args) abort();
  LLVMGetStructElementTypes(st, ft);
  for (int i = 0; i < nargs; i++)
    args[i] = LLVMBuildLoad2(b, ft[i], LLVMBuildStructGEP2(b, st, ctx, (unsigned)i, ""), "");
  LLVMValueRef x[CTX_EXTRA];
  for (int i = 0; i < CTX_EXTRA; i++)
    x[i] = LLVMBuildLoad2(b, e->i64, LLVMBuildStructGEP2(b, st, ctx, (unsigned)(nargs + i), ""), "");
  if (scratch) { /* the worker's own part of the scratch */
    LLVMValueRef off = LLVMBuildMul(b, worker, x[CTX_STRIDE], "");
    args[1] = LLVMBuildInBoundsGEP2(b, e->i8, args[1], &off, 1, "");
  }
  int r0 = 1 + scratch;
  LLVMValueRef a = LLVMBuildMul(b, lo, x[CTX_UNIT], ""), z = LLVMBuildMul(b, hi, x[CTX_UNIT], "");
  LLVMValueRef zero = LLVMConstInt(e->i64, 0, 0);
  LLVMValueRef zm = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, z, x[CTX_M], ""), z, x[CTX_M], "");
  if (nrange == 2) { /* items [a, min(z, M)) */
    args[r0] = a;
    args[r0 + 1] = zm;
  } else if (nrange == 4) { /* columns [a, z) of C when splitting N, else rows */
    LLVMValueRef split_n = LLVMBuildICmp(b, LLVMIntNE, x[CTX_SPLIT_N], zero, "");
    LLVMValueRef zn = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, z, x[CTX_N], ""), z, x[CTX_N], "");
    args[r0] = LLVMBuildSelect(b, split_n, zero, a, "");
    args[r0 + 1] = LLVMBuildSelect(b, split_n, x[CTX_M], zm, "");
    args[r0 + 2] = LLVMBuildSelect(b, split_n, a, zero, "");
    args[r0 + 3] = LLVMBuildSelect(b, split_n, zn, x[CTX_N], "");
  } else TRIC_BUG("a parallel kernel with %d range parameters", nrange);
  LLVMBuildCall2(b, fty, kfn, args, (unsigned)nargs, "");
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  free(ft), free(args);
  fe_vec_push(e->arena, &e->tramp_kernels, kfn);
  fe_vec_push(e->arena, &e->tramp_fns, fn);
  return fn;
}

void cg_parallel_call(Fn *F, LLVMValueRef kfn, LLVMTypeRef fty, LLVMValueRef *args, int nargs, const cg_Split *s) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMTypeRef *ft = malloc(sizeof *ft * (size_t)(nargs + CTX_EXTRA));
  if (!ft) abort();
  LLVMGetParamTypes(fty, ft);
  for (int i = 0; i < CTX_EXTRA; i++) ft[nargs + i] = e->i64;
  LLVMTypeRef st = LLVMStructTypeInContext(e->ctx, ft, (unsigned)(nargs + CTX_EXTRA), 0);
  free(ft);
  LLVMValueRef ctx = cg_entry_alloca(F, st);
  int r0 = 1 + (s->stride != NULL);
  LLVMValueRef x[CTX_EXTRA] = {s->split_n ? LLVMBuildZExt(b, s->split_n, e->i64, "") : cg_i64(F, 0), s->unit, s->m,
                               s->n ? s->n : cg_i64(F, 0), s->stride ? s->stride : cg_i64(F, 0)};
  for (int i = 0; i < nargs; i++)
    if (i < r0 || i >= r0 + s->nrange) LLVMBuildStore(b, args[i], LLVMBuildStructGEP2(b, st, ctx, (unsigned)i, ""));
  for (int i = 0; i < CTX_EXTRA; i++) LLVMBuildStore(b, x[i], LLVMBuildStructGEP2(b, st, ctx, (unsigned)(nargs + i), ""));
  LLVMValueRef task = task_of(e, kfn, fty, st, nargs, s->nrange, s->stride != NULL);
  LLVMValueRef par = LLVMBuildAnd(b, s->par, LLVMBuildICmp(b, LLVMIntSGT, F->nthreads, LLVMConstInt(e->i32, 1, 0), ""), "");
  LLVMBasicBlockRef bp = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "parallel");
  LLVMBasicBlockRef bs = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "serial");
  LLVMBasicBlockRef bd = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "ran");
  LLVMBuildCondBr(b, par, bp, bs);
  LLVMPositionBuilderAtEnd(b, bp);
  LLVMTypeRef pft[5] = {e->ptr, e->ptr, e->i64, e->i64, e->i32};
  LLVMTypeRef pfty = LLVMFunctionType(e->vd, pft, 5, 0);
  LLVMValueRef pf = LLVMGetNamedFunction(e->mod, "tricrt_parallel_for");
  if (!pf) pf = LLVMAddFunction(e->mod, "tricrt_parallel_for", pfty);
  LLVMValueRef pargs[5] = {task, ctx, s->units, s->grain, F->nthreads};
  LLVMBuildCall2(b, pfty, pf, pargs, 5, "");
  LLVMBuildBr(b, bd);
  LLVMPositionBuilderAtEnd(b, bs);
  LLVMTypeRef tty = LLVMFunctionType(e->vd, pft + 1, 4, 0);
  LLVMValueRef targs[4] = {ctx, cg_i64(F, 0), s->units, LLVMConstInt(e->i32, 0, 0)};
  LLVMBuildCall2(b, tty, task, targs, 4, "");
  LLVMBuildBr(b, bd);
  LLVMPositionBuilderAtEnd(b, bd);
}

/* ---------------------------------------------------------------- elementwise kernels
 *
 * An elementwise or copy kernel of at least FILL_PARALLEL elements splits its first
 * dimension over the pool, chunks of at least FILL_CHUNK elements (a rank-1 one splits
 * its elements): each element is computed the same way whatever the split. Below that a
 * call of the pool costs more than the second core gives back on a memory-bound loop.
 */
enum { FILL_PARALLEL = 1 << 18, FILL_CHUNK = 1 << 16 };

void cg_fill_call(Fn *F, const tc_Node *root, LLVMValueRef kfn, LLVMTypeRef fty, LLVMValueRef *args, int nargs) {
  LLVMBuilderRef b = F->e->b;
  cg_Split s = {.nrange = 2, .unit = cg_i64(F, 1)};
  LLVMValueRef total = cg_numel(F, root->rank, (const tc_Poly **)root->dims);
  s.m = cg_poly(F, root->dims[0]);
  s.grain = cg_grain(F, cg_numel(F, root->rank - 1, (const tc_Poly **)root->dims + 1), FILL_CHUNK);
  s.par = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, total, cg_i64(F, FILL_PARALLEL), ""),
                       LLVMBuildICmp(b, LLVMIntSGE, s.m, cg_i64(F, 2), ""), "");
  s.units = s.m;
  cg_parallel_call(F, kfn, fty, args, nargs, &s);
}

/* ---------------------------------------------------------------- pooling kernels
 *
 * A pooling kernel whose windows hold at least POOL_PARALLEL cells in all splits its
 * output planes (image x channel) over the pool, chunks of at least POOL_CHUNK cells:
 * each output element folds its own window, the same way whatever the split.
 */
enum { POOL_PARALLEL = 1 << 18, POOL_CHUNK = 1 << 16 };

void cg_pool_call(Fn *F, const tc_Node *root, LLVMValueRef kfn, LLVMTypeRef fty, LLVMValueRef *args, int nargs) {
  LLVMBuilderRef b = F->e->b;
  cg_Split s = {.nrange = 2, .unit = cg_i64(F, 1)};
  int64_t kh = 0, kw = 0; /* a window's cells: a pooling's kernel, or a depthwise conv's weights */
  if (root->op == TC_CONV2D) {
    if (!tc_poly_is_const(root->args[1]->dims[2], &kh) || !tc_poly_is_const(root->args[1]->dims[3], &kw))
      TRIC_BUG("cg_pool_call: a depthwise conv2d with a symbolic window");
  } else if (root->op == TC_MAXPOOL2D || root->op == TC_AVGPOOL2D) kh = root->pool.kernel[0], kw = root->pool.kernel[1];
  else TRIC_BUG("cg_pool_call: '%s' has no window", tc_op_name(root->op));
  LLVMValueRef cells = cg_i64(F, kh * kw);
  LLVMValueRef per_plane = LLVMBuildMul(b, cg_numel(F, 2, (const tc_Poly **)root->dims + 2), cells, "");
  s.m = cg_numel(F, 2, (const tc_Poly **)root->dims);
  s.grain = cg_grain(F, per_plane, POOL_CHUNK);
  s.par = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, LLVMBuildMul(b, s.m, per_plane, ""), cg_i64(F, POOL_PARALLEL), ""),
                       LLVMBuildICmp(b, LLVMIntSGE, s.m, cg_i64(F, 2), ""), "");
  s.units = s.m;
  cg_parallel_call(F, kfn, fty, args, nargs, &s);
}
