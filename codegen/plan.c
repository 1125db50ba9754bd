/* plan.c - decides, before any LLVM IR exists, what an exported function materialises
 * and which loop-nest kernels compute it (see plan.h).
 *
 * Planning decides which nodes get a buffer: reductions, matmuls and concats always;
 * the input of a reshape (which then only re-indexes it); a costly matmul operand; a
 * costly node that a consumer broadcasts (it would be recomputed per copy); a costly
 * node that slices and transposes would read at more than MAX_READS indices; a costly
 * node SHARED_DEPTH levels above the last buffer that several loop nests read
 * (plan_reuse); and a node MAX_FUSED_DEPTH levels into a fused expression. Every other
 * node is fused: it is evaluated inside the loop of whatever consumes it. Then each
 * buffer, and each result not computed in place, becomes one kernel whose fused nodes
 * and inputs are those reached from its root without crossing another buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/plan.h"

#include <xxhash.h>

/* The planning state of one function. */
typedef struct Plan {
  const tc_Func *f;
  uint8_t *reach, *mat; /* per node id */
} Plan;

bool cg_same_shape(const tc_Node *a, const tc_Node *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (!tc_poly_eq(a->dims[i], b->dims[i])) return false;
  return true;
}

/* ---------------------------------------------------------------- planning */

/* Whether n is a contraction (matmul, conv2d): a kernel of its own that may end in an epilogue. */
static bool is_contraction(const tc_Node *n) { return tc_op_info(n->op)->cls == TC_CLASS_CONTRACTION; }

static bool is_reduce(tc_Op op) { return tc_op_info(op)->cls == TC_CLASS_REDUCTION; }

bool cg_plan_depthwise(const tc_Node *n) {
  if (n->op != TC_CONV2D || !fe_dtype_is_float(n->dtype) || n->conv.groups < 2) return false;
  const tc_Node *x = n->args[0], *w = n->args[1];
  int64_t c, o, kh, kw;
  return tc_poly_is_const(x->dims[1], &c) && c == n->conv.groups && tc_poly_is_const(w->dims[0], &o) &&
         o <= CG_DW_MAX_OUT * c && tc_poly_is_const(w->dims[2], &kh) && tc_poly_is_const(w->dims[3], &kw) &&
         kh * kw <= CG_DW_MAX_CELLS;
}

/* The kind of a kernel whose contraction (or the one whose epilogue it ends) is x. */
static cg_PlanKind contraction_kind(const tc_Node *x) { return cg_plan_depthwise(x) ? CG_PK_DEPTHWISE : CG_PK_CONTRACTION; }

/* Cheap to recompute: leaves, buffers, and index remaps or casts of cheap nodes. */
static bool cheap(Plan *F, const tc_Node *n) {
  const tc_OpInfo *info = tc_op_info(n->op);
  if (info->cls == TC_CLASS_LEAF || F->mat[n->id]) return true;
  if ((info->flags & TC_F_MOVE) || n->op == TC_CAST) return cheap(F, n->args[0]);
  return false;
}

static bool has_buffer(Plan *F, const tc_Node *n) { return (n->op == TC_PARAM && n->rank > 0) || F->mat[n->id]; }

enum { MAX_FUSED_DEPTH = 200 };

/* ---------------------------------------------------------------- reuse
 *
 * Inside one loop a fused node is evaluated once per distinct index it is read at
 * (emit_at's memo): a node with many uses at the same index costs one evaluation, but
 * slices and transposes read their argument at other indices, and through a chain of
 * them the indices multiply (`a_i = a_{i-1}[1:] + a_{i-1}[:-1]` reads a_{i-k} at 2^k
 * indices). plan_reuse counts, per node, the indices it is read at: an index is the
 * sequence of slices and transposes on the way from the loop's own index (context 0),
 * interned as (remap node, context of the remap) -> context. A node that is not cheap
 * and would be read at more than MAX_READS indices gets a buffer instead (read back at
 * any index for the price of a load), so no node is computed more than MAX_READS times
 * per element whatever the program's shape. Likewise a costly node read by several loop
 * nests is computed in each, which is cheap for a short expression, but such a chain
 * gets a buffer every SHARED_DEPTH fused levels: else each loop carries the whole chain
 * below it (a chain of softmaxes made kernels 200 levels deep). */
enum { MAX_READS = 4, SHARED_DEPTH = 8 };

typedef struct Reuse {
  int *nctx;     /* per node: contexts it is read at (MAX_READS + 1: too many) */
  int *ctx;      /* per node: MAX_READS + 1 slots */
  int *key_node, *key_parent, *key_ctx; /* the intern table, open addressing */
  size_t cap, n;
} Reuse;

static int reuse_intern(Reuse *R, int node, int parent);

/* Adds context c to node x's set. */
static void reuse_add(Reuse *R, const tc_Node *x, int c) {
  if (x->rank == 0) c = 0; /* a scalar's index is the same everywhere */
  int *set = &R->ctx[(size_t)x->id * (MAX_READS + 1)], *n = &R->nctx[x->id];
  if (*n > MAX_READS) return;
  for (int i = 0; i < *n; i++)
    if (set[i] == c) return;
  set[(*n)++] = c;
}

static void reuse_grow(Reuse *R) {
  Reuse old = *R;
  R->cap = old.cap ? old.cap * 2 : 1024;
  R->n = 0;
  R->key_node = malloc(sizeof(int) * R->cap);
  R->key_parent = malloc(sizeof(int) * R->cap);
  R->key_ctx = malloc(sizeof(int) * R->cap);
  if (!R->key_node || !R->key_parent || !R->key_ctx) abort();
  for (size_t i = 0; i < R->cap; i++) R->key_node[i] = -1;
  for (size_t i = 0; i < old.cap; i++)
    if (old.key_node[i] >= 0) {
      size_t j = ((size_t)old.key_node[i] * 40503u + (size_t)old.key_parent[i]) & (R->cap - 1);
      while (R->key_node[j] >= 0) j = (j + 1) & (R->cap - 1);
      R->key_node[j] = old.key_node[i], R->key_parent[j] = old.key_parent[i], R->key_ctx[j] = old.key_ctx[i];
      R->n++;
    }
  free(old.key_node);
  free(old.key_parent);
  free(old.key_ctx);
}

/* The context "remap node `node` applied in context parent" (numbered from 1). */
static int reuse_intern(Reuse *R, int node, int parent) {
  if (2 * (R->n + 1) > R->cap) reuse_grow(R);
  size_t j = ((size_t)node * 40503u + (size_t)parent) & (R->cap - 1);
  for (; R->key_node[j] >= 0; j = (j + 1) & (R->cap - 1))
    if (R->key_node[j] == node && R->key_parent[j] == parent) return R->key_ctx[j];
  R->key_node[j] = node, R->key_parent[j] = parent, R->key_ctx[j] = (int)++R->n;
  return R->key_ctx[j];
}

static bool cheap(Plan *F, const tc_Node *n);

/* Notes that loop nest `root` evaluates x (two are kept: enough to know it is shared). */
static void reuse_loop(int *loop, int *nloops, const tc_Node *x, int root) {
  int *n = &nloops[x->id];
  for (int i = 0; i < *n; i++)
    if (loop[2 * x->id + i] == root) return;
  if (*n < 2) loop[2 * x->id + (*n)++] = root;
}

/* Gives a buffer to every costly node that its loop would read at too many indices
 * (consumers are visited before their arguments, so a node's contexts are complete when
 * it is reached), then cuts the chains that several loops read. */
static void plan_reuse(Plan *F) {
  const tc_Func *f = F->f;
  size_t nn = (size_t)f->nnodes + 1;
  Reuse R = {.nctx = calloc(nn, sizeof(int)), .ctx = malloc(nn * (MAX_READS + 1) * sizeof(int))};
  int *depth = calloc(nn, sizeof(int)), *loop = malloc(nn * 2 * sizeof(int)), *nloops = calloc(nn, sizeof(int));
  if (!R.nctx || !R.ctx || !depth || !loop || !nloops) abort();
  for (int i = 0; i < f->nresults; i++) {
    reuse_add(&R, f->results[i], 0);
    reuse_loop(loop, nloops, f->results[i], f->results[i]->id);
  }
  for (int i = f->nnodes - 1; i >= 0; i--) {
    const tc_Node *u = f->nodes[i];
    if (!F->reach[u->id] || u->op == TC_PARAM) continue;
    if (!F->mat[u->id] && u->rank > 0 && R.nctx[u->id] > MAX_READS && !cheap(F, u)) F->mat[u->id] = 1;
    if (F->mat[u->id]) { /* its own loop */
      R.nctx[u->id] = 1, R.ctx[(size_t)u->id * (MAX_READS + 1)] = 0;
      nloops[u->id] = 1, loop[2 * u->id] = u->id;
    }
    for (int j = 0; j < u->nargs; j++)
      for (int k = 0; k < nloops[u->id]; k++) reuse_loop(loop, nloops, u->args[j], loop[2 * u->id + k]);
    bool remap = !F->mat[u->id] && (u->op == TC_SLICE || u->op == TC_TRANSPOSE);
    const int *set = &R.ctx[(size_t)u->id * (MAX_READS + 1)];
    int n = R.nctx[u->id] > MAX_READS ? MAX_READS : R.nctx[u->id];
    for (int j = 0; j < u->nargs; j++) {
      const tc_Node *x = u->args[j];
      bool dup = false;
      for (int k = 0; k < j; k++) dup |= u->args[k] == x;
      if (dup || x->op == TC_PARAM) continue;
      if (R.nctx[u->id] > MAX_READS) { R.nctx[x->id] = MAX_READS + 1; continue; } /* cheap u: too many as well */
      for (int k = 0; k < n; k++) reuse_add(&R, x, remap ? reuse_intern(&R, u->id, set[k]) : set[k]);
    }
  }
  /* arguments first: a buffer cuts every chain that several loops read, SHARED_DEPTH
     levels of costly fused nodes at most */
  for (int i = 0; i < f->nnodes; i++) {
    const tc_Node *n = f->nodes[i];
    if (!F->reach[n->id] || F->mat[n->id] || cheap(F, n)) continue;
    for (int j = 0; j < n->nargs; j++)
      if (depth[n->args[j]->id] > depth[n->id]) depth[n->id] = depth[n->args[j]->id];
    if (++depth[n->id] > SHARED_DEPTH && nloops[n->id] > 1 && n->rank > 0) F->mat[n->id] = 1, depth[n->id] = 0;
  }
  free(depth);
  free(loop);
  free(nloops);
  free(R.nctx);
  free(R.ctx);
  free(R.key_node);
  free(R.key_parent);
  free(R.key_ctx);
}

