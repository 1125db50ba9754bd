/* verify.c - the TIR verifier: checks every node of a function against its op's table
 * row (arity, dtype rule, attributes) and its class's shape rule (broadcasting, reduced
 * axes, matmul, conv2d, pooling windows, slice, transpose, reshape, concat). It catches a pass that builds a
 * node the later passes would lower wrongly; run with TRIC_VERIFY=1 on every function
 * the checker builds (the test suite always does). */
#include <string.h>

#include "typecheck/internal.h"

typedef struct V {
  char *msg;
  size_t cap;
} V;

/* Records the violation at node n and answers false. */
__attribute__((format(printf, 3, 4))) static bool bad(V *v, const tc_Node *n, const char *fmt, ...) {
  int k = snprintf(v->msg, v->cap, "%%%d = %s: ", n->id, tc_op_name(n->op));
  va_list ap;
  va_start(ap, fmt);
  if (k >= 0 && (size_t)k < v->cap) vsnprintf(v->msg + k, v->cap - (size_t)k, fmt, ap);
  va_end(ap);
  return false;
}

static bool is1(const tc_Poly *p) {
  int64_t k;
  return tc_poly_is_const(p, &k) && k == 1;
}

/* Does argument a broadcast NumPy-style to dims (rank r)? */
static bool broadcasts(const tc_Node *a, int r, const tc_Poly *const *dims) {
  if (a->rank > r) return false;
  for (int j = 0; j < a->rank; j++) {
    const tc_Poly *d = dims[r - a->rank + j];
    if (!tc_poly_eq(a->dims[j], d) && !is1(a->dims[j])) return false;
  }
  return true;
}

static bool check_dtypes(V *v, const tc_Node *n) {
  const tc_OpInfo *o = tc_op_info(n->op);
  int dt = n->dtype;
  bool same = true;
  for (int i = 0; i < n->nargs; i++) same &= n->args[i]->dtype == (n->nargs ? n->args[0]->dtype : dt);
  int a0 = n->nargs ? n->args[0]->dtype : dt;
  switch (o->dtypes) {
  case TC_DT_ANY: case TC_DT_CAST: return true;
  case TC_DT_I64: return dt == FE_I64 || bad(v, n, "dtype %s, not i64", fe_dtype_name(dt));
  case TC_DT_SAME: case TC_DT_NUM: case TC_DT_FLOAT: case TC_DT_BOOL:
    if (!same || a0 != dt) return bad(v, n, "arguments and result are not all %s", fe_dtype_name(dt));
    if (o->dtypes == TC_DT_NUM && dt == FE_BOOL) return bad(v, n, "not defined on bool");
    if (o->dtypes == TC_DT_FLOAT && !fe_dtype_is_float(dt)) return bad(v, n, "needs a float dtype, has %s", fe_dtype_name(dt));
    if (o->dtypes == TC_DT_BOOL && dt != FE_BOOL) return bad(v, n, "needs bool, has %s", fe_dtype_name(dt));
    return true;
  case TC_DT_EQUALITY: case TC_DT_ORDER:
    if (!same) return bad(v, n, "arguments of different dtypes");
    if (dt != FE_BOOL) return bad(v, n, "a comparison gives bool, not %s", fe_dtype_name(dt));
    if (o->dtypes == TC_DT_ORDER && a0 == FE_BOOL) return bad(v, n, "bool has no order");
    return true;
  case TC_DT_SELECT:
    if (n->args[0]->dtype != FE_BOOL) return bad(v, n, "condition of dtype %s", fe_dtype_name(n->args[0]->dtype));
    if (n->args[1]->dtype != dt || n->args[2]->dtype != dt) return bad(v, n, "branches are not both %s", fe_dtype_name(dt));
    return true;
  }
  TRIC_BUG("check_dtypes: '%s' has no dtype rule", o->name);
}

static bool check_reduce(V *v, const tc_Node *n) {
  const tc_Node *a = n->args[0];
  int64_t mask = n->reduce.axes_mask;
  if (a->rank < 63 && (mask & ~((1ll << a->rank) - 1)))
    return bad(v, n, "axes mask 0x%llx outside the argument's rank %d", (unsigned long long)mask, a->rank);
  if (n->reduce.keepdims != 0 && n->reduce.keepdims != 1) return bad(v, n, "keepdims is %lld", (long long)n->reduce.keepdims);
  int k = 0;
  for (int i = 0; i < a->rank; i++) {
    bool red = mask & (1ll << i);
    if (red && !n->reduce.keepdims) continue;
    if (k >= n->rank) return bad(v, n, "rank %d, too small for what is kept", n->rank);
    if (red ? !is1(n->dims[k]) : !tc_poly_eq(n->dims[k], a->dims[i]))
      return bad(v, n, "dim %d does not follow from argument dim %d", k, i);
    k++;
  }
  return k == n->rank || bad(v, n, "rank %d, kept dims %d", n->rank, k);
}

