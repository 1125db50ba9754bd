/* reduction.c - lowers the plan's reduction and row-wise kernels (plan.h: CG_PK_REDUCTION,
 * CG_PK_ROWWISE) on the loop-nest builder of lower.h. A reduction folds its argument, the
 * argument's expression fused into the loop, into a register accumulator (reduced
 * dimensions innermost; float sums pairwise, below) or, when the last dimension is kept,
 * into the output in input order so that the kept last dimension vectorises. A row-wise
 * kernel folds, per row, each reduction of its group over the row into a per-row scalar,
 * then computes the root's row, which reads them.
 */
#include <stdlib.h>
#include <string.h>

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

/* A node of a row-wise kernel's last reduction's argument that the root reads too: its
 * value is stored into the kernel's output row as that reduction's loop computes it, and
 * the root's loop reads it back (from cache) instead of computing it again. */
typedef struct RowCache {
  const tc_Node *node; /* NULL: none */
  LLVMValueRef dst;
  const fe_Vec *prefetch; /* the input buffers whose next row the reduction's loop prefetches */
  bool prefetched;        /* set by the reduction: it did */
  /* called after each prefetch run of the reduction's loop with the run's first element
     and count (cg_emit_rowwise: the previous row's deferred streaming stores) */
  void (*after_run)(Fn *F, void *ctx, LLVMValueRef lo, LLVMValueRef cnt);
  void *after_ctx;
} RowCache;

static void row_prefetch(Fn *F, const fe_Vec *bufs, LLVMValueRef from, LLVMValueRef len);

/* The elements of a row a loop prefetches the next row's copy of at a time (row_prefetch):
 * PREFETCH_RUN_BYTES of the widest buffer read, a divisor of SUM_BLOCK. */
enum { PREFETCH_RUN_BYTES = 1024 };
static int prefetch_run(const fe_Vec *bufs) {
  int es = 1;
  for (int i = 0; i < bufs->n; i++) {
    int s = fe_dtype_size(((const tc_Node *)bufs->items[i])->dtype);
    if (s > es) es = s;
  }
  int run = PREFETCH_RUN_BYTES / es;
  return run > SUM_BLOCK ? SUM_BLOCK : run < 16 ? 16 : run;
}

/* In a loop over a row at index ai: stores the row cache's node there. */
static void row_cache_store(Fn *F, const RowCache *c, const Ix *ai) {
  if (c && c->node) cg_store_at(F, c->node->dtype, c->dst, ai->lin, cg_emit_at(F, c->node, ai));
}

/* Pushes onto P the block sums of a (at ix, with ix->v[dim] or, flat, ix->lin running over
 * base + [0, len)) for reduction n (storing the row cache c as it goes). */
static void sum_blocks(Fn *F, Pairwise *P, const tc_Node *n, const tc_Node *a, Ix *ix, int dim, LLVMValueRef base,
                       LLVMValueRef len, RowCache *c) {
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
  bool pf = c && c->prefetch && base && dim >= 0;
  int run = pf ? prefetch_run(c->prefetch) : 0;
  Loop ls = {.interleave = -1};
  LLVMValueRef cnt_all = cnt;
  if (pf) { /* the same elements of the next row (row_prefetch), a run at a time */
    cg_loop_begin(F, &ls, LLVMBuildSDiv(b, LLVMBuildNSWAdd(b, cnt_all, cg_i64(F, run - 1), ""), cg_i64(F, run), ""));
    LLVMValueRef so = LLVMBuildNSWMul(b, ls.i, cg_i64(F, run), "");
    LLVMValueRef srest = LLVMBuildNSWSub(b, cnt_all, so, "");
    cnt = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, srest, cg_i64(F, run), ""), srest, cg_i64(F, run), "");
    lo = LLVMBuildNSWAdd(b, lo, so, "");
    row_prefetch(F, c->prefetch, LLVMBuildAdd(b, LLVMBuildAdd(b, base, len, ""), lo, ""), cnt);
  }
  cg_loop_begin(F, &lj, cnt);
  LLVMValueRef at = LLVMBuildNSWAdd(b, lo, lj.i, "");
  Ix ai = *ix;
  if (dim >= 0) {
    ai.v[dim] = at;
    ai.lin = base ? LLVMBuildNSWAdd(b, base, at, "") : NULL;
  } else ai.lin = LLVMBuildNSWAdd(b, base, at, "");
  LLVMValueRef v = cg_emit_at(F, a, &ai);
  row_cache_store(F, c, &ai);
  LLVMBuildStore(b, reduce_combine(F, n->op, n->dtype, LLVMBuildLoad2(b, P->ty, accp, ""), v, true), accp);
  cg_loop_end(F, &lj);
  if (pf && c->after_run) c->after_run(F, c->after_ctx, lo, cnt);
  if (pf) cg_loop_end(F, &ls);
  pw_push(F, P, LLVMBuildLoad2(b, P->ty, accp, ""), n->dtype);
  cg_loop_end(F, &lb);
}

/* A float max or min over a row (fold_row, no row cache): one compare and select per
 * element, marked nnan and nsz, which the vectoriser folds into vmaxps/vminps lanes
 * (llvm.maximum, exact for NaN and signed zeros, costs six vector instructions an element
 * on x86), beside a sum of the elements with reassociation allowed. That sum is finite
 * only when every element is (no NaN, no infinity), and a result other than zero has no
 * signed-zero question; any other row (a NaN or an infinity in it, a sum that overflows, a
 * maximum of +-0) is folded again with the exact combine, so the result is always
 * llvm.maximum's (NaN when the row holds one, +0 above -0). The nnan compare makes the
 * fast result poison when a NaN is in the row, which only the unchosen arm of a select
 * ever sees. */
