/* contraction.c - lowers a contraction kernel (matmul, batched or not) to LLVM IR the
 * way the best BLAS libraries structure it, with every size from the plan's cost model
 * (cg_contraction_tiles):
 *
 *   for each block of nc columns of B             (jb: the packed B block fits in L3)
 *     for each block of kc of the depth           (pb)
 *       pack B[k block, j block] into panels of kc x nr, zero-padded past N
 *       for each block of mc rows of A            (ib: the packed A block fits in L2)
 *         pack A[i block, k block] into panels of mr x kc, zero-padded past M
 *         for each panel of B, for each panel of A (the B panel stays in L1)
 *           the microkernel: an mr x nr tile of C held in mr * nv vector registers,
 *           kc rank-1 updates (nv vector loads of B, mr broadcasts of A, mr * nv fmas),
 *           then one store of the tile (added to C after the first depth block),
 *           and a prefetch of the C tile below, the next one's.
 *
 * The microkernel, and the packing of an A read from memory, are functions of their own
 * shared by every contraction kernel of a compute type and tile ("the shared
 * microkernel" below): compiled once per build, each in a unit of its own, while each
 * contraction kernel keeps its loops, its other packing and its epilogue.
 *
 * Operands are read through cg_emit_at while packing, so a transposed, sliced or
 * broadcast operand is read with its own indexing and an elementwise producer is computed
 * in the packing, never materialised. A small A (the cost model's a_in_place_max) that is
 * a buffer stored as computed is not packed: the microkernel broadcasts from its rows in
 * place, but for the edge row panel. Padding makes the microkernel branch-free; an edge
 * tile is stored with masked vector stores, row by row, or (f16/bf16 results, epilogues)
 * through a small stack tile whose valid part is then written. The order of additions
 * depends only on the sizes and the tiles, so results are reproducible.
 */
#include <stdio.h>
#include <stdlib.h>

#include "codegen/lower.h"

#include <string.h>

/* Whether contraction n is a 2-d convolution, lowered as an implicit GEMM per image and
 * group: A = the group's weights [O/groups, C/groups*KH*KW] (w's own rows), B = the
 * image's input windows [C/groups*KH*KW, OH*OW], read through the window's indexing while
 * packing (im2col without its buffer: padding reads zeros), and C = the image's and
 * group's output rows [O/groups, OH*OW], NCHW as the contract says. The batch index ix
 * holds the image (v[0]) and the group (v[1]). */
static bool is_conv(const tc_Node *n) { return n->op == TC_CONV2D; }

/* Operand `side` (0: A, 1: B) of contraction n. */
static const tc_Node *operand(const tc_Node *n, int side) { return n->args[is_conv(n) ? 1 - side : side]; }

/* A convolution's sizes, as values at the builder. */
typedef struct Conv {
  LLVMValueRef H, W, OW, KW, KHW, Cg, Og, K;
} Conv;

static void conv_sizes(Fn *F, const tc_Node *n, Conv *c) {
  LLVMBuilderRef b = F->e->b;
  const tc_Node *x = n->args[0], *w = n->args[1];
  c->H = cg_poly(F, x->dims[2]), c->W = cg_poly(F, x->dims[3]), c->OW = cg_poly(F, n->dims[3]);
  c->KW = cg_poly(F, w->dims[3]);
  c->KHW = LLVMBuildMul(b, cg_poly(F, w->dims[2]), c->KW, "");
  c->Cg = cg_poly(F, w->dims[1]);
  c->Og = LLVMBuildSDiv(b, cg_poly(F, w->dims[0]), cg_i64(F, n->conv.groups), "");
  c->K = LLVMBuildMul(b, c->Cg, c->KHW, "");
}

/* The compute value of operand `side` at (row, col) of its matrix (A: rows of C, depth;
 * B: depth, columns of C), batch index from ix. A convolution's B is packed by
 * pack_b_conv, not through here. */
static LLVMValueRef operand_at(Fn *F, const tc_Node *n, int side, const Ix *ix, LLVMValueRef row, LLVMValueRef col) {
  const tc_Node *X = operand(n, side);
  Ix ia = {.rank = X->rank};
  if (is_conv(n)) {
    if (side) TRIC_BUG("conv2d's input windows are packed by pack_b_conv");
    LLVMBuilderRef b = F->e->b;
    Conv c;
    conv_sizes(F, n, &c);
    LLVMValueRef r = LLVMBuildSRem(b, col, c.KHW, ""); /* col = (ci * KH + ky) * KW + kx */
    ia.v[0] = LLVMBuildAdd(b, LLVMBuildMul(b, ix->v[1], c.Og, ""), row, "");
    ia.v[1] = LLVMBuildSDiv(b, col, c.KHW, "");
    ia.v[2] = LLVMBuildSDiv(b, r, c.KW, "");
    ia.v[3] = LLVMBuildSRem(b, r, c.KW, "");
    return cg_emit_at(F, X, &ia);
  }
  int nb = n->rank - 2;
  for (int d = 0; d < X->rank - 2; d++) {
    int k = nb - (X->rank - 2) + d;
    ia.v[d] = cg_is_const1(X->dims[d]) && !cg_is_const1(n->dims[k]) ? cg_i64(F, 0) : ix->v[k];
  }
  ia.v[X->rank - 2] = row;
  ia.v[X->rank - 1] = col;
  return cg_emit_at(F, X, &ia);
}

/* min(a, b) of i64 values. */
static LLVMValueRef smin(Fn *F, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef bd = F->e->b;
  return LLVMBuildSelect(bd, LLVMBuildICmp(bd, LLVMIntSLT, a, b, ""), a, b, "");
}

/* ceil(a / b) for a >= 0, b > 0 a constant. */
static LLVMValueRef ceil_div(Fn *F, LLVMValueRef a, int64_t b) {
  LLVMBuilderRef bd = F->e->b;
  return LLVMBuildSDiv(bd, LLVMBuildAdd(bd, a, cg_i64(F, b - 1), ""), cg_i64(F, b), "");
}

/* The sizes one contraction works with: M, N, K and the runtime block sizes. */
typedef struct Dims {
  LLVMValueRef M, N, K;
  LLVMValueRef kc;     /* the depth block: tiles.kc, or K when K is not split */
  LLVMValueRef mc, nc; /* the blocks, clipped to M and N rounded up to whole panels */
} Dims;

static void contraction_dims(Fn *F, const tc_Node *n, const cg_Tiles *t, Dims *d) {
  const tc_Node *A = n->args[0];
  if (is_conv(n)) { /* per image and group: O/groups x OH*OW, depth C/groups * KH * KW */
    Conv c;
    conv_sizes(F, n, &c);
    d->M = c.Og;
    d->N = LLVMBuildMul(F->e->b, cg_poly(F, n->dims[2]), c.OW, "");
    d->K = c.K;
  } else {
    d->M = cg_poly(F, n->dims[n->rank - 2]);
    d->N = cg_poly(F, n->dims[n->rank - 1]);
    d->K = cg_poly(F, A->dims[A->rank - 1]);
  }
  d->kc = t->split_k ? smin(F, d->K, cg_i64(F, t->kc)) : d->K;
  LLVMBuilderRef b = F->e->b;
  d->mc = smin(F, cg_i64(F, t->mc), LLVMBuildMul(b, ceil_div(F, d->M, t->mr), cg_i64(F, t->mr), ""));
  d->nc = smin(F, cg_i64(F, t->nc), LLVMBuildMul(b, ceil_div(F, d->N, t->nr), cg_i64(F, t->nr), ""));
}

/* The tiles of matmul x computing root (plan.c's cost model). */
static void tiles_for(cg_Emit *e, const tc_Node *x, const tc_Node *root, cg_Tiles *t) {
  cg_contraction_tiles_for(&e->target, x, root, t);
}

LLVMValueRef cg_contraction_scratch_bytes(Fn *F, const tc_Node *n, const tc_Node *root, LLVMValueRef *ok) {
  cg_Tiles t;
  tiles_for(F->e, n, root, &t);
  Dims d;
  contraction_dims(F, n, &t, &d);
  LLVMBuilderRef b = F->e->b;
  /* kc * (mc + nc) elements: mc and nc are bounded constants, and so is kc when K is
     split; otherwise kc is K, and the product must stay below 2^CG_SCRATCH_BITS bytes
     (one such scratch per thread, at most CG_MAX_THREADS) */
  int es = (int)LLVMABISizeOfType(LLVMGetModuleDataLayout(F->e->mod), cg_ctype(F->e, n->dtype));
  LLVMValueRef per = LLVMBuildMul(b, LLVMBuildAdd(b, d.mc, d.nc, ""), cg_i64(F, es), "");
  LLVMValueRef safe = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, per, cg_i64(F, 0), ""), per, cg_i64(F, 1), "");
  *ok = LLVMBuildICmp(b, LLVMIntSLE, d.kc, LLVMBuildSDiv(b, cg_i64(F, (int64_t)1 << CG_SCRATCH_BITS), safe, ""), "");
  return LLVMBuildMul(b, d.kc, per, "");
}

/* A loop over blocks of `step` in [0, total): L->i is the block number; *start and *len
 * are the block's first index and length (at_least_one: one empty block when total is 0).
 * Returns the number of blocks. */
static LLVMValueRef block_begin(Fn *F, Loop *L, LLVMValueRef total, LLVMValueRef step, LLVMValueRef *start,
                               LLVMValueRef *len, bool at_least_one) {
  LLVMBuilderRef b = F->e->b;
  LLVMValueRef steps1 = LLVMBuildSub(b, step, cg_i64(F, 1), "");
  LLVMValueRef safe = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, step, cg_i64(F, 0), ""), step, cg_i64(F, 1), "");
  LLVMValueRef count = LLVMBuildSDiv(b, LLVMBuildAdd(b, total, steps1, ""), safe, "");
  if (at_least_one)
    count = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, total, cg_i64(F, 0), ""), cg_i64(F, 1), count, "");
  cg_loop_begin(F, L, count);
  *start = LLVMBuildMul(b, L->i, step, "");
  *len = smin(F, step, LLVMBuildSub(b, total, *start, ""));
  return count;
}

/* Writes a packed panel element: dst[idx] = v (compute type). */
static void put(Fn *F, LLVMTypeRef ct, LLVMValueRef dst, LLVMValueRef idx, LLVMValueRef v) {
  LLVMBuildStore(F->e->b, v, LLVMBuildInBoundsGEP2(F->e->b, ct, dst, &idx, 1, ""));
}

static LLVMValueRef zero_of(LLVMTypeRef ty, bool fl) { return fl ? LLVMConstReal(ty, 0) : LLVMConstInt(ty, 0, 0); }

/* Whether operand args[arg] of matmul n is read straight from memory: it has a buffer,
 * stored as its product computes (no conversion, no fused producer to evaluate), so its
 * rows are contiguous runs of compute values. */
static bool operand_plain(Fn *F, const tc_Node *n, int arg) {
  const tc_Node *X = operand(n, arg);
  return F->buf[X->id] && X->dtype == n->dtype && cg_stype(F->e, X->dtype) == cg_ctype(F->e, n->dtype);
}

/* Whether operand A of matmul n may be read in place by the microkernel. */
static bool a_in_place_ok(Fn *F, const tc_Node *n) { return operand_plain(F, n, 0); }

