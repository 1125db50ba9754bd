/* emit.c - lowers the TIR of an exported function to loop nests in LLVM IR.
 *
 * It follows the function's plan (plan.c): the nodes that have a buffer, and the kernels
 * that compute them, each with its root and kind. Every node without a buffer is fused:
 * emit_at evaluates it at an index inside the loop of whatever consumes it, once per
 * index however many uses it has, so a chain of elementwise operations ending in a
 * reduction or an output is one loop with no intermediate memory. Loops are plain scalar
 * IR over int64 indices with noalias pointers; LLVM's loop vectoriser widens them to the
 * target's full SIMD width.
 *
 * The generated function checks its size arguments (and every runtime size rule the
 * checker recorded) and allocates its temporaries before it writes anything, so an
 * invalid call returns a negative code and leaves the outputs untouched.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>

#include "codegen/lower.h"

/* ---------------------------------------------------------------- types */

LLVMTypeRef cg_ctype(cg_Emit *e, int dt) {
  switch (dt) {
  case FE_F64: return e->f64;
  case FE_F32: case FE_F16: case FE_BF16: return e->f32;
  case FE_I8: case FE_U8: return e->i8;
  case FE_I32: return e->i32;
  case FE_I64: return e->i64;
  case FE_BOOL: return e->i1;
  default: TRIC_BUG("ctype: dtype %d has no compute type", dt);
  }
}

LLVMTypeRef cg_stype(cg_Emit *e, int dt) {
  switch (dt) {
  case FE_F16: case FE_BF16: return e->i16;
  case FE_BOOL: return e->i8;
  default: return cg_ctype(e, dt);
  }
}

LLVMValueRef cg_i64(Fn *F, int64_t v) { return LLVMConstInt(F->e->i64, (unsigned long long)v, 1); }

/* Converts a stored element to its compute type. */
LLVMValueRef cg_from_storage(cg_Emit *e, int dt, LLVMValueRef v) {
  switch (dt) {
  case FE_F16: return LLVMBuildFPExt(e->b, LLVMBuildBitCast(e->b, v, e->f16, ""), e->f32, "");
  case FE_BF16:
    return LLVMBuildBitCast(e->b, LLVMBuildShl(e->b, LLVMBuildZExt(e->b, v, e->i32, ""), LLVMConstInt(e->i32, 16, 0), ""),
                            e->f32, "");
  case FE_BOOL: return LLVMBuildICmp(e->b, LLVMIntNE, v, LLVMConstInt(e->i8, 0, 0), "");
  case FE_F32: case FE_F64: case FE_I8: case FE_U8: case FE_I32: case FE_I64: return v; /* stored as computed */
  default: TRIC_BUG("from_storage: dtype %d has no storage type", dt);
  }
}

/* bf16 bits of an f32 value, rounding to nearest even (NaN stays NaN). */
static LLVMValueRef to_bf16(cg_Emit *e, LLVMValueRef v) {
  LLVMBuilderRef b = e->b;
  LLVMValueRef bits = LLVMBuildBitCast(b, v, e->i32, "");
  LLVMValueRef lsb = LLVMBuildAnd(b, LLVMBuildLShr(b, bits, LLVMConstInt(e->i32, 16, 0), ""), LLVMConstInt(e->i32, 1, 0), "");
  LLVMValueRef r = LLVMBuildAdd(b, bits, LLVMBuildAdd(b, lsb, LLVMConstInt(e->i32, 0x7fff, 0), ""), "");
  LLVMValueRef hi = LLVMBuildLShr(b, r, LLVMConstInt(e->i32, 16, 0), "");
  LLVMValueRef qnan = LLVMBuildOr(b, LLVMBuildLShr(b, bits, LLVMConstInt(e->i32, 16, 0), ""), LLVMConstInt(e->i32, 0x40, 0), "");
  LLVMValueRef isnan = LLVMBuildFCmp(b, LLVMRealUNO, v, v, "");
  return LLVMBuildTrunc(b, LLVMBuildSelect(b, isnan, qnan, hi, ""), e->i16, "");
}

/* Converts a compute value to its stored form. */
LLVMValueRef cg_to_storage(cg_Emit *e, int dt, LLVMValueRef v) {
  switch (dt) {
  case FE_F16: return LLVMBuildBitCast(e->b, LLVMBuildFPTrunc(e->b, v, e->f16, ""), e->i16, "");
  case FE_BF16: return to_bf16(e, v);
  case FE_BOOL: return LLVMBuildZExt(e->b, v, e->i8, "");
  case FE_F32: case FE_F64: case FE_I8: case FE_U8: case FE_I32: case FE_I64: return v; /* stored as computed */
  default: TRIC_BUG("to_storage: dtype %d has no storage type", dt);
  }
}

/* Rounds an f32 compute value to what dtype dt can hold (f16, bf16); others unchanged. */
static LLVMValueRef cg_round_to(cg_Emit *e, int dt, LLVMValueRef v) {
  if (dt == FE_F16 || dt == FE_BF16) return cg_from_storage(e, dt, cg_to_storage(e, dt, v));
  return v;
}

LLVMValueRef cg_load_at(Fn *F, int dt, LLVMValueRef ptr, LLVMValueRef lin) {
  cg_Emit *e = F->e;
  LLVMValueRef p = LLVMBuildInBoundsGEP2(e->b, cg_stype(e, dt), ptr, &lin, 1, "");
  return cg_from_storage(e, dt, LLVMBuildLoad2(e->b, cg_stype(e, dt), p, ""));
}

void cg_store_at(Fn *F, int dt, LLVMValueRef ptr, LLVMValueRef lin, LLVMValueRef v) {
  cg_Emit *e = F->e;
  LLVMValueRef p = LLVMBuildInBoundsGEP2(e->b, cg_stype(e, dt), ptr, &lin, 1, "");
  LLVMBuildStore(e->b, cg_to_storage(e, dt, v), p);
}

/* ---------------------------------------------------------------- sizes */

LLVMValueRef cg_poly(Fn *F, const tc_Poly *p) {
  LLVMBuilderRef b = F->e->b;
  LLVMValueRef sum = cg_i64(F, 0);
  for (int i = 0; i < p->n; i++) {
    LLVMValueRef t = cg_i64(F, p->t[i].coef);
    for (int k = 0; k < p->t[i].n; k++) t = LLVMBuildMul(b, t, F->sym[p->t[i].s[k]], "");
    sum = i == 0 ? t : LLVMBuildAdd(b, sum, t, "");
  }
  return sum;
}

/* Row-major linear index of idx in dims. */
LLVMValueRef cg_linear(Fn *F, int rank, const tc_Poly **dims, LLVMValueRef *idx) {
  LLVMBuilderRef b = F->e->b;
  if (rank == 0) return cg_i64(F, 0);
  LLVMValueRef l = idx[0];
  for (int i = 1; i < rank; i++) l = LLVMBuildAdd(b, LLVMBuildMul(b, l, cg_poly(F, dims[i]), ""), idx[i], "");
  return l;
}

LLVMValueRef cg_numel(Fn *F, int rank, const tc_Poly **dims) {
  LLVMValueRef n = cg_i64(F, 1);
  for (int i = 0; i < rank; i++) n = LLVMBuildMul(F->e->b, n, cg_poly(F, dims[i]), "");
  return n;
}

bool cg_is_const1(const tc_Poly *p) {
  int64_t v;
  return tc_poly_is_const(p, &v) && v == 1;
}

/* ---------------------------------------------------------------- loops */

enum { INTERLEAVE = 4 };

/* Forgets every value computed so far: a new block does not see them. */
static void cg_memo_reset(Fn *F) {
  F->memo->gen++;
  F->memo->n = 0;
}

void cg_loop_begin(Fn *F, Loop *L, LLVMValueRef n) {
  cg_Emit *e = F->e;
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(e->b);
  L->header = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "loop");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "body");
  L->exit = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "done");
  LLVMBuildBr(e->b, L->header);
  LLVMPositionBuilderAtEnd(e->b, L->header);
  L->i = LLVMBuildPhi(e->b, e->i64, "i");
  LLVMValueRef zero = cg_i64(F, 0);
  LLVMAddIncoming(L->i, &zero, &pre, 1);
  LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, L->i, n, ""), body, L->exit);
  LLVMPositionBuilderAtEnd(e->b, body);
  cg_memo_reset(F);
}

/* Attaches llvm.loop metadata {key: value} to a loop's back edge. */
void cg_set_loop_md(Fn *F, LLVMValueRef br, const char *key, LLVMValueRef value) {
  LLVMContextRef c = F->e->ctx;
  LLVMMetadataRef self = LLVMTemporaryMDNode(c, NULL, 0);
  LLVMMetadataRef kv[2] = {LLVMMDStringInContext2(c, key, strlen(key)), LLVMValueAsMetadata(value)};
  LLVMMetadataRef prop = LLVMMDNodeInContext2(c, kv, 2);
  LLVMMetadataRef ops[2] = {self, prop};
  LLVMMetadataRef id = LLVMMDNodeInContext2(c, ops, 2);
  LLVMMetadataReplaceAllUsesWith(self, id);
  LLVMSetMetadata(br, LLVMGetMDKindIDInContext(c, "llvm.loop", 9), LLVMMetadataAsValue(c, id));
}

void cg_loop_end(Fn *F, Loop *L) {
  cg_Emit *e = F->e;
  LLVMValueRef next = LLVMBuildNSWAdd(e->b, L->i, cg_i64(F, 1), "");
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(e->b);
  LLVMValueRef br = LLVMBuildBr(e->b, L->header);
  /* interleave > 1: that many independent vectors per iteration (long math chains such as
     tanh or exp are latency-bound otherwise); < 0: a short loop not worth vectorising */
  if (L->interleave > 1)
    cg_set_loop_md(F, br, "llvm.loop.interleave.count", LLVMConstInt(e->i32, (unsigned)L->interleave, 0));
  else if (L->interleave == CG_PLAIN) { /* a loop over blocks: optimising it only costs compile time */
    LLVMContextRef c = e->ctx;
    LLVMMetadataRef self = LLVMTemporaryMDNode(c, NULL, 0);
    LLVMMetadataRef kv[2] = {LLVMMDStringInContext2(c, "llvm.loop.vectorize.enable", 26),
                             LLVMValueAsMetadata(LLVMConstInt(e->i1, 0, 0))};
    LLVMMetadataRef un = LLVMMDStringInContext2(c, "llvm.loop.unroll.disable", 24);
    LLVMMetadataRef ops[3] = {self, LLVMMDNodeInContext2(c, kv, 2), LLVMMDNodeInContext2(c, &un, 1)};
    LLVMMetadataRef id = LLVMMDNodeInContext2(c, ops, 3);
    LLVMMetadataReplaceAllUsesWith(self, id);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(c, "llvm.loop", 9), LLVMMetadataAsValue(c, id));
  } else if (L->interleave < 0) cg_set_loop_md(F, br, "llvm.loop.vectorize.enable", LLVMConstInt(e->i1, 0, 0));
  LLVMAddIncoming(L->i, &next, &latch, 1);
  LLVMPositionBuilderAtEnd(e->b, L->exit);
  cg_memo_reset(F);
}