static LLVMValueRef fold_minmax(Fn *F, const tc_Node *n, const Ix *ix, LLVMValueRef base, LLVMValueRef len) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  const tc_Node *a = n->args[0];
  int d = a->rank - 1;
  bool mx = tc_op_info(n->op)->combine == TC_MAX;
  LLVMTypeRef ct = cg_ctype(e, n->dtype);
  LLVMValueRef accp = cg_entry_alloca(F, ct), chkp = cg_entry_alloca(F, ct), resp = cg_entry_alloca(F, ct);
  LLVMBuildStore(b, reduce_identity(F, n->op, n->dtype), accp);
  LLVMBuildStore(b, LLVMConstReal(ct, 0), chkp);
  Loop L = {0};
  cg_loop_begin(F, &L, len);
  Ix ai = *ix;
  ai.v[d] = L.i;
  ai.lin = LLVMBuildNSWAdd(b, base, L.i, "");
  LLVMValueRef v = cg_emit_at(F, a, &ai);
  LLVMValueRef acc = LLVMBuildLoad2(b, ct, accp, "");
  LLVMValueRef better = LLVMBuildFCmp(b, mx ? LLVMRealOGT : LLVMRealOLT, v, acc, "");
  LLVMSetFastMathFlags(better, LLVMFastMathNoNaNs | LLVMFastMathNoSignedZeros);
  LLVMValueRef next = LLVMBuildSelect(b, better, v, acc, "");
  LLVMSetFastMathFlags(next, LLVMFastMathNoNaNs | LLVMFastMathNoSignedZeros);
  LLVMBuildStore(b, next, accp);
  LLVMValueRef chk = LLVMBuildFAdd(b, LLVMBuildLoad2(b, ct, chkp, ""), v, "");
  LLVMSetFastMathFlags(chk, LLVMFastMathAllowReassoc);
  LLVMBuildStore(b, chk, chkp);
  cg_loop_end(F, &L);
  LLVMValueRef m = LLVMBuildLoad2(b, ct, accp, ""), sum = LLVMBuildLoad2(b, ct, chkp, "");
  LLVMBuildStore(b, m, resp);
  LLVMValueRef finite = LLVMBuildFCmp(b, LLVMRealOLT, cg_intrinsic(e, "llvm.fabs", ct, &sum, 1),
                                      LLVMConstReal(ct, __builtin_inf()), "");
  LLVMValueRef zero = LLVMBuildFCmp(b, LLVMRealOEQ, m, LLVMConstReal(ct, 0), "");
  LLVMValueRef again = LLVMBuildSelect(b, finite, zero, LLVMConstInt(e->i1, 1, 0), "");
  LLVMBasicBlockRef slow = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "minmax.exact"),
                    done = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "minmax.done");
  LLVMBuildCondBr(b, again, slow, done);
  LLVMPositionBuilderAtEnd(b, slow);
  LLVMBuildStore(b, reduce_identity(F, n->op, n->dtype), accp);
  Loop X = {.interleave = -1};
  cg_loop_begin(F, &X, len);
  ai = *ix;
  ai.v[d] = X.i;
  ai.lin = LLVMBuildNSWAdd(b, base, X.i, "");
  v = cg_emit_at(F, a, &ai);
  LLVMBuildStore(b, reduce_combine(F, n->op, n->dtype, LLVMBuildLoad2(b, ct, accp, ""), v, false), accp);
  cg_loop_end(F, &X);
  LLVMBuildStore(b, LLVMBuildLoad2(b, ct, accp, ""), resp);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, done);
  return LLVMBuildLoad2(b, ct, resp, "");
}

/* The fold of reduction n over the last dimension of its argument along one row: ix holds
 * the row's other indices, base its first element's linear index (rowwise kernels). */
