/* reduction.c - lowers the plan's reduction kernels (plan.h: CG_PK_REDUCTION) on the
 * loop-nest builder of lower.h: a fold of the reduction's argument, its expression fused
 * into the loop, into a register accumulator (reduced dimensions innermost) or, when the
 * last dimension is kept, into the output in input order so that the kept last dimension
 * vectorises.
 */
#include "codegen/lower.h"

/* The value the reduction op starts from (its table row's identity) in dtype dt. */
static LLVMValueRef reduce_identity(Fn *F, tc_Op op, int dt) {
  LLVMTypeRef ty = cg_ctype(F->e, dt);
  tc_Identity id = tc_op_info(op)->identity;
  bool fl = fe_dtype_is_float(dt);
  unsigned w = fl ? 0 : LLVMGetIntTypeWidth(ty);
  unsigned long long smax = fl ? 0 : (1ull << (w - 1)) - 1, umax = w == 64 ? ~0ull : (1ull << w) - 1;
  switch (id) {
  case TC_ID_ZERO: return fl ? LLVMConstReal(ty, 0) : LLVMConstInt(ty, 0, 0);
  case TC_ID_ONE: return fl ? LLVMConstReal(ty, 1) : LLVMConstInt(ty, 1, 0);
  case TC_ID_LOWEST:
    if (fl) return LLVMConstReal(ty, -__builtin_inf());
    return LLVMConstInt(ty, dt == FE_U8 ? 0 : smax + 1, 0);
  case TC_ID_HIGHEST:
    if (fl) return LLVMConstReal(ty, __builtin_inf());
    return LLVMConstInt(ty, dt == FE_U8 ? umax : smax, 0);
  case TC_ID_NONE: break;
  }
  TRIC_BUG("reduce_identity: '%s' has no identity", tc_op_name(op));
}

static LLVMValueRef reduce_combine(Fn *F, tc_Op op, int dt, LLVMValueRef acc, LLVMValueRef v, bool reassoc) {
  tc_Op c = tc_op_info(op)->combine;
  LLVMValueRef r = cg_binop(F, c, dt, acc, v);
  if (reassoc && fe_dtype_is_float(dt) && (c == TC_ADD || c == TC_MUL))
    LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc);
  return r;
}

void cg_emit_reduce(Fn *F, const tc_Node *n, LLVMValueRef dst) {
  cg_Emit *e = F->e;
  const tc_Node *a = n->args[0];
  int64_t mask = n->reduce.axes_mask;
  int r = a->rank;
  Loop L[TC_MAXRANK + 1] = {0};
  int nopen = 0;
  Ix ix = {.rank = r};
  bool last_reduced = r > 0 && (mask & (1ll << (r - 1)));
  bool storage = n->dtype == FE_F16 || n->dtype == FE_BF16;
  LLVMTypeRef ct = cg_ctype(e, n->dtype);
  /* the output index of input index ix: kept dimensions, zeros for kept-dims of size 1 */
  if (r == 0 || last_reduced || storage) {
    /* register accumulator: kept dims outside, reduced dims inside */
    int64_t all = r ? (int64_t)((1ull << r) - 1) : 0;
    cg_open_loops(F, L, r, (const tc_Poly **)a->dims, all & ~mask, &ix, &nopen);
    int outer = nopen;
    LLVMValueRef accp = cg_entry_alloca(F, ct);
    LLVMBuildStore(e->b, reduce_identity(F, n->op, n->dtype), accp);
    cg_open_loops(F, L, r, (const tc_Poly **)a->dims, mask, &ix, &nopen);
    LLVMValueRef v = cg_emit_at(F, a, &ix);
    LLVMValueRef acc = LLVMBuildLoad2(e->b, ct, accp, "");
    LLVMBuildStore(e->b, reduce_combine(F, n->op, n->dtype, acc, v, true), accp);
    cg_close_loops(F, L, &nopen, outer);
    LLVMValueRef oi[TC_MAXRANK];
    int k = 0;
    for (int i = 0; i < r; i++) {
      if (!(mask & (1ll << i))) oi[k++] = ix.v[i];
      else if (n->reduce.keepdims) oi[k++] = cg_i64(F, 0);
    }
    cg_store_at(F, n->dtype, dst, cg_linear(F, n->rank, (const tc_Poly **)n->dims, oi), LLVMBuildLoad2(e->b, ct, accp, ""));
    cg_close_loops(F, L, &nopen, 0);
    return;
  }
  /* accumulate in the output, in input order: vectorises along the kept last dim */
  Loop z = {0};
  cg_loop_begin(F, &z, cg_numel(F, n->rank, (const tc_Poly **)n->dims));
  cg_store_at(F, n->dtype, dst, z.i, reduce_identity(F, n->op, n->dtype));
  cg_loop_end(F, &z);
  cg_open_loops(F, L, r, (const tc_Poly **)a->dims, -1, &ix, &nopen);
  LLVMValueRef oi[TC_MAXRANK];
  int k = 0;
  for (int i = 0; i < r; i++) {
    if (!(mask & (1ll << i))) oi[k++] = ix.v[i];
    else if (n->reduce.keepdims) oi[k++] = cg_i64(F, 0);
  }
  LLVMValueRef lin = cg_linear(F, n->rank, (const tc_Poly **)n->dims, oi);
  LLVMValueRef v = cg_emit_at(F, a, &ix);
  LLVMValueRef acc = cg_load_at(F, n->dtype, dst, lin);
  cg_store_at(F, n->dtype, dst, lin, reduce_combine(F, n->op, n->dtype, acc, v, false));
  cg_close_loops(F, L, &nopen, 0);
}