LLVMModuleRef cg_unit_module(cg_Emit *e, fe_Vec *mods, cg_Pipeline pipe) {
  LLVMModuleRef m = LLVMModuleCreateWithNameInContext(CG_KERNEL_NAME, e->ctx);
  LLVMSetTarget(m, LLVMGetTarget(e->mod));
  LLVMSetDataLayout(m, LLVMGetDataLayoutStr(e->mod));
  if (pipe != CG_PIPE_DEFAULT) {
    LLVMValueRef kind = LLVMConstInt(e->i32, (unsigned long long)pipe, 0);
    LLVMAddNamedMetadataOperand(m, CG_PIPELINE_MD, LLVMMDNodeInContext(e->ctx, &kind, 1));
  }
  fe_vec_push(e->arena, mods, m);
  return m;
}

/* An alloca at the top of the entry block, where mem2reg promotes it to a register. */
LLVMValueRef cg_entry_alloca(Fn *F, LLVMTypeRef ty) {
  LLVMBuilderRef b = LLVMCreateBuilderInContext(F->e->ctx);
  LLVMValueRef first = LLVMGetFirstInstruction(F->entry);
  if (first) LLVMPositionBuilderBefore(b, first);
  else LLVMPositionBuilderAtEnd(b, F->entry);
  LLVMValueRef a = LLVMBuildAlloca(b, ty, "acc");
  LLVMDisposeBuilder(b);
  return a;
}

/* ---------------------------------------------------------------- elementwise ops */

static bool is_unsigned(int dt) { return dt == FE_U8; }

static LLVMValueRef int_intrinsic(Fn *F, const char *name, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef args[2] = {a, b};
  return cg_intrinsic(F->e, name, LLVMTypeOf(a), args, 2);
}

/* Integer floor division and modulo as NumPy's // and %, with x/0 == 0 and x%0 == 0 and
 * no trap on MIN/-1. */
static LLVMValueRef int_divmod(Fn *F, int dt, LLVMValueRef a, LLVMValueRef b, bool mod) {
  LLVMBuilderRef bd = F->e->b;
  LLVMTypeRef ty = LLVMTypeOf(a);
  LLVMValueRef zero = LLVMConstInt(ty, 0, 0), one = LLVMConstInt(ty, 1, 0);
  LLVMValueRef b0 = LLVMBuildICmp(bd, LLVMIntEQ, b, zero, "");
  if (is_unsigned(dt)) {
    LLVMValueRef sb = LLVMBuildSelect(bd, b0, one, b, "");
    LLVMValueRef r = mod ? LLVMBuildURem(bd, a, sb, "") : LLVMBuildUDiv(bd, a, sb, "");
    return LLVMBuildSelect(bd, b0, zero, r, "");
  }
  LLVMValueRef bm1 = LLVMBuildICmp(bd, LLVMIntEQ, b, LLVMConstAllOnes(ty), "");
  LLVMValueRef sb = LLVMBuildSelect(bd, LLVMBuildOr(bd, b0, bm1, ""), one, b, "");
  LLVMValueRef q = LLVMBuildSDiv(bd, a, sb, ""), r = LLVMBuildSRem(bd, a, sb, "");
  LLVMValueRef adjust = LLVMBuildAnd(bd, LLVMBuildICmp(bd, LLVMIntNE, r, zero, ""),
                                     LLVMBuildICmp(bd, LLVMIntSLT, LLVMBuildXor(bd, r, sb, ""), zero, ""), "");
  LLVMValueRef res;
  if (mod) {
    res = LLVMBuildSelect(bd, adjust, LLVMBuildAdd(bd, r, sb, ""), r, "");
    return LLVMBuildSelect(bd, LLVMBuildOr(bd, b0, bm1, ""), zero, res, "");
  }
  res = LLVMBuildSelect(bd, adjust, LLVMBuildSub(bd, q, one, ""), q, "");
  res = LLVMBuildSelect(bd, bm1, LLVMBuildSub(bd, zero, a, ""), res, "");
  return LLVMBuildSelect(bd, b0, zero, res, "");
}

/* Integer power by square-and-multiply over every exponent bit; a negative exponent
 * gives 0 except for bases 1 and -1. */
static LLVMValueRef int_pow(Fn *F, int dt, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef bd = F->e->b;
  LLVMTypeRef ty = LLVMTypeOf(a);
  unsigned bits = LLVMGetIntTypeWidth(ty);
  LLVMValueRef zero = LLVMConstInt(ty, 0, 0), one = LLVMConstInt(ty, 1, 0);
  LLVMValueRef r = one, base = a;
  for (unsigned k = 0; k < bits; k++) {
    LLVMValueRef bit = LLVMBuildTrunc(bd, LLVMBuildLShr(bd, b, LLVMConstInt(ty, k, 0), ""), F->e->i1, "");
    r = LLVMBuildSelect(bd, bit, LLVMBuildMul(bd, r, base, ""), r, "");
    base = LLVMBuildMul(bd, base, base, "");
  }
  if (is_unsigned(dt)) return r;
  LLVMValueRef neg = LLVMBuildICmp(bd, LLVMIntSLT, b, zero, "");
  LLVMValueRef odd = LLVMBuildTrunc(bd, b, F->e->i1, "");
  LLVMValueRef negres = LLVMBuildSelect(bd, LLVMBuildICmp(bd, LLVMIntEQ, a, one, ""), one,
                                        LLVMBuildSelect(bd, LLVMBuildICmp(bd, LLVMIntEQ, a, LLVMConstAllOnes(ty), ""),
                                                        LLVMBuildSelect(bd, odd, LLVMConstAllOnes(ty), one, ""), zero, ""),
                                        "");
  return LLVMBuildSelect(bd, neg, negres, r, "");
}

static LLVMValueRef cast_value(Fn *F, int from, int to, LLVMValueRef v) {
  cg_Emit *e = F->e;
  LLVMTypeRef ft = cg_ctype(e, from), tt = cg_ctype(e, to);
  if (to == FE_BOOL) {
    if (from == FE_BOOL) return v;
    if (fe_dtype_is_float(from)) return LLVMBuildFCmp(e->b, LLVMRealUNE, v, LLVMConstReal(ft, 0), "");
    return LLVMBuildICmp(e->b, LLVMIntNE, v, LLVMConstInt(ft, 0, 0), "");
  }
  if (fe_dtype_is_float(to)) {
    LLVMValueRef r;
    if (from == FE_BOOL || is_unsigned(from)) r = LLVMBuildUIToFP(e->b, v, tt, "");
    else if (fe_dtype_is_int(from)) r = LLVMBuildSIToFP(e->b, v, tt, "");
    else if (ft == tt) r = v;
    else if (tt == e->f64) r = LLVMBuildFPExt(e->b, v, tt, "");
    else r = LLVMBuildFPTrunc(e->b, v, tt, "");
    return cg_round_to(e, to, r);
  }
  /* to an integer */
  if (fe_dtype_is_float(from)) {
    LLVMTypeRef tys[2] = {tt, ft};
    const char *name = is_unsigned(to) ? "llvm.fptoui.sat" : "llvm.fptosi.sat";
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(e->mod, id, tys, 2);
    return LLVMBuildCall2(e->b, LLVMIntrinsicGetType(e->ctx, id, tys, 2), fn, &v, 1, "");
  }
  unsigned fw = LLVMGetIntTypeWidth(ft), tw = LLVMGetIntTypeWidth(tt);
  if (fw == tw) return v;
  if (fw > tw) return LLVMBuildTrunc(e->b, v, tt, "");
  if (from == FE_BOOL || is_unsigned(from)) return LLVMBuildZExt(e->b, v, tt, "");
  return LLVMBuildSExt(e->b, v, tt, "");
}

/* Allows a multiply and a dependent add to fuse into one FMA (one rounding instead of
 * two), as C compilers do by default within an expression (docs/language.md). */
static LLVMValueRef contract(LLVMValueRef v) {
  if (LLVMCanValueUseFastMathFlags(v)) LLVMSetFastMathFlags(v, LLVMFastMathAllowContract);
  return v;
}