static void plan_mat(Plan *F) {
  const tc_Func *f = F->f;
  for (int i = 0; i < f->nresults; i++) F->reach[f->results[i]->id] = 1;
  for (int i = f->nnodes - 1; i >= 0; i--) {
    const tc_Node *n = f->nodes[i];
    if (!F->reach[n->id]) continue;
    for (int j = 0; j < n->nargs; j++) F->reach[n->args[j]->id] = 1;
  }
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < f->nnodes; i++) {
      const tc_Node *n = f->nodes[i];
      if (!F->reach[n->id]) continue;
      if (is_reduce(n->op) || is_contraction(n) || n->op == TC_CONCAT || tc_op_info(n->op)->cls == TC_CLASS_WINDOW)
        F->mat[n->id] = 1;
      if (n->op == TC_RESHAPE && n->args[0]->rank > 0 && !has_buffer(F, n->args[0])) F->mat[n->args[0]->id] = 1;
      if (is_contraction(n))
        for (int j = 0; j < 2; j++)
          if (!cheap(F, n->args[j])) F->mat[n->args[j]->id] = 1;
      if (tc_op_info(n->op)->cls == TC_CLASS_ELEMENTWISE)
        for (int j = 0; j < n->nargs; j++)
          if (!cheap(F, n->args[j]) && n->args[j]->rank > 0 && !cg_same_shape(n->args[j], n))
            F->mat[n->args[j]->id] = 1;
    }
  for (int i = 0; i < f->nnodes; i++)
    if (f->nodes[i]->op == TC_PARAM) F->mat[f->nodes[i]->id] = 0;
  /* A fused expression deeper than MAX_FUSED_DEPTH (a long chain of lets) gets a buffer
     part way: evaluation recurses over the expression, and this bounds the recursion. */
  int *depth = calloc((size_t)f->nnodes + 1, sizeof *depth);
  if (!depth) abort();
  for (int i = 0; i < f->nnodes; i++) {
    const tc_Node *n = f->nodes[i];
    if (!F->reach[n->id] || n->op == TC_PARAM || F->mat[n->id]) continue;
    int d = 0;
    for (int j = 0; j < n->nargs; j++)
      if (depth[n->args[j]->id] > d) d = depth[n->args[j]->id];
    depth[n->id] = d + 1;
    if (d + 1 > MAX_FUSED_DEPTH && n->rank > 0) {
      F->mat[n->id] = 1;
      depth[n->id] = 0;
    }
  }
  free(depth);
  plan_reuse(F);
}

/* ---------------------------------------------------------------- epilogues
 *
 * A matmul whose value is read only by elementwise ops over its own shape, which are
 * read only by each other up to one last node E, needs no buffer: its kernel computes E
 * from each tile of products while the tile is in registers, before the single store.
 * Those ops are the contraction kernel's epilogue (bias, scale and shift, residual,
 * activation, cast). E gets the buffer the matmul would have had (or is a result), so
 * the epilogue runs once, not in every loop that reads E, for the same bytes moved.
 *
 * The region of a matmul x: x, and every elementwise op (no index remap) of x's shape
 * whose first argument in any region is in x's, with no argument outside it that
 * depends on x (softmax's max of the region is read back by a later op, which then
 * stays outside; an argument made before x cannot depend on it: the residual of a
 * block, however many matmuls it comes from). A member already given a buffer for another reason (the input of a
 * row-wise group) is read from it, so the region ends there. Its exits are the members
 * read outside it or returned; an epilogue needs exactly one exit, not x.
 */
/* The matmul whose epilogue region node a is in, as its readers see it: none when a is
 * materialised for another reason (a row-wise group's input, say), since they then read
 * its buffer and a is where the region exits. */
static const tc_Node *inside(const Plan *F, const tc_Node **region, const tc_Node *a) {
  return F->mat[a->id] && !is_contraction(a) ? NULL : region[a->id];
}

static void plan_epilogues(Plan *F, const tc_Node **epi) {
  const tc_Func *f = F->f;
  size_t nn = (size_t)f->nnodes + 1;
  const tc_Node **region = calloc(nn, sizeof *region); /* per node: its matmul, or NULL */
  const tc_Node **exit_of = calloc(nn, sizeof *exit_of); /* per matmul: its exit */
  /* per node: the matmul it depends on (through anything), or MIXED for several */
  const tc_Node **taint = calloc(nn, sizeof *taint), *const MIXED = f->nodes[0];
  uint8_t *outside = calloc(nn, 1), *bad = calloc(nn, 1); /* per node; per matmul */
  if (!region || !exit_of || !taint || !outside || !bad) abort();
  for (int i = 0; i < f->nnodes; i++) {
    const tc_Node *n = f->nodes[i];
    if (!F->reach[n->id]) continue;
    const tc_Node *t = NULL; /* the one matmul n's arguments depend on, or MIXED */
    for (int j = 0; j < n->nargs; j++) {
      const tc_Node *u = taint[n->args[j]->id];
      t = !t ? u : u && u != t ? MIXED : t;
    }
    if (is_contraction(n)) {
      region[n->id] = n;
      taint[n->id] = t ? MIXED : n;
      continue;
    }
    taint[n->id] = t;
    const tc_OpInfo *info = tc_op_info(n->op);
    if (info->cls != TC_CLASS_ELEMENTWISE || (info->flags & TC_F_MOVE)) continue;
    const tc_Node *x = NULL;
    bool ok = true;
    for (int j = 0; j < n->nargs && !x; j++) x = inside(F, region, n->args[j]);
    for (int j = 0; j < n->nargs && x; j++) { /* an argument outside that depends on x (none made before x does) */
      const tc_Node *a = n->args[j];
      if (inside(F, region, a) != x && a->id > x->id && (taint[a->id] == x || taint[a->id] == MIXED)) ok = false;
    }
    if (x && ok && cg_same_shape(n, x)) region[n->id] = x;
  }
  for (int i = 0; i < f->nnodes; i++) {
    const tc_Node *n = f->nodes[i];
    if (!F->reach[n->id]) continue;
    for (int j = 0; j < n->nargs; j++) {
      const tc_Node *a = n->args[j];
      if (region[a->id] && region[a->id] != region[n->id]) outside[a->id] = 1;
    }
  }
  for (int i = 0; i < f->nresults; i++) outside[f->results[i]->id] = 1;
  for (int i = 0; i < f->nnodes; i++) {
    const tc_Node *n = f->nodes[i];
    const tc_Node *x = F->reach[n->id] ? region[n->id] : NULL;
    if (!x) continue;
    if (outside[n->id]) {
      if (exit_of[x->id] || n == x) bad[x->id] = 1; /* a second exit, or x read as it is */
      exit_of[x->id] = n;
    } else if (n != x && F->mat[n->id]) bad[x->id] = 1;
  }
  for (int i = 0; i < f->nnodes; i++) {
    const tc_Node *x = f->nodes[i];
    if (!F->reach[x->id] || !is_contraction(x) || bad[x->id] || !exit_of[x->id]) continue;
    const tc_Node *e = exit_of[x->id];
    epi[e->id] = x;
    F->mat[x->id] = 0;
    F->mat[e->id] = 1;
  }
  free(region), free(exit_of), free(taint), free(outside), free(bad);
}