/* A convolution reads its weights in place when its output has at most this many column
 * panels, whatever their size: packing them costs a read and a write of all of w per
 * call, which so few panels do not pay back (ResNet-18 at 1 thread, AVX-512: 512->512 3x3
 * at 7x7, 2 panels, 2.75 -> 2.15 ms; 256->256 at 14x14, 7 panels, 1.91 -> 1.82 ms;
 * minimum of 200 alternating calls). More panels keep the matmul rule. */
enum { CONV_A_IN_PLACE_PANELS = 8 };

/* Whether this product reads A in place: A's M x K elements are at most t->a_in_place_max
 * (the cost model's: A then stays in L2 for every column panel that reuses it) and N at
 * most t->a_in_place_cols (few panels reuse it); a convolution's A, when its N is at most
 * CONV_A_IN_PLACE_PANELS panels, or else by the same rule. */
static LLVMValueRef a_in_place(Fn *F, const tc_Node *n, const Dims *d, const cg_Tiles *t) {
  LLVMBuilderRef b = F->e->b;
  LLVMValueRef M = d->M, K = d->K;
  LLVMValueRef lim = cg_i64(F, t->a_in_place_max); /* M, K <= lim first: M * K cannot overflow */
  LLVMValueRef ok = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSLE, M, lim, ""), LLVMBuildICmp(b, LLVMIntSLE, K, lim, ""), "");
  ok = LLVMBuildAnd(b, ok, LLVMBuildICmp(b, LLVMIntSLE, LLVMBuildMul(b, M, K, ""), lim, ""), "");
  ok = LLVMBuildAnd(b, ok, LLVMBuildICmp(b, LLVMIntSLE, d->N, cg_i64(F, t->a_in_place_cols), ""), "");
  if (is_conv(n)) /* few output pixels: the weights in place, whatever their size */
    ok = LLVMBuildOr(b, ok, LLVMBuildICmp(b, LLVMIntSLE, d->N, cg_i64(F, CONV_A_IN_PLACE_PANELS * (int64_t)t->nr), ""), "");
  return ok;
}

/* The address of element (row, col) of operand args[arg] in its buffer (operand_plain). */
static LLVMValueRef operand_address(Fn *F, const tc_Node *n, int arg, const Ix *ix, LLVMValueRef row, LLVMValueRef col) {
  const tc_Node *X = operand(n, arg);
  if (is_conv(n)) { /* w's rows: output channel group * O/groups + row, K elements each */
    if (arg) TRIC_BUG("conv2d's input windows have no address of a packed row");
    LLVMBuilderRef b = F->e->b;
    Conv c;
    conv_sizes(F, n, &c);
    LLVMValueRef o = LLVMBuildAdd(b, LLVMBuildMul(b, ix->v[1], c.Og, ""), row, "");
    LLVMValueRef lin = LLVMBuildAdd(b, LLVMBuildMul(b, o, c.K, ""), col, "");
    return LLVMBuildInBoundsGEP2(b, cg_stype(F->e, X->dtype), F->buf[X->id], &lin, 1, "");
  }
  int nb = n->rank - 2;
  LLVMValueRef v[TC_MAXRANK];
  for (int d = 0; d < X->rank - 2; d++) {
    int k = nb - (X->rank - 2) + d;
    v[d] = cg_is_const1(X->dims[d]) && !cg_is_const1(n->dims[k]) ? cg_i64(F, 0) : ix->v[k];
  }
  v[X->rank - 2] = row;
  v[X->rank - 1] = col;
  LLVMValueRef lin = cg_linear(F, X->rank, (const tc_Poly **)X->dims, v);
  return LLVMBuildInBoundsGEP2(F->e->b, cg_stype(F->e, X->dtype), F->buf[X->id], &lin, 1, "");
}

/* A call of an intrinsic overloaded on the nty types tys. */
static LLVMValueRef call_overloaded(cg_Emit *e, const char *name, LLVMTypeRef *tys, int nty, LLVMValueRef *args,
                                    int n) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(e->mod, id, tys, (size_t)nty);
  return LLVMBuildCall2(e->b, LLVMIntrinsicGetType(e->ctx, id, tys, (size_t)nty), f, args, (unsigned)n, "");
}

/* The depth loop of one panel of operand args[arg] (0: A, lanes are rows; 1: B, lanes are
 * columns), written to dst from element base as kc groups of `lanes`: the full panel's
 * code in blk[0], the edge panel's in blk[1] (lanes past `width` zeros), both ending at
 * join. A full panel has its lanes unrolled, so that it is written in order (a loop over
 * them was made a memcpy call per group); B read from memory is copied as vectors of vl,
 * masked at the edge. An edge panel of A has its mr lanes unrolled (a product of a few
 * rows is all edge panel); one of computed B columns (one per block, at the end of N)
 * loops over its nr lanes: unrolled, those were a third of a contraction kernel's code. */
static void pack_panel(Fn *F, const tc_Node *n, int arg, const Ix *ix, LLVMValueRef dst, LLVMValueRef base, int lanes,
                       int vl, LLVMValueRef lane0, LLVMValueRef width, LLVMValueRef d0, LLVMValueRef kc,
                       const LLVMBasicBlockRef *blk, LLVMBasicBlockRef join) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMTypeRef ct = cg_ctype(e, n->dtype);
  bool fl = fe_dtype_is_float(n->dtype);
  bool vectors = arg == 1 && !is_conv(n) && operand_plain(F, n, 1) && lanes % vl == 0;
  unsigned align = (unsigned)LLVMABISizeOfType(LLVMGetModuleDataLayout(e->mod), ct);
  for (int edge = 0; edge < 2; edge++) {
    LLVMPositionBuilderAtEnd(b, blk[edge]);
    Loop lk = {.interleave = CG_PLAIN};
    cg_loop_begin(F, &lk, kc);
    LLVMValueRef depth = LLVMBuildAdd(b, d0, lk.i, "");
    LLVMValueRef kbase = LLVMBuildAdd(b, base, LLVMBuildMul(b, lk.i, cg_i64(F, lanes), ""), "");
    if (edge && vectors) { /* masked loads: the lanes past width read nothing and are zeros */
      LLVMTypeRef vt = LLVMVectorType(ct, (unsigned)vl), pt = LLVMPointerTypeInContext(e->ctx, 0), tys[2] = {vt, pt};
      LLVMValueRef src = operand_address(F, n, 1, ix, depth, lane0);
      LLVMValueRef ws = LLVMBuildInsertElement(b, LLVMGetUndef(LLVMVectorType(e->i64, (unsigned)vl)), width,
                                              LLVMConstInt(e->i32, 0, 0), "");
      ws = LLVMBuildShuffleVector(b, ws, LLVMGetUndef(LLVMVectorType(e->i64, (unsigned)vl)),
                                  LLVMConstNull(LLVMVectorType(e->i32, (unsigned)vl)), "");
      LLVMValueRef lanes_c[64];
      for (int c = 0; c < lanes; c += vl) {
        for (int l = 0; l < vl; l++) lanes_c[l] = cg_i64(F, c + l);
        LLVMValueRef mask = LLVMBuildICmp(b, LLVMIntSLT, LLVMConstVector(lanes_c, (unsigned)vl), ws, "");
        LLVMValueRef o = cg_i64(F, c), d = LLVMBuildAdd(b, kbase, o, "");
        LLVMValueRef la[4] = {LLVMBuildGEP2(b, ct, src, &o, 1, ""), LLVMConstInt(e->i32, align, 0), mask, LLVMConstNull(vt)};
        LLVMValueRef ld = call_overloaded(e, "llvm.masked.load", tys, 2, la, 4);
        LLVMSetAlignment(LLVMBuildStore(b, ld, LLVMBuildInBoundsGEP2(b, ct, dst, &d, 1, "")), align);
      }
    } else if (edge && arg == 0) { /* mr lanes unrolled: a short product is mostly edge panel */
      LLVMValueRef last = LLVMBuildSub(b, width, cg_i64(F, 1), "");
      for (int c = 0; c < lanes; c++) { /* lanes past width read the last valid one, write zeros */
        LLVMValueRef lane = LLVMBuildAdd(b, lane0, smin(F, cg_i64(F, c), last), "");
        LLVMValueRef v = operand_at(F, n, 0, ix, lane, depth);
        v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, cg_i64(F, c), width, ""), v, zero_of(ct, fl), "");
        put(F, ct, dst, LLVMBuildAdd(b, kbase, cg_i64(F, c), ""), v);
      }
    } else if (edge) {
      Loop lc = {.interleave = CG_PLAIN};
      cg_loop_begin(F, &lc, cg_i64(F, lanes));
      LLVMValueRef in = LLVMBuildICmp(b, LLVMIntSLT, lc.i, width, "");
      /* a lane past width reads lane 0, which is valid, and writes a zero */
      LLVMValueRef lane = LLVMBuildAdd(b, lane0, LLVMBuildSelect(b, in, lc.i, cg_i64(F, 0), ""), "");
      LLVMValueRef v = arg ? operand_at(F, n, 1, ix, depth, lane) : operand_at(F, n, 0, ix, lane, depth);
      put(F, ct, dst, LLVMBuildAdd(b, kbase, lc.i, ""), LLVMBuildSelect(b, in, v, zero_of(ct, fl), ""));
      cg_loop_end(F, &lc);
    } else if (vectors) {
      LLVMTypeRef vt = LLVMVectorType(ct, (unsigned)vl);
      LLVMValueRef src = operand_address(F, n, 1, ix, depth, lane0);
      for (int c = 0; c < lanes; c += vl) {
        LLVMValueRef o = cg_i64(F, c), d = LLVMBuildAdd(b, kbase, o, "");
        LLVMValueRef ld = LLVMBuildLoad2(b, vt, LLVMBuildInBoundsGEP2(b, ct, src, &o, 1, ""), "");
        LLVMSetAlignment(ld, align);
        LLVMSetAlignment(LLVMBuildStore(b, ld, LLVMBuildInBoundsGEP2(b, ct, dst, &d, 1, "")), align);
      }
    } else
      for (int c = 0; c < lanes; c++) {
        LLVMValueRef lane = LLVMBuildAdd(b, lane0, cg_i64(F, c), "");
        LLVMValueRef v = arg ? operand_at(F, n, 1, ix, depth, lane) : operand_at(F, n, 0, ix, lane, depth);
        put(F, ct, dst, LLVMBuildAdd(b, kbase, cg_i64(F, c), ""), v);
      }
    cg_loop_end(F, &lk);
    LLVMBuildBr(b, join);
  }
  LLVMPositionBuilderAtEnd(b, join);
}

/* Packs B[pc .. pc+kc, jc .. jc+nc] into Bp: panel q holds columns jc + q*nr .. + nr as
 * kc rows of nr, columns past N zero (pack_panel). */
static void pack_b(Fn *F, const tc_Node *n, const Ix *ix, const cg_Tiles *t, LLVMValueRef Bp, LLVMValueRef pc,
                   LLVMValueRef kc, LLVMValueRef jc, LLVMValueRef nc) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef nr = cg_i64(F, t->nr);
  Loop lq = {0};
  LLVMValueRef j0, w;
  block_begin(F, &lq, nc, nr, &j0, &w, false);
  LLVMValueRef base = LLVMBuildMul(b, lq.i, LLVMBuildMul(b, kc, nr, ""), "");
  LLVMValueRef col0 = LLVMBuildAdd(b, jc, j0, "");
  LLVMBasicBlockRef blk[2] = {LLVMAppendBasicBlockInContext(e->ctx, F->fn, "pack_full"),
                              LLVMAppendBasicBlockInContext(e->ctx, F->fn, "pack_edge")};
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "packed");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, w, nr, ""), blk[0], blk[1]);
  pack_panel(F, n, 1, ix, Bp, base, t->nr, t->vl, col0, w, pc, kc, blk, join);
  cg_loop_end(F, &lq);
}