static bool check_matmul(V *v, const tc_Node *n) {
  const tc_Node *A = n->args[0], *B = n->args[1];
  int r = n->rank;
  if (A->rank < 2 || B->rank < 2) return bad(v, n, "arguments of rank %d and %d, both need rank >= 2", A->rank, B->rank);
  if (r != (A->rank > B->rank ? A->rank : B->rank)) return bad(v, n, "rank %d for arguments of rank %d and %d", r, A->rank, B->rank);
  if (!tc_poly_eq(A->dims[A->rank - 1], B->dims[B->rank - 2])) return bad(v, n, "inner dims differ");
  if (!tc_poly_eq(n->dims[r - 2], A->dims[A->rank - 2]) || !tc_poly_eq(n->dims[r - 1], B->dims[B->rank - 1]))
    return bad(v, n, "result dims are not [..., M, N]");
  for (int s = 0; s < 2; s++) {
    const tc_Node *x = n->args[s];
    for (int j = 0; j < x->rank - 2; j++) {
      const tc_Poly *d = n->dims[r - x->rank + j];
      if (!tc_poly_eq(x->dims[j], d) && !is1(x->dims[j])) return bad(v, n, "batch dims do not broadcast");
    }
  }
  return true;
}

/* Whether d is the output size of a window of kernel k over dim in (stride, pad, dil):
 * floor(span / stride) + 1 for span = in + 2*pad - dil*(k - 1) - 1, where span is a
 * constant >= 0, or stride is 1, or d - 1 is a floor-division symbol of span by stride. */
static bool window_ok(const tc_Func *f, fe_Arena *ar, const tc_Poly *d, const tc_Poly *in, const tc_Poly *k,
                      int64_t stride, int64_t pad, int64_t dil) {
  const tc_Poly *num = tc_window_span(ar, in, k, pad, dil);
  int64_t nv;
  if (!num) return false;
  if (tc_poly_is_const(num, &nv)) return nv >= 0 && tc_poly_eq(d, tc_poly_const(ar, nv / stride + 1));
  if (stride == 1) return tc_poly_eq(d, tc_poly_add(ar, num, tc_poly_const(ar, 1)));
  const tc_Poly *q = tc_poly_sub(ar, d, tc_poly_const(ar, 1)), *den = tc_poly_const(ar, stride);
  for (int i = 0; q && i < f->nsyms; i++) {
    const tc_Sym *s = &f->syms[i];
    if (s->kind == TC_SYM_FLOORDIV && tc_poly_eq(q, tc_poly_sym(ar, i)) && tc_poly_eq(s->num, num) && tc_poly_eq(s->den, den))
      return true;
  }
  return false;
}

/* conv2d: x [N, C, H, W], w [O, C/groups, KH, KW] -> [N, O, OH, OW], attributes in range. */
static bool check_conv(V *v, const tc_Func *f, const tc_Node *n, fe_Arena *ar) {
  const tc_Node *x = n->args[0], *w = n->args[1];
  if (x->rank != 4 || w->rank != 4 || n->rank != 4) return bad(v, n, "ranks %d, %d -> %d, not 4", x->rank, w->rank, n->rank);
  int64_t g = n->conv.groups, cv, ov;
  if (g < 1) return bad(v, n, "groups %lld", (long long)g);
  for (int i = 0; i < 2; i++)
    if (n->conv.stride[i] < 1 || n->conv.dil[i] < 1 || n->conv.pad[i] < 0)
      return bad(v, n, "stride %lld, dilation %lld, padding %lld in dim %d", (long long)n->conv.stride[i],
                 (long long)n->conv.dil[i], (long long)n->conv.pad[i], 2 + i);
  /* over size symbols a runtime rule checks it (as a reshape's counts) */
  const tc_Poly *cin = tc_poly_mul(ar, w->dims[1], tc_poly_const(ar, g));
  if (cin && tc_poly_is_const(x->dims[1], &cv) && tc_poly_is_const(cin, &ov) && cv != ov)
    return bad(v, n, "x's %lld channels are not groups * w's input channels (%lld)", (long long)cv, (long long)ov);
  if ((tc_poly_is_const(x->dims[1], &cv) && cv % g) || (tc_poly_is_const(w->dims[0], &ov) && ov % g))
    return bad(v, n, "channels not divisible by groups %lld", (long long)g);
  if (!tc_poly_eq(n->dims[0], x->dims[0]) || !tc_poly_eq(n->dims[1], w->dims[0]))
    return bad(v, n, "result dims are not [N, O, ...]");
  for (int i = 0; i < 2; i++)
    if (!window_ok(f, ar, n->dims[2 + i], x->dims[2 + i], w->dims[2 + i], n->conv.stride[i], n->conv.pad[i], n->conv.dil[i]))
      return bad(v, n, "dim %d is not the output size of its window", 2 + i);
  return true;
}