/* ---------------------------------------------------------------- row-wise groups
 *
 * softmax, logsoftmax and layer norm are reductions over the last axis (keepdims) read
 * back by an elementwise expression over the same rows, possibly through reductions of
 * expressions of earlier ones. Planned as above, each reduction is a kernel of its own
 * and each reads the whole input from memory. A row-wise group makes them one kernel: per
 * row, the reductions in dependency order, each a loop over the row with its argument
 * fused, kept as per-row scalars, then the root's row. A row that stays in cache between
 * those loops is read from memory once (docs/plan.md, cost model).
 *
 * The group of a kernel root R (an elementwise op of rank >= 1, a buffer or a result) is
 * the set of nodes reached from R through members: a member is a reduction over exactly
 * the last axis with keepdims, of an argument of R's shape, or an elementwise node with a
 * member argument; every member has R's leading dims and R's last dim or 1 (so it is read
 * at the current row only), is not a whole-row buffer for another reason (a shared level
 * of a chain keeps its buffer: its own group's root), not a result, and read only by
 * members or R.
 * A member read from elsewhere is dropped and the group found again. A grouped result
 * that other nodes read is computed in place and read back by them. Rows of a constant
 * length whose bytes (over the row-shaped inputs) exceed ROW_CACHE_BYTES keep the plan of
 * one kernel per reduction; rows of a symbolic length are grouped (beyond the bound the
 * group's loops read the row from memory once per reduction, as those kernels do). */
enum { ROW_CACHE_BYTES = 128 << 10, ROW_GROUP_NODES = 256 };

typedef struct Rows {
  Plan *P;
  const tc_Node *R;
  int *uses, *results;     /* per node: reads by reachable nodes and results; results */
  int *member_uses;        /* per node: reads by R and the members */
  unsigned *stamp, gen;    /* per node: visited in this search */
  uint8_t *in;             /* per node: a member (where stamp == gen) */
  int *dropped;            /* per node: 1 + the id of the root whose group dropped it */
  int nvisit;
  fe_Vec members;
  fe_Arena *arena;
} Rows;

static bool const1(const tc_Poly *p) {
  int64_t v;
  return tc_poly_is_const(p, &v) && v == 1;
}

/* Whether x has R's leading dims and R's last dim (row: a whole row) or 1. */
static bool row_shaped(const tc_Node *x, const tc_Node *R, bool *row) {
  if (x->rank != R->rank) return false;
  for (int i = 0; i + 1 < R->rank; i++)
    if (!tc_poly_eq(x->dims[i], R->dims[i])) return false;
  *row = tc_poly_eq(x->dims[R->rank - 1], R->dims[R->rank - 1]);
  return *row || const1(x->dims[R->rank - 1]);
}

/* Whether x is a member of R's group (visiting what it reaches). */
static bool row_member(Rows *W, const tc_Node *x) {
  if (W->stamp[x->id] == W->gen) return W->in[x->id];
  W->stamp[x->id] = W->gen;
  W->in[x->id] = 0;
  if (++W->nvisit > ROW_GROUP_NODES) return false;
  bool row;
  if (x->op == TC_PARAM || W->dropped[x->id] == W->R->id + 1 || !row_shaped(x, W->R, &row)) return false;
  /* a buffer of a whole row's shape for another reason (a shared level of a chain) stays
     one, its own group's root; a per-row value has one for being broadcast, recomputed per
     element, which a row-wise kernel computes once per row instead */
  if (x != W->R && W->P->mat[x->id] && tc_op_info(x->op)->cls != TC_CLASS_REDUCTION && row) return false;
  bool in = false;
  switch (tc_op_info(x->op)->cls) {
  case TC_CLASS_REDUCTION: {
    const tc_Node *a = x->args[0];
    bool arow;
    if (row || x->reduce.axes_mask != (int64_t)1 << (x->rank - 1) || !x->reduce.keepdims || !row_shaped(a, W->R, &arow) ||
        !arow)
      return false;
    row_member(W, a); /* deeper members */
    in = true;
    break;
  }
  case TC_CLASS_ELEMENTWISE:
    for (int j = 0; j < x->nargs; j++) in |= row_member(W, x->args[j]);
    break;
  case TC_CLASS_LEAF: case TC_CLASS_CONTRACTION: case TC_CLASS_LAYOUT: case TC_CLASS_WINDOW: return false;
  }
  W->in[x->id] = in;
  if (in && x != W->R) fe_vec_push(W->arena, &W->members, (void *)x);
  return in;
}

/* Adds to *bytes, per element of a row, the bytes of the inputs R's group reads along its
 * rows (a buffer or parameter whose last dim is the row's: a row of it, or an affine
 * weight broadcast over the rows). Members are those of the last row_member search. */
static void row_inputs(Rows *W, const tc_Node *x, unsigned *seen, unsigned gen, int64_t *bytes) {
  if (seen[x->id] == gen) return;
  seen[x->id] = gen;
  bool member = x == W->R || (W->stamp[x->id] == W->gen && W->in[x->id]);
  if ((x->op == TC_PARAM && x->rank > 0) || (W->P->mat[x->id] && !member)) {
    if (x->rank > 0 && tc_poly_eq(x->dims[x->rank - 1], W->R->dims[W->R->rank - 1])) *bytes += fe_dtype_size(x->dtype);
    return;
  }
  for (int j = 0; j < x->nargs; j++) row_inputs(W, x->args[j], seen, gen, bytes);
}

/* Groups the reductions read by R into R's kernel where that is allowed (see above). */
static void row_group(Rows *W, const tc_Node *R, unsigned *seen, unsigned *seen_gen) {
  const tc_OpInfo *info = tc_op_info(R->op);
  if (info->cls != TC_CLASS_ELEMENTWISE || R->rank == 0) return;
  W->R = R;
  for (;;) {
    W->gen++;
    W->nvisit = 0;
    W->members = (fe_Vec){0};
    if (!row_member(W, R) || W->nvisit > ROW_GROUP_NODES) return;
    for (int i = 0; i < W->members.n; i++) W->member_uses[((const tc_Node *)W->members.items[i])->id] = 0;
    for (int j = 0; j < R->nargs; j++) W->member_uses[R->args[j]->id]++;
    for (int i = 0; i < W->members.n; i++) {
      const tc_Node *m = W->members.items[i];
      for (int j = 0; j < m->nargs; j++) W->member_uses[m->args[j]->id]++;
    }
    bool again = false;
    for (int i = 0; i < W->members.n; i++) {
      const tc_Node *m = W->members.items[i];
      if (W->member_uses[m->id] != W->uses[m->id]) W->dropped[m->id] = R->id + 1, again = true;
    }
    if (!again) break;
  }
  int64_t n, bytes = 0;
  row_inputs(W, R, seen, ++*seen_gen, &bytes);
  if (tc_poly_is_const(R->dims[R->rank - 1], &n) && n * bytes > ROW_CACHE_BYTES) return;
  for (int i = 0; i < W->members.n; i++) W->P->mat[((const tc_Node *)W->members.items[i])->id] = 0;
  /* a result that other nodes read gets its buffer (the result, computed in place): fused
     into its readers, each would need the reductions */
  if (W->uses[R->id] > W->results[R->id]) W->P->mat[R->id] = 1;
}

/* Finds the row-wise groups of every kernel root. */
static void plan_rows(Plan *F, fe_Arena *a) {
  const tc_Func *f = F->f;
  bool any = false;
  for (int i = 0; i < f->nnodes && !any; i++) any = F->reach[f->nodes[i]->id] && is_reduce(f->nodes[i]->op);
  if (!any) return;
  size_t nn = (size_t)f->nnodes + 1;
  Rows W = {.P = F, .arena = a};
  W.uses = calloc(nn, sizeof(int)), W.results = calloc(nn, sizeof(int)), W.member_uses = calloc(nn, sizeof(int));
  W.stamp = calloc(nn, sizeof(unsigned)), W.in = calloc(nn, 1), W.dropped = calloc(nn, sizeof(int));
  unsigned *seen = calloc(nn, sizeof(unsigned)), seen_gen = 0;
  if (!W.uses || !W.results || !W.member_uses || !W.stamp || !W.in || !W.dropped || !seen) abort();
  for (int i = 0; i < f->nnodes; i++) {
    const tc_Node *n = f->nodes[i];
    if (!F->reach[n->id]) continue;
    for (int j = 0; j < n->nargs; j++) W.uses[n->args[j]->id]++;
  }
  for (int i = 0; i < f->nresults; i++) W.uses[f->results[i]->id]++, W.results[f->results[i]->id]++;
  for (int i = f->nnodes - 1; i >= 0; i--) { /* consumers first */
    const tc_Node *n = f->nodes[i];
    if (F->reach[n->id] && (F->mat[n->id] || W.results[n->id])) row_group(&W, n, seen, &seen_gen);
  }
  free(W.uses), free(W.results), free(W.member_uses), free(W.stamp), free(W.in), free(W.dropped), free(seen);
}

/* ---------------------------------------------------------------- kernels */

/* The nodes one kernel reads and computes, gathered by a walk from its root. */
typedef struct Walk {
  const Plan *P;
  const tc_Node **epi; /* per node id: the matmul whose epilogue ends there */
  unsigned *stamp, gen; /* per node id: visited in this kernel's walk */
  fe_Arena *arena;
  fe_Vec fused, inputs;
} Walk;