static LLVMValueRef binop(Fn *F, const tc_Node *n, int dt, LLVMValueRef a, LLVMValueRef b) {
  cg_Emit *e = F->e;
  LLVMBuilderRef bd = e->b;
  bool fl = fe_dtype_is_float(dt), un = is_unsigned(dt);
  LLVMTypeRef ty = cg_ctype(e, dt);
  switch (n->op) {
  case TC_ADD: return fl ? contract(LLVMBuildFAdd(bd, a, b, "")) : LLVMBuildAdd(bd, a, b, "");
  case TC_SUB: return fl ? contract(LLVMBuildFSub(bd, a, b, "")) : LLVMBuildSub(bd, a, b, "");
  case TC_MUL: return fl ? contract(LLVMBuildFMul(bd, a, b, "")) : LLVMBuildMul(bd, a, b, "");
  case TC_DIV: return fl ? LLVMBuildFDiv(bd, a, b, "") : int_divmod(F, dt, a, b, false);
  case TC_MOD:
    if (!fl) return int_divmod(F, dt, a, b, true);
    {
      LLVMValueRef q = LLVMBuildFDiv(bd, a, b, "");
      LLVMValueRef fq = cg_intrinsic(e, "llvm.floor", ty, &q, 1);
      return LLVMBuildFSub(bd, a, LLVMBuildFMul(bd, b, fq, ""), "");
    }
  case TC_POW: return fl ? cg_pow(e, a, b) : int_pow(F, dt, a, b);
  case TC_MIN:
    if (fl) { LLVMValueRef args[2] = {a, b}; return cg_intrinsic(e, "llvm.minimum", ty, args, 2); }
    return int_intrinsic(F, un ? "llvm.umin" : "llvm.smin", a, b);
  case TC_MAX:
    if (fl) { LLVMValueRef args[2] = {a, b}; return cg_intrinsic(e, "llvm.maximum", ty, args, 2); }
    return int_intrinsic(F, un ? "llvm.umax" : "llvm.smax", a, b);
  case TC_AND: return LLVMBuildAnd(bd, a, b, "");
  case TC_OR: return LLVMBuildOr(bd, a, b, "");
  case TC_EQ: case TC_NE: case TC_LT: case TC_LE: case TC_GT: case TC_GE: break; /* below */
  default: TRIC_BUG("binop: no lowering of '%s' as a binary op", tc_op_name(n->op));
  }
  static const LLVMRealPredicate fp[] = {[TC_EQ] = LLVMRealOEQ, [TC_NE] = LLVMRealUNE, [TC_LT] = LLVMRealOLT,
                                         [TC_LE] = LLVMRealOLE, [TC_GT] = LLVMRealOGT, [TC_GE] = LLVMRealOGE};
  static const LLVMIntPredicate sp[] = {[TC_EQ] = LLVMIntEQ, [TC_NE] = LLVMIntNE, [TC_LT] = LLVMIntSLT,
                                        [TC_LE] = LLVMIntSLE, [TC_GT] = LLVMIntSGT, [TC_GE] = LLVMIntSGE};
  static const LLVMIntPredicate up[] = {[TC_EQ] = LLVMIntEQ, [TC_NE] = LLVMIntNE, [TC_LT] = LLVMIntULT,
                                        [TC_LE] = LLVMIntULE, [TC_GT] = LLVMIntUGT, [TC_GE] = LLVMIntUGE};
  if (fl) return LLVMBuildFCmp(bd, fp[n->op], a, b, "");
  return LLVMBuildICmp(bd, (un || dt == FE_BOOL) ? up[n->op] : sp[n->op], a, b, "");
}

LLVMValueRef cg_binop(Fn *F, tc_Op op, int dt, LLVMValueRef a, LLVMValueRef b) {
  tc_Node tmp = {.op = op};
  return binop(F, &tmp, dt, a, b);
}

static LLVMValueRef unop(Fn *F, const tc_Node *n, LLVMValueRef a) {
  cg_Emit *e = F->e;
  int dt = n->dtype;
  bool fl = fe_dtype_is_float(dt);
  LLVMTypeRef ty = cg_ctype(e, dt);
  switch (n->op) {
  case TC_NEG: return fl ? LLVMBuildFNeg(e->b, a, "") : LLVMBuildNeg(e->b, a, "");
  case TC_NOT: return LLVMBuildNot(e->b, a, "");
  case TC_ABS:
    if (fl) return cg_intrinsic(e, "llvm.fabs", ty, &a, 1);
    if (is_unsigned(dt)) return a;
    {
      LLVMValueRef args[2] = {a, LLVMConstInt(e->i1, 0, 0)};
      return cg_intrinsic(e, "llvm.abs", ty, args, 2);
    }
  case TC_SQRT: return cg_intrinsic(e, "llvm.sqrt", ty, &a, 1);
  case TC_RSQRT: return LLVMBuildFDiv(e->b, LLVMConstReal(ty, 1), cg_intrinsic(e, "llvm.sqrt", ty, &a, 1), "");
  case TC_FLOOR: return cg_intrinsic(e, "llvm.floor", ty, &a, 1);
  case TC_CEIL: return cg_intrinsic(e, "llvm.ceil", ty, &a, 1);
  case TC_EXP: case TC_LOG: case TC_TANH: case TC_SIGMOID: case TC_SIN: case TC_COS: case TC_ERF:
    return cg_math(e, n->op, a);
  default: TRIC_BUG("unop: no lowering of '%s' as a unary op", tc_op_name(n->op));
  }
}

/* ---------------------------------------------------------------- evaluation */


/* The index of argument a when node n (at ix) broadcasts it NumPy-style. */
static void bcast_ix(const tc_Node *n, const tc_Node *a, const Ix *ix, Ix *out, Fn *F) {
  out->rank = a->rank;
  out->lin = cg_same_shape(a, n) ? ix->lin : NULL;
  for (int j = 0; j < a->rank; j++) {
    int k = n->rank - a->rank + j;
    out->v[j] = cg_is_const1(a->dims[j]) && !cg_is_const1(n->dims[k]) ? cg_i64(F, 0) : ix->v[k];
  }
}

static LLVMValueRef buffer_load(Fn *F, const tc_Node *n, const Ix *ix) {
  LLVMValueRef lin = ix->lin ? ix->lin : cg_linear(F, n->rank, (const tc_Poly **)n->dims, (LLVMValueRef *)ix->v);
  return cg_load_at(F, n->dtype, F->buf[n->id], lin);
}

/* The value of node n computed from its arguments (not from its own buffer). */
static LLVMValueRef emit_expr(Fn *F, const tc_Node *n, const Ix *ix) {
  cg_Emit *e = F->e;
  Ix ai;
  switch (n->op) {
  case TC_PARAM: return F->scalar[n->id];
  case TC_CONST:
    if (fe_dtype_is_float(n->dtype)) return cg_round_to(e, n->dtype, LLVMConstReal(cg_ctype(e, n->dtype), n->cst.f));
    return LLVMConstInt(cg_ctype(e, n->dtype), (unsigned long long)n->cst.i, 1);
  case TC_DIMVAL: return cg_poly(F, n->dimval.size);
  case TC_CAST:
    bcast_ix(n, n->args[0], ix, &ai, F);
    return cast_value(F, n->args[0]->dtype, n->dtype, cg_emit_at(F, n->args[0], &ai));
  case TC_BROADCAST:
    bcast_ix(n, n->args[0], ix, &ai, F);
    return cg_emit_at(F, n->args[0], &ai);
  case TC_SELECT: {
    LLVMValueRef v[3];
    for (int i = 0; i < 3; i++) {
      bcast_ix(n, n->args[i], ix, &ai, F);
      v[i] = cg_emit_at(F, n->args[i], &ai);
      /* At -O0, x86's fast instruction selector lowers a float select on a compare to
         vblendvps/pd and folds a single-use load right before it into the blend's memory
         operand, which reads 16 bytes for a 4- or 8-byte element: past the end of a
         buffer that ends at a page boundary. A freeze (a register copy to the selector)
         keeps the load a load of its own size. Optimised code is left as it was: the
         SelectionDAG only folds loads of the operand's full width. */
      if (i > 0 && e->fast_isel && fe_dtype_is_float(n->dtype) && LLVMIsALoadInst(v[i]))
        v[i] = LLVMBuildFreeze(e->b, v[i], "");
    }
    return LLVMBuildSelect(e->b, v[0], v[1], v[2], "");
  }
  case TC_SLICE: {
    const tc_Node *a = n->args[0];
    int k = 0;
    ai.rank = a->rank;
    ai.lin = NULL;
    for (int j = 0; j < a->rank; j++) {
      LLVMValueRef st = cg_poly(F, n->slice.starts[j]);
      if (n->slice.drop[j]) ai.v[j] = st;
      else {
        LLVMValueRef i = ix->v[k++];
        if (n->slice.steps[j] != 1) i = LLVMBuildMul(e->b, i, cg_i64(F, n->slice.steps[j]), "");
        ai.v[j] = LLVMBuildAdd(e->b, st, i, "");
      }
    }
    return cg_emit_at(F, a, &ai);
  }
  case TC_TRANSPOSE:
    ai.rank = n->rank;
    ai.lin = NULL;
    for (int i = 0; i < n->rank; i++) ai.v[n->transpose.perm[i]] = ix->v[i];
    return cg_emit_at(F, n->args[0], &ai);
  case TC_RESHAPE: {
    const tc_Node *a = n->args[0];
    if (a->rank == 0) {
      ai.rank = 0;
      ai.lin = NULL;
      return cg_emit_at(F, a, &ai);
    }
    LLVMValueRef lin = ix->lin ? ix->lin : cg_linear(F, n->rank, (const tc_Poly **)n->dims, (LLVMValueRef *)ix->v);
    return cg_load_at(F, a->dtype, F->buf[a->id], lin);
  }
  default: break;
  }
  const tc_OpInfo *info = tc_op_info(n->op);
  if (info->cls != TC_CLASS_ELEMENTWISE || info->arity < 1 || info->arity > 2 || n->nargs != info->arity)
    TRIC_BUG("emit_expr: '%s' with %d arguments is not evaluated in a loop", tc_op_name(n->op), n->nargs);
  if (n->nargs == 1) {
    bcast_ix(n, n->args[0], ix, &ai, F);
    return unop(F, n, cg_emit_at(F, n->args[0], &ai));
  }
  LLVMValueRef v[2];
  for (int i = 0; i < 2; i++) {
    bcast_ix(n, n->args[i], ix, &ai, F);
    v[i] = cg_emit_at(F, n->args[i], &ai);
  }
  return binop(F, n, n->args[0]->dtype, v[0], v[1]);
}

static bool ix_eq(const Ix *a, const Ix *b) {
  if (a->rank != b->rank || a->lin != b->lin) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->v[i] != b->v[i]) return false;
  return true;
}

/* The value of node n at index ix: loaded from its buffer, or computed in place. */
LLVMValueRef cg_emit_at(Fn *F, const tc_Node *n, const Ix *ix) {
  if (F->rowval && F->rowval[n->id]) return F->rowval[n->id]; /* a row-wise kernel's per-row scalar */
  if (F->buf[n->id]) return buffer_load(F, n, ix);
  Memos *M = F->memo;
  if (M->stamp[n->id] != M->gen) {
    M->stamp[n->id] = M->gen;
    M->head[n->id] = -1;
  }
  for (int i = M->head[n->id]; i >= 0; i = M->ent[i].next)
    if (ix_eq(&M->ent[i].ix, ix)) return M->ent[i].v;
  LLVMValueRef v = emit_expr(F, n, ix);
  cg_memo_put(F, n, ix, v);
  return v;
}

