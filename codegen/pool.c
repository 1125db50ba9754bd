/* pool.c - lowers a pooling kernel (maxpool2d, avgpool2d; plan kind CG_PK_POOL) on the
 * loop-nest builder of lower.h.
 *
 * The output [N, C, OH, OW] is computed row by row: a loop over the planes (image,
 * channel) of the kernel's range (parallel.c splits them over threads) and over OH, then
 * the loop over OW innermost, the one LLVM's loop vectoriser widens (as an elementwise
 * kernel's loop). Each output element folds its kh x kw window of the argument, whose
 * expression is fused (cg_emit_at at each cell: maxpool2d(relu(x)) reads x only). The
 * window's cells are unrolled here, kh*kw <= UNROLL_MAX, so the OW loop stays innermost
 * and vectorises; a larger window becomes two loops inside it (correct, not vectorised).
 *
 * Padding: a cell outside the input is never loaded. Rows are checked per cell (the
 * condition is the same across the OW loop, so it costs a select); columns split the OW
 * loop in three: the interior columns, whose whole window is inside [0, W), take plain
 * affine loads; the few columns at either edge clamp the index and select. A padded
 * cell counts as the dtype's lowest value for max (so it never wins: PyTorch ignores
 * them) and as 0 for the average, which always divides by kh*kw (count_include_pad; with
 * PyTorch's floor rounding no window reaches past the padding). f16 and bf16 compute in
 * f32 (cg_emit_at's compute type) and round once at the store. An input with H or W of 0
 * (possible with padding) has windows of padding only: max -inf, average 0.
 *
 * A depthwise conv2d (plan kind CG_PK_DEPTHWISE: every group reads one input channel) is
 * the same loop nest with a weighted sum for the fold: output channel o of image b sums
 * x[b, o / M, ih, iw] * w[o, 0, kh, kw] over its window (M output channels per group;
 * dilation spaces the cells), padded cells adding nothing. Its epilogue (bias, batch-norm
 * scale and shift, residual, activation, cast: plan.c's epilogues, as a contraction's) is
 * computed from the sum in registers (cg_memo_put, as contraction.c does with its tile)
 * before the one store of the kernel's root; an input with H or W of 0 gives the
 * epilogue of 0 everywhere.
 */
#include <math.h>

#include "codegen/lower.h"

enum { UNROLL_MAX = 64 };

/* The window fold being lowered (a pooling, or a depthwise convolution) and the indices
 * of the current output row. */
typedef struct Pool {
  const tc_Node *n, *x; /* the pooling or conv2d; its input */
  const tc_Node *w;     /* the conv's weights, or NULL for a pooling */
  const tc_Node *root;  /* what is stored: n, or the end of the conv's epilogue */
  bool max;
  int dt;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw; /* window, strides, padding, dilation */
  int64_t mult;          /* a conv's output channels per group (input channel c / mult) */
  bool empty;            /* H or W is 0: every window is padding (no cell is read) */
  LLVMValueRef ident;    /* the fold's start: -inf (max) or 0 */
  LLVMValueRef H, W;     /* x's spatial sizes */
  LLVMValueRef b, c, ih0, oh; /* batch and channel index; the window's first row oh*sh - ph; the output row */
} Pool;

/* The value of window cell (kh, kw) for output column ow: x there (times the conv's
 * weight), or the identity on a padded cell. edge: the column may be outside [0, W). */