/* The value of size p when it is a constant, else -1. */
static int64_t poly_const(const tc_Poly *p) {
  if (p->n == 0) return 0;
  return p->n == 1 && p->t[0].n == 0 ? p->t[0].coef : -1;
}

/* A vector of vl copies of v. */
static LLVMValueRef splat(cg_Emit *e, LLVMValueRef v, int vl) {
  LLVMBuilderRef b = e->b;
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(v), (unsigned)vl);
  LLVMValueRef s = LLVMBuildInsertElement(b, LLVMGetUndef(vt), v, LLVMConstInt(e->i32, 0, 0), "");
  return LLVMBuildShuffleVector(b, s, LLVMGetUndef(vt), LLVMConstNull(LLVMVectorType(e->i32, (unsigned)vl)), "");
}

/* Whether a convolution's windows are packed as vectors (pack_b_conv): x is a buffer of
 * the convolution's own dtype (no fused producer, no conversion), stored as computed or as
 * f16/bf16 bits, which the packing widens a vector at a time. */
static bool conv_vector_pack(Fn *F, const tc_Node *n) {
  const tc_Node *x = n->args[0];
  if (!F->buf[x->id] || x->dtype != n->dtype) return false;
  return cg_stype(F->e, x->dtype) == cg_ctype(F->e, n->dtype) || x->dtype == FE_F16 || x->dtype == FE_BF16;
}

/* A vector of vl stored elements of dtype dt widened to its compute type. */
static LLVMValueRef vec_from_storage(cg_Emit *e, int dt, LLVMValueRef v, int vl) {
  LLVMBuilderRef b = e->b;
  unsigned n = (unsigned)vl;
  switch (dt) {
  case FE_F16: return LLVMBuildFPExt(b, LLVMBuildBitCast(b, v, LLVMVectorType(e->f16, n), ""), LLVMVectorType(e->f32, n), "");
  case FE_BF16: {
    LLVMValueRef w = LLVMBuildZExt(b, v, LLVMVectorType(e->i32, n), "");
    w = LLVMBuildShl(b, w, splat(e, LLVMConstInt(e->i32, 16, 0), vl), "");
    return LLVMBuildBitCast(b, w, LLVMVectorType(e->f32, n), "");
  }
  default: return v; /* conv_vector_pack: stored as computed */
  }
}

/* The kernel positions (KH * KW, constant) whose masks a panel works out once, at most:
 * nv of them each (a 7x7 kernel's 98 at nv 2). */
enum { CONV_MASKS_MAX = 128, CG_MAX_NV = 8 };

/* The mask of vector v of a panel's depth row moved by (dy, dx) (lanes: the window
 * origins, pack_b_conv): lanes inside x (0 <= iy < H and 0 <= ix < W, as unsigned
 * compares) and below w. */
static LLVMValueRef window_mask(Fn *F, const Conv *c, const cg_Tiles *t, LLVMValueRef lanes, int v, LLVMValueRef dy,
                                LLVMValueRef dx, LLVMValueRef w) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  int vl = t->vl;
  LLVMTypeRef ivt = LLVMVectorType(e->i64, (unsigned)vl);
  LLVMValueRef o[2], cl[64];
  for (int q = 0; q < 2; q++) {
    LLVMValueRef li = cg_i64(F, (int64_t)q * t->nr + (int64_t)v * vl);
    o[q] = LLVMBuildLoad2(b, ivt, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &li, 1, ""), "");
    LLVMSetAlignment(o[q], 8);
  }
  for (int l = 0; l < vl; l++) cl[l] = cg_i64(F, (int64_t)v * vl + l);
  LLVMValueRef iy = LLVMBuildAdd(b, o[0], splat(e, dy, vl), ""), ixv = LLVMBuildAdd(b, o[1], splat(e, dx, vl), "");
  LLVMValueRef mask = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntULT, iy, splat(e, c->H, vl), ""),
                                   LLVMBuildICmp(b, LLVMIntULT, ixv, splat(e, c->W, vl), ""), "");
  return LLVMBuildAnd(b, mask, LLVMBuildICmp(b, LLVMIntSLT, LLVMConstVector(cl, (unsigned)vl), splat(e, w, vl), ""), "");
}

/* vl lanes l at xp[at + 2l] (masked: those off in mask are zero): two masked loads of vl
 * consecutive elements whose odd ones are never read, and a shuffle of the even ones;
 * cheaper than a gather (two of 64-bit offsets were most of ResNet-18's stem packing). */
static LLVMValueRef pairs_load(Fn *F, LLVMTypeRef st, LLVMTypeRef svt, unsigned salign, LLVMValueRef xp, LLVMValueRef at,
                               LLVMValueRef mask, int vl) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef halves[2], mi[64], ev[64];
  if (vl > 64) TRIC_BUG("pairs_load: %d lanes", vl);
  LLVMValueRef off = LLVMConstNull(LLVMVectorType(e->i1, (unsigned)vl));
  LLVMTypeRef pt = LLVMPointerTypeInContext(e->ctx, 0);
  for (int h = 0; h < 2; h++) {
    for (int j = 0; j < vl; j++) mi[j] = LLVMConstInt(e->i32, j % 2 ? (unsigned)vl : (unsigned)(h * vl / 2 + j / 2), 0);
    LLVMValueRef hm = LLVMBuildShuffleVector(b, mask, off, LLVMConstVector(mi, (unsigned)vl), "");
    LLVMValueRef ah = LLVMBuildAdd(b, at, cg_i64(F, (int64_t)h * vl), "");
    LLVMTypeRef tys[2] = {svt, pt};
    LLVMValueRef la[4] = {LLVMBuildGEP2(b, st, xp, &ah, 1, ""), LLVMConstInt(e->i32, salign, 0), hm, LLVMConstNull(svt)};
    halves[h] = call_overloaded(e, "llvm.masked.load", tys, 2, la, 4);
  }
  for (int j = 0; j < vl; j++) ev[j] = LLVMConstInt(e->i32, (unsigned)(2 * j), 0);
  return LLVMBuildShuffleVector(b, halves[0], halves[1], LLVMConstVector(ev, (unsigned)vl), "");
}

/* Packs a convolution's B[pc .. pc+kc, jc .. jc+nc] (its input windows) into Bp as pack_b
 * does: depth k = (ci * KH + ky) * KW + kx, column p = oy * OW + ox, the element
 * x[image, group * C/groups + ci, oy * sh - ph + ky * dh, ox * sw - pw + kx * dw], zero
 * outside x (padding) and past N. A panel's columns have their window origins worked out
 * once (in lanes: row, column and their offset y0 * W + x0 in x's plane, 3 * nr values),
 * a depth row its (ci, ky, kx) once.
 *
 * When x is a buffer read as it is stored (conv_vector_pack), a depth row of the panel is
 * nv vectors: each lane's row and column moved by (ky * dh, kx * dw), the mask of those
 * inside x (padding is a masked-off lane, read as zero; worked out once per panel for each
 * kernel position of a constant kernel of at most CONV_MASKS_MAX / nv positions, as they
 * do not depend on ci: 64->64 3x3 at 56x56 1.88 -> 1.66 ms), and then either one masked load
 * from the plane of x, when the panel's offsets are consecutive (stride 1 across one
 * output row, or across rows when sh * W == OW: every "same" stride-1 convolution, and
 * 1x1 stride-1 unpadded ones, whose B is x itself), or a masked gather of the lanes'
 * offsets (strides above 1, panels spanning rows of an output narrower than W). Else (a
 * fused producer, a conversion) element by element through cg_emit_at, each read only
 * when it lies inside x. */