/* Adds x and what its value needs (arguments first); top: x is the kernel's root. */
static void walk(Walk *W, const tc_Node *x, bool top) {
  if (W->stamp[x->id] == W->gen) return;
  W->stamp[x->id] = W->gen;
  bool buffer = (x->op == TC_PARAM && x->rank > 0) || W->P->mat[x->id];
  if (!top && (buffer || x->op == TC_PARAM)) {
    fe_vec_push(W->arena, &W->inputs, (void *)x);
    return;
  }
  for (int j = 0; j < x->nargs; j++) walk(W, x->args[j], false);
  if (tc_op_info(x->op)->cls != TC_CLASS_LEAF) fe_vec_push(W->arena, &W->fused, (void *)x);
}

static int by_id(const void *a, const void *b) {
  int x = (*(const tc_Node *const *)a)->id, y = (*(const tc_Node *const *)b)->id;
  return (x > y) - (x < y);
}

/* The kind of the kernel that computes the materialised node n. */
static cg_PlanKind kind_of(const tc_Node *n) {
  switch (tc_op_info(n->op)->cls) {
  case TC_CLASS_REDUCTION: return CG_PK_REDUCTION;
  case TC_CLASS_CONTRACTION: return contraction_kind(n);
  case TC_CLASS_LEAF: case TC_CLASS_ELEMENTWISE: return CG_PK_ELEMENTWISE;
  case TC_CLASS_LAYOUT: /* a concat is a loop nest of its own; other moves are index remaps */
    return n->op == TC_CONCAT ? CG_PK_LAYOUT : CG_PK_ELEMENTWISE;
  case TC_CLASS_WINDOW: return CG_PK_POOL;
  }
  TRIC_BUG("plan: '%s' has no op class", tc_op_name(n->op));
}

/* Appends the kernel computing root (a copy of it when copy) writing result `output`. */
static void add_kernel(Walk *W, fe_Vec *ks, const tc_Node *root, int output, bool copy) {
  cg_PlanKernel *k = fe_alloc(W->arena, sizeof *k);
  memset(k, 0, sizeof *k);
  k->kind = copy ? CG_PK_COPY : W->epi[root->id] ? contraction_kind(W->epi[root->id]) : kind_of(root);
  k->root = root;
  k->output = output;
  k->scratch = k->kind == CG_PK_CONTRACTION;
  if (k->kind == CG_PK_CONTRACTION || k->kind == CG_PK_DEPTHWISE) k->contraction = W->epi[root->id] ? W->epi[root->id] : root;
  W->gen++;
  W->fused = (fe_Vec){0};
  W->inputs = (fe_Vec){0};
  walk(W, root, !copy);
  for (int i = 0; i < W->fused.n && k->kind == CG_PK_ELEMENTWISE; i++) /* a reduction without a buffer: a row-wise group */
    if (is_reduce(((const tc_Node *)W->fused.items[i])->op)) k->kind = CG_PK_ROWWISE;
  if (W->inputs.n > 1) qsort(W->inputs.items, (size_t)W->inputs.n, sizeof(void *), by_id);
  k->nfused = W->fused.n, k->fused = (const tc_Node **)W->fused.items;
  k->ninputs = W->inputs.n, k->inputs = (const tc_Node **)W->inputs.items;
  fe_vec_push(W->arena, ks, k);
}

/* ---------------------------------------------------------------- kernel keys
 *
 * A kernel's key is a 128-bit hash (XXH3) of what its loop nest computes: its kind,
 * whether it writes an output of the function or a temporary, whether it has scratch,
 * the function's number of size symbols (every kernel takes them all), and the
 * expression it evaluates: every node reached from the root without crossing a buffer
 * (op, dtype, dims, attributes; a node met again as a back reference), the buffers and
 * scalar parameters it reads numbered in their order of first use, with dtype and dims.
 * Tiles are not in it: they follow from the kind, the dtypes and the target, which is
 * the same for a whole module. Two kernels with one key are the same loop nest over
 * parameters in the same order (cg_PlanKernel.params), so emission makes one function
 * for both: the repeated layers of a model share their kernels. */
typedef struct Key {
  const cg_Plan *p;
  fe_Arena *arena;
  XXH3_state_t *h;
  int *visit;      /* per node: its number in this key, valid where stamp == gen */
  unsigned *stamp, gen;
  int nvisit;
  fe_Vec params;   /* const tc_Node *: inputs in order of first use */
} Key;

static void key_i64(Key *k, int64_t v) { XXH3_128bits_update(k->h, &v, sizeof v); }

static void key_poly(Key *k, const tc_Poly *p) {
  key_i64(k, p->n);
  for (int i = 0; i < p->n; i++) {
    key_i64(k, p->t[i].coef);
    key_i64(k, p->t[i].n);
    for (int j = 0; j < p->t[i].n; j++) key_i64(k, p->t[i].s[j]);
  }
}

static void key_dims(Key *k, const tc_Node *n) {
  key_i64(k, n->dtype);
  key_i64(k, n->rank);
  for (int i = 0; i < n->rank; i++) key_poly(k, n->dims[i]);
}

/* Hashes node n of kernel k's expression (top: the root, computed even if it has a buffer). */
static void key_node(Key *k, const tc_Node *n, bool top) {
  if (!top && (cg_plan_has_buffer(k->p, n) || (n->op == TC_PARAM && n->rank == 0))) {
    int at = -1;
    for (int i = 0; i < k->params.n && at < 0; i++)
      if (k->params.items[i] == n) at = i;
    if (at < 0) {
      at = k->params.n;
      fe_vec_push(k->arena, &k->params, (void *)n);
    }
    key_i64(k, -1 - at); /* an input, by number */
    key_dims(k, n);
    return;
  }
  if (k->stamp[n->id] == k->gen) {
    key_i64(k, -(1ll << 40) - k->visit[n->id]); /* a back reference */
    return;
  }
  k->stamp[n->id] = k->gen;
  k->visit[n->id] = ++k->nvisit;
  key_i64(k, n->op);
  key_dims(k, n);
  switch (tc_op_info(n->op)->attr) {
  case TC_ATTR_NONE: case TC_ATTR_PARAM: break; /* a parameter is an input (above) */
  case TC_ATTR_CONST:
    XXH3_128bits_update(k->h, &n->cst.f, sizeof n->cst.f);
    key_i64(k, n->cst.i);
    break;
  case TC_ATTR_DIMVAL: key_poly(k, n->dimval.size); break;
  case TC_ATTR_REDUCE: key_i64(k, n->reduce.axes_mask), key_i64(k, n->reduce.keepdims); break;
  case TC_ATTR_CONCAT: key_i64(k, n->concat.axis); break;
  case TC_ATTR_CONV:
    for (int i = 0; i < 2; i++) key_i64(k, n->conv.stride[i]), key_i64(k, n->conv.pad[i]), key_i64(k, n->conv.dil[i]);
    key_i64(k, n->conv.groups);
    break;
  case TC_ATTR_POOL:
    for (int i = 0; i < 2; i++) key_i64(k, n->pool.kernel[i]), key_i64(k, n->pool.stride[i]), key_i64(k, n->pool.pad[i]);
    break;
  case TC_ATTR_TRANSPOSE:
    for (int i = 0; i < n->rank; i++) key_i64(k, n->transpose.perm[i]);
    break;
  case TC_ATTR_SLICE:
    for (int i = 0; i < n->args[0]->rank; i++) {
      key_poly(k, n->slice.starts[i]);
      key_i64(k, n->slice.steps[i]), key_i64(k, n->slice.drop[i]);
    }
    break;
  }
  key_i64(k, n->nargs);
  for (int i = 0; i < n->nargs; i++) key_node(k, n->args[i], false);
}

/* Computes kernel pk's key and parameters (its inputs in order of first use). */
static void kernel_key(Key *k, cg_PlanKernel *pk) {
  k->h = XXH3_createState();
  if (!k->h) abort();
  XXH3_128bits_reset(k->h);
  k->gen++;
  k->nvisit = 0;
  k->params = (fe_Vec){0};
  key_i64(k, pk->kind);
  key_i64(k, pk->output >= 0);
  key_i64(k, pk->scratch);
  key_i64(k, k->p->f->nsyms);
  key_node(k, pk->root, pk->kind != CG_PK_COPY); /* a copy reads its root as its input */
  XXH128_canonicalFromHash((XXH128_canonical_t *)pk->key, XXH3_128bits_digest(k->h));
  XXH3_freeState(k->h);
  pk->nparams = k->params.n;
  pk->params = (const tc_Node **)k->params.items;
}

/* ---------------------------------------------------------------- memory
 *
 * Every temporary lives in one workspace. A temporary is live from the kernel that
 * writes it to the last kernel that reads it, both included (a kernel reads nothing but
 * its inputs: they are its function's parameters). Temporaries share a slice of the
 * workspace when their lifetimes do not meet. Slices are assigned greedily by size, the
 * "shared objects" strategy of TFLite's arena planner: from the largest temporary down
 * (ties: the one written first), each goes into the free slice whose largest member is
 * smallest, else into a new slice; a slice is free for t when no member's lifetime meets
 * t's. Sizes may be symbolic, so the order uses an estimate (every size symbol taken as
 * 16), while a slice's size at run time is that of its largest member then (emit.c): a
 * poor estimate costs memory, never correctness. Temporaries of one size taken in the
 * order they are written get the fewest slices their lifetimes allow (greedy interval
 * colouring), so a chain of identical blocks needs the slices of one block.
 */