void cg_memo_put(Fn *F, const tc_Node *n, const Ix *ix, LLVMValueRef v) {
  Memos *M = F->memo;
  if (M->stamp[n->id] != M->gen) {
    M->stamp[n->id] = M->gen;
    M->head[n->id] = -1;
  }
  if (M->n == M->cap) {
    M->cap = M->cap ? M->cap * 2 : 256;
    M->ent = realloc(M->ent, sizeof *M->ent * (size_t)M->cap);
    if (!M->ent) abort();
  }
  M->ent[M->n] = (Memo){.ix = *ix, .v = v, .next = M->head[n->id]};
  M->head[n->id] = M->n++; /* after emit_expr: its own entries may have grown ent */
}


static bool flat_ok_node(Fn *F, const tc_Node *n, const tc_Node *shape);

/* Can n be evaluated over a flat index in its own shape (no per-dimension index)? shape is
 * the same for every call of one query (flat_ok_top), so the answer is kept per node:
 * a shared node is asked once, not once per path to it. */
static bool flat_ok(Fn *F, const tc_Node *n, const tc_Node *shape) {
  if (n->rank == 0 && n != shape) return true; /* scalars need no index */
  Memos *M = F->memo;
  if (M->flat_stamp[n->id] == M->flat_gen) return M->flat_val[n->id];
  bool ok = flat_ok_node(F, n, shape);
  M->flat_stamp[n->id] = M->flat_gen;
  M->flat_val[n->id] = ok;
  return ok;
}

/* flat_ok of a whole loop nest's expression n. */
static bool flat_ok_top(Fn *F, const tc_Node *n) {
  F->memo->flat_gen++;
  return flat_ok(F, n, n);
}

/* flat_ok from n's own operation and arguments. */
static bool flat_ok_node(Fn *F, const tc_Node *n, const tc_Node *shape) {
  if (!cg_same_shape(n, shape)) return false;
  if (F->buf[n->id]) return true;
  switch (tc_op_info(n->op)->cls) {
  case TC_CLASS_LEAF: return true;
  case TC_CLASS_ELEMENTWISE:
    for (int j = 0; j < n->nargs; j++)
      if (!flat_ok(F, n->args[j], n->args[j]->rank == 0 ? n->args[j] : shape)) return false;
    return true;
  case TC_CLASS_REDUCTION: case TC_CLASS_CONTRACTION: case TC_CLASS_WINDOW: return false;
  case TC_CLASS_LAYOUT:
    switch (n->op) {
    case TC_SLICE: case TC_TRANSPOSE: case TC_CONCAT: return false;
    case TC_RESHAPE: return true; /* reads its argument's buffer linearly */
    default: TRIC_BUG("flat_ok: no case for the layout op '%s'", tc_op_name(n->op));
    }
  }
  TRIC_BUG("flat_ok: '%s' has no op class", tc_op_name(n->op));
}

bool cg_flat_ok(Fn *F, const tc_Node *n) { return flat_ok_top(F, n); }

/* ---------------------------------------------------------------- loop nests */

/* Opens loops over dims (all of them, or those selected by mask), filling ix. */
void cg_open_loops(Fn *F, Loop *L, int rank, const tc_Poly **dims, int64_t mask, Ix *ix, int *nopen) {
  for (int i = 0; i < rank; i++) {
    if (!(mask & (1ll << i))) continue;
    cg_loop_begin(F, &L[*nopen], cg_poly(F, dims[i]));
    ix->v[i] = L[*nopen].i;
    (*nopen)++;
  }
}

void cg_close_loops(Fn *F, Loop *L, int *nopen, int downto) {
  while (*nopen > downto) cg_loop_end(F, &L[--*nopen]);
}

/* dst[j] = n at flat index lo + j for j in [0, count) (lo NULL: 0); copy: n is an input
   to read, otherwise an expression to compute. */
static void flat_range(Fn *F, const tc_Node *n, LLVMValueRef dst, LLVMValueRef lo, LLVMValueRef count, bool copy,
                       int interleave) {
  Loop L = {.interleave = interleave};
  cg_loop_begin(F, &L, count);
  Ix ix = {.rank = n->rank, .lin = lo ? LLVMBuildNSWAdd(F->e->b, lo, L.i, "") : L.i};
  LLVMValueRef v = copy ? cg_emit_at(F, n, &ix) : emit_expr(F, n, &ix);
  cg_store_at(F, n->dtype, dst, L.i, v);
  cg_loop_end(F, &L);
}

/* dst[i] = n at flat index i over n's whole shape, as one loop. An output of the exported
 * function (not a temporary, which the next kernel reads back) of STREAM_MIN bytes or
 * more is written with streaming (non-temporal) stores where the target has them
 * (x86 at -O2 and up, cg_Emit.stream): it is far larger than the caches, so writing it
 * around them saves the read of every destination line before its write (a third of the
 * memory traffic of an elementwise map). The loop runs scalar up to the first 64-byte
 * boundary of dst, then vectorised from there with dst's alignment assumed; after
 * optimisation, cg_mark_streaming_stores marks the vector stores of that loop (the only
 * ones to dst whose alignment LLVM can prove) non-temporal, and an sfence orders them
 * before the kernel returns. Smaller outputs take the plain loop. */
enum { STREAM_MIN = 16 << 20 };

static void flat_fill(Fn *F, const tc_Node *n, LLVMValueRef dst, bool copy, const LLVMValueRef *range) {
  cg_Emit *e = F->e;
  LLVMValueRef count = cg_numel(F, n->rank, (const tc_Poly **)n->dims), first = NULL;
  long long whole_count = LLVMIsAConstantInt(count) ? LLVMConstIntGetSExtValue(count) : -1;
  if (range) { /* rows [range[0], range[1]) of the first dimension: elements [first, first + count) */
    LLVMValueRef inner = cg_numel(F, n->rank - 1, (const tc_Poly **)n->dims + 1);
    first = LLVMBuildNSWMul(e->b, range[0], inner, "");
    count = LLVMBuildNSWMul(e->b, LLVMBuildNSWSub(e->b, range[1], range[0], ""), inner, "");
    dst = LLVMBuildInBoundsGEP2(e->b, cg_stype(e, n->dtype), dst, &first, 1, "");
  }
  int es = fe_dtype_size(n->dtype);
  if (n->dtype == FE_BOOL) es = 1;
  long long min_count = STREAM_MIN / es;
  if (!e->stream || !F->to_output || (whole_count >= 0 && whole_count < min_count)) {
    flat_range(F, n, dst, first, count, copy, INTERLEAVE);
    return;
  }
  LLVMValueRef addr = LLVMBuildPtrToInt(e->b, dst, e->i64, "");
  LLVMValueRef big = LLVMBuildICmp(e->b, LLVMIntSGE, count, cg_i64(F, min_count), "");
  LLVMValueRef whole = LLVMBuildICmp(e->b, LLVMIntEQ, LLVMBuildAnd(e->b, addr, cg_i64(F, es - 1), ""), cg_i64(F, 0), "");
  LLVMBasicBlockRef sb = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "stream");
  LLVMBasicBlockRef nb = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "plain");
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "filled");
  LLVMBuildCondBr(e->b, LLVMBuildAnd(e->b, big, whole, ""), sb, nb);
  LLVMPositionBuilderAtEnd(e->b, nb);
  flat_range(F, n, dst, first, count, copy, INTERLEAVE);
  LLVMBuildBr(e->b, join);
  LLVMPositionBuilderAtEnd(e->b, sb);
  /* head: elements up to the 64-byte boundary (fewer than 64, and count is far larger) */
  LLVMValueRef head_bytes = LLVMBuildAnd(e->b, LLVMBuildNeg(e->b, addr, ""), cg_i64(F, 63), "");
  LLVMValueRef head = LLVMBuildUDiv(e->b, head_bytes, cg_i64(F, es), "");
  flat_range(F, n, dst, first, head, copy, -1);
  if (first) head = LLVMBuildNSWAdd(e->b, first, head, ""); /* the body's first element */
  else first = cg_i64(F, 0);
  LLVMValueRef body = LLVMBuildInBoundsGEP2(e->b, e->i8, dst, &head_bytes, 1, "");
  LLVMValueRef bundle_args[2] = {body, cg_i64(F, 64)};
  LLVMOperandBundleRef align = LLVMCreateOperandBundle("align", 5, bundle_args, 2);
  LLVMValueRef yes = LLVMConstInt(e->i1, 1, 0);
  LLVMValueRef assume = cg_intrinsic_decl(e, "llvm.assume");
  LLVMBuildCallWithOperandBundles(e->b, LLVMGlobalGetValueType(assume), assume, &yes, 1, &align, 1, "");
  LLVMDisposeOperandBundle(align);
  flat_range(F, n, body, head, LLVMBuildNSWSub(e->b, count, LLVMBuildNSWSub(e->b, head, first, ""), ""), copy, INTERLEAVE);
  LLVMValueRef sfence = cg_intrinsic_decl(e, "llvm.x86.sse.sfence");
  LLVMBuildCall2(e->b, LLVMGlobalGetValueType(sfence), sfence, NULL, 0, "");
  LLVMBuildBr(e->b, join);
  LLVMPositionBuilderAtEnd(e->b, join);
}

/* dst[...] = value of n over its shape, rows range[0] <= i < range[1] of its first
 * dimension when its rank is 1 or more (n computed from its arguments). */
static void emit_fill(Fn *F, const tc_Node *n, LLVMValueRef dst, const LLVMValueRef *range) {
  Loop L[TC_MAXRANK + 1] = {0};
  int nopen = 0;
  Ix ix = {.rank = n->rank};
  F->buf[n->id] = NULL; /* compute, do not load */
  if (n->rank == 0) {
    cg_memo_reset(F);
    cg_store_at(F, n->dtype, dst, cg_i64(F, 0), emit_expr(F, n, &ix));
  } else if (flat_ok_top(F, n)) {
    flat_fill(F, n, dst, false, range);
  } else {
    cg_loop_begin(F, &L[nopen], LLVMBuildSub(F->e->b, range[1], range[0], ""));
    ix.v[0] = LLVMBuildNSWAdd(F->e->b, range[0], L[nopen++].i, "");
    cg_open_loops(F, L, n->rank, (const tc_Poly **)n->dims, (int64_t)((1ull << n->rank) - 2), &ix, &nopen);
    LLVMValueRef lin = cg_linear(F, n->rank, (const tc_Poly **)n->dims, ix.v);
    cg_store_at(F, n->dtype, dst, lin, emit_expr(F, n, &ix));
    cg_close_loops(F, L, &nopen, 0);
  }
}