static LLVMValueRef fold_row(Fn *F, const tc_Node *n, Ix *ix, LLVMValueRef base, RowCache *c) {
  cg_Emit *e = F->e;
  const tc_Node *a = n->args[0];
  int d = a->rank - 1;
  LLVMValueRef len = cg_poly(F, a->dims[d]);
  LLVMTypeRef ct = cg_ctype(e, n->dtype);
  if (pairwise_sum(n)) {
    Pairwise P;
    pw_begin(F, &P, ct);
    sum_blocks(F, &P, n, a, ix, d, base, len, c);
    if (c && c->prefetch) c->prefetched = true;
    return pw_total(F, &P, n->dtype);
  }
  tc_Op comb = tc_op_info(n->op)->combine;
  if ((comb == TC_MAX || comb == TC_MIN) && fe_dtype_is_float(n->dtype) && !(c && c->node))
    return fold_minmax(F, n, ix, base, len);
  LLVMValueRef accp = cg_entry_alloca(F, ct);
  LLVMBuildStore(e->b, reduce_identity(F, n->op, n->dtype), accp);
  Loop L = {0};
  cg_loop_begin(F, &L, len);
  Ix ai = *ix;
  ai.v[d] = L.i;
  ai.lin = LLVMBuildNSWAdd(e->b, base, L.i, "");
  LLVMValueRef v = cg_emit_at(F, a, &ai);
  row_cache_store(F, c, &ai);
  LLVMBuildStore(e->b, reduce_combine(F, n->op, n->dtype, LLVMBuildLoad2(e->b, ct, accp, ""), v, true), accp);
  cg_loop_end(F, &L);
  return LLVMBuildLoad2(e->b, ct, accp, "");
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
        sum_blocks(F, &P, n, a, &flat, -1, base, m, NULL);
        inner = -2; /* done */
      }
      if (inner >= 0) {
        cg_open_loops(F, L, r, (const tc_Poly **)a->dims, mask & ~(1ll << inner), &ix, &nopen);
        sum_blocks(F, &P, n, a, &ix, inner, NULL, cg_poly(F, a->dims[inner]), NULL);
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

/* ---------------------------------------------------------------- row-wise kernels */

/* Collects into red the per-row values of root's row-wise group (plan.c): the reductions
 * without a buffer that root's expression reaches (not crossing buffers), and the nodes of
 * root's leading dims and a last dim of 1 computed from them (a mean, a 1/sqrt of a
 * variance). Returns whether x reaches such a reduction (seen: 1 no, 2 yes). */
static bool row_values(Fn *F, const tc_Node *root, const tc_Node *x, uint8_t *seen, fe_Vec *red) {
  if (seen[x->id]) return seen[x->id] == 2;
  seen[x->id] = 1;
  if (F->buf[x->id] || x->op == TC_PARAM) return false;
  bool below = false;
  for (int j = 0; j < x->nargs; j++) below |= row_values(F, root, x->args[j], seen, red);
  bool reduce = tc_op_info(x->op)->cls == TC_CLASS_REDUCTION;
  if (!reduce && !below) return false;
  seen[x->id] = 2;
  bool per_row = x != root && x->rank == root->rank && cg_is_const1(x->dims[x->rank - 1]);
  for (int i = 0; per_row && i + 1 < x->rank; i++) per_row = tc_poly_eq(x->dims[i], root->dims[i]);
  if (reduce || per_row) fe_vec_push(F->e->arena, red, (void *)x);
  return true;
}

/* Marks in seen (as mark) the nodes x's value is computed from in a row's loop: not
 * crossing buffers, parameters or the per-row values (rowval). */
static void row_reach(Fn *F, const tc_Node *x, uint8_t *seen, uint8_t mark, const uint8_t *rowval) {
  if ((seen[x->id] & mark) || F->buf[x->id] || x->op == TC_PARAM || rowval[x->id]) return;
  seen[x->id] |= mark;
  for (int j = 0; j < x->nargs; j++) row_reach(F, x->args[j], seen, mark, rowval);
}

/* Whether computing x (within the marked nodes) takes a transcendental function. */
static bool row_costly(const tc_Node *x, const uint8_t *seen, uint8_t mark) {
  if (!(seen[x->id] & mark)) return false;
  switch (x->op) {
  case TC_EXP: case TC_LOG: case TC_TANH: case TC_SIGMOID: case TC_SIN: case TC_COS: case TC_ERF: case TC_POW: return true;
  default: break;
  }
  for (int j = 0; j < x->nargs; j++)
    if (row_costly(x->args[j], seen, mark)) return true;
  return false;
}

/* The row cache of a row-wise kernel (RowCache): the last node (by id) of the root's
 * shape and dtype (stored as computed: f32, f64) that both the last reduction's argument
 * and the root compute, if computing it takes a transcendental function (softmax's
 * exp(x - max); a subtraction is cheaper to redo than to store). */
static const tc_Node *row_cache_node(Fn *F, const tc_Node *root, const tc_Node *last, const fe_Vec *vals) {
  if (root->dtype != FE_F32 && root->dtype != FE_F64) return NULL;
  size_t nn = (size_t)F->f->nnodes + 1;
  uint8_t *seen = calloc(nn, 1), *rowval = calloc(nn, 1);
  if (!seen || !rowval) abort();
  for (int i = 0; i < vals->n; i++) rowval[((const tc_Node *)vals->items[i])->id] = 1;
  row_reach(F, last->args[0], seen, 1, rowval);
  rowval[root->id] = 0;
  row_reach(F, root, seen, 2, rowval);
  const tc_Node *best = NULL;
  for (int i = F->f->nnodes - 1; i >= 0 && !best; i--) {
    const tc_Node *x = F->f->nodes[i];
    if (seen[x->id] == 3 && x->dtype == root->dtype && cg_same_shape(x, root) && row_costly(x, seen, 1)) best = x;
  }
  free(seen), free(rowval);
  return best;
}

/* Collects into bufs the input buffers of root's shape that root's row-wise kernel reads. */
static void row_buffers(Fn *F, const tc_Node *root, const tc_Node *x, uint8_t *seen, fe_Vec *bufs) {
  if (seen[x->id]) return;
  seen[x->id] = 1;
  if (F->buf[x->id]) {
    if (cg_same_shape(x, root)) fe_vec_push(F->e->arena, bufs, (void *)x);
    return;
  }
  for (int j = 0; j < x->nargs; j++) row_buffers(F, root, x->args[j], seen, bufs);
}

/* Prefetches into L1 (prefetcht0) elements [from, from + len) of each input buffer in
 * bufs, a cache line at a time. Each pairwise sum of a row-wise group (softmax's sum of
 * exp, layer norm's mean and variance) runs its blocks in runs of prefetch_run elements
 * (1 KiB) and prefetches the next row's copy of each run before it; a group without one
 * prefetches in the root's loop. The next row's first loop then finds it in cache instead
 * of waiting for memory while the core computes nothing (the hardware streamer stops
 * while a row's later loops hit the cache). Fetches spread over a loop overlap its
 * arithmetic; a burst stalls on the line fill buffers. Softmax 4096x4096 f32, 1 thread,
 * against a copy loop: 0.70 prefetching into L2 in the root's loop (a tenth of a row's
 * time once its division is a multiply), 0.70 into L2 in the sum's loop, 0.80 into L1 in
 * 2 KiB bursts before each block of the sum, 0.88 in 1 KiB runs (0.6 in 256-byte runs:
 * each run's vector sum is reduced to a scalar). Prefetching past a buffer's end (the last
 * row) is harmless. */
static void row_prefetch(Fn *F, const fe_Vec *bufs, LLVMValueRef from, LLVMValueRef len) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  for (int i = 0; i < bufs->n; i++) {
    const tc_Node *x = bufs->items[i];
    int es = fe_dtype_size(x->dtype);
    LLVMValueRef start = LLVMBuildMul(b, from, cg_i64(F, es), "");
    LLVMValueRef lines = LLVMBuildSDiv(b, LLVMBuildAdd(b, LLVMBuildMul(b, len, cg_i64(F, es), ""), cg_i64(F, 63), ""),
                                       cg_i64(F, 64), "");
    Loop L = {.interleave = -1};
    cg_loop_begin(F, &L, lines);
    LLVMValueRef off = LLVMBuildAdd(b, start, LLVMBuildMul(b, L.i, cg_i64(F, 64), ""), "");
    LLVMValueRef args[4] = {LLVMBuildGEP2(b, e->i8, F->buf[x->id], &off, 1, ""), LLVMConstInt(e->i32, 0, 0),
                            LLVMConstInt(e->i32, 3, 0), LLVMConstInt(e->i32, 1, 0)};
    cg_intrinsic(e, "llvm.prefetch", e->ptr, args, 4);
    cg_loop_end(F, &L);
  }
}