bool cg_plan_writes_temp(const cg_Plan *p, const cg_PlanKernel *k) {
  return k->kind != CG_PK_COPY && p->mat[k->root->id] && p->out_of[k->root->id] < 0;
}

/* A temporary's bytes with every size symbol taken as 16 (the order of assignment). */
static double estimate_bytes(const tc_Node *n) {
  double bytes = fe_dtype_size(n->dtype);
  for (int i = 0; i < n->rank; i++) {
    double v = 0;
    for (int t = 0; t < n->dims[i]->n; t++) {
      double term = (double)n->dims[i]->t[t].coef;
      for (int k = 0; k < n->dims[i]->t[t].n; k++) term *= 16;
      v += term;
    }
    bytes *= v > 1 ? v : 1;
  }
  return bytes;
}

typedef struct Temp {
  double est;
  int first, id;
} Temp;

static int by_size_then_first(const void *a, const void *b) {
  const Temp *x = a, *y = b;
  if (x->est != y->est) return x->est < y->est ? 1 : -1;
  return (x->first > y->first) - (x->first < y->first);
}

/* Decides each temporary's lifetime and slice (p->first, last, slice_of, nslices). */
static void plan_memory(cg_Plan *p, fe_Arena *a) {
  size_t nn = (size_t)p->f->nnodes + 1;
  p->slice_of = fe_alloc(a, sizeof(int) * nn);
  p->first = fe_alloc(a, sizeof(int) * nn);
  p->last = fe_alloc(a, sizeof(int) * nn);
  for (size_t i = 0; i < nn; i++) p->slice_of[i] = p->first[i] = p->last[i] = -1;
  Temp *ts = malloc(sizeof *ts * nn);
  int *next = malloc(sizeof(int) * nn), *head = malloc(sizeof(int) * nn);
  double *slice_est = malloc(sizeof(double) * nn);
  if (!ts || !next || !head || !slice_est) abort();
  int nt = 0;
  for (int i = 0; i < p->nkernels; i++) {
    const cg_PlanKernel *k = &p->kernels[i];
    for (int j = 0; j < k->ninputs; j++)
      if (p->first[k->inputs[j]->id] >= 0) p->last[k->inputs[j]->id] = i;
    if (!cg_plan_writes_temp(p, k)) continue;
    int id = k->root->id;
    if (p->first[id] >= 0) TRIC_BUG("plan: temporary of '%s' written by two kernels", tc_op_name(k->root->op));
    p->first[id] = p->last[id] = i;
    ts[nt++] = (Temp){estimate_bytes(k->root), i, id};
  }
  qsort(ts, (size_t)nt, sizeof *ts, by_size_then_first);
  int ns = 0;
  for (int i = 0; i < nt; i++) {
    int id = ts[i].id, best = -1;
    for (int s = 0; s < ns; s++) {
      bool free_for = true;
      for (int m = head[s]; m >= 0 && free_for; m = next[m])
        free_for = p->last[m] < p->first[id] || p->last[id] < p->first[m];
      if (free_for && (best < 0 || slice_est[s] < slice_est[best])) best = s;
    }
    if (best < 0) best = ns, head[ns] = -1, slice_est[ns++] = ts[i].est;
    next[id] = head[best], head[best] = id;
    p->slice_of[id] = best;
  }
  p->nslices = ns;
  p->ntemps = nt;
  free(ts), free(next), free(head), free(slice_est);
}

cg_Plan *cg_plan_function(fe_Arena *a, const tc_Func *f) {
  size_t nn = (size_t)f->nnodes + 1;
  cg_Plan *p = fe_alloc(a, sizeof *p);
  memset(p, 0, sizeof *p);
  p->f = f;
  p->reach = fe_alloc(a, nn);
  p->mat = fe_alloc(a, nn);
  memset(p->reach, 0, nn);
  memset(p->mat, 0, nn);
  Plan P = {.f = f, .reach = p->reach, .mat = p->mat};
  plan_mat(&P);
  const tc_Node **epi = fe_alloc(a, sizeof *epi * nn);
  memset(epi, 0, sizeof *epi * nn);
  plan_epilogues(&P, epi);
  plan_rows(&P, a);
  p->out_of = fe_alloc(a, sizeof(int) * nn);
  for (size_t i = 0; i < nn; i++) p->out_of[i] = -1;
  for (int i = 0; i < f->nresults; i++) {
    const tc_Node *r = f->results[i];
    if (p->mat[r->id] && p->out_of[r->id] < 0) p->out_of[r->id] = i;
  }
  Walk W = {.P = &P, .epi = epi, .arena = a, .stamp = fe_alloc(a, sizeof(unsigned) * nn)};
  memset(W.stamp, 0, sizeof(unsigned) * nn);
  fe_Vec ks = {0};
  for (int i = 0; i < f->nnodes; i++) { /* every buffer, in order */
    const tc_Node *n = f->nodes[i];
    if (p->reach[n->id] && p->mat[n->id]) add_kernel(&W, &ks, n, p->out_of[n->id], false);
  }
  for (int i = 0; i < f->nresults; i++) { /* results that are not computed in place */
    const tc_Node *r = f->results[i];
    if (p->out_of[r->id] == i) continue;
    add_kernel(&W, &ks, r, i, p->mat[r->id] || r->op == TC_PARAM); /* another result, or a parameter */
  }
  p->nkernels = ks.n;
  p->kernels = fe_alloc(a, sizeof *p->kernels * (size_t)(ks.n + 1));
  Key K = {.p = p, .arena = a, .visit = fe_alloc(a, sizeof(int) * nn), .stamp = fe_alloc(a, sizeof(unsigned) * nn)};
  memset(K.stamp, 0, sizeof(unsigned) * nn);
  for (int i = 0; i < ks.n; i++) {
    p->kernels[i] = *(cg_PlanKernel *)ks.items[i];
    kernel_key(&K, &p->kernels[i]);
  }
  plan_memory(p, a);
  return p;
}

bool cg_plan_has_buffer(const cg_Plan *p, const tc_Node *n) {
  return (n->op == TC_PARAM && n->rank > 0) || p->mat[n->id];
}

const char *cg_plan_kind_name(cg_PlanKind k) {
  switch (k) {
  case CG_PK_ELEMENTWISE: return "elementwise";
  case CG_PK_REDUCTION: return "reduction";
  case CG_PK_CONTRACTION: return "contraction";
  case CG_PK_LAYOUT: return "layout";
  case CG_PK_COPY: return "copy";
  case CG_PK_ROWWISE: return "row-wise";
  case CG_PK_POOL: return "pooling";
  case CG_PK_DEPTHWISE: return "depthwise";
  }
  TRIC_BUG("plan: kernel kind %d has no name", (int)k);
}

/* ---------------------------------------------------------------- the plan as text
 *
 * Byte and flop counts are sums of terms coef * size * size ...: a tensor's element
 * count with its constant dims folded into the coefficient, its other dims (each a size
 * polynomial, printed by tc_poly_str) as factors in sorted order, so terms over the same
 * sizes add up and a count over constant shapes prints as one number. */

enum { MAX_TERMS = 64 };

typedef struct Term {
  int64_t coef;
  char factors[256]; /* "B*N", "" for a constant */
} Term;

typedef struct Count {
  int n;
  bool overflow; /* more terms than MAX_TERMS, or a coefficient past int64 */
  Term t[MAX_TERMS];
} Count;

static int by_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Adds scale * (the element count of dims) to c. */
static void count_add(Count *c, int64_t scale, int rank, const tc_Poly *const *dims, const tc_Sym *syms) {
  Term t = {.coef = scale};
  char fs[TC_MAXRANK][128];
  const char *fp[TC_MAXRANK];
  int nf = 0;
  for (int i = 0; i < rank; i++) {
    int64_t v;
    if (tc_poly_is_const(dims[i], &v)) {
      if (__builtin_mul_overflow(t.coef, v, &t.coef)) c->overflow = true;
      continue;
    }
    char s[120];
    s[0] = 0;
    tc_poly_str(dims[i], syms, s, sizeof s);
    snprintf(fs[nf], sizeof fs[nf], dims[i]->n > 1 ? "(%s)" : "%s", s);
    fp[nf] = fs[nf];
    nf++;
  }
  if (t.coef == 0) return;
  qsort(fp, (size_t)nf, sizeof *fp, by_str);
  size_t len = 0;
  for (int i = 0; i < nf; i++)
    len += (size_t)snprintf(t.factors + len, len < sizeof t.factors ? sizeof t.factors - len : 0, "%s%s", i ? "*" : "", fp[i]);
  for (int i = 0; i < c->n; i++)
    if (!strcmp(c->t[i].factors, t.factors)) {
      if (__builtin_add_overflow(c->t[i].coef, t.coef, &c->t[i].coef)) c->overflow = true;
      return;
    }
  if (c->n == MAX_TERMS) {
    c->overflow = true;
    return;
  }
  c->t[c->n++] = t;
}

/* Adds every term of b to a. */
static void count_merge(Count *a, const Count *b) {
  a->overflow |= b->overflow;
  for (int i = 0; i < b->n; i++) {
    bool found = false;
    for (int j = 0; j < a->n && !found; j++)
      if (!strcmp(a->t[j].factors, b->t[i].factors)) {
        found = true;
        if (__builtin_add_overflow(a->t[j].coef, b->t[i].coef, &a->t[j].coef)) a->overflow = true;
      }
    if (!found && a->n < MAX_TERMS) a->t[a->n++] = b->t[i];
    else if (!found) a->overflow = true;
  }
}