static void emit_concat(Fn *F, const tc_Node *n, LLVMValueRef dst) {
  LLVMValueRef off = cg_i64(F, 0);
  int ax = (int)n->concat.axis;
  for (int k = 0; k < n->nargs; k++) {
    const tc_Node *a = n->args[k];
    Loop L[TC_MAXRANK + 1] = {0};
    int nopen = 0;
    Ix ix = {.rank = a->rank};
    cg_open_loops(F, L, a->rank, (const tc_Poly **)a->dims, -1, &ix, &nopen);
    LLVMValueRef v = cg_emit_at(F, a, &ix);
    LLVMValueRef oi[TC_MAXRANK];
    memcpy(oi, ix.v, sizeof oi);
    oi[ax] = LLVMBuildAdd(F->e->b, ix.v[ax], off, "");
    cg_store_at(F, n->dtype, dst, cg_linear(F, n->rank, (const tc_Poly **)n->dims, oi), v);
    cg_close_loops(F, L, &nopen, 0);
    off = LLVMBuildAdd(F->e->b, off, cg_poly(F, a->dims[ax]), "");
  }
}

/* ---------------------------------------------------------------- kernels
 *
 * Every loop nest is emitted as a kernel: an internal, never-inlined function taking its
 * output, its input buffers and scalars, and the size symbols. LLVM's passes then work on
 * many small functions instead of one huge one (their cost grows faster than linearly
 * with function size), and two loop nests with the same signature -- the same fused
 * expression over the same shapes, as in the repeated layers of a model -- share one
 * kernel, generated once per module.
 */

enum { K_FILL, K_REDUCE, K_MATMUL, K_CONCAT, K_COPY, K_ROWWISE, K_POOL, K_DEPTHWISE };

/* Whether a kernel of this kind writes each element of its output independently (an
 * elementwise map or a copy), so that it may split its first dimension over threads. */
static bool fill_kind(int kind) { return kind == K_FILL || kind == K_COPY; }

/* The loop nest that lowers a kernel of the plan's kind k. */
static int emit_kind(cg_PlanKind k) {
  switch (k) {
  case CG_PK_ELEMENTWISE: return K_FILL;
  case CG_PK_REDUCTION: return K_REDUCE;
  case CG_PK_CONTRACTION: return K_MATMUL;
  case CG_PK_LAYOUT: return K_CONCAT;
  case CG_PK_COPY: return K_COPY;
  case CG_PK_ROWWISE: return K_ROWWISE;
  case CG_PK_POOL: return K_POOL;
  case CG_PK_DEPTHWISE: return K_DEPTHWISE;
  }
  TRIC_BUG("plan kernel kind %d has no loop nest", (int)k);
}

/* The temporary whose offset is in slot: temps + offset. */
static LLVMValueRef temp_ptr(Fn *F, LLVMValueRef slot) {
  LLVMValueRef off = LLVMBuildLoad2(F->e->b, F->e->i64, slot, "");
  return LLVMBuildInBoundsGEP2(F->e->b, F->e->i8, F->temps, &off, 1, "");
}

/* Emits the body of a kernel of the given kind into K (its own function). */
static void emit_kernel_body(Fn *K, int kind, const tc_Node *n, const tc_Node *x, LLVMValueRef dst, LLVMValueRef scratch,
                             const LLVMValueRef *range) {
  switch (kind) {
  case K_REDUCE: cg_emit_reduce(K, n, dst); break;
  case K_MATMUL: cg_emit_contraction(K, x, n, dst, scratch, range); break;
  case K_CONCAT: emit_concat(K, n, dst); break;
  case K_FILL: emit_fill(K, n, dst, range); break;
  case K_COPY: flat_fill(K, n, dst, true, n->rank ? range : NULL); break; /* n is the kernel's input 0 */
  case K_ROWWISE: cg_emit_rowwise(K, n, dst, range); break;
  case K_POOL: cg_emit_pool(K, n, dst, range); break;
  case K_DEPTHWISE: cg_emit_depthwise(K, x, n, dst, range); break;
  default: TRIC_BUG("kernel kind %d for '%s' has no emitter", kind, tc_op_name(n->op));
  }
}

static void add_attr(cg_Emit *e, LLVMValueRef fn, unsigned idx, const char *name);

/* The pointer to n's buffer at the current point (a temporary's is formed here). */
static LLVMValueRef buffer_ptr(Fn *F, const tc_Node *n) {
  if (F->pslot && F->pslot[n->id]) return LLVMBuildLoad2(F->e->b, F->e->ptr, F->pslot[n->id], "");
  if (!F->slot || !F->slot[n->id]) return F->buf[n->id];
  return temp_ptr(F, F->slot[n->id]);
}

/* Computes node n into dst (a K_* loop nest; x: a contraction's matmul) through a
 * kernel, creating the kernel unless one with the same signature exists. */
static void run_kernel(Fn *F, const cg_PlanKernel *pk, int kind, const tc_Node *n, const tc_Node *x, LLVMValueRef dst,
                       LLVMValueRef scratch, LLVMValueRef stride) {
  cg_Emit *e = F->e;
  bool to_output = LLVMIsAArgument(dst) != NULL;
  if (to_output != (pk->output >= 0) || (scratch != NULL) != pk->scratch)
    TRIC_BUG("kernel of '%s' writes or scratches other than its plan entry says", tc_op_name(n->op));
  LLVMValueRef kfn = NULL;
  for (int i = 0; i < e->kernel_keys.n && !kfn; i++)
    if (!memcmp(e->kernel_keys.items[i], pk->key, sizeof pk->key)) kfn = e->kernel_fns.items[i];
  /* a contraction also takes the rows and columns of its part of C: ilo, ihi, jlo, jhi */
  int nrange = kind == K_MATMUL ? 4 : kind == K_ROWWISE || kind == K_POOL || kind == K_DEPTHWISE || (fill_kind(kind) && n->rank) ? 2 : 0;
  int nin = pk->nparams, ns = F->f->nsyms, np = 1 + (scratch != NULL) + nrange + nin + ns;
  LLVMTypeRef *pt = fe_alloc(e->arena, sizeof *pt * (size_t)np);
  LLVMValueRef *args = fe_alloc(e->arena, sizeof *args * (size_t)np);
  int k = 0;
  pt[k] = e->ptr, args[k++] = dst;
  if (scratch) pt[k] = e->ptr, args[k++] = scratch;
  for (int i = 0; i < nrange; i++) pt[k] = e->i64, args[k++] = cg_i64(F, 0); /* set per chunk */
  for (int i = 0; i < nin; i++) {
    const tc_Node *in = pk->params[i];
    if (F->buf[in->id]) pt[k] = e->ptr, args[k++] = buffer_ptr(F, in);
    else pt[k] = cg_stype(e, in->dtype), args[k++] = LLVMGetParam(F->fn, (unsigned)in->param.index);
  }
  for (int i = 0; i < ns; i++) pt[k] = e->i64, args[k++] = F->sym[i];
  LLVMTypeRef fty = LLVMFunctionType(e->vd, pt, (unsigned)np, 0);
  if (!kfn) {
    char name[32];
    snprintf(name, sizeof name, "tric.kernel.%d", e->kernel_fns.n);
    LLVMModuleRef home = e->mod;
    LLVMValueRef callee;
    if (e->split) { /* the entry calls a declaration; the body goes into a module of its own */
      callee = LLVMAddFunction(e->mod, name, fty);
      LLVMSetVisibility(callee, LLVMHiddenVisibility);
      LLVMModuleRef km = cg_unit_module(e, &e->kernel_mods, kind == K_MATMUL ? CG_PIPE_CONTRACTION : CG_PIPE_DEFAULT);
      e->mod = km;
      kfn = LLVMAddFunction(km, CG_KERNEL_NAME, fty);
      LLVMSetVisibility(kfn, LLVMHiddenVisibility);
    } else {
      callee = kfn = LLVMAddFunction(e->mod, name, fty);
      LLVMSetLinkage(kfn, LLVMInternalLinkage);
    }
    cg_add_fn_attrs(e, kfn);
    add_attr(e, kfn, LLVMAttributeFunctionIndex, "noinline");
    for (int i = 0; i < np; i++)
      if (pt[i] == e->ptr) {
        add_attr(e, kfn, (unsigned)i + 1, "noalias");
        add_attr(e, kfn, (unsigned)i + 1, "nocapture");
        if (i >= 1 + (scratch != NULL)) add_attr(e, kfn, (unsigned)i + 1, "readonly");
      }
    fe_vec_push(e->arena, &e->kernel_keys, (void *)pk->key);
    fe_vec_push(e->arena, &e->kernel_fns, callee);
    Fn *K = calloc(1, sizeof *K);
    if (!K) abort();
    size_t nn = (size_t)F->f->nnodes + 1;
    K->e = e;
    K->f = F->f;
    K->fn = kfn;
    K->to_output = to_output;
    K->reach = F->reach;
    K->mat = F->mat;
    K->memo = F->memo;
    K->buf = fe_alloc(e->arena, sizeof(LLVMValueRef) * nn);
    K->scalar = fe_alloc(e->arena, sizeof(LLVMValueRef) * nn);
    K->sym = fe_alloc(e->arena, sizeof(LLVMValueRef) * ((size_t)ns + 1));
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(e->b);
    K->entry = LLVMAppendBasicBlockInContext(e->ctx, kfn, "entry");
    LLVMPositionBuilderAtEnd(e->b, K->entry);
    k = 1 + (scratch != NULL) + nrange;
    for (int i = 0; i < nin; i++, k++) {
      const tc_Node *in = pk->params[i];
      LLVMValueRef p = LLVMGetParam(kfn, (unsigned)k);
      if (F->buf[in->id]) K->buf[in->id] = p;
      else K->scalar[in->id] = cg_from_storage(e, in->dtype, p);
    }
    for (int i = 0; i < ns; i++) K->sym[i] = LLVMGetParam(kfn, (unsigned)(k + i));
    LLVMValueRef range[4];
    for (int i = 0; i < nrange; i++) range[i] = LLVMGetParam(kfn, (unsigned)(1 + (scratch != NULL) + i));
    emit_kernel_body(K, kind, n, x, LLVMGetParam(kfn, 0), scratch ? LLVMGetParam(kfn, 1) : NULL, range);
    LLVMBuildRetVoid(e->b);
    LLVMPositionBuilderAtEnd(e->b, saved);
    e->mod = home;
    free(K);
    kfn = callee;
  }
  if (kind == K_MATMUL) cg_contraction_call(F, x, n, kfn, fty, args, np, stride);
  else if (kind == K_ROWWISE) cg_rowwise_call(F, n, kfn, fty, args, np);
  else if (kind == K_POOL || kind == K_DEPTHWISE) cg_pool_call(F, kind == K_POOL ? n : x, kfn, fty, args, np);
  else if (nrange == 2) cg_fill_call(F, n, kfn, fty, args, np);
  else LLVMBuildCall2(e->b, fty, kfn, args, (unsigned)np, "");
}