static LLVMValueRef cell(Fn *F, const Pool *P, LLVMValueRef ow, LLVMValueRef kh, LLVMValueRef kw, bool edge) {
  LLVMBuilderRef b = F->e->b;
  LLVMValueRef ih = LLVMBuildAdd(b, P->ih0, P->dh == 1 ? kh : LLVMBuildMul(b, kh, cg_i64(F, P->dh), ""), "");
  LLVMValueRef iw = LLVMBuildAdd(b, LLVMBuildMul(b, ow, cg_i64(F, P->sw), ""),
                                 LLVMBuildSub(b, P->dw == 1 ? kw : LLVMBuildMul(b, kw, cg_i64(F, P->dw), ""),
                                              cg_i64(F, P->pw), ""), "");
  LLVMValueRef ok = NULL;
  if (P->ph) { /* without row padding every window row is inside the input */
    ok = LLVMBuildICmp(b, LLVMIntULT, ih, P->H, ""); /* unsigned: a negative row is out too */
    ih = LLVMBuildSelect(b, ok, ih, cg_i64(F, 0), "");
  }
  if (edge) {
    LLVMValueRef okw = LLVMBuildICmp(b, LLVMIntULT, iw, P->W, "");
    iw = LLVMBuildSelect(b, okw, iw, cg_i64(F, 0), "");
    ok = ok ? LLVMBuildAnd(b, ok, okw, "") : okw;
  }
  LLVMValueRef c = P->w && P->mult > 1 ? LLVMBuildSDiv(b, P->c, cg_i64(F, P->mult), "") : P->c;
  Ix ix = {.rank = 4, .v = {P->b, c, ih, iw}};
  LLVMValueRef v = cg_emit_at(F, P->x, &ix);
  if (ok) {
    /* as emit.c's TC_SELECT: at -O0 the fast instruction selector would fold a plain load
       into a 16-byte vblendvps/pd operand (a read past a buffer's end) */
    if (F->e->fast_isel && LLVMIsALoadInst(v)) v = LLVMBuildFreeze(b, v, "");
    v = LLVMBuildSelect(b, ok, v, P->ident, "");
  }
  if (!P->w) return v;
  Ix wx = {.rank = 4, .v = {P->c, cg_i64(F, 0), kh, kw}};
  return LLVMBuildFMul(b, v, cg_emit_at(F, P->w, &wx), "");
}

/* acc folded with v. With nan, a max is a compare and a select (x86's vmaxps; the first
 * of equal values wins, as in PyTorch) and *nan gathers whether a cell is NaN, for
 * nan_result: llvm.maximum's lowering takes several instructions a cell and its cost
 * kept the loop vectoriser from widening the column loop. */
static LLVMValueRef combine(Fn *F, const Pool *P, LLVMValueRef acc, LLVMValueRef v, LLVMValueRef *nan) {
  LLVMBuilderRef b = F->e->b;
  if (!P->max) return LLVMBuildFAdd(b, acc, v, "");
  if (!nan) return cg_binop(F, TC_MAX, P->dt, acc, v);
  LLVMValueRef isnan = LLVMBuildFCmp(b, LLVMRealUNO, v, v, "");
  *nan = *nan ? LLVMBuildOr(b, *nan, isnan, "") : isnan;
  return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, v, acc, ""), v, acc, "");
}

/* The max of a window with a NaN is NaN (PyTorch's max_pool2d propagates it). */
static LLVMValueRef nan_result(Fn *F, LLVMValueRef acc, LLVMValueRef nan) {
  if (!nan) return acc;
  return LLVMBuildSelect(F->e->b, nan, LLVMConstReal(LLVMTypeOf(acc), NAN), acc, "");
}