static void count_print(FILE *out, const Count *c) {
  if (c->overflow) {
    fputs("?", out); /* too many distinct terms to print (or past int64) */
    return;
  }
  bool any = false;
  for (int pass = 0; pass < 2; pass++) /* symbolic terms first, the constant last */
    for (int i = 0; i < c->n; i++) {
      const Term *t = &c->t[i];
      if ((pass == 0) != (t->factors[0] != 0) || t->coef == 0) continue;
      fputs(any ? " + " : "", out);
      if (!t->factors[0]) fprintf(out, "%lld", (long long)t->coef);
      else if (t->coef == 1) fputs(t->factors, out);
      else fprintf(out, "%lld*%s", (long long)t->coef, t->factors);
      any = true;
    }
  if (!any) fputs("0", out);
}

/* Whether op may be fused into a loop (not a loop nest of its own by its class). */
static bool fusible(const tc_Node *n) {
  switch (tc_op_info(n->op)->cls) {
  case TC_CLASS_LEAF: case TC_CLASS_REDUCTION: case TC_CLASS_CONTRACTION: case TC_CLASS_WINDOW: return false;
  case TC_CLASS_ELEMENTWISE: return true;
  case TC_CLASS_LAYOUT: return n->op != TC_CONCAT;
  }
  TRIC_BUG("plan: '%s' has no op class", tc_op_name(n->op));
}

/* Adds the arithmetic of fused node n, evaluated once per element, to flops. */
static void count_flops(Count *c, const tc_Node *n, const tc_Sym *syms) {
  switch (tc_op_info(n->op)->cls) {
  case TC_CLASS_LEAF: case TC_CLASS_LAYOUT: return; /* moves, no arithmetic */
  case TC_CLASS_ELEMENTWISE:
    if (n->op == TC_BROADCAST || n->op == TC_CAST) return;
    count_add(c, 1, n->rank, (const tc_Poly *const *)n->dims, syms);
    return;
  case TC_CLASS_REDUCTION: /* one combine per element of the argument */
    count_add(c, 1, n->args[0]->rank, (const tc_Poly *const *)n->args[0]->dims, syms);
    return;
  case TC_CLASS_WINDOW: /* a combine per window cell and output element, and an average's divide */
    count_add(c, n->pool.kernel[0] * n->pool.kernel[1] + (n->op == TC_AVGPOOL2D), n->rank,
              (const tc_Poly *const *)n->dims, syms);
    return;
  case TC_CLASS_CONTRACTION: { /* a multiply and an add per output element and K */
    const tc_Node *a = n->args[0];
    const tc_Poly *d[TC_MAXRANK + 3];
    for (int i = 0; i < n->rank; i++) d[i] = n->dims[i];
    if (n->op == TC_MATMUL) {
      d[n->rank] = a->dims[a->rank - 1];
      count_add(c, 2, n->rank + 1, d, syms);
    } else if (n->op == TC_CONV2D) { /* K = C/groups * KH * KW, w's last three dims */
      const tc_Node *w = n->args[1];
      for (int i = 1; i < 4; i++) d[n->rank + i - 1] = w->dims[i];
      count_add(c, 2, n->rank + 3, d, syms);
    } else
      TRIC_BUG("plan: no flop count for the contraction '%s'", tc_op_name(n->op));
    return;
  }
  }
  TRIC_BUG("plan: '%s' has no op class", tc_op_name(n->op));
}

/* Writes "%3 add", or for a parameter "%0 x" (its name); in JSON an object. */
static void print_node(FILE *out, const tc_Func *f, const tc_Node *n, bool json) {
  bool named = n->op == TC_PARAM && n->param.index >= 0 && n->param.index < f->nparams;
  if (json) {
    fprintf(out, "{\"id\": %d, \"op\": \"%s\"", n->id, tc_op_name(n->op));
    if (named) fprintf(out, ", \"param\": \"%s\"", f->params[n->param.index].name); /* identifiers need no escapes */
    fputs("}", out);
  } else if (named) fprintf(out, "%%%d %s", n->id, f->params[n->param.index].name);
  else fprintf(out, "%%%d %s", n->id, tc_op_name(n->op));
}

/* Writes s as a JSON string. */
static void json_str(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c < 0x20) fprintf(out, "\\u%04x", c);
    else fputc(c, out);
  }
  fputc('"', out);
}

/* Writes a count, in JSON as a string. */
static void put_count(FILE *out, const Count *c, bool json) {
  if (json) fputc('"', out);
  count_print(out, c);
  if (json) fputc('"', out);
}

/* Marks the fused nodes of k that x depends on. */
static void mark_prologue(const cg_PlanKernel *k, const tc_Node *x, uint8_t *mark) {
  for (int j = 0; j < x->nargs; j++) {
    const tc_Node *a = x->args[j];
    if (mark[a->id]) continue;
    for (int i = 0; i < k->nfused; i++)
      if (k->fused[i] == a) {
        mark[a->id] = 1;
        mark_prologue(k, a, mark);
      }
  }
}

/* Writes a contraction kernel's epilogue: its fused ops that compute from the products
 * (those its matmul does not depend on), ending with its root. */
static void write_epilogue(FILE *out, const tc_Func *f, const cg_PlanKernel *k, bool json) {
  uint8_t *mark = calloc((size_t)f->nnodes + 1, 1);
  if (!mark) abort();
  mark_prologue(k, k->contraction, mark);
  mark[k->contraction->id] = 1;
  fputs(json ? "],\n        \"epilogue\": [" : "\n    epilogue:", out);
  int ne = 0;
  for (int i = 0; i < k->nfused; i++) {
    if (mark[k->fused[i]->id]) continue;
    fputs(ne++ ? ", " : json ? "" : " ", out);
    print_node(out, f, k->fused[i], json);
  }
  if (!json && !ne) fputs(" none", out);
  free(mark);
}

/* Writes a contraction kernel's tiles and the axis it splits over threads. */
/* Whether kernel k may split its first dimension over threads (emit.c, parallel.c): a
 * row-wise kernel of rank 2 or more, an elementwise or copy kernel of rank 1 or more. */
static bool splits_first_dim(const cg_PlanKernel *k) {
  switch (k->kind) {
  case CG_PK_ROWWISE: return k->root->rank >= 2;
  case CG_PK_ELEMENTWISE: case CG_PK_COPY: return k->root->rank >= 1;
  case CG_PK_REDUCTION: case CG_PK_CONTRACTION: case CG_PK_LAYOUT: case CG_PK_POOL: case CG_PK_DEPTHWISE: return false;
  }
  TRIC_BUG("plan kernel kind %d has no thread split", (int)k->kind);
}

static void write_tiles(FILE *out, const cg_PlanKernel *k, bool json, const cg_TargetInfo *t) {
  cg_Tiles c;
  cg_contraction_tiles_for(t, k->contraction, k->root, &c);
  if (json)
    fprintf(out, "],\n        \"tiles\": {\"mr\": %d, \"nr\": %d, \"kc\": %lld, \"mc\": %lld, \"nc\": %lld, "
                 "\"split_k\": %s},\n        \"parallel\": {\"axis\": \"N if M <= N, else M\", \"columns\": %d, \"rows\": %d}",
            c.mr, c.nr, (long long)c.kc, (long long)c.mc, (long long)c.nc, c.split_k ? "true" : "false", c.nr, c.mr);
  else
    fprintf(out, "\n    tiles: %dx%d registers, kc %lld%s, mc %lld, nc %lld; threads split N in %d columns if M <= N, "
                 "else M in %d rows",
            c.mr, c.nr, (long long)c.kc, c.split_k ? "" : " (K not split)", (long long)c.mc, (long long)c.nc, c.nr, c.mr);
}

/* Whether count c is at least d for all sizes: every term of d is in c with at least its
 * coefficient (terms are products of sizes and positive constants, never negative). */
static bool count_covers(const Count *c, const Count *d) {
  if (c->overflow || d->overflow) return false;
  for (int i = 0; i < d->n; i++) {
    bool found = false;
    for (int j = 0; j < c->n && !found; j++)
      found = !strcmp(c->t[j].factors, d->t[i].factors) && c->t[j].coef >= d->t[i].coef;
    if (!found && d->t[i].coef > 0) return false;
  }
  return true;
}

enum { MAX_ALTS = 6 };

/* The largest of some counts, kept as those no other covers ("max(a, b)" when sizes
 * decide which is larger). */
typedef struct MaxOf {
  int n;
  bool overflow; /* more than MAX_ALTS counts that no other covers: */
  Count bound;   /* then this, each term's largest coefficient, bounds them all */
  Count c[MAX_ALTS];
} MaxOf;