static int by_node_id(const void *a, const void *b) {
  int x = (*(const tc_Node *const *)a)->id, y = (*(const tc_Node *const *)b)->id;
  return (x > y) - (x < y);
}

/* A row-wise kernel whose output is an output of the exported function of STREAM_MIN bytes
 * or more (emit.c's bound for flat loops) writes the root's rows with streaming stores
 * where the target has them (cg_Emit.stream): per row, scalar stores up to dst's next
 * 64-byte boundary, then the rest of the row with that alignment assumed, whose vector
 * stores cg_mark_streaming_stores marks non-temporal after optimisation, and an sfence
 * before the kernel returns. The output then never passes through the cache: no read of
 * each line before its write (a third of the memory traffic), and the next row's input
 * keeps the cache. The row cache (RowCache) is then a row in ROW_SCRATCH_BYTES of the
 * kernel's stack (a row that fits; two of them when the stores are deferred, Defer), not
 * the output row; longer rows keep it in the output row and ordinary stores. */
enum { STREAM_MIN = 16 << 20, ROW_SCRATCH_BYTES = 32 << 10 };

/* How the root's row is computed: root = a / s with s a per-row value is computed as
 * a * (1/s) (one division per row instead of one per element: softmax's divide by the
 * sum) when 1/s and a * (1/s) lose nothing that a / s keeps, i.e. 1/s is a normal number
 * (2^-126 <= |s| <= 2^126 for f32): the product is then within an ULP of the quotient. */
typedef struct RootRow {
  const tc_Node *root;
  LLVMValueRef recip; /* NULL: the root as it is */
} RootRow;

/* The root's value at ri. */
static LLVMValueRef root_value(Fn *F, const RootRow *rr, const Ix *ri) {
  if (!rr->recip) return cg_emit_at(F, rr->root, ri);
  LLVMValueRef a = cg_emit_at(F, rr->root->args[0], ri);
  return LLVMBuildFMul(F->e->b, a, rr->recip, "");
}

/* Stores the root's elements [from, len) of the current row (first element's linear index
 * base, the other indices in ix) at out[0..len - from), in runs of prefetch_run elements,
 * each prefetching the same run of the next row first (bufs, row_prefetch; NULL: none, and
 * blocks of SUM_BLOCK).
 * j_interleave: the inner loop's Loop.interleave. */
