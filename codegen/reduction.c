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

/* ---------------------------------------------------------------- pairwise sums
 *
 * A float sum folds its argument in blocks of SUM_BLOCK elements along the innermost
 * reduced dimension (or along the flattened reduced suffix where the argument can be read
 * by a flat index): within a block one accumulator with reassociation allowed, which the
 * loop vectoriser splits into its vector and interleave lanes; the block sums then meet in
 * a pairwise tree, kept as a binary counter over the blocks -- a stack of at most
 * PAIR_DEPTH partials, the partial at depth k the sum of 2^k consecutive blocks, merged
 * whenever two of the same size meet, as NumPy's pairwise_sum does over its blocks. The
 * rounding error then grows with log2 of the number of blocks instead of with their
 * number. The order of additions depends only on the sizes (and on the target's vector
 * width, through the vectoriser's lanes within a block), never on timing: a split of the
 * blocks into ranges each of 2^k whole blocks starting at a multiple of 2^k (the last one
 * shorter) gives each range's partial as one node of the same tree, so merging those
 * partials with the same counter reproduces the bits (docs/plan.md). */
enum { SUM_BLOCK = 512, PAIR_DEPTH = 64 };

/* The stack of partials of one pairwise sum. */
typedef struct Pairwise {
  LLVMTypeRef ty;
  LLVMValueRef stack; /* [PAIR_DEPTH x ty] */
  LLVMValueRef top;   /* i64: partials on the stack */
  LLVMValueRef count; /* i64: blocks pushed */
} Pairwise;

/* Whether reduction n sums floats (and so takes the pairwise scheme). */
static bool pairwise_sum(const tc_Node *n) {
  return tc_op_info(n->op)->combine == TC_ADD && fe_dtype_is_float(n->dtype);
}

/* Starts an empty pairwise sum at the builder. */
static void pw_begin(Fn *F, Pairwise *P, LLVMTypeRef ty) {
  cg_Emit *e = F->e;
  P->ty = ty;
  P->stack = cg_entry_alloca(F, LLVMArrayType2(ty, PAIR_DEPTH));
  P->top = cg_entry_alloca(F, e->i64);
  P->count = cg_entry_alloca(F, e->i64);
  LLVMBuildStore(e->b, cg_i64(F, 0), P->top);
  LLVMBuildStore(e->b, cg_i64(F, 0), P->count);
}

static LLVMValueRef pw_slot(Fn *F, Pairwise *P, LLVMValueRef i) {
  LLVMValueRef idx[2] = {cg_i64(F, 0), i};
  return LLVMBuildInBoundsGEP2(F->e->b, LLVMArrayType2(P->ty, PAIR_DEPTH), P->stack, idx, 2, "");
}

/* Pushes one block's sum v: while the block count has a trailing zero bit, the partial
 * below (the sum of as many blocks) is added in front of it. */
static void pw_push(Fn *F, Pairwise *P, LLVMValueRef v, int dt) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef c = LLVMBuildNSWAdd(b, LLVMBuildLoad2(b, e->i64, P->count, ""), cg_i64(F, 1), "");
  LLVMBuildStore(b, c, P->count);
  LLVMValueRef vp = cg_entry_alloca(F, P->ty), tp = cg_entry_alloca(F, e->i64);
  LLVMBuildStore(b, v, vp);
  LLVMBuildStore(b, c, tp);
  LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "merge"),
                    body = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "merge.body"),
                    done = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "merged");
  LLVMBuildBr(b, head);
  LLVMPositionBuilderAtEnd(b, head);
  LLVMValueRef t = LLVMBuildLoad2(b, e->i64, tp, "");
  LLVMValueRef even = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, t, cg_i64(F, 1), ""), cg_i64(F, 0), "");
  LLVMBuildCondBr(b, even, body, done);
  LLVMPositionBuilderAtEnd(b, body);
  LLVMValueRef top = LLVMBuildNSWSub(b, LLVMBuildLoad2(b, e->i64, P->top, ""), cg_i64(F, 1), "");
  LLVMBuildStore(b, top, P->top);
  LLVMValueRef below = LLVMBuildLoad2(b, P->ty, pw_slot(F, P, top), "");
  LLVMBuildStore(b, cg_binop(F, TC_ADD, dt, below, LLVMBuildLoad2(b, P->ty, vp, "")), vp);
  LLVMBuildStore(b, LLVMBuildLShr(b, t, cg_i64(F, 1), ""), tp);
  LLVMBuildBr(b, head);
  LLVMPositionBuilderAtEnd(b, done);
  LLVMValueRef top2 = LLVMBuildLoad2(b, e->i64, P->top, "");
  LLVMBuildStore(b, LLVMBuildLoad2(b, P->ty, vp, ""), pw_slot(F, P, top2));
  LLVMBuildStore(b, LLVMBuildNSWAdd(b, top2, cg_i64(F, 1), ""), P->top);
}