/* dst[row + ow] = the window fold (a conv's: its epilogue) for lo <= ow < hi. */
static void columns(Fn *F, const Pool *P, LLVMValueRef lo, LLVMValueRef hi, bool edge, LLVMValueRef dst,
                    LLVMValueRef row) {
  cg_Emit *e = F->e;
  int64_t kh = P->kh, kw = P->kw;
  Loop L = {.interleave = edge ? -1 : 0}; /* an edge is a column or two: not worth vectorising */
  cg_loop_begin(F, &L, LLVMBuildSub(e->b, hi, lo, ""));
  LLVMValueRef ow = LLVMBuildAdd(e->b, lo, L.i, ""), acc = P->ident;
  if (P->empty) { /* padding only: the identity */
  } else if (kh * kw <= UNROLL_MAX) {
    LLVMValueRef nan = NULL;
    for (int64_t i = 0; i < kh; i++)
      for (int64_t j = 0; j < kw; j++) acc = combine(F, P, acc, cell(F, P, ow, cg_i64(F, i), cg_i64(F, j), edge), &nan);
    acc = nan_result(F, acc, nan);
  } else {
    LLVMValueRef accp = cg_entry_alloca(F, LLVMTypeOf(P->ident));
    LLVMBuildStore(e->b, P->ident, accp);
    Loop R = {0}, C = {0};
    cg_loop_begin(F, &R, cg_i64(F, kh));
    cg_loop_begin(F, &C, cg_i64(F, kw));
    LLVMValueRef v = cell(F, P, ow, R.i, C.i, edge);
    LLVMBuildStore(e->b, combine(F, P, LLVMBuildLoad2(e->b, LLVMTypeOf(P->ident), accp, ""), v, NULL), accp);
    cg_loop_end(F, &C);
    cg_loop_end(F, &R);
    acc = LLVMBuildLoad2(e->b, LLVMTypeOf(P->ident), accp, "");
  }
  if (!P->max && !P->w) acc = LLVMBuildFDiv(e->b, acc, LLVMConstReal(LLVMTypeOf(acc), (double)(kh * kw)), "");
  if (P->root != P->n) { /* the conv's epilogue, from the sum in registers */
    Ix ix = {.rank = 4, .v = {P->b, P->c, P->oh, ow}};
    cg_memo_put(F, P->n, &ix, acc);
    acc = cg_emit_at(F, P->root, &ix);
  }
  cg_store_at(F, P->root->dtype, dst, LLVMBuildAdd(e->b, row, ow, ""), acc);
  cg_loop_end(F, &L);
}

/* The loops over the planes of the range and their rows, each row's columns split into
 * the interior [lo, hi) and the edges. */
static void planes(Fn *F, Pool *P, LLVMValueRef dst, const LLVMValueRef *range) {
  LLVMBuilderRef b = F->e->b;
  const tc_Node *n = P->n;
  LLVMValueRef C = cg_poly(F, n->dims[1]), OH = cg_poly(F, n->dims[2]), OW = cg_poly(F, n->dims[3]);
  /* the interior columns [lo, hi): ow*sw - pw >= 0 and ow*sw - pw + (kw - 1)*dw < W */
  int64_t sw = P->sw, pw = P->pw, ext = (P->kw - 1) * P->dw + 1;
  bool split = pw && !P->empty;
  LLVMValueRef lo = cg_i64(F, 0), hi = OW;
  if (split) {
    LLVMValueRef first = cg_i64(F, (pw + sw - 1) / sw);
    lo = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, first, OW, ""), first, OW, "");
    LLVMValueRef t = LLVMBuildAdd(b, P->W, cg_i64(F, pw - ext), "");
    LLVMValueRef last = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, t, cg_i64(F, 0), ""), cg_i64(F, 0),
                                        LLVMBuildAdd(b, LLVMBuildSDiv(b, t, cg_i64(F, sw), ""), cg_i64(F, 1), ""), "");
    last = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, last, OW, ""), last, OW, "");
    hi = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, last, lo, ""), lo, last, "");
  }
  Loop L[2] = {{.interleave = CG_PLAIN}, {.interleave = CG_PLAIN}};
  cg_loop_begin(F, &L[0], LLVMBuildSub(b, range[1], range[0], "")); /* the planes (image, channel) of the range */
  cg_loop_begin(F, &L[1], OH);
  LLVMValueRef p = LLVMBuildAdd(b, range[0], L[0].i, "");
  LLVMValueRef safe_c = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, C, cg_i64(F, 0), ""), C, cg_i64(F, 1), "");
  P->b = LLVMBuildSDiv(b, p, safe_c, "");
  P->c = LLVMBuildSRem(b, p, safe_c, "");
  P->oh = L[1].i;
  P->ih0 = LLVMBuildSub(b, LLVMBuildMul(b, L[1].i, cg_i64(F, P->sh), ""), cg_i64(F, P->ph), "");
  LLVMValueRef row = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, p, OH, ""), L[1].i, ""), OW, "");
  if (split) columns(F, P, cg_i64(F, 0), lo, true, dst, row);
  columns(F, P, lo, hi, false, dst, row);
  if (split) columns(F, P, hi, OW, true, dst, row);
  cg_loop_end(F, &L[1]);
  cg_loop_end(F, &L[0]);
}