/* Pooling: x [N, C, H, W] -> [N, C, OH, OW], kernel >= 1, stride >= 1, 0 <= padding <= kernel/2. */
static bool check_window(V *v, const tc_Func *f, const tc_Node *n, fe_Arena *ar) {
  const tc_Node *x = n->args[0];
  if (n->op != TC_MAXPOOL2D && n->op != TC_AVGPOOL2D) TRIC_BUG("check_window: no rule for '%s'", tc_op_name(n->op));
  if (x->rank != 4 || n->rank != 4) return bad(v, n, "rank %d -> %d, not 4", x->rank, n->rank);
  for (int i = 0; i < 2; i++) {
    int64_t k = n->pool.kernel[i], s = n->pool.stride[i], p = n->pool.pad[i];
    if (k < 1 || s < 1 || p < 0 || p > k / 2)
      return bad(v, n, "kernel %lld, stride %lld, padding %lld in dim %d", (long long)k, (long long)s, (long long)p, 2 + i);
  }
  if (!tc_poly_eq(n->dims[0], x->dims[0]) || !tc_poly_eq(n->dims[1], x->dims[1]))
    return bad(v, n, "result dims are not [N, C, ...]");
  for (int i = 0; i < 2; i++)
    if (!window_ok(f, ar, n->dims[2 + i], x->dims[2 + i], tc_poly_const(ar, n->pool.kernel[i]), n->pool.stride[i],
                   n->pool.pad[i], 1))
      return bad(v, n, "dim %d is not the output size of its window", 2 + i);
  return true;
}

static bool check_layout(V *v, const tc_Node *n, fe_Arena *ar) {
  const tc_Node *a = n->args[0];
  switch (n->op) {
  case TC_SLICE: {
    if (!n->slice.starts || !n->slice.steps || !n->slice.drop) return bad(v, n, "no slice attributes");
    int kept = 0;
    for (int i = 0; i < a->rank; i++) {
      if (!n->slice.starts[i]) return bad(v, n, "no start for dim %d", i);
      if (n->slice.steps[i] < 1) return bad(v, n, "step %lld for dim %d", (long long)n->slice.steps[i], i);
      if (n->slice.drop[i] > 1) return bad(v, n, "drop flag %d for dim %d", n->slice.drop[i], i);
      if (!n->slice.drop[i]) kept++;
    }
    return kept == n->rank || bad(v, n, "rank %d, but %d dims are kept", n->rank, kept);
  }
  case TC_TRANSPOSE: {
    if (n->rank != a->rank) return bad(v, n, "rank %d of an argument of rank %d", n->rank, a->rank);
    if (!n->transpose.perm) return bad(v, n, "no permutation");
    int64_t seen = 0;
    for (int i = 0; i < n->rank; i++) {
      int64_t p = n->transpose.perm[i];
      if (p < 0 || p >= a->rank || (seen & (1ll << p))) return bad(v, n, "perm is not a permutation of %d axes", a->rank);
      seen |= 1ll << p;
      if (!tc_poly_eq(n->dims[i], a->dims[p])) return bad(v, n, "dim %d is not argument dim %lld", i, (long long)p);
    }
    return true;
  }
  case TC_RESHAPE: { /* element counts are compared when both are constants (else a runtime check) */
    const tc_Poly *x = tc_poly_const(ar, 1), *y = tc_poly_const(ar, 1);
    for (int i = 0; i < n->rank && x; i++) x = tc_poly_mul(ar, x, n->dims[i]);
    for (int i = 0; i < a->rank && y; i++) y = tc_poly_mul(ar, y, a->dims[i]);
    int64_t kx, ky;
    if (x && y && tc_poly_is_const(x, &kx) && tc_poly_is_const(y, &ky) && kx != ky)
      return bad(v, n, "%lld elements from %lld", (long long)kx, (long long)ky);
    return true;
  }
  case TC_CONCAT: {
    int64_t ax = n->concat.axis;
    if (ax < 0 || ax >= n->rank) return bad(v, n, "axis %lld outside rank %d", (long long)ax, n->rank);
    const tc_Poly *sum = tc_poly_const(ar, 0);
    for (int k = 0; k < n->nargs; k++) {
      const tc_Node *x = n->args[k];
      if (x->rank != n->rank) return bad(v, n, "argument %d of rank %d", k, x->rank);
      for (int i = 0; i < n->rank; i++)
        if (i != ax && !tc_poly_eq(x->dims[i], n->dims[i])) return bad(v, n, "argument %d differs in dim %d", k, i);
      sum = tc_poly_add(ar, sum, x->dims[ax]);
    }
    return !sum || tc_poly_eq(sum, n->dims[ax]) || bad(v, n, "axis dim is not the sum of the arguments'");
  }
  default: TRIC_BUG("check_layout: no rule for '%s'", tc_op_name(n->op));
  }
}