static void pack_b_conv(Fn *F, const tc_Node *n, const Ix *ix, const cg_Tiles *t, LLVMValueRef Bp, LLVMValueRef pc,
                        LLVMValueRef kc, LLVMValueRef jc, LLVMValueRef nc, LLVMValueRef lanes) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  const tc_Node *x = n->args[0];
  Conv c;
  conv_sizes(F, n, &c);
  LLVMTypeRef ct = cg_ctype(e, n->dtype);
  bool fl = fe_dtype_is_float(n->dtype);
  LLVMValueRef nr = cg_i64(F, t->nr);
  Loop lq = {0};
  LLVMValueRef j0, w;
  block_begin(F, &lq, nc, nr, &j0, &w, false);
  LLVMValueRef base = LLVMBuildMul(b, lq.i, LLVMBuildMul(b, kc, nr, ""), "");
  LLVMValueRef col0 = LLVMBuildAdd(b, jc, j0, ""), last = LLVMBuildSub(b, w, cg_i64(F, 1), "");
  Loop ll = {.interleave = CG_PLAIN};
  cg_loop_begin(F, &ll, nr); /* lanes[l], lanes[nr + l], lanes[2 nr + l]: column l's window origin */
  LLVMValueRef p = LLVMBuildAdd(b, col0, smin(F, ll.i, last), "");
  LLVMValueRef oy = LLVMBuildSDiv(b, p, c.OW, ""), ox = LLVMBuildSub(b, p, LLVMBuildMul(b, oy, c.OW, ""), "");
  LLVMValueRef y0 = LLVMBuildSub(b, LLVMBuildMul(b, oy, cg_i64(F, n->conv.stride[0]), ""), cg_i64(F, n->conv.pad[0]), "");
  LLVMValueRef x0 = LLVMBuildSub(b, LLVMBuildMul(b, ox, cg_i64(F, n->conv.stride[1]), ""), cg_i64(F, n->conv.pad[1]), "");
  LLVMBuildStore(b, y0, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &ll.i, 1, ""));
  LLVMValueRef l2 = LLVMBuildAdd(b, ll.i, nr, "");
  LLVMBuildStore(b, x0, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &l2, 1, ""));
  LLVMValueRef l3 = LLVMBuildAdd(b, l2, nr, "");
  LLVMBuildStore(b, LLVMBuildAdd(b, LLVMBuildMul(b, y0, c.W, ""), x0, ""), LLVMBuildInBoundsGEP2(b, e->i64, lanes, &l3, 1, ""));
  cg_loop_end(F, &ll);
  bool vec = conv_vector_pack(F, n);
  if (t->nv > CG_MAX_NV) TRIC_BUG("pack_b_conv: %d vectors a tile row", t->nv);
  LLVMValueRef plane = NULL, linear = NULL, off0 = NULL, pairs[CG_MAX_NV] = {NULL};
  if (vec) {
    /* the start of x's plane of image ix->v[0], channel group * C/groups (ci added per row) */
    LLVMValueRef HW = LLVMBuildMul(b, c.H, c.W, "");
    LLVMValueRef ch0 = LLVMBuildAdd(b, LLVMBuildMul(b, ix->v[0], cg_poly(F, x->dims[1]), ""),
                                    LLVMBuildMul(b, ix->v[1], c.Cg, ""), "");
    plane = LLVMBuildMul(b, ch0, HW, "");
    LLVMValueRef i2 = LLVMBuildMul(b, cg_i64(F, 2), nr, "");
    off0 = LLVMBuildLoad2(b, e->i64, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &i2, 1, ""), "");
    /* consecutive offsets: stride 1 and the panel's w columns in one output row, or rows
       that follow each other in x (sh * W == OW) */
    linear = LLVMConstInt(e->i1, 0, 0);
    LLVMValueRef ylast = LLVMBuildSDiv(b, LLVMBuildAdd(b, col0, last, ""), c.OW, "");
    LLVMValueRef one_row = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildSDiv(b, col0, c.OW, ""), ylast, "");
    if (n->conv.stride[1] == 1) {
      LLVMValueRef follow = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildMul(b, c.W, cg_i64(F, n->conv.stride[0]), ""), c.OW, "");
      linear = LLVMBuildOr(b, one_row, follow, "");
    }
    if (n->conv.stride[1] == 2) /* per vector of lanes: whether they lie in one output row */
      for (int v = 0; v < t->nv; v++) {
        LLVMValueRef f = cg_i64(F, (int64_t)v * t->vl), l = cg_i64(F, (int64_t)v * t->vl + t->vl - 1);
        LLVMValueRef yf = LLVMBuildLoad2(b, e->i64, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &f, 1, ""), "");
        LLVMValueRef yl = LLVMBuildLoad2(b, e->i64, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &l, 1, ""), "");
        pairs[v] = LLVMBuildICmp(b, LLVMIntEQ, yf, yl, "");
      }
    (void)one_row;
  }
  /* a kernel of KH * KW constant positions: each one's nv masks, worked out once for the
     panel as vl-bit integers (they do not depend on ci), mtab[(ky * KW + kx) * nv + v] */
  int64_t khw = poly_const(n->args[1]->dims[2]) * poly_const(n->args[1]->dims[3]);
  bool table = vec && poly_const(n->args[1]->dims[2]) > 0 && poly_const(n->args[1]->dims[3]) > 0 &&
               khw * t->nv <= CONV_MASKS_MAX;
  LLVMTypeRef mint = LLVMIntTypeInContext(e->ctx, (unsigned)t->vl);
  LLVMValueRef mtab = table ? cg_entry_alloca(F, LLVMArrayType(mint, (unsigned)(CONV_MASKS_MAX))) : NULL;
  if (table) {
    Loop lm = {.interleave = CG_PLAIN};
    cg_loop_begin(F, &lm, cg_i64(F, khw));
    LLVMValueRef ky = LLVMBuildSDiv(b, lm.i, c.KW, ""), kx = LLVMBuildSub(b, lm.i, LLVMBuildMul(b, ky, c.KW, ""), "");
    LLVMValueRef dy = LLVMBuildMul(b, ky, cg_i64(F, n->conv.dil[0]), ""), dx = LLVMBuildMul(b, kx, cg_i64(F, n->conv.dil[1]), "");
    for (int v = 0; v < t->nv; v++) {
      LLVMValueRef at = LLVMBuildAdd(b, LLVMBuildMul(b, lm.i, cg_i64(F, t->nv), ""), cg_i64(F, v), "");
      LLVMValueRef bits = LLVMBuildBitCast(b, window_mask(F, &c, t, lanes, v, dy, dx, w), mint, "");
      LLVMBuildStore(b, bits, LLVMBuildInBoundsGEP2(b, mint, mtab, &at, 1, ""));
    }
    cg_loop_end(F, &lm);
  }
  LLVMBasicBlockRef blk[2] = {NULL, NULL}, done = NULL;
  if (vec) {
    blk[0] = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "windows_linear");
    blk[1] = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "windows_gather");
    done = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "windows_packed");
    LLVMBuildCondBr(b, linear, blk[0], blk[1]);
  }
  for (int gather = 0; gather < (vec ? 2 : 1); gather++) {
    if (vec) LLVMPositionBuilderAtEnd(b, blk[gather]);
    Loop lk = {.interleave = CG_PLAIN};
    cg_loop_begin(F, &lk, kc);
    LLVMValueRef kk = LLVMBuildAdd(b, pc, lk.i, "");
    LLVMValueRef ci = LLVMBuildSDiv(b, kk, c.KHW, ""), r = LLVMBuildSub(b, kk, LLVMBuildMul(b, ci, c.KHW, ""), "");
    LLVMValueRef ky = LLVMBuildSDiv(b, r, c.KW, ""), kx = LLVMBuildSub(b, r, LLVMBuildMul(b, ky, c.KW, ""), "");
    LLVMValueRef dy = LLVMBuildMul(b, ky, cg_i64(F, n->conv.dil[0]), ""), dx = LLVMBuildMul(b, kx, cg_i64(F, n->conv.dil[1]), "");
    LLVMValueRef kbase = LLVMBuildAdd(b, base, LLVMBuildMul(b, lk.i, nr, ""), "");
    if (vec) {
      int vl = t->vl;
      LLVMTypeRef st = cg_stype(e, x->dtype), svt = LLVMVectorType(st, (unsigned)vl), ivt = LLVMVectorType(e->i64, (unsigned)vl);
      LLVMTypeRef pt = LLVMPointerTypeInContext(e->ctx, 0), pvt = LLVMVectorType(pt, (unsigned)vl);
      unsigned salign = (unsigned)LLVMABISizeOfType(LLVMGetModuleDataLayout(e->mod), st);
      unsigned calign = (unsigned)LLVMABISizeOfType(LLVMGetModuleDataLayout(e->mod), ct);
      /* the row's plane and the move of its window element: (ci, ky * dh, kx * dw) */
      LLVMValueRef delta = LLVMBuildAdd(b, LLVMBuildMul(b, dy, c.W, ""), dx, "");
      LLVMValueRef pl = LLVMBuildAdd(b, plane, LLVMBuildMul(b, ci, LLVMBuildMul(b, c.H, c.W, ""), ""), "");
      LLVMValueRef xp = LLVMBuildGEP2(b, st, F->buf[x->id], &pl, 1, "");
      for (int v = 0; v < t->nv; v++) {
        LLVMValueRef mask;
        if (table) {
          LLVMValueRef at = LLVMBuildAdd(b, LLVMBuildMul(b, r, cg_i64(F, t->nv), ""), cg_i64(F, v), "");
          LLVMValueRef bits = LLVMBuildLoad2(b, mint, LLVMBuildInBoundsGEP2(b, mint, mtab, &at, 1, ""), "");
          mask = LLVMBuildBitCast(b, bits, LLVMVectorType(e->i1, (unsigned)vl), "");
        } else
          mask = window_mask(F, &c, t, lanes, v, dy, dx, w);
        LLVMValueRef got;
        if (!gather) { /* lane l at off0 + l: one masked load (masked-off lanes are never read) */
          LLVMValueRef at = LLVMBuildAdd(b, LLVMBuildAdd(b, off0, delta, ""), cg_i64(F, (int64_t)v * vl), "");
          LLVMTypeRef tys[2] = {svt, pt};
          LLVMValueRef la[4] = {LLVMBuildGEP2(b, st, xp, &at, 1, ""), LLVMConstInt(e->i32, salign, 0), mask, LLVMConstNull(svt)};
          got = call_overloaded(e, "llvm.masked.load", tys, 2, la, 4);
        } else {
          LLVMValueRef li = cg_i64(F, 2 * (int64_t)t->nr + (int64_t)v * vl);
          LLVMBasicBlockRef gb = NULL, pb = NULL, jb = NULL, gend = NULL, pend = NULL;
          if (pairs[v]) { /* stride 2 with the vector's lanes in one output row: lane l at o + 2l */
            gb = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "lanes_gather");
            pb = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "lanes_pairs");
            jb = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "lanes_read");
            LLVMBuildCondBr(b, pairs[v], pb, gb);
            LLVMPositionBuilderAtEnd(b, gb);
          }
          LLVMValueRef o2 = LLVMBuildLoad2(b, ivt, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &li, 1, ""), "");
          LLVMSetAlignment(o2, 8);
          LLVMValueRef offs = LLVMBuildAdd(b, o2, splat(e, delta, vl), "");
          LLVMValueRef ptrs = LLVMBuildGEP2(b, st, xp, &offs, 1, "");
          LLVMTypeRef tys[2] = {svt, pvt};
          LLVMValueRef ga[4] = {ptrs, LLVMConstInt(e->i32, salign, 0), mask, LLVMConstNull(svt)};
          got = call_overloaded(e, "llvm.masked.gather", tys, 2, ga, 4);
          if (pairs[v]) {
            gend = LLVMGetInsertBlock(b);
            LLVMBuildBr(b, jb);
            LLVMPositionBuilderAtEnd(b, pb);
            LLVMValueRef pgot = pairs_load(F, st, svt, salign, xp,
                                           LLVMBuildAdd(b, LLVMBuildLoad2(b, e->i64, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &li, 1, ""), ""), delta, ""),
                                           mask, vl);
            pend = LLVMGetInsertBlock(b);
            LLVMBuildBr(b, jb);
            LLVMPositionBuilderAtEnd(b, jb);
            LLVMValueRef phi = LLVMBuildPhi(b, svt, "lanes");
            LLVMAddIncoming(phi, &got, &gend, 1);
            LLVMAddIncoming(phi, &pgot, &pend, 1);
            got = phi;
          }
        }
        got = vec_from_storage(e, x->dtype, got, vl);
        LLVMValueRef d = LLVMBuildAdd(b, kbase, cg_i64(F, (int64_t)v * vl), "");
        LLVMSetAlignment(LLVMBuildStore(b, got, LLVMBuildInBoundsGEP2(b, ct, Bp, &d, 1, "")), calign);
      }
    } else {
      LLVMValueRef chan = LLVMBuildAdd(b, LLVMBuildMul(b, ix->v[1], c.Cg, ""), ci, "");
      Loop lc = {.interleave = -1};
      cg_loop_begin(F, &lc, nr);
      LLVMValueRef l2c = LLVMBuildAdd(b, lc.i, nr, "");
      LLVMValueRef iy = LLVMBuildAdd(b, LLVMBuildLoad2(b, e->i64, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &lc.i, 1, ""), ""), dy, "");
      LLVMValueRef ixx = LLVMBuildAdd(b, LLVMBuildLoad2(b, e->i64, LLVMBuildInBoundsGEP2(b, e->i64, lanes, &l2c, 1, ""), ""), dx, "");
      /* inside x: 0 <= iy < H and 0 <= ix < W, as unsigned compares; a column past w is not */
      LLVMValueRef in = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntULT, iy, c.H, ""), LLVMBuildICmp(b, LLVMIntULT, ixx, c.W, ""), "");
      in = LLVMBuildAnd(b, in, LLVMBuildICmp(b, LLVMIntSLT, lc.i, w, ""), "");
      LLVMBasicBlockRef rd = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "window_in");
      LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "window_done");
      LLVMBasicBlockRef from = LLVMGetInsertBlock(b);
      LLVMBuildCondBr(b, in, rd, join);
      LLVMPositionBuilderAtEnd(b, rd);
      Ix xi = {.rank = 4, .v = {ix->v[0], chan, iy, ixx}};
      LLVMValueRef v = cg_emit_at(F, x, &xi);
      LLVMBasicBlockRef rd_end = LLVMGetInsertBlock(b);
      LLVMBuildBr(b, join);
      LLVMPositionBuilderAtEnd(b, join);
      LLVMValueRef phi = LLVMBuildPhi(b, ct, "window");
      LLVMValueRef zero = zero_of(ct, fl);
      LLVMAddIncoming(phi, &v, &rd_end, 1);
      LLVMAddIncoming(phi, &zero, &from, 1);
      put(F, ct, Bp, LLVMBuildAdd(b, kbase, lc.i, ""), phi);
      cg_loop_end(F, &lc);
    }
    cg_loop_end(F, &lk);
    if (vec) LLVMBuildBr(b, done);
  }
  if (vec) LLVMPositionBuilderAtEnd(b, done);
  cg_loop_end(F, &lq);
}