static void root_blocks(Fn *F, const RootRow *rr, const Ix *ix, LLVMValueRef base, LLVMValueRef len, LLVMValueRef from,
                        LLVMValueRef out, const fe_Vec *bufs, int j_interleave) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  const tc_Node *root = rr->root;
  int r = root->rank;
  LLVMValueRef n = LLVMBuildNSWSub(b, len, from, "");
  Loop lb = {.interleave = -1}, lj = {.interleave = j_interleave};
  int blk = bufs && bufs->n ? prefetch_run(bufs) : SUM_BLOCK;
  LLVMValueRef nb = LLVMBuildSDiv(b, LLVMBuildNSWAdd(b, n, cg_i64(F, blk - 1), ""), cg_i64(F, blk), "");
  cg_loop_begin(F, &lb, nb);
  LLVMValueRef bo = LLVMBuildNSWMul(b, lb.i, cg_i64(F, blk), "");
  LLVMValueRef lo = LLVMBuildNSWAdd(b, from, bo, "");
  LLVMValueRef rest = LLVMBuildNSWSub(b, len, lo, "");
  LLVMValueRef cnt = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, rest, cg_i64(F, blk), ""), rest, cg_i64(F, blk), "");
  if (bufs) row_prefetch(F, bufs, LLVMBuildAdd(b, LLVMBuildAdd(b, base, len, ""), lo, ""), cnt);
  LLVMValueRef blo = LLVMBuildNSWAdd(b, base, lo, "");
  cg_loop_begin(F, &lj, cnt);
  Ix ri = *ix;
  ri.v[r - 1] = LLVMBuildNSWAdd(b, lo, lj.i, "");
  ri.lin = LLVMBuildNSWAdd(b, blo, lj.i, "");
  cg_store_at(F, root->dtype, out, LLVMBuildNSWAdd(b, bo, lj.i, ""), root_value(F, rr, &ri));
  cg_loop_end(F, &lj);
  cg_loop_end(F, &lb);
}

/* Opens `if (c)`: returns the block to continue at; *els the else block (or NULL: none). */
static LLVMBasicBlockRef if_begin(Fn *F, LLVMValueRef c, LLVMBasicBlockRef *els) {
  cg_Emit *e = F->e;
  LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "then");
  LLVMBasicBlockRef no = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "else");
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "endif");
  LLVMBuildCondBr(e->b, c, yes, no);
  LLVMPositionBuilderAtEnd(e->b, yes);
  *els = no;
  return join;
}

static void if_else(Fn *F, LLVMBasicBlockRef join, LLVMBasicBlockRef els) {
  LLVMBuildBr(F->e->b, join);
  LLVMPositionBuilderAtEnd(F->e->b, els);
}

static void if_end(Fn *F, LLVMBasicBlockRef join) {
  LLVMBuildBr(F->e->b, join);
  LLVMPositionBuilderAtEnd(F->e->b, join);
}

/* Tells LLVM that p is 64-byte aligned (an align bundle on llvm.assume). */
static void assume_aligned64(Fn *F, LLVMValueRef p) {
  cg_Emit *e = F->e;
  LLVMValueRef bundle_args[2] = {p, cg_i64(F, 64)};
  LLVMOperandBundleRef align = LLVMCreateOperandBundle("align", 5, bundle_args, 2);
  LLVMValueRef yes = LLVMConstInt(e->i1, 1, 0);
  LLVMValueRef assume = cg_intrinsic_decl(e, "llvm.assume");
  LLVMBuildCallWithOperandBundles(e->b, LLVMGlobalGetValueType(assume), assume, &yes, 1, &align, 1, "");
  LLVMDisposeOperandBundle(align);
}

/* Elements of the row at row_out before its first 64-byte boundary (at most len). */
static LLVMValueRef row_head(Fn *F, LLVMValueRef row_out, LLVMValueRef len, int es) {
  LLVMBuilderRef b = F->e->b;
  LLVMValueRef addr = LLVMBuildPtrToInt(b, row_out, F->e->i64, "");
  LLVMValueRef hb = LLVMBuildUDiv(b, LLVMBuildAnd(b, LLVMBuildNeg(b, addr, ""), cg_i64(F, 63), ""), cg_i64(F, es), "");
  return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, hb, len, ""), hb, len, "");
}

/* A root whose output streams (rank 2, the last reduction a pairwise sum) writes a row's
 * body while the next row computes: the next row's last reduction's loop, after each
 * prefetch run of elements [lo, lo + cnt), stores the previous row's elements [head + lo,
 * head + lo + cnt) (head: that row's elements before its first 64-byte boundary, stored
 * when the next row starts), from the previous row's per-row values, kept in pval, and its
 * row cache (the two stack rows alternate). The streaming stores then leave a run at a
 * time between runs of arithmetic instead of a row at a time after it, which stalled on
 * write bandwidth (a quarter of softmax's time at 4096x4096). A chunk's last row, and a
 * row whose 1/s is not normal, store their own rows at once. */
typedef struct Defer {
  const tc_Node *root, *cached; /* cached: the row cache's node, or NULL */
  const fe_Vec *red;            /* the per-row values (cg_emit_rowwise) */
  LLVMValueRef dst, len;
  int es;
  bool recip;          /* the root is computed as a * (1/s) */
  LLVMValueRef pend;   /* i1: a previous row is pending */
  LLVMValueRef pbase;  /* i64: its first element */
  LLVMValueRef prow;   /* i64: its index in the first dimension */
  LLVMValueRef precip; /* its 1/s */
  LLVMValueRef pcache; /* ptr: its row cache, indexed as the row */
  LLVMValueRef *pval;  /* per red item: its value for the previous row */
} Defer;

