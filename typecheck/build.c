/* build.c - the TIR builder: the one place nodes are made, by the checker and by later
 * passes. It fills exactly the attribute struct that the op's table row names, so a
 * node never carries attributes of another kind. */
#include <string.h>

#include "typecheck/internal.h"

/* Dies when op's row does not use the attribute kind a constructor fills. */
static void want_attr(tc_Op op, tc_AttrKind kind, const char *who) {
  if (tc_op_info(op)->attr != kind) TRIC_BUG("%s cannot build '%s'", who, tc_op_name(op));
}

tc_Node *tc_build_node(tc_Builder *b, tc_Op op, int dtype, int rank, const tc_Poly **dims, int nargs,
                       tc_Node **args, fe_Span span) {
  tc_Node *n = fe_alloc(b->arena, sizeof *n);
  n->op = op;
  n->dtype = dtype;
  n->rank = rank;
  n->dims = fe_alloc(b->arena, sizeof *dims * (size_t)(rank + 1));
  if (rank) memcpy(n->dims, dims, sizeof *dims * (size_t)rank);
  n->nargs = nargs;
  n->args = fe_alloc(b->arena, sizeof *args * (size_t)(nargs + 1));
  if (nargs) memcpy(n->args, args, sizeof *args * (size_t)nargs);
  n->span = span;
  n->id = b->nodes.n;
  fe_vec_push(b->arena, &b->nodes, n);
  return n;
}

tc_Node *tc_build_param(tc_Builder *b, int64_t index, int dtype, int rank, const tc_Poly **dims, fe_Span span) {
  tc_Node *n = tc_build_node(b, TC_PARAM, dtype, rank, dims, 0, NULL, span);
  n->param.index = index;
  return n;
}

tc_Node *tc_build_const(tc_Builder *b, int dtype, double f, int64_t i, fe_Span span) {
  tc_Node *n = tc_build_node(b, TC_CONST, dtype, 0, NULL, 0, NULL, span);
  if (fe_dtype_is_float(dtype)) n->cst.f = f;
  else n->cst.i = i;
  return n;
}

tc_Node *tc_build_dimval(tc_Builder *b, const tc_Poly *size, fe_Span span) {
  tc_Node *n = tc_build_node(b, TC_DIMVAL, FE_I64, 0, NULL, 0, NULL, span);
  n->dimval.size = size;
  return n;
}

tc_Node *tc_build_unary(tc_Builder *b, tc_Op op, tc_Node *x, fe_Span span) {
  const tc_OpInfo *o = tc_op_info(op);
  if (o->arity != 1 || o->cls != TC_CLASS_ELEMENTWISE || op == TC_CAST || op == TC_BROADCAST)
    TRIC_BUG("tc_build_unary: '%s' is not a unary elementwise op", o->name);
  return tc_build_node(b, op, x->dtype, x->rank, (const tc_Poly **)x->dims, 1, &x, span);
}

tc_Node *tc_build_cast(tc_Builder *b, tc_Node *x, int dtype, fe_Span span) {
  if (x->dtype == dtype) return x;
  return tc_build_node(b, TC_CAST, dtype, x->rank, (const tc_Poly **)x->dims, 1, &x, span);
}

tc_Node *tc_build_elementwise(tc_Builder *b, tc_Op op, int dtype, int rank, const tc_Poly **dims, int nargs,
                              tc_Node **args, fe_Span span) {
  const tc_OpInfo *o = tc_op_info(op);
  if (o->cls != TC_CLASS_ELEMENTWISE || o->arity != nargs)
    TRIC_BUG("tc_build_elementwise: '%s' is not an elementwise op of %d arguments", o->name, nargs);
  return tc_build_node(b, op, dtype, rank, dims, nargs, args, span);
}

tc_Node *tc_build_reduce(tc_Builder *b, tc_Op op, tc_Node *x, int64_t mask, bool keepdims, fe_Span span) {
  want_attr(op, TC_ATTR_REDUCE, "tc_build_reduce");
  const tc_Poly *dims[TC_MAXRANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++) {
    if (!(mask & (1ll << i))) dims[r++] = x->dims[i];
    else if (keepdims) dims[r++] = tc_poly_const(b->arena, 1);
  }
  tc_Node *n = tc_build_node(b, op, x->dtype, r, dims, 1, &x, span);
  n->reduce.axes_mask = mask;
  n->reduce.keepdims = keepdims;
  return n;
}

tc_Node *tc_build_transpose(tc_Builder *b, tc_Node *x, const int64_t *perm, fe_Span span) {
  const tc_Poly *dims[TC_MAXRANK];
  for (int i = 0; i < x->rank; i++) dims[i] = x->dims[perm[i]];
  tc_Node *n = tc_build_node(b, TC_TRANSPOSE, x->dtype, x->rank, dims, 1, &x, span);
  n->transpose.perm = fe_alloc(b->arena, sizeof(int64_t) * (size_t)(x->rank + 1));
  memcpy(n->transpose.perm, perm, sizeof(int64_t) * (size_t)x->rank);
  return n;
}

tc_Node *tc_build_slice(tc_Builder *b, tc_Node *x, int rank, const tc_Poly **dims, const tc_Poly **starts,
                        const int64_t *steps, const uint8_t *drop, fe_Span span) {
  tc_Node *n = tc_build_node(b, TC_SLICE, x->dtype, rank, dims, 1, &x, span);
  size_t r = (size_t)x->rank + 1;
  n->slice.starts = fe_alloc(b->arena, sizeof *starts * r);
  n->slice.steps = fe_alloc(b->arena, sizeof *steps * r);
  n->slice.drop = fe_alloc(b->arena, r);
  memcpy(n->slice.starts, starts, sizeof *starts * (size_t)x->rank);
  memcpy(n->slice.steps, steps, sizeof *steps * (size_t)x->rank);
  memcpy(n->slice.drop, drop, (size_t)x->rank);
  return n;
}

tc_Node *tc_build_concat(tc_Builder *b, int64_t axis, int rank, const tc_Poly **dims, int nargs, tc_Node **xs,
                         fe_Span span) {
  tc_Node *n = tc_build_node(b, TC_CONCAT, xs[0]->dtype, rank, dims, nargs, xs, span);
  n->concat.axis = axis;
  return n;
}

tc_Node *tc_build_conv2d(tc_Builder *b, tc_Node *x, tc_Node *w, const int64_t stride[2], const int64_t pad[2],
                         const int64_t dil[2], int64_t groups, const tc_Poly **dims, fe_Span span) {
  tc_Node *args[2] = {x, w};
  tc_Node *n = tc_build_node(b, TC_CONV2D, x->dtype, 4, dims, 2, args, span);
  for (int i = 0; i < 2; i++) {
    n->conv.stride[i] = stride[i];
    n->conv.pad[i] = pad[i];
    n->conv.dil[i] = dil[i];
  }
  n->conv.groups = groups;
  return n;
}

tc_Node *tc_build_pool2d(tc_Builder *b, tc_Op op, tc_Node *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t pad[2], const tc_Poly **dims, fe_Span span) {
  want_attr(op, TC_ATTR_POOL, "tc_build_pool2d");
  tc_Node *n = tc_build_node(b, op, x->dtype, 4, dims, 1, &x, span);
  for (int i = 0; i < 2; i++) {
    n->pool.kernel[i] = kernel[i];
    n->pool.stride[i] = stride[i];
    n->pool.pad[i] = pad[i];
  }
  return n;
}