/* The parameters of the shared A packing (pack_a_fn). */
enum { PA_DST, PA_SRC, PA_LDA, PA_H, PA_KC, PA_NPARAMS };

static LLVMTypeRef pack_a_type(cg_Emit *e) {
  LLVMTypeRef pt[PA_NPARAMS] = {e->ptr, e->ptr, e->i64, e->i64, e->i64};
  return LLVMFunctionType(e->vd, pt, PA_NPARAMS, 0);
}

/* Packs A[ic .. ic+mc, pc .. pc+kc] into Ap: panel p holds rows ic + p*mr .. + mr as kc
 * columns of mr, rows past M zero. Depth outer, the mr rows inside (pack_panel), so that
 * the panel is written in order (rows outer wrote it at stride mr, which the vectoriser
 * made a scatter: a third of a 64^3 product's time). */
static void pack_a(Fn *F, const tc_Node *n, const Ix *ix, const cg_Tiles *t, const Dims *d, LLVMValueRef Ap,
                   LLVMValueRef pc, LLVMValueRef kc, LLVMValueRef ic, LLVMValueRef mc, LLVMValueRef pa) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef mr = cg_i64(F, t->mr);
  Loop lp = {0};
  LLVMValueRef i0, h;
  block_begin(F, &lp, mc, mr, &i0, &h, false);
  LLVMValueRef base = LLVMBuildMul(b, lp.i, LLVMBuildMul(b, kc, mr, ""), "");
  LLVMValueRef row0 = LLVMBuildAdd(b, ic, i0, "");
  LLVMBasicBlockRef blk[2] = {LLVMAppendBasicBlockInContext(e->ctx, F->fn, "pack_full"),
                              LLVMAppendBasicBlockInContext(e->ctx, F->fn, "pack_edge")};
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "packed");
  if (a_in_place_ok(F, n) && t->a_in_place_max > 0) { /* the microkernel reads this panel in place */
    LLVMBasicBlockRef pack = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "pack");
    LLVMBuildCondBr(b, a_in_place(F, n, d, t), join, pack);
    LLVMPositionBuilderAtEnd(b, pack);
  }
  if (pa) { /* A read from memory: the shared packing function (pack_a_fn), rows K apart */
    LLVMValueRef args[PA_NPARAMS] = {LLVMBuildInBoundsGEP2(b, cg_ctype(e, n->dtype), Ap, &base, 1, ""),
                                     operand_address(F, n, 0, ix, row0, pc), d->K, h, kc};
    LLVMBuildCall2(b, pack_a_type(e), pa, args, PA_NPARAMS, "");
    LLVMBuildBr(b, join);
    LLVMDeleteBasicBlock(blk[0]), LLVMDeleteBasicBlock(blk[1]);
    LLVMPositionBuilderAtEnd(b, join);
  } else {
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, h, mr, ""), blk[0], blk[1]);
    pack_panel(F, n, 0, ix, Ap, base, t->mr, t->vl, row0, h, pc, kc, blk, join);
  }
  cg_loop_end(F, &lp);
}

/* acc + a * b, fused for floats. */
static LLVMValueRef mul_add(cg_Emit *e, bool fl, LLVMTypeRef ty, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc) {
  if (!fl) return LLVMBuildAdd(e->b, acc, LLVMBuildMul(e->b, a, b, ""), "");
  LLVMValueRef args[3] = {a, b, acc};
  return cg_intrinsic(e, "llvm.fmuladd", ty, args, 3);
}

enum { MAX_ACC = 64, A_AHEAD = 32 };

/* The kc rank-1 updates of the microkernel for the first `rows` rows of the tile (the
 * others' accumulators are zeros): row r of the A panel at ar[r] + k * astep. A packed
 * panel streams from L2 (the B panel holds L1): it is prefetched A_AHEAD depths ahead,
 * which the hardware's prefetchers alone did not keep up with (6% of a 2048^3 product). */
static void rank1_loop(Fn *F, const cg_Tiles *t, int rows, LLVMTypeRef ct, bool fl, LLVMValueRef *ar,
                       LLVMValueRef astep, LLVMValueRef Bp, LLVMValueRef kc, LLVMValueRef *acc) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  LLVMTypeRef vt = LLVMVectorType(ct, (unsigned)t->vl);
  int na = rows * t->nv;
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
  Loop lk = {.interleave = -1};
  cg_loop_begin(F, &lk, kc);
  LLVMBasicBlockRef body = LLVMGetInsertBlock(b);
  LLVMPositionBuilderBefore(b, LLVMGetFirstInstruction(lk.header));
  LLVMValueRef phi[MAX_ACC], zero = LLVMConstNull(vt);
  for (int i = 0; i < na; i++) {
    phi[i] = LLVMBuildPhi(b, vt, "acc");
    LLVMAddIncoming(phi[i], &zero, &pre, 1);
  }
  LLVMPositionBuilderAtEnd(b, body);
  LLVMValueRef bv[8];
  LLVMValueRef boff = LLVMBuildMul(b, lk.i, cg_i64(F, t->nr), "");
  for (int v = 0; v < t->nv; v++) {
    LLVMValueRef idx = LLVMBuildAdd(b, boff, cg_i64(F, (int64_t)v * t->vl), "");
    LLVMValueRef ld = LLVMBuildLoad2(b, vt, LLVMBuildInBoundsGEP2(b, ct, Bp, &idx, 1, ""), "");
    LLVMSetAlignment(ld, (unsigned)LLVMABISizeOfType(LLVMGetModuleDataLayout(e->mod), ct));
    bv[v] = ld;
  }
  LLVMValueRef aoff = LLVMBuildMul(b, lk.i, astep, "");
  if (LLVMIsConstant(astep) && LLVMConstIntGetSExtValue(astep) > 1) { /* a packed panel: fetch ahead */
    LLVMValueRef ahead = LLVMBuildAdd(b, aoff, cg_i64(F, A_AHEAD * t->mr), "");
    LLVMValueRef args[4] = {LLVMBuildGEP2(b, ct, ar[0], &ahead, 1, ""), LLVMConstInt(e->i32, 0, 0),
                            LLVMConstInt(e->i32, 3, 0), LLVMConstInt(e->i32, 1, 0)};
    cg_intrinsic(e, "llvm.prefetch", LLVMTypeOf(ar[0]), args, 4);
  }
  LLVMValueRef next[MAX_ACC];
  for (int r = 0; r < rows; r++) {
    LLVMValueRef a = LLVMBuildLoad2(b, ct, LLVMBuildInBoundsGEP2(b, ct, ar[r], &aoff, 1, ""), "");
    LLVMValueRef splat = LLVMBuildInsertElement(b, LLVMGetUndef(vt), a, LLVMConstInt(e->i32, 0, 0), "");
    splat = LLVMBuildShuffleVector(b, splat, LLVMGetUndef(vt), LLVMConstNull(LLVMVectorType(e->i32, (unsigned)t->vl)), "");
    for (int v = 0; v < t->nv; v++) next[r * t->nv + v] = mul_add(e, fl, vt, splat, bv[v], phi[r * t->nv + v]);
  }
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
  for (int i = 0; i < na; i++) LLVMAddIncoming(phi[i], &next[i], &latch, 1);
  cg_loop_end(F, &lk);
  for (int i = 0; i < t->mr * t->nv; i++) acc[i] = i < na ? phi[i] : zero;
}

/* Prefetches, for writing, the C tile below (i0, j0): the next microkernel's, most of the
 * time (the row panels of one block run in order). Its rows are N apart, so the hardware's
 * stream prefetchers miss them, and a tile's load (or store, for the first depth block)
 * otherwise waits on 2 * mr lines from L3 at once. Prefetching an address is never a
 * fault, so the tile past the last row needs no test. */
static void prefetch_next_tile(Fn *F, const cg_Tiles *t, LLVMTypeRef ct, LLVMValueRef dst, LLVMValueRef cbase,
                               LLVMValueRef i0, LLVMValueRef j0, LLVMValueRef N) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  int es = (int)LLVMABISizeOfType(LLVMGetModuleDataLayout(e->mod), ct);
  Loop lr = {.interleave = CG_PLAIN};
  cg_loop_begin(F, &lr, cg_i64(F, t->mr));
  LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildAdd(b, i0, lr.i, ""), cg_i64(F, t->mr), "");
  LLVMValueRef idx = LLVMBuildAdd(b, LLVMBuildAdd(b, cbase, LLVMBuildMul(b, row, N, ""), ""), j0, "");
  LLVMValueRef p = LLVMBuildGEP2(b, ct, dst, &idx, 1, "");
  for (int off = 0; off < t->nr * es + 64; off += 64) { /* the row's lines, j0 unaligned */
    int o = off < t->nr * es ? off : t->nr * es - 1;
    LLVMValueRef ob = cg_i64(F, o);
    LLVMValueRef args[4] = {LLVMBuildGEP2(b, e->i8, p, &ob, 1, ""), LLVMConstInt(e->i32, 1, 0),
                            LLVMConstInt(e->i32, 3, 0), LLVMConstInt(e->i32, 1, 0)};
    cg_intrinsic(e, "llvm.prefetch", LLVMTypeOf(p), args, 4);
  }
  cg_loop_end(F, &lr);
}

/* Stores an edge tile (h < mr rows or w < nr columns valid) of a type stored as computed
 * straight from the accumulators: row by row while r < h, each vector under the mask of
 * its columns below w (masked loads for the add to C). The same sums as a scalar loop. */
