/* verify.c - the TIR verifier: checks every node of a function against its op's table
 * row (arity, dtype rule, attributes) and its class's shape rule (broadcasting, reduced
 * axes, matmul, slice, transpose, reshape, concat). It catches a pass that builds a
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
  case TC_CLASS_CONTRACTION: return check_matmul(v, n);
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