/* The sum of everything pushed: the partials added from the smallest (top) down. */
static LLVMValueRef pw_total(Fn *F, Pairwise *P, int dt) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef accp = cg_entry_alloca(F, P->ty);
  LLVMBuildStore(b, LLVMConstReal(P->ty, 0), accp);
  LLVMValueRef top = LLVMBuildLoad2(b, e->i64, P->top, "");
  Loop L = {.interleave = -1};
  cg_loop_begin(F, &L, top);
  LLVMValueRef i = LLVMBuildNSWSub(b, LLVMBuildNSWSub(b, top, cg_i64(F, 1), ""), L.i, "");
  LLVMValueRef part = LLVMBuildLoad2(b, P->ty, pw_slot(F, P, i), "");
  LLVMBuildStore(b, cg_binop(F, TC_ADD, dt, part, LLVMBuildLoad2(b, P->ty, accp, "")), accp);
  cg_loop_end(F, &L);
  return LLVMBuildLoad2(b, P->ty, accp, "");
}

/* Pushes onto P the block sums of a (at ix, with ix->v[dim] or, flat, ix->lin running over
 * base + [0, len)) for reduction n. */
static void sum_blocks(Fn *F, Pairwise *P, const tc_Node *n, const tc_Node *a, Ix *ix, int dim, LLVMValueRef base,
                       LLVMValueRef len) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef nb = LLVMBuildSDiv(b, LLVMBuildNSWAdd(b, len, cg_i64(F, SUM_BLOCK - 1), ""), cg_i64(F, SUM_BLOCK), "");
  Loop lb = {.interleave = -1}, lj = {0};
  cg_loop_begin(F, &lb, nb);
  LLVMValueRef lo = LLVMBuildNSWMul(b, lb.i, cg_i64(F, SUM_BLOCK), "");
  LLVMValueRef rest = LLVMBuildNSWSub(b, len, lo, "");
  LLVMValueRef full = LLVMBuildICmp(b, LLVMIntSLT, rest, cg_i64(F, SUM_BLOCK), "");
  LLVMValueRef cnt = LLVMBuildSelect(b, full, rest, cg_i64(F, SUM_BLOCK), "");
  LLVMValueRef accp = cg_entry_alloca(F, P->ty);
  LLVMBuildStore(b, reduce_identity(F, n->op, n->dtype), accp);
  cg_loop_begin(F, &lj, cnt);
  LLVMValueRef at = LLVMBuildNSWAdd(b, lo, lj.i, "");
  Ix ai = *ix;
  if (dim >= 0) {
    ai.v[dim] = at;
    ai.lin = base ? LLVMBuildNSWAdd(b, base, at, "") : NULL;
  } else ai.lin = LLVMBuildNSWAdd(b, base, at, "");
  LLVMValueRef v = cg_emit_at(F, a, &ai);
  LLVMBuildStore(b, reduce_combine(F, n->op, n->dtype, LLVMBuildLoad2(b, P->ty, accp, ""), v, true), accp);
  cg_loop_end(F, &lj);
  pw_push(F, P, LLVMBuildLoad2(b, P->ty, accp, ""), n->dtype);
  cg_loop_end(F, &lb);
}

/* ---------------------------------------------------------------- reduction kernels */

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
    LLVMValueRef result;
    int inner = -1; /* the innermost reduced dimension */
    for (int i = 0; i < r; i++)
      if (mask & (1ll << i)) inner = i;
    if (inner >= 0 && pairwise_sum(n)) {
      Pairwise P;
      pw_begin(F, &P, ct);
      int first = inner; /* the reduced suffix first..r-1, if the reduced dims are one */
      while (first > 0 && (mask & (1ll << (first - 1)))) first--;
      /* several reduced dims, a suffix: read flat where the argument allows it (one run
         of blocks however short the last dimension) */
      if (inner == r - 1 && first < r - 1 && (mask & (int64_t)((1ull << first) - 1)) == 0 && cg_flat_ok(F, a)) {
        LLVMValueRef m = cg_numel(F, r - first, (const tc_Poly **)a->dims + first);
        LLVMValueRef base = LLVMBuildNSWMul(e->b, cg_linear(F, first, (const tc_Poly **)a->dims, ix.v), m, "");
        Ix flat = {.rank = r};
        sum_blocks(F, &P, n, a, &flat, -1, base, m);
        inner = -2; /* done */
      }
      if (inner >= 0) {
        cg_open_loops(F, L, r, (const tc_Poly **)a->dims, mask & ~(1ll << inner), &ix, &nopen);
        sum_blocks(F, &P, n, a, &ix, inner, NULL, cg_poly(F, a->dims[inner]));
        cg_close_loops(F, L, &nopen, outer);
      }
      result = pw_total(F, &P, n->dtype);
    } else {
      LLVMValueRef accp = cg_entry_alloca(F, ct);
      LLVMBuildStore(e->b, reduce_identity(F, n->op, n->dtype), accp);
      cg_open_loops(F, L, r, (const tc_Poly **)a->dims, mask, &ix, &nopen);
      LLVMValueRef v = cg_emit_at(F, a, &ix);
      LLVMValueRef acc = LLVMBuildLoad2(e->b, ct, accp, "");
      LLVMBuildStore(e->b, reduce_combine(F, n->op, n->dtype, acc, v, true), accp);
      cg_close_loops(F, L, &nopen, outer);
      result = LLVMBuildLoad2(e->b, ct, accp, "");
    }
    LLVMValueRef oi[TC_MAXRANK];
    int k = 0;
    for (int i = 0; i < r; i++) {
      if (!(mask & (1ll << i))) oi[k++] = ix.v[i];
      else if (n->reduce.keepdims) oi[k++] = cg_i64(F, 0);
    }
    cg_store_at(F, n->dtype, dst, cg_linear(F, n->rank, (const tc_Poly **)n->dims, oi), result);
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