static void store_edge_masked(Fn *F, const cg_Tiles *t, LLVMTypeRef ct, bool fl, LLVMValueRef dst, LLVMValueRef cbase,
                              LLVMValueRef i0, LLVMValueRef j0, LLVMValueRef h, LLVMValueRef w, LLVMValueRef N,
                              LLVMValueRef first, LLVMValueRef *acc, LLVMBasicBlockRef after) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  unsigned vl = (unsigned)t->vl;
  LLVMTypeRef vt = LLVMVectorType(ct, vl), pt = LLVMPointerTypeInContext(e->ctx, 0);
  unsigned align = (unsigned)LLVMABISizeOfType(LLVMGetModuleDataLayout(e->mod), ct);
  LLVMValueRef wsplat = LLVMBuildInsertElement(b, LLVMGetUndef(LLVMVectorType(e->i64, vl)), w, LLVMConstInt(e->i32, 0, 0), "");
  wsplat = LLVMBuildShuffleVector(b, wsplat, LLVMGetUndef(LLVMVectorType(e->i64, vl)),
                                  LLVMConstNull(LLVMVectorType(e->i32, vl)), "");
  LLVMValueRef mask[8], lanes[64];
  for (int v = 0; v < t->nv; v++) {
    for (unsigned l = 0; l < vl; l++) lanes[l] = LLVMConstInt(e->i64, (unsigned long long)v * vl + l, 0);
    mask[v] = LLVMBuildICmp(b, LLVMIntSLT, LLVMConstVector(lanes, vl), wsplat, "");
  }
  LLVMBasicBlockRef blk[2] = {LLVMAppendBasicBlockInContext(e->ctx, F->fn, "edge_set"),
                              LLVMAppendBasicBlockInContext(e->ctx, F->fn, "edge_add")};
  LLVMBuildCondBr(b, first, blk[0], blk[1]);
  LLVMTypeRef tys[2] = {vt, pt};
  LLVMValueRef al = LLVMConstInt(e->i32, align, 0);
  for (int add = 0; add < 2; add++) {
    LLVMPositionBuilderAtEnd(b, blk[add]);
    for (int r = 0; r < t->mr; r++) {
      if (r) { /* row 0 is always valid */
        LLVMBasicBlockRef row = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "edge_row");
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, cg_i64(F, r), h, ""), row, after);
        LLVMPositionBuilderAtEnd(b, row);
      }
      LLVMValueRef rowoff = LLVMBuildMul(b, LLVMBuildAdd(b, i0, cg_i64(F, r), ""), N, "");
      for (int v = 0; v < t->nv; v++) {
        LLVMValueRef idx = LLVMBuildAdd(b, LLVMBuildAdd(b, cbase, rowoff, ""),
                                        LLVMBuildAdd(b, j0, cg_i64(F, (int64_t)v * t->vl), ""), "");
        LLVMValueRef p = LLVMBuildGEP2(b, ct, dst, &idx, 1, ""); /* past N when masked off */
        LLVMValueRef val = acc[r * t->nv + v];
        if (add) {
          LLVMValueRef la[4] = {p, al, mask[v], LLVMConstNull(vt)};
          LLVMValueRef old = call_overloaded(e, "llvm.masked.load", tys, 2, la, 4);
          val = fl ? LLVMBuildFAdd(b, old, val, "") : LLVMBuildAdd(b, old, val, "");
        }
        LLVMValueRef sa[4] = {val, p, al, mask[v]};
        call_overloaded(e, "llvm.masked.store", tys, 2, sa, 4);
      }
    }
    LLVMBuildBr(b, after);
  }
}

/* ---------------------------------------------------------------- the shared microkernel
 *
 * The microkernel is a function of its own, shared by every contraction kernel with the
 * same compute type and register tile, so that its unrolled tile (28 vector accumulators
 * for f32 on AVX-512) is compiled once per build -- in a unit of its own, cached like any
 * kernel -- while each contraction kernel keeps only its loops, packing and epilogue:
 *
 *   void tric.uk.<type>.<mr>x<nv>x<vl>(ptr A, i64 lda, ptr B, i64 kc, ptr C, i64 ldc,
 *                                      i64 h, i64 w, i1 first)
 *
 * stores the h x w part (of mr x nr) of the tile A panel x B panel (kc rank-1 updates) at
 * C, rows ldc apart, added to what C holds unless first. lda 0: A is a packed panel (row
 * r at A + r, depths mr apart); else rows of A in place, lda apart (depths adjacent; the
 * rows past h of an edge panel read row h - 1). An edge panel of h < mr packed rows runs a loop over its first
 * ceil(h / q) * q rows only, q = ceil(mr / 4) (the rows past M are work on zeros: a tenth
 * of a 128-row product's; four loops, not one per h, which doubled a matmul's compile
 * time), the other accumulators zeros. A full tile is stored as vectors; an edge tile
 * row by row under column masks (store_edge_masked). The call costs a few cycles of the
 * kc * mr * nv multiply-adds it runs. */
enum { UK_A, UK_LDA, UK_B, UK_KC, UK_C, UK_LDC, UK_H, UK_W, UK_FIRST, UK_NPARAMS };

static LLVMTypeRef ukernel_type(cg_Emit *e) {
  LLVMTypeRef pt[UK_NPARAMS] = {e->ptr, e->i64, e->ptr, e->i64, e->ptr, e->i64, e->i64, e->i64, e->i1};
  return LLVMFunctionType(e->vd, pt, UK_NPARAMS, 0);
}

/* The body of microkernel fn (the state of emitting it in U). */
static void ukernel_body(Fn *U, const cg_Tiles *t, LLVMTypeRef ct, bool fl) {
  cg_Emit *e = U->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef fn = U->fn, A = LLVMGetParam(fn, UK_A), lda = LLVMGetParam(fn, UK_LDA), B = LLVMGetParam(fn, UK_B);
  LLVMValueRef kc = LLVMGetParam(fn, UK_KC), C = LLVMGetParam(fn, UK_C), ldc = LLVMGetParam(fn, UK_LDC);
  LLVMValueRef h = LLVMGetParam(fn, UK_H), w = LLVMGetParam(fn, UK_W), first = LLVMGetParam(fn, UK_FIRST);
  LLVMTypeRef vt = LLVMVectorType(ct, (unsigned)t->vl);
  unsigned align = (unsigned)LLVMABISizeOfType(LLVMGetModuleDataLayout(e->mod), ct);
  /* variant v < nq: the packed panel's first min((v + 1) * q, mr) rows; v == nq: A in place */
  int q = (t->mr + 3) / 4, nq = (t->mr + q - 1) / q, nvar = nq + 1;
  LLVMBasicBlockRef blk[5], end[5];
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(e->ctx, fn, "multiplied");
  for (int v = 0; v < nvar; v++) blk[v] = LLVMAppendBasicBlockInContext(e->ctx, fn, "rows");
  LLVMBasicBlockRef packed = LLVMAppendBasicBlockInContext(e->ctx, fn, "a_packed");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, lda, cg_i64(U, 0), ""), blk[nq], packed);
  LLVMPositionBuilderAtEnd(b, packed);
  LLVMValueRef sw = LLVMBuildSwitch(b, h, blk[nq - 1], (unsigned)t->mr - 1);
  for (int hv = 1; hv < t->mr; hv++) LLVMAddCase(sw, cg_i64(U, hv), blk[(hv - 1) / q]);
  LLVMValueRef got[5][MAX_ACC], ar[MAX_ACC];
  for (int v = 0; v < nvar; v++) {
    LLVMPositionBuilderAtEnd(b, blk[v]);
    bool direct = v == nq;
    LLVMValueRef hlast = LLVMBuildSub(b, h, cg_i64(U, 1), "");
    for (int r = 0; r < t->mr; r++) { /* in place, rows past h read row h - 1 (not stored) */
      LLVMValueRef idx = direct ? LLVMBuildMul(b, lda, r ? smin(U, cg_i64(U, r), hlast) : cg_i64(U, 0), "") : cg_i64(U, r);
      ar[r] = LLVMBuildInBoundsGEP2(b, ct, A, &idx, 1, "");
    }
    int rows = direct || (v + 1) * q > t->mr ? t->mr : (v + 1) * q;
    rank1_loop(U, t, rows, ct, fl, ar, cg_i64(U, direct ? 1 : t->mr), B, kc, got[v]);
    end[v] = LLVMGetInsertBlock(b);
    LLVMBuildBr(b, join);
  }
  LLVMPositionBuilderAtEnd(b, join);
  LLVMValueRef acc[MAX_ACC];
  for (int i = 0; i < t->mr * t->nv; i++) {
    acc[i] = LLVMBuildPhi(b, vt, "acc");
    for (int v = 0; v < nvar; v++) LLVMAddIncoming(acc[i], &got[v][i], &end[v], 1);
  }
  LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(e->ctx, fn, "stored");
  LLVMBasicBlockRef edge = LLVMAppendBasicBlockInContext(e->ctx, fn, "edge");
  LLVMValueRef full = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntEQ, h, cg_i64(U, t->mr), ""),
                                   LLVMBuildICmp(b, LLVMIntEQ, w, cg_i64(U, t->nr), ""), "");
  LLVMBasicBlockRef vec = LLVMAppendBasicBlockInContext(e->ctx, fn, "full");
  LLVMBuildCondBr(b, full, vec, edge);
  LLVMPositionBuilderAtEnd(b, vec);
  LLVMBasicBlockRef st[2] = {LLVMAppendBasicBlockInContext(e->ctx, fn, "set"),
                             LLVMAppendBasicBlockInContext(e->ctx, fn, "add")};
  LLVMBuildCondBr(b, first, st[0], st[1]);
  for (int add = 0; add < 2; add++) { /* first depth block: store; later: add to C */
    LLVMPositionBuilderAtEnd(b, st[add]);
    for (int r = 0; r < t->mr; r++) {
      LLVMValueRef rowoff = LLVMBuildMul(b, cg_i64(U, r), ldc, "");
      for (int v = 0; v < t->nv; v++) {
        LLVMValueRef idx = LLVMBuildAdd(b, rowoff, cg_i64(U, (int64_t)v * t->vl), "");
        LLVMValueRef p = LLVMBuildInBoundsGEP2(b, ct, C, &idx, 1, "");
        LLVMValueRef val = acc[r * t->nv + v];
        if (add) {
          LLVMValueRef old = LLVMBuildLoad2(b, vt, p, "");
          LLVMSetAlignment(old, align);
          val = fl ? LLVMBuildFAdd(b, old, val, "") : LLVMBuildAdd(b, old, val, "");
        }
        LLVMSetAlignment(LLVMBuildStore(b, val, p), align);
      }
    }
    LLVMBuildBr(b, after);
  }
  LLVMPositionBuilderAtEnd(b, edge);
  LLVMValueRef zero = cg_i64(U, 0);
  store_edge_masked(U, t, ct, fl, C, zero, zero, zero, h, w, ldc, first, acc, after);
  LLVMPositionBuilderAtEnd(b, after);
  LLVMBuildRetVoid(b);
}

/* The microkernel for tiles t of compute type ct, declared in the module being emitted
 * (its body is emitted once per job: in a unit of its own when kernels are split). */
/* What a shared function's body is made from. */
typedef struct Shared {
  const cg_Tiles *t;
  LLVMTypeRef ct;
  bool fl;
  void (*body)(Fn *U, const struct Shared *s);
} Shared;

static void ukernel_emit(Fn *U, const Shared *s) { ukernel_body(U, s->t, s->ct, s->fl); }

/* The shared function `name` (CG_UKERNEL_PREFIX...) of type fty, declared in the module
 * being emitted; its body (s->body) is emitted once per job, in a unit of its own when
 * kernels are split. nptr pointer parameters at ptrs get noalias and nocapture, and
 * readonly but for the one at out. */