/* ---------------------------------------------------------------- the function */

static LLVMValueRef declare(cg_Emit *e, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n) {
  LLVMValueRef f = LLVMGetNamedFunction(e->mod, name);
  if (f) return f;
  f = LLVMAddFunction(e->mod, name, LLVMFunctionType(ret, params, (unsigned)n, 0));
  LLVMSetLinkage(f, LLVMExternalLinkage);
  return f;
}

static void add_attr(cg_Emit *e, LLVMValueRef fn, unsigned idx, const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(e->ctx, kind, 0));
}

static LLVMValueRef checked_bytes_new(Fn *F, int rank, const tc_Poly **dims, int elsize);

/* Branches to the size-error exit unless ok holds. */
static void require(Fn *F, LLVMValueRef ok) {
  cg_Emit *e = F->e;
  LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "ok");
  LLVMBuildCondBr(e->b, ok, next, F->fail_size);
  LLVMPositionBuilderAtEnd(e->b, next);
}

/* bytes = numel * size, failing on overflow past 2^62; computed once per distinct shape. */
static LLVMValueRef checked_bytes(Fn *F, int rank, const tc_Poly **dims, int elsize) {
  for (int i = 0; i < F->nsizes; i++) {
    SizeMemo *m = &F->sizes[i];
    bool same = m->rank == rank && m->elsize == elsize;
    for (int k = 0; same && k < rank; k++) same = tc_poly_eq(m->dims[k], dims[k]);
    if (same) return m->bytes;
  }
  LLVMValueRef bytes = checked_bytes_new(F, rank, dims, elsize);
  if (F->nsizes < SIZE_MEMO) F->sizes[F->nsizes++] = (SizeMemo){rank, elsize, dims, bytes};
  return bytes;
}

static LLVMValueRef checked_bytes_new(Fn *F, int rank, const tc_Poly **dims, int elsize) {
  cg_Emit *e = F->e;
  /* constant dimensions multiply here (the entry is not optimised, so nothing folds them
     later); only symbolic ones get a checked multiplication at run time */
  uint64_t known = (uint64_t)elsize;
  bool overflow = false;
  LLVMValueRef total = NULL;
  for (int i = 0; i < rank; i++) {
    int64_t c;
    if (tc_poly_is_const(dims[i], &c) && c >= 0) {
      overflow |= __builtin_mul_overflow(known, (uint64_t)c, &known) || known > (1ull << 62);
      continue;
    }
    if (!total) {
      total = cg_poly(F, dims[i]);
      continue;
    }
    LLVMValueRef args[2] = {total, cg_poly(F, dims[i])};
    LLVMValueRef r = cg_intrinsic(e, "llvm.umul.with.overflow", e->i64, args, 2);
    require(F, LLVMBuildNot(e->b, LLVMBuildExtractValue(e->b, r, 1, ""), ""));
    total = LLVMBuildExtractValue(e->b, r, 0, "");
  }
  if (overflow) require(F, LLVMConstInt(e->i1, 0, 0));
  if (!total) return LLVMConstInt(e->i64, known, 0);
  LLVMValueRef args[2] = {total, LLVMConstInt(e->i64, known, 0)};
  LLVMValueRef r = cg_intrinsic(e, "llvm.umul.with.overflow", e->i64, args, 2);
  require(F, LLVMBuildNot(e->b, LLVMBuildExtractValue(e->b, r, 1, ""), ""));
  total = LLVMBuildExtractValue(e->b, r, 0, "");
  require(F, LLVMBuildICmp(e->b, LLVMIntULE, total, LLVMConstInt(e->i64, 1ull << 62, 0), ""));
  return total;
}

/* nounwind, the target CPU and features, and the full vector width where AVX-512 exists. */
void cg_add_fn_attrs(cg_Emit *e, LLVMValueRef fn) {
  add_attr(e, fn, LLVMAttributeFunctionIndex, "nounwind");
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(e->ctx, "target-cpu", 10, e->cpu, (unsigned)strlen(e->cpu)));
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(e->ctx, "target-features", 15, e->features, (unsigned)strlen(e->features)));
  if (e->target.vector_bytes == 64) /* use the full width, not LLVM's 256-bit default tuning */
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(e->ctx, "prefer-vector-width", 19, "512", 3));
}

/* v rounded up to a multiple of 64 (v < 2^62). */
static LLVMValueRef round64(Fn *F, LLVMValueRef v) {
  LLVMBuilderRef b = F->e->b;
  return LLVMBuildAnd(b, LLVMBuildAdd(b, v, cg_i64(F, 63), ""), cg_i64(F, ~(int64_t)63), "");
}

/* The threads of tric's pool now (tricrt_get_num_threads), between 1 and CG_MAX_THREADS. */
static LLVMValueRef pool_threads(Fn *F) {
  cg_Emit *e = F->e;
  LLVMTypeRef gty = LLVMFunctionType(e->i32, NULL, 0, 0);
  LLVMValueRef g = LLVMGetNamedFunction(e->mod, "tricrt_get_num_threads");
  if (!g) g = LLVMAddFunction(e->mod, "tricrt_get_num_threads", gty);
  LLVMValueRef nt = LLVMBuildCall2(e->b, gty, g, NULL, 0, "");
  LLVMValueRef cap = LLVMConstInt(e->i32, CG_MAX_THREADS, 0), one = LLVMConstInt(e->i32, 1, 0);
  nt = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, nt, cap, ""), cap, nt, "");
  return LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, nt, one, ""), one, nt, "");
}

/* The attributes of an entry function: the target's, and optnone: an entry only checks
 * sizes and calls kernels, so optimising it buys microseconds per call but costs most of
 * the compile time of a large model (its length grows with the layers while kernels are
 * shared). Its pointer parameters [0, nptr) are noalias and nocapture, the inputs among
 * them ([0, nin)) readonly. */
static void entry_attrs(cg_Emit *e, LLVMValueRef fn, const LLVMTypeRef *pt, int nin, int nptr) {
  cg_add_fn_attrs(e, fn);
  add_attr(e, fn, LLVMAttributeFunctionIndex, "optnone");
  add_attr(e, fn, LLVMAttributeFunctionIndex, "noinline");
  for (int i = 0; i < nptr; i++)
    if (pt[i] == e->ptr) {
      add_attr(e, fn, (unsigned)i + 1, "noalias");
      add_attr(e, fn, (unsigned)i + 1, "nocapture");
      if (i < nin) add_attr(e, fn, (unsigned)i + 1, "readonly");
    }
}