/* The previous row's elements [from, from + n) stored at out (n <= 0: none). */
static void defer_store(Fn *F, Defer *D, LLVMValueRef from, LLVMValueRef n, LLVMValueRef out, int j_interleave) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMTypeRef ct = cg_ctype(e, D->root->dtype);
  LLVMValueRef pb = LLVMBuildLoad2(b, e->i64, D->pbase, "");
  RootRow rr = {.root = D->root, .recip = D->recip ? LLVMBuildLoad2(b, ct, D->precip, "") : NULL};
  if (D->cached) F->buf[D->cached->id] = LLVMBuildLoad2(b, e->ptr, D->pcache, "");
  /* the previous row's per-row values while its root is emitted */
  LLVMValueRef *now = calloc((size_t)D->red->n + 1, sizeof *now);
  if (!now) abort();
  for (int i = 0; i < D->red->n; i++) {
    const tc_Node *g = D->red->items[i];
    now[i] = F->rowval[g->id];
    F->rowval[g->id] = LLVMBuildLoad2(b, cg_ctype(e, g->dtype), D->pval[i], "");
  }
  Ix ri = {.rank = 2};
  ri.v[0] = LLVMBuildLoad2(b, e->i64, D->prow, "");
  Loop lj = {.interleave = j_interleave};
  cg_loop_begin(F, &lj, n);
  ri.v[1] = LLVMBuildNSWAdd(b, from, lj.i, "");
  ri.lin = LLVMBuildNSWAdd(b, pb, ri.v[1], "");
  cg_store_at(F, D->root->dtype, out, lj.i, root_value(F, &rr, &ri));
  cg_loop_end(F, &lj);
  for (int i = 0; i < D->red->n; i++) F->rowval[((const tc_Node *)D->red->items[i])->id] = now[i];
  free(now);
  if (D->cached) F->buf[D->cached->id] = NULL;
}

/* RowCache.after_run: the pending row's body elements matching run [lo, lo + cnt). */
static void defer_run(Fn *F, void *ctx, LLVMValueRef lo, LLVMValueRef cnt) {
  Defer *D = ctx;
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMBasicBlockRef els, join = if_begin(F, LLVMBuildLoad2(b, e->i1, D->pend, ""), &els);
  LLVMValueRef pb = LLVMBuildLoad2(b, e->i64, D->pbase, "");
  LLVMValueRef row_out = LLVMBuildInBoundsGEP2(b, cg_stype(e, D->root->dtype), D->dst, &pb, 1, "");
  LLVMValueRef head = row_head(F, row_out, D->len, D->es);
  LLVMValueRef from = LLVMBuildNSWAdd(b, head, lo, "");
  LLVMValueRef left = LLVMBuildNSWSub(b, D->len, from, "");
  LLVMValueRef n = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, left, cnt, ""), left, cnt, "");
  LLVMValueRef out = LLVMBuildInBoundsGEP2(b, cg_stype(e, D->root->dtype), row_out, &from, 1, "");
  assume_aligned64(F, out); /* head is the boundary, lo a multiple of the run's 1 KiB */
  defer_store(F, D, from, n, out, 0);
  if_else(F, join, els);
  if_end(F, join);
}

/* dst = root (an elementwise expression of rank >= 1) row by row: per row, each reduction
 * of its group folded over the row and each per-row value computed once (in node order,
 * so a reduction's argument sees those it reads already as per-row values), then the
 * root's row. */