static LLVMValueRef shared_fn(Fn *F, const char *name, LLVMTypeRef fty, const int *ptrs, int nptr, int out,
                              const Shared *s) {
  cg_Emit *e = F->e;
  LLVMValueRef decl = LLVMGetNamedFunction(e->mod, name);
  if (decl) return decl;
  bool made = false;
  for (int i = 0; i < e->uk_names.n && !made; i++) made = !strcmp(e->uk_names.items[i], name);
  decl = LLVMAddFunction(e->mod, name, fty);
  if (made) { /* in another unit */
    LLVMSetVisibility(decl, LLVMHiddenVisibility);
    return decl;
  }
  char *saved_name = fe_alloc(e->arena, strlen(name) + 1);
  memcpy(saved_name, name, strlen(name) + 1);
  fe_vec_push(e->arena, &e->uk_names, saved_name);
  LLVMModuleRef home = e->mod;
  LLVMValueRef fn = decl;
  if (e->split) {
    LLVMSetVisibility(decl, LLVMHiddenVisibility);
    LLVMModuleRef um = cg_unit_module(e, &e->uk_mods, CG_PIPE_MICROKERNEL);
    e->mod = um;
    fn = LLVMAddFunction(um, name, fty);
    LLVMSetVisibility(fn, LLVMHiddenVisibility);
  } else
    LLVMSetLinkage(fn, LLVMInternalLinkage);
  cg_add_fn_attrs(e, fn);
  static const char *const fattrs[] = {"noinline", "nofree", "nosync", "willreturn"};
  for (size_t i = 0; i < sizeof fattrs / sizeof *fattrs; i++) {
    unsigned kind = LLVMGetEnumAttributeKindForName(fattrs[i], strlen(fattrs[i]));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(e->ctx, kind, 0));
  }
  for (int i = 0; i < nptr; i++)
    for (int k = 0; k < 3; k++) {
      const char *a = k == 0 ? "noalias" : k == 1 ? "nocapture" : ptrs[i] == out ? NULL : "readonly";
      if (!a) continue;
      unsigned kind = LLVMGetEnumAttributeKindForName(a, strlen(a));
      LLVMAddAttributeAtIndex(fn, (unsigned)ptrs[i] + 1, LLVMCreateEnumAttribute(e->ctx, kind, 0));
    }
  LLVMBasicBlockRef saved = LLVMGetInsertBlock(e->b);
  Memos memo = {0};
  Fn U = {.e = e, .f = F->f, .fn = fn, .memo = &memo};
  U.entry = LLVMAppendBasicBlockInContext(e->ctx, fn, "entry");
  LLVMPositionBuilderAtEnd(e->b, U.entry);
  s->body(&U, s);
  LLVMPositionBuilderAtEnd(e->b, saved);
  e->mod = home;
  return decl;
}

/* A shared function's name: the prefix, `what`, the compute type and the tile. */
static void shared_name(char *name, size_t cap, const char *what, LLVMTypeRef ct, const cg_Tiles *t) {
  char *ts = LLVMPrintTypeToString(ct);
  snprintf(name, cap, "%s%s%s.%dx%dx%d", CG_UKERNEL_PREFIX, what, ts, t->mr, t->nv, t->vl);
  LLVMDisposeMessage(ts);
}

/* The microkernel for tiles t of compute type ct. */
static LLVMValueRef ukernel(Fn *F, const cg_Tiles *t, LLVMTypeRef ct, bool fl) {
  char name[80];
  shared_name(name, sizeof name, "", ct, t);
  static const int ptrs[] = {UK_A, UK_B, UK_C};
  Shared s = {t, ct, fl, ukernel_emit};
  return shared_fn(F, name, ukernel_type(F->e), ptrs, 3, UK_C, &s);
}

/* ---------------------------------------------------------------- shared A packing
 *
 *   void tric.uk.pa.<type>.<mr>x<nv>x<vl>(ptr dst, ptr src, i64 lda, i64 h, i64 kc)
 *
 * packs the h (<= mr) rows of a plain A (operand_plain: row r at src + r * lda, depths
 * adjacent) into one mr x kc panel, dst[k * mr + r], rows past h zeros: the packing of
 * every contraction kernel whose A is read from memory, compiled once per build like the
 * microkernel. Depth outer and the mr rows unrolled inside, so the panel is written in
 * order; an edge panel's missing rows read row h - 1 and write zeros. */
static void pack_a_body(Fn *U, const Shared *s) {
  cg_Emit *e = U->e;
  LLVMBuilderRef b = e->b;
  LLVMValueRef fn = U->fn, dst = LLVMGetParam(fn, PA_DST), src = LLVMGetParam(fn, PA_SRC);
  LLVMValueRef lda = LLVMGetParam(fn, PA_LDA), h = LLVMGetParam(fn, PA_H), kc = LLVMGetParam(fn, PA_KC);
  int mr = s->t->mr;
  LLVMTypeRef ct = s->ct;
  LLVMBasicBlockRef blk[2] = {LLVMAppendBasicBlockInContext(e->ctx, fn, "pack_full"),
                              LLVMAppendBasicBlockInContext(e->ctx, fn, "pack_edge")};
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, fn, "packed");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, h, cg_i64(U, mr), ""), blk[0], blk[1]);
  LLVMValueRef last = NULL;
  for (int edge = 0; edge < 2; edge++) {
    LLVMPositionBuilderAtEnd(b, blk[edge]);
    if (edge) last = LLVMBuildSub(b, h, cg_i64(U, 1), "");
    LLVMValueRef rows[MAX_ACC];
    for (int r = 0; r < mr; r++) {
      LLVMValueRef ri = edge && r ? smin(U, cg_i64(U, r), last) : cg_i64(U, r);
      LLVMValueRef off = LLVMBuildMul(b, ri, lda, "");
      rows[r] = LLVMBuildInBoundsGEP2(b, ct, src, &off, 1, "");
    }
    Loop lk = {.interleave = CG_PLAIN};
    cg_loop_begin(U, &lk, kc);
    LLVMValueRef kbase = LLVMBuildMul(b, lk.i, cg_i64(U, mr), "");
    for (int r = 0; r < mr; r++) {
      LLVMValueRef v = LLVMBuildLoad2(b, ct, LLVMBuildInBoundsGEP2(b, ct, rows[r], &lk.i, 1, ""), "");
      if (edge && r) v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, cg_i64(U, r), h, ""), v, zero_of(ct, s->fl), "");
      put(U, ct, dst, LLVMBuildAdd(b, kbase, cg_i64(U, r), ""), v);
    }
    cg_loop_end(U, &lk);
    LLVMBuildBr(b, done);
  }
  LLVMPositionBuilderAtEnd(b, done);
  LLVMBuildRetVoid(b);
}

/* The shared A packing for tiles t of compute type ct. */
static LLVMValueRef pack_a_fn(Fn *F, const cg_Tiles *t, LLVMTypeRef ct, bool fl) {
  char name[80];
  shared_name(name, sizeof name, "pa.", ct, t);
  static const int ptrs[] = {PA_DST, PA_SRC};
  Shared s = {t, ct, fl, pack_a_body};
  return shared_fn(F, name, pack_a_type(F->e), ptrs, 2, PA_DST, &s);
}

/* One tile's call of the microkernel: its A and B operands and depth. */
typedef struct UkCall {
  LLVMValueRef fn;
  LLVMTypeRef fty;
  LLVMValueRef A, lda, B, kc;
} UkCall;

/* Calls the microkernel for the tile, storing its h x w part at C, rows ldc apart. */
static void call_uk(Fn *F, const UkCall *c, LLVMValueRef C, LLVMValueRef ldc, LLVMValueRef h, LLVMValueRef w,
                    LLVMValueRef first) {
  LLVMValueRef args[UK_NPARAMS] = {c->A, c->lda, c->B, c->kc, C, ldc, h, w, first};
  LLVMBuildCall2(F->e->b, c->fty, c->fn, args, UK_NPARAMS, "");
}

/* Computes the tile at C[.., i0 .., j0 ..] (h x w valid of mr x nr), adding what C holds
 * unless first (an i1): straight into C for a type stored as computed, else through the
 * stack tile `tile` (mr rows of nr), whose valid part is then converted and stored; the
 * last depth block of a product with an epilogue goes through the tile too, and the
 * epilogue computes each element from it. */
static void store_tile(Fn *F, const tc_Node *n, const tc_Node *root, const Ix *bix, const cg_Tiles *t, const UkCall *uk,
                       LLVMValueRef dst, LLVMValueRef cbase, LLVMValueRef N, LLVMValueRef i0, LLVMValueRef j0,
                       LLVMValueRef h, LLVMValueRef w, LLVMValueRef first, LLVMValueRef last, LLVMValueRef tile) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  int dt = n->dtype;
  bool fl = fe_dtype_is_float(dt);
  LLVMTypeRef ct = cg_ctype(e, dt);
  LLVMValueRef nr = cg_i64(F, t->nr), yes = LLVMConstInt(e->i1, 1, 0);
  LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "stored");
  if (root != n) { /* the last depth block (the only one unless split) computes the epilogue */
    LLVMBasicBlockRef epi = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "epilogue");
    LLVMBasicBlockRef raw = LLVMAppendBasicBlockInContext(e->ctx, F->fn, "partial");
    LLVMBuildCondBr(b, t->split_k ? last : yes, epi, raw);
    LLVMPositionBuilderAtEnd(b, epi);
    call_uk(F, uk, tile, nr, h, w, yes);
    Loop lr = {.interleave = -1}, lc = {0};
    cg_loop_begin(F, &lr, h);
    LLVMValueRef row = LLVMBuildAdd(b, i0, lr.i, "");
    LLVMValueRef rowoff = LLVMBuildAdd(b, cbase, LLVMBuildMul(b, row, N, ""), "");
    cg_loop_begin(F, &lc, w);
    LLVMValueRef col = LLVMBuildAdd(b, j0, lc.i, "");
    LLVMValueRef ti = LLVMBuildAdd(b, LLVMBuildMul(b, lr.i, nr, ""), lc.i, "");
    LLVMValueRef v = LLVMBuildLoad2(b, ct, LLVMBuildInBoundsGEP2(b, ct, tile, &ti, 1, ""), "");
    LLVMValueRef ci = LLVMBuildAdd(b, rowoff, col, "");
    if (t->split_k) { /* the earlier blocks' sum is in the output, in x's type */
      LLVMValueRef old = cg_load_at(F, dt, dst, ci);
      LLVMValueRef sum = fl ? LLVMBuildFAdd(b, old, v, "") : LLVMBuildAdd(b, old, v, "");
      v = LLVMBuildSelect(b, first, v, sum, "");
    }
    Ix ix = *bix;
    ix.lin = NULL;
    if (is_conv(n)) { /* C's (row, col) is output element [image, group * O/groups + row, col / OW, col % OW] */
      Conv c;
      conv_sizes(F, n, &c);
      ix.v[1] = LLVMBuildAdd(b, LLVMBuildMul(b, bix->v[1], c.Og, ""), row, "");
      ix.v[2] = LLVMBuildSDiv(b, col, c.OW, "");
      ix.v[3] = LLVMBuildSRem(b, col, c.OW, "");
    } else {
      ix.v[n->rank - 2] = row;
      ix.v[n->rank - 1] = col;
    }
    cg_memo_put(F, n, &ix, v);
    cg_store_at(F, root->dtype, dst, ci, cg_emit_at(F, root, &ix));
    cg_loop_end(F, &lc);
    cg_loop_end(F, &lr);
    LLVMBuildBr(b, after);
    LLVMPositionBuilderAtEnd(b, raw);
  }
  if (cg_stype(e, dt) == ct) {
    LLVMValueRef idx = LLVMBuildAdd(b, LLVMBuildAdd(b, cbase, LLVMBuildMul(b, i0, N, ""), ""), j0, "");
    call_uk(F, uk, LLVMBuildInBoundsGEP2(b, ct, dst, &idx, 1, ""), N, h, w, first);
  } else {
    call_uk(F, uk, tile, nr, h, w, yes);
    Loop lr = {.interleave = -1}, lc = {0};
    cg_loop_begin(F, &lr, h);
    LLVMValueRef rowoff = LLVMBuildAdd(b, cbase, LLVMBuildMul(b, LLVMBuildAdd(b, i0, lr.i, ""), N, ""), "");
    cg_loop_begin(F, &lc, w);
    LLVMValueRef ti = LLVMBuildAdd(b, LLVMBuildMul(b, lr.i, nr, ""), lc.i, "");
    LLVMValueRef v = LLVMBuildLoad2(b, ct, LLVMBuildInBoundsGEP2(b, ct, tile, &ti, 1, ""), "");
    LLVMValueRef ci = LLVMBuildAdd(b, rowoff, LLVMBuildAdd(b, j0, lc.i, ""), "");
    LLVMValueRef old = cg_load_at(F, dt, dst, ci);
    LLVMValueRef sum = fl ? LLVMBuildFAdd(b, old, v, "") : LLVMBuildAdd(b, old, v, "");
    cg_store_at(F, dt, dst, ci, LLVMBuildSelect(b, first, v, sum, ""));
    cg_loop_end(F, &lc);
    cg_loop_end(F, &lr);
  }
  LLVMBuildBr(b, after);
  LLVMPositionBuilderAtEnd(b, after);
  prefetch_next_tile(F, t, ct, dst, cbase, i0, j0, N);
}