/* Branches on whether x's planes are empty (H or W of 0): the empty branch is positioned
 * for the caller's code, main for the fold; both join at the returned block. */
static LLVMBasicBlockRef split_empty(Fn *F, Pool *P, LLVMBasicBlockRef *main) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef nonempty = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGT, P->H, cg_i64(F, 0), ""),
                                       LLVMBuildICmp(b, LLVMIntSGT, P->W, cg_i64(F, 0), ""), "");
  *main = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "window");
  LLVMBasicBlockRef empty = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "window_empty");
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "windowed");
  LLVMBuildCondBr(b, nonempty, *main, empty);
  LLVMPositionBuilderAtEnd(b, empty);
  return join;
}

void cg_emit_pool(Fn *F, const tc_Node *n, LLVMValueRef dst, const LLVMValueRef *range) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  if (n->op != TC_MAXPOOL2D && n->op != TC_AVGPOOL2D) TRIC_BUG("cg_emit_pool: '%s' is not a pooling", tc_op_name(n->op));
  const tc_Node *x = n->args[0];
  Pool P = {.n = n, .x = x, .root = n, .max = n->op == TC_MAXPOOL2D, .dt = n->dtype, .kh = n->pool.kernel[0],
            .kw = n->pool.kernel[1], .sh = n->pool.stride[0], .sw = n->pool.stride[1], .ph = n->pool.pad[0],
            .pw = n->pool.pad[1], .dh = 1, .dw = 1, .mult = 1};
  P.ident = LLVMConstReal(cg_ctype(e, n->dtype), P.max ? -INFINITY : 0.0);
  P.H = cg_poly(F, x->dims[2]);
  P.W = cg_poly(F, x->dims[3]);
  LLVMBasicBlockRef main, join = split_empty(F, &P, &main);
  /* an empty input plane: every window is padding */
  LLVMValueRef plane = LLVMBuildMul(b, cg_poly(F, n->dims[2]), cg_poly(F, n->dims[3]), ""); /* output elements of one (image, channel) */
  Loop Z = {0};
  cg_loop_begin(F, &Z, LLVMBuildMul(b, LLVMBuildSub(b, range[1], range[0], ""), plane, ""));
  cg_store_at(F, n->dtype, dst, LLVMBuildAdd(b, LLVMBuildMul(b, range[0], plane, ""), Z.i, ""), P.ident); /* the average of nothing but padding is 0 too */
  cg_loop_end(F, &Z);
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, main);
  planes(F, &P, dst, range);
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, join);
}

void cg_emit_depthwise(Fn *F, const tc_Node *x, const tc_Node *root, LLVMValueRef dst, const LLVMValueRef *range) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  if (!cg_plan_depthwise(x)) TRIC_BUG("cg_emit_depthwise: '%s' is not a depthwise conv2d", tc_op_name(x->op));
  const tc_Node *w = x->args[1];
  int64_t kh, kw, o;
  if (!tc_poly_is_const(w->dims[2], &kh) || !tc_poly_is_const(w->dims[3], &kw) || !tc_poly_is_const(w->dims[0], &o))
    TRIC_BUG("cg_emit_depthwise: symbolic weights");
  Pool P = {.n = x, .x = x->args[0], .w = w, .root = root, .dt = x->dtype, .kh = kh, .kw = kw,
            .sh = x->conv.stride[0], .sw = x->conv.stride[1], .ph = x->conv.pad[0], .pw = x->conv.pad[1],
            .dh = x->conv.dil[0], .dw = x->conv.dil[1], .mult = o / x->conv.groups};
  P.ident = LLVMConstReal(cg_ctype(e, x->dtype), 0.0);
  P.H = cg_poly(F, P.x->dims[2]);
  P.W = cg_poly(F, P.x->dims[3]);
  LLVMBasicBlockRef main, join = split_empty(F, &P, &main);
  P.empty = true; /* the epilogue of 0, every window being padding */
  planes(F, &P, dst, range);
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, main);
  P.empty = false;
  planes(F, &P, dst, range);
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, join);
}