void cg_emit_rowwise(Fn *F, const tc_Node *root, LLVMValueRef dst, const LLVMValueRef *range) {
  cg_Emit *e = F->e;
  int r = root->rank;
  size_t nn = (size_t)F->f->nnodes + 1;
  F->buf[root->id] = NULL; /* compute, do not load */
  uint8_t *seen = calloc(nn, 1);
  if (!seen) abort();
  fe_Vec red = {0};
  row_values(F, root, root, seen, &red);
  memset(seen, 0, nn);
  fe_Vec bufs = {0};
  row_buffers(F, root, root, seen, &bufs);
  free(seen);
  if (red.n == 0) TRIC_BUG("row-wise kernel of '%s' without a reduction", tc_op_name(root->op));
  qsort(red.items, (size_t)red.n, sizeof(void *), by_node_id);
  F->rowval = fe_alloc(e->arena, sizeof(LLVMValueRef) * nn);
  memset(F->rowval, 0, sizeof(LLVMValueRef) * nn);
  LLVMBuilderRef b = e->b;
  LLVMValueRef len = cg_poly(F, root->dims[r - 1]);
  const tc_Node *last = NULL;
  for (int i = 0; i < red.n; i++)
    if (tc_op_info(((const tc_Node *)red.items[i])->op)->cls == TC_CLASS_REDUCTION) last = red.items[i];
  RowCache cache = {.node = row_cache_node(F, root, last, &red), .dst = dst, .prefetch = &bufs};
  /* the row cache's scratch row, and whether a row fits it */
  LLVMValueRef scratch = NULL, fits = LLVMConstInt(e->i1, 1, 0);
  int es = fe_dtype_size(root->dtype);
  /* the previous row's streaming stores deferred into this row's sum (Defer) */
  bool defer = e->stream && F->to_output && r == 2 && pairwise_sum(last);
  int64_t cap = ROW_SCRATCH_BYTES / es;
  if (cache.node) {
    LLVMTypeRef ct = cg_ctype(e, root->dtype);
    scratch = cg_entry_alloca(F, LLVMArrayType2(ct, (unsigned long long)(defer ? 2 * cap : cap)));
    LLVMSetAlignment(scratch, 64);
    fits = LLVMBuildICmp(b, LLVMIntSLE, len, cg_i64(F, cap), "");
  }
  Defer D = {.root = root, .cached = cache.node, .red = &red, .dst = dst, .len = len, .es = es};
  for (int i = 0; i < red.n && root->op == TC_DIV && fe_dtype_is_float(root->dtype); i++)
    D.recip |= red.items[i] == (void *)root->args[1]; /* as recip below */
  if (defer) {
    D.pval = fe_alloc(e->arena, sizeof(LLVMValueRef) * (size_t)(red.n + 1));
    for (int i = 0; i < red.n; i++) D.pval[i] = cg_entry_alloca(F, cg_ctype(e, ((const tc_Node *)red.items[i])->dtype));
    D.pend = cg_entry_alloca(F, e->i1);
    D.pbase = cg_entry_alloca(F, e->i64);
    D.prow = cg_entry_alloca(F, e->i64);
    D.precip = cg_entry_alloca(F, cg_ctype(e, root->dtype));
    D.pcache = cg_entry_alloca(F, e->ptr);
    LLVMBuildStore(b, LLVMConstInt(e->i1, 0, 0), D.pend);
    cache.after_run = defer_run;
    cache.after_ctx = &D;
  }
  /* streaming stores: a large output of the exported function, its elements aligned */
  LLVMValueRef stream = NULL;
  if (e->stream && F->to_output) {
    LLVMValueRef bytes = LLVMBuildMul(b, cg_numel(F, r, (const tc_Poly **)root->dims), cg_i64(F, es), "");
    LLVMValueRef addr = LLVMBuildPtrToInt(b, dst, e->i64, "");
    stream = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, bytes, cg_i64(F, STREAM_MIN), ""),
                          LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, addr, cg_i64(F, es - 1), ""), cg_i64(F, 0), ""), "");
    stream = LLVMBuildAnd(b, stream, fits, "");
  }
  Loop L[TC_MAXRANK + 1] = {0};
  int nopen = 0;
  Ix ix = {.rank = r};
  if (r >= 2) { /* the first dimension over this call's range, the other leading ones whole */
    cg_loop_begin(F, &L[nopen], LLVMBuildSub(b, range[1], range[0], ""));
    ix.v[0] = LLVMBuildNSWAdd(b, range[0], L[nopen++].i, "");
  }
  if (r >= 3) cg_open_loops(F, L, r, (const tc_Poly **)root->dims, (int64_t)((1ull << (r - 1)) - 2), &ix, &nopen);
  LLVMValueRef base = LLVMBuildNSWMul(b, cg_linear(F, r - 1, (const tc_Poly **)root->dims, ix.v), len, "");
  if (cache.node) { /* the cache indexed as the row: scratch - base, or the output itself */
    LLVMValueRef off = LLVMBuildNeg(b, base, "");
    if (defer) /* rows alternate between the two stack rows */
      off = LLVMBuildAdd(b, off, LLVMBuildMul(b, LLVMBuildAnd(b, L[0].i, cg_i64(F, 1), ""), cg_i64(F, cap), ""), "");
    LLVMValueRef srow = LLVMBuildGEP2(b, cg_ctype(e, root->dtype), scratch, &off, 1, "");
    cache.dst = LLVMBuildSelect(b, fits, srow, dst, "");
  }
  if (defer) { /* the pending row's head, up to its first 64-byte boundary */
    LLVMBasicBlockRef els0, join0 = if_begin(F, LLVMBuildLoad2(b, e->i1, D.pend, ""), &els0);
    LLVMValueRef pb = LLVMBuildLoad2(b, e->i64, D.pbase, "");
    LLVMValueRef prow_out = LLVMBuildInBoundsGEP2(b, cg_stype(e, root->dtype), dst, &pb, 1, "");
    defer_store(F, &D, cg_i64(F, 0), row_head(F, prow_out, len, es), prow_out, -1);
    if_else(F, join0, els0);
    if_end(F, join0);
  }
  RowCache pfonly = {.prefetch = &bufs}; /* the other reductions: their pairwise sums prefetch too */
  for (int i = 0; i < red.n; i++) { /* in node order: arguments first */
    const tc_Node *g = red.items[i];
    if (tc_op_info(g->op)->cls == TC_CLASS_REDUCTION) F->rowval[g->id] = fold_row(F, g, &ix, base, g == last ? &cache : &pfonly);
    else {
      Ix at = ix;
      at.v[r - 1] = cg_i64(F, 0);
      at.lin = NULL;
      F->rowval[g->id] = cg_emit_at(F, g, &at);
    }
  }
  if (cache.node) F->buf[cache.node->id] = cache.dst; /* read back from the row */
  RootRow rr = {.root = root};
  const fe_Vec *pf = cache.prefetched ? NULL : &bufs; /* the root's loop prefetches unless the reduction did */
  LLVMValueRef row_out = LLVMBuildInBoundsGEP2(b, cg_stype(e, root->dtype), dst, &base, 1, "");
  /* a / s, s per row: a * (1/s) where 1/s is normal (RootRow), else the division */
  LLVMValueRef recip_ok = NULL, recip = NULL;
  if (root->op == TC_DIV && (root->dtype == FE_F32 || root->dtype == FE_F64 || root->dtype == FE_F16 ||
                             root->dtype == FE_BF16) && F->rowval[root->args[1]->id]) {
    LLVMValueRef s = F->rowval[root->args[1]->id];
    LLVMTypeRef ct = LLVMTypeOf(s);
    bool d = root->dtype == FE_F64;
    LLVMValueRef as = cg_intrinsic(e, "llvm.fabs", ct, &s, 1);
    recip_ok = LLVMBuildAnd(b, LLVMBuildFCmp(b, LLVMRealOGE, as, LLVMConstReal(ct, d ? 0x1p-1022 : 0x1p-126), ""),
                            LLVMBuildFCmp(b, LLVMRealOLE, as, LLVMConstReal(ct, d ? 0x1p1022 : 0x1p126), ""), "");
    recip = LLVMBuildFDiv(b, LLVMConstReal(ct, 1), s, "");
  }
  LLVMBasicBlockRef els, join_recip = NULL, els_recip = NULL, join_defer = NULL, els_defer = NULL;
  if (defer) { /* this row's body stored by the next row's sum, unless it is the chunk's last */
    LLVMValueRef more = LLVMBuildICmp(b, LLVMIntSLT, LLVMBuildNSWAdd(b, ix.v[0], cg_i64(F, 1), ""), range[1], "");
    LLVMValueRef now = LLVMBuildAnd(b, recip_ok ? LLVMBuildAnd(b, stream, recip_ok, "") : stream, more, "");
    LLVMBuildStore(b, now, D.pend);
    join_defer = if_begin(F, now, &els_defer);
    LLVMBuildStore(b, base, D.pbase);
    LLVMBuildStore(b, ix.v[0], D.prow);
    if ((recip != NULL) != D.recip) TRIC_BUG("row-wise kernel of '%s': the deferred root's division", tc_op_name(root->op));
    if (recip) LLVMBuildStore(b, recip, D.precip);
    if (cache.node) LLVMBuildStore(b, cache.dst, D.pcache);
    for (int i = 0; i < red.n; i++) LLVMBuildStore(b, F->rowval[((const tc_Node *)red.items[i])->id], D.pval[i]);
    if_else(F, join_defer, els_defer);
  }
  if (recip_ok) {
    join_recip = if_begin(F, recip_ok, &els_recip);
    rr.recip = recip;
  }
  if (stream) {
    LLVMBasicBlockRef join = if_begin(F, stream, &els);
    /* head: elements up to the row's first 64-byte boundary in dst, then the body aligned */
    LLVMValueRef head = row_head(F, row_out, len, es);
    root_blocks(F, &rr, &ix, base, head, cg_i64(F, 0), row_out, NULL, -1);
    LLVMValueRef body = LLVMBuildInBoundsGEP2(b, cg_stype(e, root->dtype), row_out, &head, 1, "");
    assume_aligned64(F, body);
    root_blocks(F, &rr, &ix, base, len, head, body, pf, 0);
    if_else(F, join, els);
    root_blocks(F, &rr, &ix, base, len, cg_i64(F, 0), row_out, pf, 0);
    if_end(F, join);
  } else root_blocks(F, &rr, &ix, base, len, cg_i64(F, 0), row_out, pf, 0);
  if (recip_ok) {
    if_else(F, join_recip, els_recip);
    rr.recip = NULL; /* rare rows (1/s not normal, NaN or inf): a scalar loop */
    root_blocks(F, &rr, &ix, base, len, cg_i64(F, 0), row_out, pf, -1);
    if_end(F, join_recip);
  }
  if (defer) if_end(F, join_defer);
  if (cache.node) F->buf[cache.node->id] = NULL;
  for (int i = 0; i < red.n; i++) F->rowval[((const tc_Node *)red.items[i])->id] = NULL;
  cg_close_loops(F, L, &nopen, 0);
  F->rowval = NULL;
  if (stream) { /* the streaming stores ordered before the kernel returns */
    LLVMValueRef sfence = cg_intrinsic_decl(e, "llvm.x86.sse.sfence");
    LLVMBuildCall2(b, LLVMGlobalGetValueType(sfence), sfence, NULL, 0, "");
  }
}