/* A new function `name` of type ty with its entry block, the builder at its end. */
static LLVMValueRef begin_entry(cg_Emit *e, const char *name, LLVMTypeRef ty) {
  LLVMValueRef fn = LLVMAddFunction(e->mod, name, ty);
  LLVMPositionBuilderAtEnd(e->b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
  return fn;
}

/* Calls body with the C arguments args[0, nall) of fn, then ws, ws_bytes and need. */
static LLVMValueRef call_body(cg_Emit *e, LLVMValueRef body, LLVMTypeRef body_ty, LLVMValueRef *args, int nall,
                              LLVMValueRef ws, LLVMValueRef ws_bytes, LLVMValueRef need) {
  args[nall] = ws, args[nall + 1] = ws_bytes, args[nall + 2] = need;
  return LLVMBuildCall2(e->b, body_ty, body, args, (unsigned)nall + 3, "");
}

/* Emits the C entries of f around its body (docs/abi.md, "Workspace"):
 *   int NAME(inputs, outputs, sizes): sizes the workspace, allocates it once (none when
 *     nothing needs one), runs the body in it and frees it;
 *   int NAME_ws(inputs, outputs, sizes, void *workspace, int64_t workspace_bytes);
 *   int64_t NAME_workspace_size(sizes): the bytes NAME_ws needs, or a negative code. */
static void entry_wrappers(cg_Emit *e, const tc_Func *f, LLVMValueRef body, LLVMTypeRef body_ty, LLVMTypeRef *pt) {
  int np = f->nparams, nr = f->nresults, ns = f->nparam_syms, nall = np + nr + ns;
  LLVMValueRef *args = fe_alloc(e->arena, sizeof *args * (size_t)(nall + 3));
  LLVMValueRef null = LLVMConstNull(e->ptr), zero = LLVMConstInt(e->i64, 0, 0), ok = LLVMConstInt(e->i32, 0, 0);
  LLVMTypeRef mt[1] = {e->i64}, ft[1] = {e->ptr};
  LLVMValueRef fmalloc = declare(e, "malloc", e->ptr, mt, 1), ffree = declare(e, "free", e->vd, ft, 1);
  LLVMTypeRef malloc_ty = LLVMFunctionType(e->ptr, mt, 1, 0), free_ty = LLVMFunctionType(e->vd, ft, 1, 0);

  LLVMValueRef fn = begin_entry(e, f->name, LLVMFunctionType(e->i32, pt, (unsigned)nall, 0));
  entry_attrs(e, fn, pt, np, np + nr);
  for (int i = 0; i < nall; i++) args[i] = LLVMGetParam(fn, (unsigned)i);
  LLVMValueRef needp = LLVMBuildAlloca(e->b, e->i64, "need");
  LLVMValueRef r = call_body(e, body, body_ty, args, nall, null, zero, needp);
  LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(e->ctx, fn, "bad"), sized = LLVMAppendBasicBlockInContext(e->ctx, fn, "sized");
  LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, r, ok, ""), sized, bad);
  LLVMPositionBuilderAtEnd(e->b, bad);
  LLVMBuildRet(e->b, r);
  LLVMPositionBuilderAtEnd(e->b, sized);
  LLVMValueRef need = LLVMBuildLoad2(e->b, e->i64, needp, "");
  LLVMBasicBlockRef none = LLVMAppendBasicBlockInContext(e->ctx, fn, "no_workspace");
  LLVMBasicBlockRef alloc = LLVMAppendBasicBlockInContext(e->ctx, fn, "allocate");
  LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, need, zero, ""), none, alloc);
  LLVMPositionBuilderAtEnd(e->b, none);
  LLVMBuildRet(e->b, call_body(e, body, body_ty, args, nall, null, zero, null));
  LLVMPositionBuilderAtEnd(e->b, alloc);
  LLVMValueRef ws = LLVMBuildCall2(e->b, malloc_ty, fmalloc, &need, 1, "workspace");
  LLVMBasicBlockRef nomem = LLVMAppendBasicBlockInContext(e->ctx, fn, "no_memory"), run = LLVMAppendBasicBlockInContext(e->ctx, fn, "run");
  LLVMBuildCondBr(e->b, LLVMBuildIsNotNull(e->b, ws, ""), run, nomem);
  LLVMPositionBuilderAtEnd(e->b, nomem);
  LLVMBuildRet(e->b, LLVMConstInt(e->i32, (unsigned long long)ERR_NOMEM, 1));
  LLVMPositionBuilderAtEnd(e->b, run);
  r = call_body(e, body, body_ty, args, nall, ws, need, null);
  LLVMBuildCall2(e->b, free_ty, ffree, &ws, 1, "");
  LLVMBuildRet(e->b, r);

  LLVMTypeRef *wt = fe_alloc(e->arena, sizeof *wt * (size_t)(nall + 2));
  memcpy(wt, pt, sizeof *wt * (size_t)nall);
  wt[nall] = e->ptr, wt[nall + 1] = e->i64;
  fn = begin_entry(e, fe_sprintf(e->arena, "%s_ws", f->name), LLVMFunctionType(e->i32, wt, (unsigned)nall + 2, 0));
  entry_attrs(e, fn, wt, np, np + nr);
  add_attr(e, fn, (unsigned)nall + 1, "noalias");
  add_attr(e, fn, (unsigned)nall + 1, "nocapture");
  for (int i = 0; i < nall; i++) args[i] = LLVMGetParam(fn, (unsigned)i);
  LLVMBuildRet(e->b, call_body(e, body, body_ty, args, nall, LLVMGetParam(fn, (unsigned)nall),
                               LLVMGetParam(fn, (unsigned)nall + 1), null));

  fn = begin_entry(e, fe_sprintf(e->arena, "%s_workspace_size", f->name),
                   LLVMFunctionType(e->i64, pt + np + nr, (unsigned)ns, 0));
  entry_attrs(e, fn, pt, 0, 0);
  for (int i = 0; i < np + nr; i++) args[i] = LLVMConstNull(pt[i]); /* not read when only sizing */
  for (int i = 0; i < ns; i++) args[np + nr + i] = LLVMGetParam(fn, (unsigned)i);
  needp = LLVMBuildAlloca(e->b, e->i64, "need");
  r = call_body(e, body, body_ty, args, nall, null, zero, needp);
  LLVMBuildRet(e->b, LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, r, ok, ""), LLVMBuildLoad2(e->b, e->i64, needp, ""),
                                     LLVMBuildSExt(e->b, r, e->i64, ""), ""));
}