/* Where convolution n's C of image ix->v[0] and group ix->v[1] starts in dst. */
static LLVMValueRef conv_cbase(Fn *F, const tc_Node *n, const Ix *ix, const Dims *d) {
  LLVMBuilderRef b = F->e->b;
  LLVMValueRef o0 = LLVMBuildAdd(b, LLVMBuildMul(b, ix->v[0], cg_poly(F, n->dims[1]), ""), LLVMBuildMul(b, ix->v[1], d->M, ""), "");
  return LLVMBuildMul(b, o0, d->N, "");
}

void cg_emit_contraction(Fn *F, const tc_Node *n, const tc_Node *root, LLVMValueRef dst, LLVMValueRef scratch,
                         const LLVMValueRef *range) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  int r = n->rank, nb = r - 2, dt = n->dtype;
  LLVMTypeRef ct = cg_ctype(e, dt);
  cg_Tiles t;
  tiles_for(e, n, root, &t);
  if (t.mr * t.nv > MAX_ACC || t.nv > 8) TRIC_BUG("contraction tile %dx%d has more than %d accumulators", t.mr, t.nr, MAX_ACC);
  UkCall uk = {.fn = ukernel(F, &t, ct, fe_dtype_is_float(dt)), .fty = ukernel_type(e)};
  LLVMValueRef pa = operand_plain(F, n, 0) ? pack_a_fn(F, &t, ct, fe_dtype_is_float(dt)) : NULL;
  Dims d;
  contraction_dims(F, n, &t, &d);
  LLVMValueRef Ap = scratch;
  LLVMValueRef aoff = LLVMBuildMul(b, d.mc, d.kc, "");
  LLVMValueRef Bp = LLVMBuildInBoundsGEP2(b, ct, scratch, &aoff, 1, "");
  LLVMValueRef tile = cg_entry_alloca(F, LLVMArrayType(ct, (unsigned)(t.mr * t.nr)));
  Loop L[TC_MAXRANK] = {0};
  int nopen = 0;
  Ix ix = {.rank = r};
  LLVMValueRef cbase, lanes = NULL;
  Loop limg = {.interleave = CG_PLAIN}; /* a convolution's images, when inside the depth blocks */
  bool inside = is_conv(n) && t.images_inside;
  if (is_conv(n)) { /* per group and image: C starts at [image, group * O/groups, 0, 0] */
    if (!inside) {
      cg_loop_begin(F, &L[nopen], cg_poly(F, n->dims[0]));
      ix.v[0] = L[nopen++].i;
    }
    cg_loop_begin(F, &L[nopen], cg_i64(F, n->conv.groups));
    ix.v[1] = L[nopen++].i;
    cbase = inside ? NULL : conv_cbase(F, n, &ix, &d); /* inside: per image, below */
    lanes = cg_entry_alloca(F, LLVMArrayType(e->i64, (unsigned)(3 * t.nr)));
  } else {
    cg_open_loops(F, L, nb, (const tc_Poly **)n->dims, -1, &ix, &nopen); /* batch dims */
    cbase = nb ? LLVMBuildMul(b, cg_linear(F, nb, (const tc_Poly **)n->dims, ix.v), LLVMBuildMul(b, d.M, d.N, ""), "")
               : cg_i64(F, 0);
  }
  /* this call's part of C: rows [ilo, ihi), columns [jlo, jhi) */
  LLVMValueRef ilo = range[0], jlo = range[2];
  LLVMValueRef rows = LLVMBuildSub(b, range[1], ilo, ""), cols = LLVMBuildSub(b, range[3], jlo, "");
  Loop lj = {.interleave = CG_PLAIN}, lp = {.interleave = CG_PLAIN}, li = {.interleave = CG_PLAIN};
  Loop lq = {.interleave = CG_PLAIN}, lr = {.interleave = CG_PLAIN};
  LLVMValueRef jc, nc, pc, kc, ic, mc, j0, w, i0, h;
  block_begin(F, &lj, cols, cg_i64(F, t.nc), &jc, &nc, false);
  jc = LLVMBuildAdd(b, jc, jlo, "");
  /* K == 0 still runs one (empty) depth block: it stores zero products (through the
     epilogue, if any) */
  LLVMValueRef nblocks = block_begin(F, &lp, d.K, d.kc, &pc, &kc, true);
  LLVMValueRef first = LLVMBuildICmp(b, LLVMIntEQ, lp.i, cg_i64(F, 0), "");
  LLVMValueRef last = LLVMBuildICmp(b, LLVMIntEQ, lp.i, LLVMBuildSub(b, nblocks, cg_i64(F, 1), ""), "");
  if (inside) { /* the images take turns with one depth block of the weights (cg_Tiles.images_inside); each element of
                    C still sums its depth blocks in the same order */
    cg_loop_begin(F, &limg, cg_poly(F, n->dims[0]));
    ix.v[0] = limg.i;
    cbase = conv_cbase(F, n, &ix, &d);
  }
  if (is_conv(n)) pack_b_conv(F, n, &ix, &t, Bp, pc, kc, jc, nc, lanes);
  else pack_b(F, n, &ix, &t, Bp, pc, kc, jc, nc);
  block_begin(F, &li, rows, cg_i64(F, t.mc), &ic, &mc, false);
  ic = LLVMBuildAdd(b, ic, ilo, "");
  pack_a(F, n, &ix, &t, &d, Ap, pc, kc, ic, mc, pa);
  block_begin(F, &lq, nc, cg_i64(F, t.nr), &j0, &w, false);
  LLVMValueRef boff = LLVMBuildMul(b, lq.i, LLVMBuildMul(b, kc, cg_i64(F, t.nr), ""), "");
  uk.B = LLVMBuildInBoundsGEP2(b, ct, Bp, &boff, 1, "");
  uk.kc = kc;
  block_begin(F, &lr, mc, cg_i64(F, t.mr), &i0, &h, false);
  LLVMValueRef aoff2 = LLVMBuildMul(b, lr.i, LLVMBuildMul(b, kc, cg_i64(F, t.mr), ""), "");
  uk.A = LLVMBuildInBoundsGEP2(b, ct, Ap, &aoff2, 1, "");
  uk.lda = cg_i64(F, 0);
  LLVMValueRef row = LLVMBuildAdd(b, ic, i0, "");
  if (a_in_place_ok(F, n) && t.a_in_place_max > 0) { /* A's rows in place, K apart */
    LLVMValueRef direct = a_in_place(F, n, &d, &t);
    uk.A = LLVMBuildSelect(b, direct, operand_address(F, n, 0, &ix, row, pc), uk.A, "");
    uk.lda = LLVMBuildSelect(b, direct, d.K, uk.lda, "");
  }
  store_tile(F, n, root, &ix, &t, &uk, dst, cbase, d.N, row, LLVMBuildAdd(b, jc, j0, ""), h, w, first, last, tile);
  cg_loop_end(F, &lr);
  cg_loop_end(F, &lq);
  cg_loop_end(F, &li);
  if (inside) cg_loop_end(F, &limg);
  cg_loop_end(F, &lp);
  cg_loop_end(F, &lj);
  cg_close_loops(F, L, &nopen, 0);
}

/* ---------------------------------------------------------------- threads
 *
 * A contraction large enough to pay for it runs on the thread pool (parallel.c). Its
 * parallel axis is N in chunks of whole nr-column panels when M <= N (each worker then
 * packs its own columns of B and repacks A, the smaller operand), otherwise M in chunks
 * of mr rows, one chunk per worker (each chunk repacks the other operand). Each worker
 * has its own packing scratch. Every element of C is computed by
 * the same operations in the same order whatever the split, so results do not depend on
 * the thread count.
 */

enum { MIN_PARALLEL_WORK = 1 << 20, CHUNK_WORK = 1 << 18 }; /* multiply-adds */

void cg_contraction_call(Fn *F, const tc_Node *x, const tc_Node *root, LLVMValueRef kfn, LLVMTypeRef fty,
                         LLVMValueRef *args, int nargs, LLVMValueRef stride) {
  cg_Emit *e = F->e;
  LLVMBuilderRef b = e->b;
  cg_Tiles t;
  tiles_for(e, x, root, &t);
  Dims d;
  contraction_dims(F, x, &t, &d);
  cg_Split s = {.nrange = 4, .stride = stride, .m = d.M, .n = d.N};
  s.split_n = LLVMBuildICmp(b, LLVMIntSLE, d.M, d.N, "");
  s.unit = LLVMBuildSelect(b, s.split_n, cg_i64(F, t.nr), cg_i64(F, t.mr), "");
  /* chunks: whole panels along the split axis; each at least CHUNK_WORK multiply-adds */
  LLVMValueRef along = LLVMBuildSelect(b, s.split_n, d.N, d.M, ""), across = LLVMBuildSelect(b, s.split_n, d.M, d.N, "");
  s.units = LLVMBuildSDiv(b, LLVMBuildAdd(b, along, LLVMBuildSub(b, s.unit, cg_i64(F, 1), ""), ""), s.unit, "");
  s.grain = cg_grain(F, LLVMBuildMul(b, LLVMBuildMul(b, s.unit, across, ""), d.K, ""), CHUNK_WORK);
  /* and one chunk per worker: every chunk packs the whole other operand again. The pool
     makes at most units / grain chunks (each at least grain units), so the grain is
     units / workers rounded down: rounded up, an odd count of panels on two threads was
     one chunk, and the whole contraction ran on one thread */
  LLVMValueRef nt = LLVMBuildZExt(b, F->nthreads, e->i64, "");
  LLVMValueRef even = LLVMBuildSDiv(b, s.units, nt, "");
  s.grain = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, even, s.grain, ""), even, s.grain, "");
  /* M*N*K may overflow i64 only for operands of 2^21 elements a side; compare in steps */
  LLVMValueRef mn = LLVMBuildMul(b, d.M, d.N, "");
  LLVMValueRef big = LLVMBuildOr(b, LLVMBuildICmp(b, LLVMIntSGE, mn, cg_i64(F, MIN_PARALLEL_WORK), ""),
                                 LLVMBuildICmp(b, LLVMIntSGE, LLVMBuildMul(b, mn, d.K, ""), cg_i64(F, MIN_PARALLEL_WORK), ""), "");
  s.par = LLVMBuildAnd(b, big, LLVMBuildICmp(b, LLVMIntNE, d.K, cg_i64(F, 0), ""), "");
  cg_parallel_call(F, kfn, fty, args, nargs, &s);
}