/* ---------------------------------------------------------------- threads
 *
 * A row-wise kernel of at least ROW_PARALLEL elements splits its first dimension over the
 * thread pool (parallel.c), chunks of at least ROW_CHUNK elements: each row is computed
 * the same way whatever the split.
 */
enum { ROW_PARALLEL = 1 << 17, ROW_CHUNK = 1 << 15 };

void cg_rowwise_call(Fn *F, const tc_Node *root, LLVMValueRef kfn, LLVMTypeRef fty, LLVMValueRef *args, int nargs) {
  LLVMBuilderRef b = F->e->b;
  cg_Split s = {.nrange = 2, .unit = cg_i64(F, 1)};
  LLVMValueRef total = cg_numel(F, root->rank, (const tc_Poly **)root->dims);
  if (root->rank >= 2) {
    s.m = cg_poly(F, root->dims[0]);
    LLVMValueRef safe = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, s.m, cg_i64(F, 0), ""), s.m, cg_i64(F, 1), "");
    s.grain = cg_grain(F, LLVMBuildSDiv(b, total, safe, ""), ROW_CHUNK);
    s.par = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, total, cg_i64(F, ROW_PARALLEL), ""),
                         LLVMBuildICmp(b, LLVMIntSGE, s.m, cg_i64(F, 2), ""), "");
  } else { /* one row: the range is not read */
    s.m = cg_i64(F, 1);
    s.grain = cg_i64(F, 1);
    s.par = LLVMConstInt(F->e->i1, 0, 0);
  }
  s.units = s.m;
  cg_parallel_call(F, kfn, fty, args, nargs, &s);
}