/* Checks node i of f. */
static bool check_node(V *v, const tc_Func *f, int i, fe_Arena *ar) {
  const tc_Node *n = f->nodes[i];
  if (!n) { snprintf(v->msg, v->cap, "node %d is missing", i); return false; }
  if ((unsigned)n->op >= TC_NOPS) { snprintf(v->msg, v->cap, "node %d has op number %d", i, (int)n->op); return false; }
  const tc_OpInfo *o = tc_op_info(n->op);
  if (n->id != i) return bad(v, n, "numbered %d at position %d", n->id, i);
  if (n->dtype < 0 || n->dtype >= FE_NDTYPES) return bad(v, n, "dtype number %d", n->dtype);
  if (n->rank < 0 || n->rank > TC_MAXRANK || (n->rank && !n->dims)) return bad(v, n, "rank %d", n->rank);
  for (int j = 0; j < n->rank; j++)
    if (!n->dims[j]) return bad(v, n, "no size for dim %d", j);
  if (o->arity == TC_VARIADIC ? n->nargs < 1 : n->nargs != o->arity)
    return bad(v, n, "%d arguments, the op takes %d", n->nargs, o->arity);
  for (int j = 0; j < n->nargs; j++)
    if (!n->args[j] || n->args[j]->id < 0 || n->args[j]->id >= i || f->nodes[n->args[j]->id] != n->args[j])
      return bad(v, n, "argument %d is not an earlier node of the function", j);
  if (!check_dtypes(v, n)) return false;
  switch (o->cls) {
  case TC_CLASS_LEAF:
    if (n->op == TC_PARAM) {
      int64_t k = n->param.index;
      if (k < 0 || k >= f->nparams || f->params[k].node != n) return bad(v, n, "not parameter #%lld of the function", (long long)k);
    } else if (n->rank != 0) return bad(v, n, "rank %d, a scalar leaf", n->rank);
    if (n->op == TC_DIMVAL && !n->dimval.size) return bad(v, n, "no size");
    return true;
  case TC_CLASS_ELEMENTWISE:
    for (int j = 0; j < n->nargs; j++)
      if (!broadcasts(n->args[j], n->rank, (const tc_Poly *const *)n->dims))
        return bad(v, n, "argument %d (rank %d) does not broadcast to the result", j, n->args[j]->rank);
    return true;
  case TC_CLASS_REDUCTION: return check_reduce(v, n);
  case TC_CLASS_CONTRACTION:
    if (n->op == TC_CONV2D) return check_conv(v, f, n, ar);
    if (n->op == TC_MATMUL) return check_matmul(v, n);
    TRIC_BUG("check_node: no contraction rule for '%s'", o->name);
  case TC_CLASS_WINDOW: return check_window(v, f, n, ar);
  case TC_CLASS_LAYOUT: return check_layout(v, n, ar);
  }
  TRIC_BUG("check_node: '%s' has no op class", o->name);
}

bool tc_verify(const tc_Func *f, char *msg, size_t cap) {
  V v = {msg, cap};
  if (cap) msg[0] = 0;
  fe_Arena ar = {0};
  bool ok = true;
  for (int i = 0; i < f->nnodes && ok; i++) ok = check_node(&v, f, i, &ar);
  for (int i = 0; i < f->nresults && ok; i++) {
    const tc_Node *r = f->results[i];
    if (!r || r->id < 0 || r->id >= f->nnodes || f->nodes[r->id] != r) {
      snprintf(msg, cap, "result %d is not a node of the function", i);
      ok = false;
    }
  }
  fe_arena_free(&ar);
  return ok;
}