static void max_add(MaxOf *m, const Count *c) {
  m->bound.overflow |= c->overflow;
  for (int i = 0; i < c->n; i++) { /* bound: the largest coefficient of each term */
    bool found = false;
    for (int j = 0; j < m->bound.n && !found; j++)
      if (!strcmp(m->bound.t[j].factors, c->t[i].factors)) {
        found = true;
        if (c->t[i].coef > m->bound.t[j].coef) m->bound.t[j].coef = c->t[i].coef;
      }
    if (!found && m->bound.n < MAX_TERMS) m->bound.t[m->bound.n++] = c->t[i];
    else if (!found) m->bound.overflow = true;
  }
  for (int i = 0; i < m->n; i++)
    if (count_covers(&m->c[i], c)) return;
  int k = 0;
  for (int i = 0; i < m->n; i++)
    if (!count_covers(c, &m->c[i])) m->c[k++] = m->c[i];
  m->n = k;
  if (m->n == MAX_ALTS) m->overflow = true;
  else m->c[m->n++] = *c;
}

static void max_print(FILE *out, const MaxOf *m) {
  if (m->overflow) {
    fputs(m->bound.overflow ? "?" : "at most ", out);
    if (!m->bound.overflow) count_print(out, &m->bound);
    return;
  }
  if (m->n == 1) {
    count_print(out, &m->c[0]);
    return;
  }
  fputs("max(", out);
  for (int i = 0; i < m->n; i++) {
    if (i) fputs(", ", out);
    count_print(out, &m->c[i]);
  }
  fputs(")", out);
}

/* Writes the workspace of plan p (plan.c, "memory"): its temporaries and slices, its
 * bytes (the sum of the slices' largest members) and the peak of the bytes of
 * temporaries live at once; a temporary of constant size counts rounded up to 64 bytes,
 * as its slice is (a symbolic size is shown as it is). */
static void write_memory(FILE *out, const tc_Func *f, const cg_Plan *p, bool json) {
  size_t nn = (size_t)f->nnodes + 1;
  Count *size = calloc(nn, sizeof *size), *live = calloc(1, sizeof *live), *sum = calloc(1, sizeof *sum);
  MaxOf *slice = calloc((size_t)p->nslices + 1, sizeof *slice), *peak = calloc(1, sizeof *peak);
  if (!size || !live || !sum || !slice || !peak) abort();
  bool scratch = false;
  for (int i = 0; i < p->nkernels; i++) {
    const tc_Node *r = p->kernels[i].root;
    scratch |= p->kernels[i].scratch;
    if (!cg_plan_writes_temp(p, &p->kernels[i])) continue;
    count_add(&size[r->id], fe_dtype_size(r->dtype), r->rank, (const tc_Poly *const *)r->dims, f->syms);
    Count *c = &size[r->id];
    if (c->n == 1 && !c->t[0].factors[0] && c->t[0].coef <= INT64_MAX - 63) c->t[0].coef = (c->t[0].coef + 63) / 64 * 64; /* a constant: its slice rounded */
    max_add(&slice[p->slice_of[r->id]], &size[r->id]);
  }
  for (int i = 0; i < p->nkernels; i++) { /* the temporaries live during kernel i */
    memset(live, 0, sizeof *live);
    for (int j = 0; j < f->nnodes; j++) {
      int id = f->nodes[j]->id;
      if (p->first[id] >= 0 && p->first[id] <= i && i <= p->last[id]) count_merge(live, &size[id]);
    }
    max_add(peak, live);
  }
  if (!peak->n) max_add(peak, live); /* no kernel: nothing live */
  char *text = NULL;
  size_t len = 0;
  FILE *ws = open_memstream(&text, &len);
  if (!ws) abort();
  for (int s = 0; s < p->nslices; s++)
    if (slice[s].n == 1 && !slice[s].overflow) count_merge(sum, &slice[s].c[0]);
  bool any = false;
  if (sum->n || sum->overflow || !p->nslices) count_print(ws, sum), any = true;
  for (int s = 0; s < p->nslices; s++)
    if (slice[s].n != 1 || slice[s].overflow) {
      fputs(any ? " + " : "", ws);
      max_print(ws, &slice[s]);
      any = true;
    }
  if (fclose(ws)) abort();
  if (json) {
    fprintf(out, ",\n     \"workspace\": {\"temporaries\": %d, \"slices\": %d, \"bytes\": \"%s\", \"peak_live_bytes\": \"",
            p->ntemps, p->nslices, text);
    max_print(out, peak);
    fprintf(out, "\", \"contraction_scratch\": %s}", scratch ? "true" : "false");
  } else if (!p->ntemps) {
    fputs(scratch ? "  workspace: no temporaries; each thread's contraction scratch\n" : "  workspace: none\n", out);
  } else {
    fprintf(out, "  workspace: %d temporar%s in %d slice%s, bytes %s; peak of live temporaries ", p->ntemps,
            p->ntemps == 1 ? "y" : "ies", p->nslices, p->nslices == 1 ? "" : "s", text);
    max_print(out, peak);
    fputs(scratch ? "; beside them each thread's contraction scratch\n" : "\n", out);
  }
  free(text);
  free(size), free(live), free(sum), free(slice), free(peak);
}

/* Writes the plan of one function, as text or as a JSON object (docs/plan.md). */
static void plan_write(FILE *out, const tc_Func *f, const cg_Plan *p, fe_Arena *a, bool json, const cg_TargetInfo *t) {
  if (json) {
    fputs("    {\"name\": ", out);
    json_str(out, f->name);
    fputs(", \"signature\": ", out);
    json_str(out, f->signature ? f->signature : f->name);
    fputs(",\n     \"kernels\": [", out);
  } else if (f->signature) fprintf(out, "%s\n", f->signature); /* "export fn name(...) -> ..." */
  else fprintf(out, "export fn %s\n", f->name);
  Count *moved = calloc(1, sizeof *moved), *rd = calloc(1, sizeof *rd), *wr = calloc(1, sizeof *wr),
        *fl = calloc(1, sizeof *fl);
  if (!moved || !rd || !wr || !fl) abort();
  for (int i = 0; i < p->nkernels; i++) {
    const cg_PlanKernel *k = &p->kernels[i];
    memset(rd, 0, sizeof *rd), memset(wr, 0, sizeof *wr), memset(fl, 0, sizeof *fl);
    for (int j = 0; j < k->ninputs; j++) {
      const tc_Node *x = k->inputs[j];
      count_add(rd, fe_dtype_size(x->dtype), x->rank, (const tc_Poly *const *)x->dims, f->syms);
    }
    count_add(wr, fe_dtype_size(k->root->dtype), k->root->rank, (const tc_Poly *const *)k->root->dims, f->syms);
    for (int j = 0; j < k->nfused; j++) count_flops(fl, k->fused[j], f->syms);
    const char *type = tc_type_str(a, k->root->dtype, k->root->rank, (const tc_Poly **)k->root->dims, f->syms);
    int same = -1; /* the first earlier kernel with this one's key: one loop nest for both */
    for (int j = 0; j < i && same < 0; j++)
      if (!memcmp(p->kernels[j].key, k->key, sizeof k->key)) same = j;
    if (json) {
      fprintf(out, "%s\n       {\"kernel\": %d, \"kind\": \"%s\", \"root\": ", i ? "," : "", i, cg_plan_kind_name(k->kind));
      print_node(out, f, k->root, true);
      fputs(", \"type\": ", out);
      json_str(out, type);
      if (k->output >= 0) fprintf(out, ", \"writes\": {\"result\": %d}", k->output);
      else fputs(", \"writes\": \"temporary\"", out);
      if (same >= 0) fprintf(out, ", \"same_as\": %d", same);
      fputs(",\n        \"fused\": [", out);
    } else {
      fprintf(out, "  kernel %d: %s, root ", i, cg_plan_kind_name(k->kind));
      print_node(out, f, k->root, false);
      fprintf(out, " %s -> ", type);
      if (k->output >= 0) fprintf(out, "result %d\n", k->output);
      else fprintf(out, "temporary\n");
      if (same >= 0) fprintf(out, "    same loop nest as kernel %d\n", same);
      fputs("    fused:", out);
    }
    int nf = 0;
    for (int j = 0; j < k->nfused; j++) {
      if (k->fused[j] == k->root) continue;
      fputs(nf++ ? ", " : json ? "" : " ", out);
      print_node(out, f, k->fused[j], json);
    }
    if (!json && !nf) fputs(" none", out);
    if (k->kind == CG_PK_CONTRACTION) {
      write_epilogue(out, f, k, json);
      write_tiles(out, k, json, t);
    } else if (splits_first_dim(k))
      fputs(json ? "],\n        \"parallel\": {\"axis\": \"first dimension\"}"
                 : "\n    threads split the first dimension", out);
    else if (k->kind == CG_PK_POOL)
      fputs(json ? "],\n        \"parallel\": {\"axis\": \"planes\"}" : "\n    threads split the planes (image, channel)", out);
    else if (k->kind == CG_PK_DEPTHWISE) {
      write_epilogue(out, f, k, json);
      fputs(json ? "],\n        \"parallel\": {\"axis\": \"planes\"}" : "\n    threads split the planes (image, channel)", out);
    }
    bool closed = k->kind == CG_PK_CONTRACTION || k->kind == CG_PK_POOL || k->kind == CG_PK_DEPTHWISE || splits_first_dim(k);
    if (json) fputs(closed ? ",\n        \"reads\": [" : "],\n        \"reads\": [", out);
    else fputs("\n    reads:", out);
    for (int j = 0; j < k->ninputs; j++) {
      fputs(j ? ", " : json ? "" : " ", out);
      print_node(out, f, k->inputs[j], json);
    }
    fputs(json ? "],\n        \"bytes_read\": " : k->ninputs ? "\n    bytes read " : " nothing\n    bytes read ", out);
    put_count(out, rd, json);
    fputs(json ? ", \"bytes_written\": " : ", written ", out);
    put_count(out, wr, json);
    fputs(json ? ", \"flops\": " : ", flops ", out);
    put_count(out, fl, json);
    fputs(json ? "}" : "\n", out);
    count_merge(moved, rd);
    count_merge(moved, wr);
  }
  int nfusible = 0, nfused = 0;
  for (int i = 0; i < f->nnodes; i++) {
    const tc_Node *n = f->nodes[i];
    if (!p->reach[n->id] || !fusible(n)) continue;
    nfusible++;
    nfused += !p->mat[n->id];
  }
  for (int i = 0; i < p->nkernels; i++) /* an epilogue's last op is fused into its contraction */
    nfused += (p->kernels[i].kind == CG_PK_CONTRACTION || p->kernels[i].kind == CG_PK_DEPTHWISE) &&
              p->kernels[i].root != p->kernels[i].contraction &&
              fusible(p->kernels[i].root);
  if (json)
    fprintf(out, "],\n     \"summary\": {\"kernels\": %d, \"fused_ops\": %d, \"fusible_ops\": %d, \"bytes_moved\": ",
            p->nkernels, nfused, nfusible);
  else fprintf(out, "  summary: kernels %d, fused ops %d of %d fusible, bytes moved ", p->nkernels, nfused, nfusible);
  put_count(out, moved, json);
  fputs(json ? "}" : "\n", out);
  write_memory(out, f, p, json);
  if (json) fputs("}", out);
  free(moved), free(rd), free(wr), free(fl);
}