static void emit_function(cg_Emit *e, tc_Func *f) {
  int np = f->nparams, nr = f->nresults, ns = f->nparam_syms;
  int nall = np + nr + ns;
  LLVMTypeRef *pt = fe_alloc(e->arena, sizeof *pt * (size_t)(nall + 3));
  for (int i = 0; i < np; i++) {
    const tc_Node *p = f->params[i].node;
    pt[i] = p->rank ? e->ptr : cg_stype(e, p->dtype);
  }
  for (int i = 0; i < nr; i++) pt[np + i] = e->ptr;
  for (int i = 0; i < ns; i++) pt[np + nr + i] = e->i64;
  /* the body of the three C entries (entry_wrappers): the C arguments, then the
     workspace, its bytes, and where to store the bytes it needs (when not NULL, the body
     only checks the sizes and stores them) */
  pt[nall] = e->ptr, pt[nall + 1] = e->i64, pt[nall + 2] = e->ptr;
  LLVMTypeRef body_ty = LLVMFunctionType(e->i32, pt, (unsigned)nall + 3, 0);
  LLVMValueRef fn = LLVMAddFunction(e->mod, fe_sprintf(e->arena, "tric.entry.%s", f->name), body_ty);
  LLVMSetLinkage(fn, LLVMPrivateLinkage);
  entry_attrs(e, fn, pt, np, np + nr);

  Fn *F = calloc(1, sizeof *F);
  if (!F) abort();
  F->e = e;
  F->f = f;
  F->fn = fn;
  size_t nn = (size_t)f->nnodes + 1;
  F->sym = fe_alloc(e->arena, sizeof(LLVMValueRef) * ((size_t)f->nsyms + 1));
  F->buf = fe_alloc(e->arena, sizeof(LLVMValueRef) * nn);
  F->scalar = fe_alloc(e->arena, sizeof(LLVMValueRef) * nn);
  const cg_Plan *P = cg_plan_function(e->arena, f);
  F->reach = P->reach;
  F->mat = P->mat;
  Memos memo = {.gen = 1, .flat_gen = 1};
  memo.stamp = fe_alloc(e->arena, sizeof *memo.stamp * nn);
  memo.head = fe_alloc(e->arena, sizeof *memo.head * nn);
  memo.flat_stamp = fe_alloc(e->arena, sizeof *memo.flat_stamp * nn);
  memo.flat_val = fe_alloc(e->arena, nn);
  F->memo = &memo;

  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(e->ctx, fn, "entry");
  F->entry = entry;
  F->fail_size = LLVMAppendBasicBlockInContext(e->ctx, fn, "bad_size");
  LLVMPositionBuilderAtEnd(e->b, F->fail_size);
  LLVMBuildRet(e->b, LLVMConstInt(e->i32, (unsigned long long)ERR_SIZE, 1));
  LLVMPositionBuilderAtEnd(e->b, entry);

  /* sizes: the arguments, then derived sizes, then every rule */
  for (int i = 0; i < ns; i++) {
    F->sym[i] = LLVMGetParam(fn, (unsigned)(np + nr + i));
    require(F, LLVMBuildICmp(e->b, LLVMIntSGE, F->sym[i], cg_i64(F, 0), ""));
  }
  for (int i = ns; i < f->nsyms; i++) {
    const tc_Sym *s = &f->syms[i];
    LLVMValueRef num = cg_poly(F, s->num), den = cg_poly(F, s->den);
    if (s->kind == TC_SYM_QUOT) {
      LLVMValueRef d0 = LLVMBuildICmp(e->b, LLVMIntEQ, den, cg_i64(F, 0), "");
      require(F, LLVMBuildNot(e->b, d0, ""));
      LLVMValueRef sd = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSLE, den, cg_i64(F, 0), ""), cg_i64(F, 1), den, "");
      F->sym[i] = LLVMBuildSDiv(e->b, num, sd, "");
      continue;
    }
    /* CEILDIV, FLOORDIV: den is a constant > 0; a negative num (which a rule checked
       below rejects) counts as 0 */
    LLVMValueRef nn2 = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, num, cg_i64(F, 0), ""), cg_i64(F, 0), num, "");
    switch (s->kind) {
    case TC_SYM_CEILDIV:
      F->sym[i] = LLVMBuildSDiv(e->b, LLVMBuildAdd(e->b, nn2, LLVMBuildSub(e->b, den, cg_i64(F, 1), ""), ""), den, "");
      break;
    case TC_SYM_FLOORDIV: F->sym[i] = LLVMBuildSDiv(e->b, nn2, den, ""); break;
    case TC_SYM_PARAM: case TC_SYM_QUOT: TRIC_BUG("size symbol %d of kind %d is not derived", i, (int)s->kind);
    }
  }
  for (int i = 0; i < f->nchecks; i++) {
    const tc_Check *c = &f->checks[i];
    LLVMValueRef a = cg_poly(F, c->a);
    if (c->kind == TC_CHECK_EQ) require(F, LLVMBuildICmp(e->b, LLVMIntEQ, a, cg_poly(F, c->b), ""));
    else require(F, LLVMBuildICmp(e->b, LLVMIntSGE, a, cg_i64(F, 0), ""));
  }

  F->pslot = fe_alloc(e->arena, sizeof(LLVMValueRef) * nn);
  for (int i = 0; i < np; i++) {
    const tc_Node *p = f->params[i].node;
    LLVMValueRef v = LLVMGetParam(fn, (unsigned)i);
    if (p->rank) {
      F->buf[p->id] = v;
      if (!F->pslot[p->id]) {
        F->pslot[p->id] = cg_entry_alloca(F, e->ptr);
        LLVMBuildStore(e->b, v, F->pslot[p->id]);
      }
    } else F->scalar[p->id] = cg_from_storage(e, p->dtype, v);
  }
  /* every tensor's byte size must be representable; then allocate temporaries */
  for (int i = 0; i < np; i++) {
    const tc_Node *p = f->params[i].node;
    checked_bytes(F, p->rank, (const tc_Poly **)p->dims, fe_dtype_size(p->dtype));
  }
  const int *out_of = P->out_of;
  for (int i = 0; i < nr; i++) {
    const tc_Node *r = f->results[i];
    checked_bytes(F, r->rank, (const tc_Poly **)r->dims, fe_dtype_size(r->dtype));
  }
  /* the workspace (plan.c, "memory"): each slice as large as its largest temporary, then
     the contractions' scratch, one stride per worker of the largest of them */
  LLVMValueRef *slice = fe_alloc(e->arena, sizeof(LLVMValueRef) * ((size_t)P->nslices + 1));
  for (int s = 0; s < P->nslices; s++) slice[s] = cg_i64(F, 0);
  LLVMValueRef *stride = fe_alloc(e->arena, sizeof(LLVMValueRef) * nn); /* a contraction's scratch bytes per worker */
  LLVMValueRef per = cg_i64(F, 0); /* the largest of them */
  for (int i = 0; i < P->nkernels; i++) {
    const cg_PlanKernel *pk = &P->kernels[i];
    const tc_Node *n = pk->root;
    if (cg_plan_writes_temp(P, pk)) {
      LLVMValueRef b = round64(F, checked_bytes(F, n->rank, (const tc_Poly **)n->dims, fe_dtype_size(n->dtype)));
      int s = P->slice_of[n->id];
      slice[s] = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntUGT, b, slice[s], ""), b, slice[s], "");
    }
    if (pk->scratch) {
      LLVMValueRef ok, one = cg_contraction_scratch_bytes(F, pk->contraction, n, &ok);
      require(F, ok);
      one = round64(F, one);
      stride[n->id] = cg_entry_alloca(F, e->i64);
      LLVMBuildStore(e->b, one, stride[n->id]);
      per = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntUGT, one, per, ""), one, per, "");
    }
  }
  F->slot = fe_alloc(e->arena, sizeof(LLVMValueRef) * nn);
  LLVMValueRef total = cg_i64(F, 0), limit = LLVMConstInt(e->i64, 1ull << 62, 0);
  LLVMValueRef *offset = fe_alloc(e->arena, sizeof(LLVMValueRef) * ((size_t)P->nslices + 2));
  for (int s = 0; s <= P->nslices; s++) { /* slice s starts at offset[s]; the scratch at offset[nslices] */
    offset[s] = cg_entry_alloca(F, e->i64);
    LLVMBuildStore(e->b, total, offset[s]);
    if (s == P->nslices) break;
    total = LLVMBuildAdd(e->b, total, slice[s], ""); /* each term <= 2^62: no unsigned overflow */
    require(F, LLVMBuildICmp(e->b, LLVMIntULE, total, limit, ""));
  }
  for (int i = 0; i < P->nkernels; i++)
    if (cg_plan_writes_temp(P, &P->kernels[i])) F->slot[P->kernels[i].root->id] = offset[P->slice_of[P->kernels[i].root->id]];
  /* the workers a contraction (each with its own scratch), row-wise, pooling, elementwise or copy kernel may use: the pool's size now
     (a later change applies to later calls), at most CG_MAX_THREADS, and at most as many as the workspace has scratch for */
  LLVMValueRef pool_nt = LLVMConstInt(e->i32, 1, 0);
  for (int i = 0; i < P->nkernels; i++)
    if (P->kernels[i].kind == CG_PK_CONTRACTION || P->kernels[i].kind == CG_PK_ROWWISE || P->kernels[i].kind == CG_PK_POOL ||
        P->kernels[i].kind == CG_PK_DEPTHWISE ||
        ((P->kernels[i].kind == CG_PK_ELEMENTWISE || P->kernels[i].kind == CG_PK_COPY) && P->kernels[i].root->rank)) {
      pool_nt = pool_threads(F);
      break;
    }
  /* per <= 2^CG_SCRATCH_BITS and pool_nt <= CG_MAX_THREADS: the product is <= 2^62 */
  LLVMValueRef all = LLVMBuildAdd(e->b, total, LLVMBuildMul(e->b, per, LLVMBuildZExt(e->b, pool_nt, e->i64, ""), ""), "");
  require(F, LLVMBuildICmp(e->b, LLVMIntULE, all, limit, ""));
  LLVMValueRef need = LLVMGetParam(fn, (unsigned)nall + 2);
  LLVMValueRef empty = LLVMBuildICmp(e->b, LLVMIntEQ, all, cg_i64(F, 0), "");
  LLVMBasicBlockRef sizing = LLVMAppendBasicBlockInContext(e->ctx, fn, "sizing");
  LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(e->ctx, fn, "run");
  LLVMBuildCondBr(e->b, LLVMBuildIsNotNull(e->b, need, ""), sizing, run);
  LLVMPositionBuilderAtEnd(e->b, sizing); /* 64 bytes more let the workspace start anywhere; none at all is needed for none */
  LLVMBuildStore(e->b, LLVMBuildSelect(e->b, empty, all, LLVMBuildAdd(e->b, all, cg_i64(F, 64), ""), ""), need);
  LLVMBuildRet(e->b, LLVMConstInt(e->i32, 0, 0));
  LLVMPositionBuilderAtEnd(e->b, run);
  /* a workspace given by the caller: aligned to 64 bytes inside, with room for the
     temporaries and at least one worker's scratch */
  LLVMValueRef ws = LLVMGetParam(fn, (unsigned)nall), ws_bytes = LLVMGetParam(fn, (unsigned)nall + 1);
  LLVMValueRef skip = LLVMBuildAnd(e->b, LLVMBuildNeg(e->b, LLVMBuildPtrToInt(e->b, ws, e->i64, ""), ""), cg_i64(F, 63), "");
  LLVMValueRef usable = LLVMBuildSub(e->b, ws_bytes, skip, "");
  LLVMValueRef fits = LLVMBuildAnd(e->b, LLVMBuildIsNotNull(e->b, ws, ""),
                                   LLVMBuildAnd(e->b, LLVMBuildICmp(e->b, LLVMIntSGE, usable, cg_i64(F, 0), ""),
                                                LLVMBuildICmp(e->b, LLVMIntUGE, usable, LLVMBuildAdd(e->b, total, per, ""), ""), ""), "");
  require(F, LLVMBuildOr(e->b, empty, fits, ""));
  LLVMValueRef room = LLVMBuildUDiv(e->b, LLVMBuildSub(e->b, usable, total, ""),
                                    LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, per, cg_i64(F, 0), ""), cg_i64(F, 1), per, ""), "");
  room = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntULT, room, cg_i64(F, CG_MAX_THREADS), ""), room, cg_i64(F, CG_MAX_THREADS), "");
  LLVMValueRef fit_nt = LLVMBuildTrunc(e->b, room, e->i32, "");
  F->nthreads = LLVMBuildSelect(e->b, LLVMBuildOr(e->b, empty, LLVMBuildICmp(e->b, LLVMIntEQ, per, cg_i64(F, 0), ""), ""), pool_nt,
                                LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntULT, fit_nt, pool_nt, ""), fit_nt, pool_nt, ""), "");
  F->temps = LLVMBuildInBoundsGEP2(e->b, e->i8, ws, &skip, 1, "temps");

  /* run the plan's kernels: every buffer in order, then the results not computed in place */
  for (int i = 0; i < P->nkernels; i++) {
    const cg_PlanKernel *pk = &P->kernels[i];
    const tc_Node *n = pk->root;
    bool own = pk->kind != CG_PK_COPY && F->mat[n->id]; /* writes n's buffer (a temporary or in place) */
    LLVMValueRef dst = pk->output >= 0 ? LLVMGetParam(fn, (unsigned)(np + pk->output)) : temp_ptr(F, F->slot[n->id]);
    run_kernel(F, pk, emit_kind(pk->kind), n, pk->contraction, dst, pk->scratch ? temp_ptr(F, offset[P->nslices]) : NULL,
               pk->scratch ? LLVMBuildLoad2(e->b, e->i64, stride[n->id], "") : NULL);
    if (own) F->buf[n->id] = out_of[n->id] >= 0 ? dst : F->slot[n->id]; /* from now on read by consumers */
  }
  LLVMBuildRet(e->b, LLVMConstInt(e->i32, 0, 0));
  free(memo.ent);
  free(F);
  entry_wrappers(e, f, fn, body_ty, pt);
}

/* Emits every exported function of a module into e->mod. */
void cg_emit_module(cg_Emit *e, tc_Func *funcs, int n, const char *cpu, const char *features);
void cg_emit_module(cg_Emit *e, tc_Func *funcs, int n, const char *cpu, const char *features) {
  e->cpu = cpu;
  e->features = features;
  cg_target_info(LLVMGetTarget(e->mod), cpu, features, &e->target);
  for (int i = 0; i < n; i++) emit_function(e, &funcs[i]);
}

/* After optimisation: marks non-temporal the vector stores of flat_fill's streaming loops,
 * found as the vector stores in a kernel to its destination (parameter 0) whose alignment
 * is at least their size -- only the assumption in front of a streaming loop proves that. */
void cg_mark_streaming_stores(LLVMModuleRef mod, LLVMTargetDataRef td) {
  LLVMContextRef ctx = LLVMGetModuleContext(mod);
  unsigned nt = LLVMGetMDKindIDInContext(ctx, "nontemporal", 11);
  LLVMMetadataRef one = LLVMValueAsMetadata(LLVMConstInt(LLVMInt32TypeInContext(ctx), 1, 0));
  LLVMValueRef md = LLVMMetadataAsValue(ctx, LLVMMDNodeInContext2(ctx, &one, 1));
  for (LLVMValueRef fn = LLVMGetFirstFunction(mod); fn; fn = LLVMGetNextFunction(fn)) {
    size_t len;
    const char *name = LLVMGetValueName2(fn, &len);
    if (strncmp(name, CG_KERNEL_NAME, strlen(CG_KERNEL_NAME)) || !LLVMCountParams(fn)) continue;
    LLVMValueRef dst = LLVMGetParam(fn, 0);
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb))
      for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
        if (LLVMGetInstructionOpcode(in) != LLVMStore) continue;
        LLVMTypeRef vt = LLVMTypeOf(LLVMGetOperand(in, 0));
        if (LLVMGetTypeKind(vt) != LLVMVectorTypeKind) continue;
        unsigned long long size = LLVMStoreSizeOfType(td, vt);
        if (size < 16 || LLVMGetAlignment(in) < size) continue;
        LLVMValueRef p = LLVMGetOperand(in, 1);
        while (LLVMIsAGetElementPtrInst(p)) p = LLVMGetOperand(p, 0);
        if (p == dst) LLVMSetMetadata(in, nt, md);
      }
  }
}