char *cg_plan_write(tc_Func *funcs, int n, fe_Arena *a, bool json, const cg_TargetInfo *t) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out) abort();
  if (json) fputs("{\"functions\": [\n", out);
  for (int i = 0; i < n; i++) {
    if (i) fputs(json ? ",\n" : "\n", out);
    plan_write(out, &funcs[i], cg_plan_function(a, &funcs[i]), a, json, t);
  }
  if (json) fputs(n ? "\n]}\n" : "]}\n", out);
  if (fclose(out)) abort();
  return text;
}

/* ---------------------------------------------------------------- cost model
 *
 * The model knows a target by its class of CPU: the widest vector its code may use, its
 * vector registers and the cache sizes assumed per core for the class (docs/plan.md,
 * "Cost model"). The figures are those of the CPUs each class runs on today; a wrong
 * guess costs speed, never correctness.
 */

/* Whether name is in the NULL-terminated list. */
static bool in_list(const char *name, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(name, *list)) return true;
  return false;
}

void cg_target_info(const char *triple, const char *cpu, const char *features, cg_TargetInfo *out) {
  static const char *const avx512[] = {"skylake-avx512", "cascadelake", "cooperlake", "cannonlake",
                                       "icelake-client", "icelake-server", "tigerlake", "rocketlake",
                                       "sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d",
                                       "diamondrapids", "knl", "knm", "znver4", "znver5", "x86-64-v4", NULL};
  static const char *const avx[] = {"haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake",
                                    "arrowlake", "arrowlake-s", "lunarlake", "pantherlake", "gracemont",
                                    "sierraforest", "grandridge", "clearwaterforest", "znver1", "znver2", "znver3",
                                    "bdver1", "bdver2", "bdver3", "bdver4", "btver2", "sandybridge", "ivybridge",
                                    "x86-64-v3", NULL};
  bool x86 = !strncmp(triple, "x86_64", 6) || !strncmp(triple, "i686", 4) || !strncmp(triple, "i386", 4);
  int width = 16;
  if (x86 && in_list(cpu, avx512)) width = 64;
  else if (x86 && in_list(cpu, avx)) width = 32;
  /* explicit features (or the host's) decide over the CPU's name: the last mention wins */
  for (const char *p = features; p && *p;) {
    size_t len = strcspn(p, ",");
    if (len == 8 && !strncmp(p, "+avx512f", 8)) width = 64;
    else if (len == 8 && !strncmp(p, "-avx512f", 8) && width > 32) width = 32;
    else if ((len == 4 && !strncmp(p, "+avx", 4)) || (len == 5 && !strncmp(p, "+avx2", 5))) width = width < 32 ? 32 : width;
    else if (len == 4 && !strncmp(p, "-avx", 4)) width = 16;
    p += len + (p[len] == ',');
  }
  out->vector_bytes = width;
  out->vector_regs = width == 64 || !x86 ? 32 : 16; /* AArch64 has 32 NEON registers */
  out->l1 = width == 64 ? 48 << 10 : 32 << 10;
  out->l2 = width == 64 ? 1 << 20 : width == 32 ? 512 << 10 : 256 << 10;
  out->l3 = width == 16 ? 1 << 20 : 2 << 20;
}

enum { A_IN_PLACE_PANELS = 16 }; /* column panels of B at most that an A read in place serves */

/* The bytes of dtype dt's compute type. */
static int compute_size(int dt) {
  switch (dt) {
  case FE_F64: case FE_I64: return 8;
  case FE_F32: case FE_F16: case FE_BF16: case FE_I32: return 4;
  case FE_I8: case FE_U8: case FE_BOOL: return 1;
  }
  TRIC_BUG("cost model: dtype %d has no compute size", dt);
}

/* v rounded down to a multiple of m, at least m. */
static int64_t round_down(int64_t v, int64_t m) { return v < m ? m : v / m * m; }

void cg_contraction_tiles(const cg_TargetInfo *t, int dt, cg_Tiles *o) {
  int es = compute_size(dt);
  memset(o, 0, sizeof *o);
  o->vl = t->vector_bytes / es > 1 ? t->vector_bytes / es : 1;
  o->nv = 2;
  o->nr = o->nv * o->vl;
  /* accumulators mr x nv, plus nv vectors of B and a broadcast of A, in the registers */
  o->mr = (t->vector_regs - o->nv - 2) / o->nv;
  if (o->mr > 14) o->mr = 14;
  if (o->mr < 1) o->mr = 1;
  /* the kc x nr panel of B the innermost loop reuses for every mr rows stays in half of L1;
     the mc x kc block of A it streams, in half of L2; the kc x nc block of B, in half of
     the core's share of L3 */
  o->kc = round_down(t->l1 / (2 * (int64_t)o->nr * es), 8);
  if (o->kc > 1024) o->kc = 1024;
  o->mc = round_down(t->l2 / (2 * o->kc * es), o->mr);
  o->nc = round_down(t->l3 / (2 * o->kc * es), o->nr);
  o->split_k = dt != FE_F16 && dt != FE_BF16;
  /* an A that fits in half of L2 stays there for every column panel reusing it: read in
     place, it costs nothing to pack, and its rows' lines come in order from L2 */
  o->a_in_place_max = t->l2 / (2 * es);
  /* ... while few column panels reuse it: for many, a packed panel's one contiguous
     stream (prefetched ahead) beats mr rows read in place (128x768x3072 on AVX-512: 0.85
     of OpenBLAS in place, 0.92 packed; 64^3 and 256^3 faster in place) */
  o->a_in_place_cols = A_IN_PLACE_PANELS * (int64_t)o->nr;
}

/* The element count of x's dims from `from` on, when all are constant (below 2^62). */
static bool const_numel(const tc_Node *x, int from, int64_t *out) {
  int64_t v;
  *out = 1;
  for (int i = from; i < x->rank; i++)
    if (!tc_poly_is_const(x->dims[i], &v) || v < 0 || __builtin_mul_overflow(*out, v, out) || *out > ((int64_t)1 << 62))
      return false;
  return true;
}

void cg_contraction_tiles_for(const cg_TargetInfo *t, const tc_Node *x, const tc_Node *root, cg_Tiles *o) {
  cg_contraction_tiles(t, x->dtype, o);
  /* an epilogue that stores another type than x computes in cannot keep partial sums in
     the output: one depth block then spans K */
  if (root != x && root->dtype != x->dtype) o->split_k = false;
  /* A convolution is one product per image. Its loop over images goes inside each depth
     block when an image's output is small and the weights are not (ResNet-18's last two
     stages): the images then share each block of the weights while it is in cache,
     instead of reading all of them once per image, and their outputs, read and written
     once per depth block, stay in cache too. With an image's output at most L2/8 and the
     weights over L2/2, both hold for batches of up to about 8. Otherwise, or with a
     symbolic size, images go outside: each image's output then stays in cache across the
     blocks. */
  o->images_inside = false;
  int64_t out, w;
  if (x->op == TC_CONV2D && const_numel(x, 1, &out) && const_numel(x->args[1], 0, &w)) {
    int64_t es = fe_dtype_size(x->dtype), g = x->conv.groups; /* per group: O/g x OH*OW, O/g x C/g*KH*KW */
    o->images_inside = out / g * es <= t->l2 / 8 && w / g * es > t->l2 / 2;
  }
}
