/* check.c - name resolution, dtype and shape rules, and lowering to TIR.
 *
 * Each exported function is checked by "calling" it with PARAM nodes; every call to an
 * internal function is checked with the argument types it is given (binding its size
 * symbols and its `...` to the caller's sizes) and inlined, so the TIR of an export is a
 * plain DAG; a call with the same arguments as an earlier one returns the earlier result
 * (CallMemo), which keeps that DAG, and the time to check it, proportional to the
 * program's text. An expression that fails yields an error value that later rules accept
 * silently: one mistake, one error.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "typecheck/internal.h"

/* ---------------------------------------------------------------- values */

typedef enum {
  V_ERR,    /* already reported */
  V_TENSOR, /* a TIR node */
  V_WEAK,   /* a literal expression without dtype: int, float or bool */
  V_DIM,    /* a size (symbol or size arithmetic): a weak runtime integer */
  V_TUPLE,  /* results of a call returning several tensors */
  V_LIST,   /* [a, b, ...] */
  V_DTYPE,
  V_MODULE,
  V_FN,
  V_BUILTIN,
} VKind;

enum { W_INT, W_FLOAT, W_BOOL };

typedef struct Val Val;
struct Val {
  VKind k;
  tc_Node *t;
  int wk;      /* W_INT, W_FLOAT, W_BOOL */
  double f;    /* W_FLOAT */
  int64_t i;   /* W_INT, W_BOOL; dtype for V_DTYPE; builtin index */
  const tc_Poly *dim;
  int n;
  Val *items;
  tc_Module *mod; /* V_MODULE, V_FN */
  const fe_Node *fn;
  fe_Span span;
};

static const Val ERR = {.k = V_ERR};

/* ---------------------------------------------------------------- modules */

typedef struct Import {
  const char *qual;
  tc_Module *mod;
  const fe_Node *decl;
  bool used; /* named by a lookup: an import nothing names is warned about */
} Import;

typedef struct ConstVal {
  const fe_Node *decl;
  int state; /* 0 unevaluated, 1 evaluating, 2 done */
  Val v;     /* V_WEAK, or V_TENSOR-less typed constant: wk/f/i with dtype in `typed` */
  int typed; /* dtype of a typed const, or -1 */
} ConstVal;

struct tc_Module {
  const fe_Module *ast;
  const char *name;
  fe_Arena *arena;
  fe_Vec imports; /* Import* */
  fe_Vec consts;  /* ConstVal* */
  fe_Vec fns;     /* const fe_Node* */
  uint8_t *fn_bad; /* per fn: its declaration or generic body check failed */
  struct DeclName *decl_names; /* open addressing, ndecl_slots (a power of two) slots */
  size_t ndecl_slots;
};

tc_Module *tc_module_new(fe_Arena *a, const fe_Module *ast, const char *name) {
  tc_Module *m = fe_alloc(a, sizeof *m);
  m->ast = ast;
  m->name = name;
  m->arena = a;
  return m;
}

/* ---------------------------------------------------------------- declaration names */

/* A module's declarations by name, so that a lookup costs the same in a module of 5000
 * functions as in one of five (a chain of calls looks up every callee). */
typedef struct DeclName {
  const char *name;      /* NULL: an empty slot */
  const fe_Node *first;  /* the first declaration of the name, of any kind */
  int cidx, fidx;        /* the first const and the first function so named, or -1 */
} DeclName;

static uint64_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The slot of name in m's table: its entry, or the empty slot where it belongs. */
static DeclName *decl_slot(const tc_Module *m, const char *name) {
  size_t mask = m->ndecl_slots - 1, i = (size_t)name_hash(name) & mask;
  while (m->decl_names[i].name && strcmp(m->decl_names[i].name, name) != 0) i = (i + 1) & mask;
  return &m->decl_names[i];
}

/* Fills m's name table from its consts and functions (after they are collected). */
static void index_decls(tc_Module *m) {
  size_t cap = 16;
  while (cap < 2 * (size_t)(m->consts.n + m->fns.n)) cap *= 2;
  m->ndecl_slots = cap;
  m->decl_names = fe_alloc(m->arena, sizeof *m->decl_names * cap);
  for (const fe_Node *x = m->ast->decls; x; x = x->next) {
    if (x->kind == FE_IMPORT) continue;
    DeclName *d = decl_slot(m, x->name);
    if (!d->name) *d = (DeclName){.name = x->name, .first = x, .cidx = -1, .fidx = -1};
  }
  for (int i = 0; i < m->consts.n; i++) {
    DeclName *d = decl_slot(m, ((ConstVal *)m->consts.items[i])->decl->name);
    if (d->cidx < 0) d->cidx = i;
  }
  for (int i = 0; i < m->fns.n; i++) {
    DeclName *d = decl_slot(m, ((const fe_Node *)m->fns.items[i])->name);
    if (d->fidx < 0) d->fidx = i;
  }
}

/* The entry for name in m, or NULL. */
static const DeclName *find_decl(const tc_Module *m, const char *name) {
  if (!m->decl_names) return NULL;
  const DeclName *d = decl_slot(m, name);
  return d->name ? d : NULL;
}

static const char *last_part(const char *path) {
  const char *p = strrchr(path, '.');
  return p ? p + 1 : path;
}

void tc_module_add_import(tc_Module *m, fe_Diags *d, const fe_Node *decl, tc_Module *dep) {
  const char *q = last_part(dep->name);
  for (int i = 0; i < m->imports.n; i++) {
    Import *im = m->imports.items[i];
    if (strcmp(im->qual, q) == 0) {
      fe_error(d, decl->span, "import of '%s' clashes with the import of '%s': both are used as '%s'",
               dep->name, im->mod->name, q);
      return;
    }
  }
  Import *im = fe_alloc(m->arena, sizeof *im);
  im->qual = q;
  im->mod = dep;
  im->decl = decl;
  fe_vec_push(m->arena, &m->imports, im);
}

/* ---------------------------------------------------------------- checking context */

enum { MAX_DEPTH = 512 }; /* inlined calls in one chain (checking recurses through each) */

typedef struct Scope {
  tc_Module *mod;
  const fe_Node *fn;
  int nlocals, caplocals; /* bindings, newest last (malloc'd, grown as needed) */
  const char **names;
  Val *vals;
  fe_Span *spans;      /* where each is bound */
  unsigned char *used; /* whether a lookup found it, for the unused-binding warning */
  int nsyms;
  const char *symnames[64];
  const tc_Poly *symvals[64];
  fe_Span symspans[64];
  int has_ellipsis;
  int nell;
  const tc_Poly *ell[TC_MAXRANK];
} Scope;

/* The result of one checked call of an internal function: a later call of the same
 * function with the same arguments (the same nodes, or nodes computing the same value:
 * same_value) returns it instead of checking and inlining the body again, so `g(x) + g(x)` costs one
 * check of g and its result is one node, however deep such calls nest. */
typedef struct CallMemo {
  const fe_Node *fn;
  int nargs;
  tc_Node **args; /* per declared parameter, after conversion to its dtype */
  Val result;
  struct CallMemo *next; /* the next entry in the same hash bucket */
} CallMemo;

typedef struct Ctx {
  fe_Arena *a;
  fe_Diags *d;
  bool const_mode; /* evaluating a const: no tensors may be created */
  bool quiet;      /* counting errors of a probe: do not report */
  int errors;
  tc_Builder b; /* the export's nodes */
  fe_Vec syms, checks;
  int depth, note_from; /* frames below note_from (an export's own entry) get no note */
  fe_Span call_spans[MAX_DEPTH];
  const fe_Node *call_fns[MAX_DEPTH];
  fe_Vec bind_names, bind_nodes;
  bool reached_bad; /* a call reached a function whose own check failed (reported there) */
  CallMemo **memo;  /* hash buckets (memo_cap, a power of two), per export or generic check */
  int memo_cap, memo_n;
} Ctx;

/* Reports an error, with a note for every inlined call that led to it. */
__attribute__((format(printf, 3, 4))) static fe_Diag *err(Ctx *c, fe_Span span, const char *fmt, ...) {
  c->errors++;
  va_list ap;
  va_start(ap, fmt);
  char *msg = fe_vsprintf(c->a, fmt, ap);
  va_end(ap);
  fe_Diag *g = fe_error(c->d, span, "%s", msg);
  for (int i = c->depth - 1; i >= c->note_from; i--)
    fe_note(c->d, g, c->call_spans[i], "in this call of '%s'", c->call_fns[i]->name);
  return g;
}

static tc_Sym *sym_at(Ctx *c, int i) { return c->syms.items[i]; }

static tc_Sym *sym_table(Ctx *c) {
  tc_Sym *s = fe_alloc(c->a, sizeof *s * (size_t)(c->syms.n + 1));
  for (int i = 0; i < c->syms.n; i++) s[i] = *sym_at(c, i);
  return s;
}

static const char *poly_s(Ctx *c, const tc_Poly *p) {
  char buf[256];
  tc_poly_str(p, sym_table(c), buf, sizeof buf);
  return fe_strndup(c->a, buf, strlen(buf));
}

static const char *type_s(Ctx *c, const tc_Node *n) {
  return tc_type_str(c->a, n->dtype, n->rank, n->dims, sym_table(c));
}

static const tc_Poly *pconst(Ctx *c, int64_t v) { return tc_poly_const(c->a, v); }

/* Checks a size computation for overflow. */
static const tc_Poly *pchk(Ctx *c, const tc_Poly *p, fe_Span span) {
  if (!p) err(c, span, "size arithmetic overflows or is too complex");
  return p;
}

static int new_sym(Ctx *c, const char *name, tc_SymKind k, const tc_Poly *num, const tc_Poly *den) {
  tc_Sym *s = fe_alloc(c->a, sizeof *s);
  s->name = name;
  s->kind = k;
  s->num = num;
  s->den = den;
  fe_vec_push(c->a, &c->syms, s);
  return c->syms.n - 1;
}

/* The size num / den (exact): a polynomial when it divides symbolically, else the derived
 * symbol for it (one per distinct quotient, with its runtime divisibility rule). */
static const tc_Poly *quotient(Ctx *c, const tc_Poly *num, const tc_Poly *den, fe_Span span);

static void add_check(Ctx *c, tc_CheckKind k, const tc_Poly *a, const tc_Poly *b, fe_Span span,
                      const char *why) {
  int64_t va, vb;
  if (k == TC_CHECK_EQ && tc_poly_eq(a, b)) return;
  if (k == TC_CHECK_GE0 && tc_poly_is_const(a, &va) && va >= 0) return;
  if (k == TC_CHECK_EQ && tc_poly_is_const(a, &va) && tc_poly_is_const(b, &vb)) return;
  tc_Check *ch = fe_alloc(c->a, sizeof *ch);
  ch->kind = k;
  ch->a = a;
  ch->b = b;
  ch->span = span;
  ch->why = why;
  fe_vec_push(c->a, &c->checks, ch);
}

/* ---------------------------------------------------------------- nodes */

static Val tensor(tc_Node *n) {
  Val v = {.k = V_TENSOR, .t = n, .span = n->span};
  return v;
}

static const char *val_desc(Ctx *c, const Val *v) {
  switch (v->k) {
  case V_TENSOR: return type_s(c, v->t);
  case V_WEAK: return v->wk == W_FLOAT ? "a float literal" : v->wk == W_INT ? "an integer literal" : "a bool literal";
  case V_DIM: return "a size";
  case V_TUPLE: return "a tuple";
  case V_LIST: return "a list";
  case V_DTYPE: return "a dtype";
  case V_MODULE: return "a module";
  case V_FN: case V_BUILTIN: return "a function";
  default: return "an invalid value";
  }
}

/* Does the weak value fit dtype? Reports when not. */
static bool weak_fits(Ctx *c, const Val *v, int dtype, fe_Span span) {
  if (v->wk == W_BOOL) {
    if (dtype == FE_BOOL) return true;
    err(c, span, "a bool literal cannot be used as %s", fe_dtype_name(dtype));
    return false;
  }
  if (dtype == FE_BOOL) {
    err(c, span, "a number cannot be used as bool; compare it instead");
    return false;
  }
  if (v->wk == W_FLOAT && !fe_dtype_is_float(dtype)) {
    err(c, span, "a float literal cannot be used as %s; use an integer or cast()", fe_dtype_name(dtype));
    return false;
  }
  if (v->wk == W_FLOAT && isfinite(v->f) && v->f != 0) {
    /* the largest finite value and half the smallest subnormal of each float dtype */
    double big = dtype == FE_F16 ? 65504.0 : dtype == FE_BF16 ? 3.3895313892515355e38 : dtype == FE_F32 ? 3.4028234663852886e38 : INFINITY;
    double tiny = dtype == FE_F16 ? 0x1p-25 : dtype == FE_BF16 || dtype == FE_F32 ? 0x1p-150 : 0;
    if (fabs(v->f) > big)
      fe_warning(c->d, span, "float literal %g does not fit in %s (its largest value is %g): it becomes %sinf", v->f,
                 fe_dtype_name(dtype), big, v->f < 0 ? "-" : "");
    else if (fabs(v->f) <= tiny)
      fe_warning(c->d, span, "float literal %g is too small for %s: it becomes 0", v->f, fe_dtype_name(dtype));
  }
  if (v->wk == W_INT && fe_dtype_is_int(dtype)) {
    static const int64_t lo[] = {[FE_I8] = -128, [FE_U8] = 0, [FE_I32] = INT32_MIN, [FE_I64] = INT64_MIN};
    static const int64_t hi[] = {[FE_I8] = 127, [FE_U8] = 255, [FE_I32] = INT32_MAX, [FE_I64] = INT64_MAX};
    if (v->i < lo[dtype] || v->i > hi[dtype]) {
      err(c, span, "literal %lld does not fit in %s", (long long)v->i, fe_dtype_name(dtype));
      return false;
    }
  }
  return true;
}

/* Turns a value into a tensor node of `dtype` (-1: keep, or the default for literals). */
static tc_Node *as_tensor(Ctx *c, const Val *v, int dtype) {
  switch (v->k) {
  case V_TENSOR:
    if (dtype >= 0 && v->t->dtype != dtype) {
      err(c, v->span, "expected %s, found %s", fe_dtype_name(dtype), type_s(c, v->t));
      return NULL;
    }
    return v->t;
  case V_WEAK:
    if (dtype < 0) dtype = v->wk == W_FLOAT ? FE_F32 : v->wk == W_BOOL ? FE_BOOL : FE_I64;
    if (!weak_fits(c, v, dtype, v->span)) return NULL;
    if (c->const_mode) {
      err(c, v->span, "a const must be a literal expression");
      return NULL;
    }
    return tc_build_const(&c->b, dtype, v->wk == W_FLOAT ? v->f : (double)v->i, v->i, v->span);
  case V_DIM: {
    if (dtype < 0) dtype = FE_I64;
    if (dtype == FE_BOOL) {
      err(c, v->span, "a size cannot be used as bool");
      return NULL;
    }
    int64_t k;
    if (tc_poly_is_const(v->dim, &k)) return tc_build_const(&c->b, dtype, (double)k, k, v->span);
    tc_Node *n = tc_build_dimval(&c->b, v->dim, v->span);
    return tc_build_cast(&c->b, n, dtype, v->span);
  }
  case V_ERR: return NULL;
  default:
    err(c, v->span, "expected a tensor, found %s", val_desc(c, v));
    return NULL;
  }
}

/* Do two shapes broadcast (NumPy's rule, sizes compared exactly)? */
static bool shapes_broadcast(int xr, const tc_Poly *const *xd, int yr, const tc_Poly *const *yd) {
  for (int i = 1; i <= xr && i <= yr; i++) {
    const tc_Poly *a = xd[xr - i], *b = yd[yr - i];
    int64_t v;
    if (!tc_poly_eq(a, b) && !(tc_poly_is_const(a, &v) && v == 1) && !(tc_poly_is_const(b, &v) && v == 1)) return false;
  }
  return true;
}

/* The reduction of a mean (its quotient, cast back to f16 or bf16), or x itself. */
static const tc_Node *under_mean(const tc_Node *x) {
  if (x->op == TC_CAST && x->args[0]->op == TC_DIV) x = x->args[0];
  if (x->op == TC_DIV && x->nargs == 2 && x->args[0]->rank == x->rank) x = x->args[0];
  return x;
}

/* When x is a reduction without keepdims (or a mean, its quotient) and keeping the
 * reduced axes as size 1 would make it broadcast with y, says so in a note on g. */
static void note_keepdims(Ctx *c, fe_Diag *g, const tc_Node *x, const tc_Node *y) {
  x = under_mean(x);
  if (tc_op_info(x->op)->cls != TC_CLASS_REDUCTION) return;
  if (x->reduce.keepdims) return;
  const tc_Node *in = x->args[0];
  const tc_Poly *kept[TC_MAXRANK];
  for (int i = 0; i < in->rank; i++) kept[i] = (x->reduce.axes_mask & (1ll << i)) ? pconst(c, 1) : in->dims[i];
  if (shapes_broadcast(in->rank, kept, y->rank, y->dims))
    fe_note(c->d, g, x->span, "keepdims=true in this reduction keeps the reduced axes as size 1, and then the shapes broadcast");
}

/* NumPy broadcasting of two shapes; reports and returns false on a mismatch. */
static bool broadcast(Ctx *c, const tc_Node *x, const tc_Node *y, int *rank, const tc_Poly **dims,
                      fe_Span span) {
  int r = x->rank > y->rank ? x->rank : y->rank;
  for (int i = 0; i < r; i++) {
    int ix = x->rank - r + i, iy = y->rank - r + i;
    const tc_Poly *a = ix >= 0 ? x->dims[ix] : NULL, *b = iy >= 0 ? y->dims[iy] : NULL;
    int64_t v;
    if (!a) dims[i] = b;
    else if (!b) dims[i] = a;
    else if (tc_poly_eq(a, b)) dims[i] = a;
    else if (tc_poly_is_const(a, &v) && v == 1) dims[i] = b;
    else if (tc_poly_is_const(b, &v) && v == 1) dims[i] = a;
    else {
      fe_Diag *g = err(c, span, "shapes %s and %s do not broadcast: sizes %s and %s differ", type_s(c, x),
                       type_s(c, y), poly_s(c, a), poly_s(c, b));
      note_keepdims(c, g, x, y);
      note_keepdims(c, g, y, x);
      return false;
    }
  }
  *rank = r;
  return true;
}

/* An elementwise node over broadcast arguments. */
static tc_Node *elementwise(Ctx *c, tc_Op op, int dtype, int nargs, tc_Node **args, fe_Span span) {
  int rank = args[0]->rank;
  const tc_Poly *dims[TC_MAXRANK];
  memcpy(dims, args[0]->dims, sizeof *dims * (size_t)rank);
  tc_Node tmp = {.rank = rank, .dims = dims, .dtype = args[0]->dtype};
  for (int i = 1; i < nargs; i++) {
    const tc_Poly *out[TC_MAXRANK];
    int r;
    if (!broadcast(c, i == 1 ? args[0] : &tmp, args[i], &r, out, span)) return NULL; /* args[0]: for its notes */
    memcpy(dims, out, sizeof *out * (size_t)r);
    tmp.rank = rank = r;
  }
  return tc_build_elementwise(&c->b, op, dtype, rank, dims, nargs, args, span);
}

/* ---------------------------------------------------------------- weak folding */

static Val weak_int(int64_t i, fe_Span s) { Val v = {.k = V_WEAK, .wk = W_INT, .i = i, .span = s}; return v; }
static Val weak_float(double f, fe_Span s) { Val v = {.k = V_WEAK, .wk = W_FLOAT, .f = f, .span = s}; return v; }
static Val weak_bool(bool b, fe_Span s) { Val v = {.k = V_WEAK, .wk = W_BOOL, .i = b, .span = s}; return v; }

/* A literal comparison from the three relations of its operands. */
static Val fold_cmp(int op, bool lt, bool eq, bool gt, fe_Span span) {
  switch (op) {
  case FE_OP_EQ: return weak_bool(eq, span);
  case FE_OP_NE: return weak_bool(!eq, span);
  case FE_OP_LT: return weak_bool(lt, span);
  case FE_OP_LE: return weak_bool(lt || eq, span);
  case FE_OP_GT: return weak_bool(gt, span);
  case FE_OP_GE: return weak_bool(gt || eq, span);
  default: TRIC_BUG("fold_cmp: '%s' is not a comparison", fe_op_name(op));
  }
}

static Val fold_binary(Ctx *c, int op, const Val *x, const Val *y, fe_Span span) {
  bool logic = op == FE_OP_AND || op == FE_OP_OR;
  if (logic || x->wk == W_BOOL || y->wk == W_BOOL) {
    if (x->wk != W_BOOL || y->wk != W_BOOL || !(logic || op == FE_OP_EQ || op == FE_OP_NE)) {
      err(c, span, "operator '%s' cannot combine these literals", fe_op_name(op));
      return ERR;
    }
    bool a = x->i, b = y->i;
    return weak_bool(op == FE_OP_AND ? a && b : op == FE_OP_OR ? a || b : op == FE_OP_EQ ? a == b : a != b, span);
  }
  if (x->wk == W_INT && y->wk == W_INT) {
    int64_t a = x->i, b = y->i, r = 0;
    bool ovf = false;
    switch (op) {
    case FE_OP_ADD: ovf = __builtin_add_overflow(a, b, &r); break;
    case FE_OP_SUB: ovf = __builtin_sub_overflow(a, b, &r); break;
    case FE_OP_MUL: ovf = __builtin_mul_overflow(a, b, &r); break;
    case FE_OP_DIV: case FE_OP_MOD:
      if (b == 0) { err(c, span, "integer division by zero in a literal expression"); return ERR; }
      if (a == INT64_MIN && b == -1) { ovf = true; break; }
      r = op == FE_OP_DIV ? a / b : a % b;
      if (r != 0 && op == FE_OP_MOD && ((r < 0) != (b < 0))) r += b;       /* floor semantics */
      if (op == FE_OP_DIV && (a % b != 0) && ((a < 0) != (b < 0))) r -= 1;
      break;
    case FE_OP_POW:
      if (b < 0) { err(c, span, "negative integer power of an integer literal"); return ERR; }
      r = 1;
      for (int64_t k = 0; k < b && !ovf; k++) ovf = __builtin_mul_overflow(r, a, &r);
      break;
    case FE_OP_EQ: case FE_OP_NE: case FE_OP_LT: case FE_OP_LE: case FE_OP_GT: case FE_OP_GE:
      return fold_cmp(op, a < b, a == b, a > b, span);
    default: err(c, span, "operator '%s' cannot combine literals", fe_op_name(op)); return ERR;
    }
    if (ovf) { err(c, span, "integer overflow in a literal expression"); return ERR; }
    return weak_int(r, span);
  }
  double a = x->wk == W_FLOAT ? x->f : (double)x->i, b = y->wk == W_FLOAT ? y->f : (double)y->i;
  switch (op) {
  case FE_OP_ADD: return weak_float(a + b, span);
  case FE_OP_SUB: return weak_float(a - b, span);
  case FE_OP_MUL: return weak_float(a * b, span);
  case FE_OP_DIV: return weak_float(a / b, span);
  case FE_OP_MOD: return weak_float(a - b * floor(a / b), span);
  case FE_OP_POW: return weak_float(pow(a, b), span);
  case FE_OP_EQ: case FE_OP_NE: case FE_OP_LT: case FE_OP_LE: case FE_OP_GT: case FE_OP_GE:
    return fold_cmp(op, a < b, a == b, a > b, span); /* NaN: all three false */
  default: err(c, span, "operator '%s' cannot combine literals", fe_op_name(op)); return ERR;
  }
}

/* ---------------------------------------------------------------- expressions */

static Val check_expr(Ctx *c, Scope *s, const fe_Node *e);
static Val call_fn(Ctx *c, tc_Module *m, const fe_Node *fn, const fe_Node *call, Val *args,
                   const char **kw, int nargs);
static Val eval_const(Ctx *c, tc_Module *m, ConstVal *cv);

static const tc_Op binop_tir[] = {
    [FE_OP_ADD] = TC_ADD, [FE_OP_SUB] = TC_SUB, [FE_OP_MUL] = TC_MUL, [FE_OP_DIV] = TC_DIV,
    [FE_OP_MOD] = TC_MOD, [FE_OP_POW] = TC_POW, [FE_OP_EQ] = TC_EQ, [FE_OP_NE] = TC_NE,
    [FE_OP_LT] = TC_LT, [FE_OP_LE] = TC_LE, [FE_OP_GT] = TC_GT, [FE_OP_GE] = TC_GE,
    [FE_OP_AND] = TC_AND, [FE_OP_OR] = TC_OR,
};

/* The common dtype of two operands: tensors must agree; a literal or size takes the
 * dtype of the tensor it meets. Returns -2 after an error, -1 when neither is a tensor. */
static int meet_dtype(Ctx *c, const Val *x, const Val *y, fe_Span span) {
  if (x->k == V_ERR || y->k == V_ERR) return -2;
  if (x->k == V_TENSOR && y->k == V_TENSOR) {
    if (x->t->dtype != y->t->dtype) {
      err(c, span, "dtypes differ: %s and %s (tri never converts implicitly; use cast())",
          type_s(c, x->t), type_s(c, y->t));
      return -2;
    }
    return x->t->dtype;
  }
  if (x->k == V_TENSOR) return x->t->dtype;
  if (y->k == V_TENSOR) return y->t->dtype;
  return -1;
}

/* Binary elementwise operation on two values (operators and minimum/maximum/pow). */
__attribute__((noinline)) static Val binary(Ctx *c, int op, tc_Op top, Val x, Val y, fe_Span span) {
  if (x.k == V_ERR || y.k == V_ERR) return ERR;
  /* size arithmetic stays symbolic: N - 1, 2*N */
  bool xd = x.k == V_DIM || (x.k == V_WEAK && x.wk == W_INT);
  bool yd = y.k == V_DIM || (y.k == V_WEAK && y.wk == W_INT);
  if ((x.k == V_DIM || y.k == V_DIM) && xd && yd &&
      (op == FE_OP_ADD || op == FE_OP_SUB || op == FE_OP_MUL)) {
    const tc_Poly *a = x.k == V_DIM ? x.dim : pconst(c, x.i), *b = y.k == V_DIM ? y.dim : pconst(c, y.i);
    const tc_Poly *r = op == FE_OP_ADD ? tc_poly_add(c->a, a, b)
                       : op == FE_OP_SUB ? tc_poly_sub(c->a, a, b) : tc_poly_mul(c->a, a, b);
    if (!pchk(c, r, span)) return ERR;
    Val v = {.k = V_DIM, .dim = r, .span = span};
    return v;
  }
  if (x.k == V_WEAK && y.k == V_WEAK && op >= 0) return fold_binary(c, op, &x, &y, span);
  int dt = meet_dtype(c, &x, &y, span);
  if (dt == -2) return ERR;
  if (dt == -1) dt = (x.k == V_WEAK && x.wk == W_FLOAT) || (y.k == V_WEAK && y.wk == W_FLOAT) ? FE_F32 : FE_I64;
  tc_DtypeRule rule = tc_op_info(top)->dtypes;
  bool logic = rule == TC_DT_BOOL, eq = rule == TC_DT_EQUALITY, cmp = eq || rule == TC_DT_ORDER;
  const char *name = op >= 0 ? fe_op_name(op) : tc_op_name(top);
  if (logic && dt != FE_BOOL) {
    err(c, span, "'%s' needs bool operands, found %s", name, fe_dtype_name(dt));
    return ERR;
  }
  if (!logic && !eq && dt == FE_BOOL) {
    err(c, span, "'%s' is not defined on bool tensors", name);
    return ERR;
  }
  tc_Node *a = as_tensor(c, &x, dt), *b = as_tensor(c, &y, dt);
  if (!a || !b) return ERR;
  tc_Node *args[2] = {a, b};
  tc_Node *n = elementwise(c, top, cmp ? FE_BOOL : dt, 2, args, span);
  return n ? tensor(n) : ERR;
}

__attribute__((noinline)) static Val unary_op(Ctx *c, int op, Val x, fe_Span span) {
  if (x.k == V_ERR) return ERR;
  if (x.k == V_WEAK) {
    if (op == FE_OP_NOT) {
      if (x.wk != W_BOOL) { err(c, span, "'!' needs a bool operand"); return ERR; }
      return weak_bool(!x.i, span);
    }
    if (x.wk == W_BOOL) { err(c, span, "'-' is not defined on bool"); return ERR; }
    if (x.wk == W_FLOAT) return weak_float(-x.f, span);
    if (x.i == INT64_MIN) { err(c, span, "integer overflow in a literal expression"); return ERR; }
    return weak_int(-x.i, span);
  }
  if (x.k == V_DIM && op == FE_OP_NEG) {
    Val v = {.k = V_DIM, .dim = pchk(c, tc_poly_sub(c->a, pconst(c, 0), x.dim), span), .span = span};
    return v.dim ? v : ERR;
  }
  tc_Node *t = as_tensor(c, &x, -1);
  if (!t) return ERR;
  if (op == FE_OP_NOT && t->dtype != FE_BOOL) { err(c, span, "'!' needs a bool operand, found %s", type_s(c, t)); return ERR; }
  if (op == FE_OP_NEG && t->dtype == FE_BOOL) { err(c, span, "'-' is not defined on bool tensors; use '!'"); return ERR; }
  return tensor(tc_build_unary(&c->b, op == FE_OP_NOT ? TC_NOT : TC_NEG, t, span));
}

/* ---------------------------------------------------------------- matmul */

static tc_Node *reshape_to(Ctx *c, tc_Node *x, int rank, const tc_Poly **dims, fe_Span span) {
  return tc_build_node(&c->b, TC_RESHAPE, x->dtype, rank, dims, 1, &x, span);
}

__attribute__((noinline)) static Val matmul(Ctx *c, Val x, Val y, fe_Span span) {
  int dt = meet_dtype(c, &x, &y, span);
  if (dt == -2) return ERR;
  tc_Node *a = as_tensor(c, &x, dt), *b = as_tensor(c, &y, dt);
  if (!a || !b) return ERR;
  if (a->rank == 0 || b->rank == 0) {
    err(c, span, "'@' needs tensors of rank 1 or more, found %s and %s", type_s(c, a), type_s(c, b));
    return ERR;
  }
  if (a->dtype == FE_BOOL) { err(c, span, "'@' is not defined on bool tensors"); return ERR; }
  bool va = a->rank == 1, vb = b->rank == 1;
  const tc_Poly *one = pconst(c, 1), *d2[2];
  if (va) { d2[0] = one; d2[1] = a->dims[0]; a = reshape_to(c, a, 2, d2, span); }
  if (vb) { d2[0] = b->dims[0]; d2[1] = one; b = reshape_to(c, b, 2, d2, span); }
  const tc_Poly *ka = a->dims[a->rank - 1], *kb = b->dims[b->rank - 2];
  if (!tc_poly_eq(ka, kb)) {
    err(c, span, "'@' contracts sizes %s and %s, which differ (%s @ %s)", poly_s(c, ka), poly_s(c, kb),
        type_s(c, x.t ? x.t : a), type_s(c, y.t ? y.t : b));
    return ERR;
  }
  tc_Node ba = {.rank = a->rank - 2, .dims = a->dims}, bb = {.rank = b->rank - 2, .dims = b->dims};
  const tc_Poly *dims[TC_MAXRANK];
  int r;
  if (!broadcast(c, &ba, &bb, &r, dims, span)) return ERR;
  if (r + 2 > TC_MAXRANK) { err(c, span, "rank too large: a tensor has at most %d dimensions", TC_MAXRANK); return ERR; }
  dims[r] = a->dims[a->rank - 2];
  dims[r + 1] = b->dims[b->rank - 1];
  tc_Node *args[2] = {a, b};
  tc_Node *n = tc_build_node(&c->b, TC_MATMUL, dt, r + 2, dims, 2, args, span);
  if (va || vb) { /* drop the promoted dimensions again */
    int k = 0;
    const tc_Poly *od[TC_MAXRANK];
    for (int i = 0; i < r; i++) od[k++] = dims[i];
    if (!va) od[k++] = dims[r];
    if (!vb) od[k++] = dims[r + 1];
    n = reshape_to(c, n, k, od, span);
  }
  return tensor(n);
}

/* ---------------------------------------------------------------- names */

static Val lookup_decl(Ctx *c, tc_Module *m, const char *name, fe_Span span, bool *found) {
  *found = true;
  const DeclName *d = find_decl(m, name);
  if (d && d->cidx >= 0) {
    ConstVal *cv = m->consts.items[d->cidx];
    Val v = eval_const(c, m, cv);
    v.span = span;
    if (v.k == V_WEAK && cv->typed >= 0) {
      if (c->const_mode) return v;
      return tensor(tc_build_const(&c->b, cv->typed, v.f, v.i, span));
    }
    return v;
  }
  if (d && d->fidx >= 0) {
    Val v = {.k = V_FN, .mod = m, .fn = m->fns.items[d->fidx], .span = span};
    return v;
  }
  *found = false;
  return ERR;
}

static int builtin_lookup(const char *name);
static const char *builtin_name(int i);

/* "; did you mean 'X'?" for the candidate closest to the unknown name, or "". */
static const char *did_you_mean(Ctx *c, const fe_Suggest *sg) {
  return sg->best ? fe_sprintf(c->a, "; did you mean '%s'?", sg->best) : "";
}

/* Names NumPy gives what tri spells otherwise (C type names: fe_dtype_alias). */
static const char *const aliases[][2] = {
    {"amax", "max"}, {"amin", "min"}, {"average", "mean"}, {"where", "select"}, {"astype", "cast"},
    {"clip", "minimum(maximum(x, lo), hi)"}, {"matmul", "the @ operator"}, {"dot", "the @ operator"},
};

/* The tri spelling of a name other languages use, or NULL. */
static const char *alias_of(const char *name) {
  int dt = fe_dtype_alias(name);
  if (dt >= 0) return fe_dtype_name(dt);
  for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
    if (strcmp(aliases[i][0], name) == 0) return aliases[i][1];
  return NULL;
}

/* Adds a module's consts and functions to a suggestion. */
static void suggest_decls(fe_Suggest *sg, const tc_Module *m) {
  for (int i = 0; i < m->consts.n; i++) fe_suggest_add(sg, ((const ConstVal *)m->consts.items[i])->decl->name);
  for (int i = 0; i < m->fns.n; i++) fe_suggest_add(sg, ((const fe_Node *)m->fns.items[i])->name);
}

/* Reports an unknown name with the closest name in scope. */
static void unknown_name(Ctx *c, Scope *s, const char *name, fe_Span span) {
  const char *alias = alias_of(name);
  if (alias) {
    err(c, span, "unknown name '%s'; tri spells it %s", name, alias);
    return;
  }
  fe_Suggest sg;
  fe_suggest_init(&sg, name);
  for (int i = 0; i < s->nlocals; i++) fe_suggest_add(&sg, s->names[i]);
  suggest_decls(&sg, s->mod);
  for (int i = 0; i < s->mod->imports.n; i++) fe_suggest_add(&sg, ((const Import *)s->mod->imports.items[i])->qual);
  for (int i = 0; i < s->nsyms; i++) fe_suggest_add(&sg, s->symnames[i]);
  for (int i = 0; builtin_name(i); i++) fe_suggest_add(&sg, builtin_name(i));
  for (int i = 0; i < FE_NDTYPES; i++) fe_suggest_add(&sg, fe_dtype_name(i));
  err(c, span, "unknown name '%s'%s", name, did_you_mean(c, &sg));
}

static Val lookup(Ctx *c, Scope *s, const char *name, fe_Span span) {
  for (int i = s->nlocals - 1; i >= 0; i--)
    if (strcmp(s->names[i], name) == 0) {
      Val v = s->vals[i];
      v.span = span;
      s->used[i] = 1;
      return v;
    }
  bool found;
  Val v = lookup_decl(c, s->mod, name, span, &found);
  if (found) return v;
  for (int i = 0; i < s->mod->imports.n; i++) {
    Import *im = s->mod->imports.items[i];
    if (strcmp(im->qual, name) == 0) {
      im->used = true;
      Val m = {.k = V_MODULE, .mod = im->mod, .span = span};
      return m;
    }
  }
  for (int i = 0; i < s->nsyms; i++)
    if (strcmp(s->symnames[i], name) == 0) {
      Val d = {.k = V_DIM, .dim = s->symvals[i], .span = span};
      return d;
    }
  int b = builtin_lookup(name);
  if (b >= 0) {
    Val f = {.k = V_BUILTIN, .i = b, .span = span};
    return f;
  }
  unknown_name(c, s, name, span);
  return ERR;
}

/* ---------------------------------------------------------------- builtins */

typedef enum {
  B_UNARY_NUM, B_UNARY_FLOAT, B_UNARY_ROUND, B_RELU, B_BINARY, B_SELECT, B_CAST, B_REDUCE,
  B_MEAN, B_SOFTMAX, B_LOGSOFTMAX, B_RESHAPE, B_TRANSPOSE, B_BROADCAST_TO, B_CONCAT, B_ZEROS,
  B_FULL, B_NEURAL
} BKind;

static const struct {
  const char *name;
  BKind kind;
  tc_Op op;
  const char *params;
} builtins[] = {
#define X(name, kind, op, params) {name, B_##kind, op, params},
#include "typecheck/builtins.def"
#undef X
};

static const char *builtin_name(int i) {
  return i >= 0 && i < (int)(sizeof builtins / sizeof *builtins) ? builtins[i].name : NULL;
}

static int builtin_lookup(const char *name) {
  for (int i = 0; i < (int)(sizeof builtins / sizeof *builtins); i++)
    if (strcmp(builtins[i].name, name) == 0) return i;
  return -1;
}

/* Matches positional and keyword arguments to the parameter list "a,b?,c?" (or a
 * function's PARAM list when fn is given). out[i] is V_ERR with span.src NULL when an
 * optional parameter was not passed. */
static bool bind_args(Ctx *c, const char *what, const char *plist, const fe_Node *fnparams,
                      Val *args, const char **kw, int nargs, fe_Span span, Val *out, int *nout) {
  int cap = !plist ? fe_list_len(fnparams) : 16; /* a user function (maybe without parameters), or a builtin */
  const char **names = fe_alloc(c->a, sizeof *names * (size_t)(cap + 1));
  bool *opt = fe_alloc(c->a, sizeof *opt * (size_t)(cap + 1));
  int np = 0;
  if (!plist) {
    for (const fe_Node *p = fnparams; p; p = p->next) { names[np] = p->name; opt[np++] = false; }
  } else {
    const char *p = plist;
    while (*p && np < cap) {
      const char *e = strchr(p, ',');
      size_t len = e ? (size_t)(e - p) : strlen(p);
      opt[np] = len && p[len - 1] == '?';
      names[np] = fe_strndup(c->a, p, opt[np] ? len - 1 : len);
      np++;
      p += len + (e ? 1 : 0);
    }
  }
  for (int i = 0; i < np; i++) { out[i] = ERR; out[i].span.src = NULL; }
  bool seen_kw = false, ok = true;
  int pos = 0;
  for (int i = 0; i < nargs; i++) {
    int slot = -1;
    if (kw[i]) {
      seen_kw = true;
      for (int j = 0; j < np; j++)
        if (strcmp(names[j], kw[i]) == 0) slot = j;
      if (slot < 0) {
        fe_Suggest sg;
        fe_suggest_init(&sg, kw[i]);
        for (int j = 0; j < np; j++) fe_suggest_add(&sg, names[j]);
        err(c, args[i].span, "%s has no parameter named '%s'%s", what, kw[i], did_you_mean(c, &sg));
        ok = false;
        continue;
      }
    } else {
      if (seen_kw) { err(c, args[i].span, "positional argument after a keyword argument"); ok = false; continue; }
      if (pos >= np) { err(c, args[i].span, "too many arguments to %s (it takes %d)", what, np); ok = false; break; }
      slot = pos++;
    }
    if (out[slot].span.src) { err(c, args[i].span, "parameter '%s' of %s is given twice", names[slot], what); ok = false; continue; }
    out[slot] = args[i];
    if (!out[slot].span.src) out[slot].span = span;
  }
  for (int j = 0; j < np && ok; j++)
    if (!opt[j] && !out[j].span.src) { err(c, span, "%s needs the argument '%s'", what, names[j]); ok = false; }
  *nout = np;
  return ok;
}

static bool given(const Val *v) { return v->span.src != NULL; }

/* A compile-time integer (literal expression). */
static bool get_int(Ctx *c, const Val *v, const char *what, int64_t *out) {
  if (v->k == V_ERR) return false;
  if (v->k == V_WEAK && v->wk == W_INT) { *out = v->i; return true; }
  if (v->k == V_DIM && tc_poly_is_const(v->dim, out)) return true;
  err(c, v->span, "%s must be a compile-time integer, found %s", what, val_desc(c, v));
  return false;
}

static bool get_bool(Ctx *c, const Val *v, const char *what, bool *out) {
  if (v->k == V_ERR) return false;
  if (v->k == V_WEAK && v->wk == W_BOOL) { *out = v->i; return true; }
  err(c, v->span, "%s must be true or false, found %s", what, val_desc(c, v));
  return false;
}

static bool get_axis(Ctx *c, const Val *v, int rank, int *axis) {
  int64_t a;
  if (!get_int(c, v, "axis", &a)) return false;
  if (a < -rank || a >= rank) {
    err(c, v->span, "axis %lld is out of range for a tensor of rank %d", (long long)a, rank);
    return false;
  }
  *axis = (int)(a < 0 ? a + rank : a);
  return true;
}

/* axis= of a reduction: an int or a list of ints; absent means every axis. */
static bool get_axes(Ctx *c, const Val *v, int rank, int64_t *mask) {
  if (!given(v)) { *mask = rank ? (int64_t)((1ull << rank) - 1) : 0; return true; }
  *mask = 0;
  int n = v->k == V_LIST ? v->n : 1;
  for (int i = 0; i < n; i++) {
    const Val *it = v->k == V_LIST ? &v->items[i] : v;
    int ax;
    if (!get_axis(c, it, rank, &ax)) return false;
    if (*mask & (1ll << ax)) { err(c, it->span, "axis %d is listed twice", ax); return false; }
    *mask |= 1ll << ax;
  }
  return true;
}

/* A list of sizes ([B, 28, -1]); *minus1 gets the index of a -1 when allowed. */
static bool get_dims(Ctx *c, const Val *v, const tc_Poly **dims, int *rank, int *minus1) {
  if (v->k == V_ERR) return false;
  if (v->k != V_LIST) { err(c, v->span, "expected a list of sizes like [N, 4], found %s", val_desc(c, v)); return false; }
  if (v->n > TC_MAXRANK) { err(c, v->span, "a shape of %d dimensions: a tensor has at most %d", v->n, TC_MAXRANK); return false; }
  if (minus1) *minus1 = -1;
  for (int i = 0; i < v->n; i++) {
    const Val *it = &v->items[i];
    if (it->k == V_DIM) dims[i] = it->dim;
    else if (it->k == V_WEAK && it->wk == W_INT) {
      if (it->i == -1 && minus1 && *minus1 < 0) { *minus1 = i; dims[i] = NULL; continue; }
      if (it->i < 0) {
        err(c, it->span, minus1 ? "a size must be >= 0 (one -1 may stand for the rest)" : "a size must be >= 0");
        return false;
      }
      dims[i] = pconst(c, it->i);
    } else if (it->k != V_ERR) {
      err(c, it->span, "expected a size, found %s", val_desc(c, it));
      return false;
    } else return false;
  }
  *rank = v->n;
  return true;
}

static const tc_Poly *quotient(Ctx *c, const tc_Poly *num, const tc_Poly *den, fe_Span span) {
  const tc_Poly *q = tc_poly_divexact(c->a, num, den);
  if (q) return q;
  int64_t nv, dv;
  if (tc_poly_is_const(num, &nv) && tc_poly_is_const(den, &dv)) {
    if (dv == 0 || nv % dv) {
      err(c, span, "%lld is not divisible by %lld", (long long)nv, (long long)dv);
      return NULL;
    }
    return pconst(c, nv / dv);
  }
  for (int i = 0; i < c->syms.n; i++) {
    tc_Sym *s = sym_at(c, i);
    if (s->kind == TC_SYM_QUOT && tc_poly_eq(s->num, num) && tc_poly_eq(s->den, den)) return tc_poly_sym(c->a, i);
  }
  const char *ns = poly_s(c, num), *ds = poly_s(c, den);
  const char *name = fe_sprintf(c->a, num->n > 1 ? "(%s)" : "%s", ns);
  name = fe_sprintf(c->a, den->n > 1 || (den->n == 1 && den->t[0].n && den->t[0].coef != 1) ? "%s/(%s)" : "%s/%s", name, ds);
  int s = new_sym(c, name, TC_SYM_QUOT, num, den);
  q = tc_poly_sym(c->a, s);
  add_check(c, TC_CHECK_EQ, num, pchk(c, tc_poly_mul(c->a, q, den), span), span, "sizes must divide evenly");
  return q;
}

static const tc_Poly *numel(Ctx *c, int rank, const tc_Poly **dims, fe_Span span) {
  const tc_Poly *p = pconst(c, 1);
  for (int i = 0; i < rank && p; i++) p = tc_poly_mul(c->a, p, dims[i]);
  return pchk(c, p, span);
}

static bool need_float(Ctx *c, tc_Node *x, const char *fn, fe_Span span) {
  if (fe_dtype_is_float(x->dtype)) return true;
  err(c, span, "%s needs a float tensor, found %s; use cast()", fn, type_s(c, x));
  return false;
}

/* ---------------------------------------------------------------- neural
 *
 * conv2d and the poolings window the last two dims of an NCHW tensor. Each output size is
 * PyTorch's floor((in + 2*padding - dilation*(k - 1) - 1) / stride) + 1: a constant, a
 * polynomial for stride 1, else a TC_SYM_FLOORDIV symbol plus 1, with the runtime rule
 * that the window fits the padded input where that depends on the size arguments. */

/* stride=, padding=, dilation=, kernel=: an int or a pair [h, w], each >= min; absent
 * gives def for both. */
static bool get_pair(Ctx *c, const Val *v, const char *what, int64_t min, int64_t def, int64_t out[2]) {
  if (!given(v)) { out[0] = out[1] = def; return true; }
  if (v->k == V_LIST && v->n != 2) {
    err(c, v->span, "%s must be an int or a pair [h, w], found a list of %d", what, v->n);
    return false;
  }
  for (int i = 0; i < 2; i++) {
    const Val *it = v->k == V_LIST ? &v->items[i] : v;
    if (!get_int(c, it, what, &out[i])) return false;
    if (out[i] < min || out[i] > ((int64_t)1 << 20)) {
      err(c, it->span, "%s must be %s %lld, found %lld", what, out[i] < min ? "at least" : "at most",
          (long long)(out[i] < min ? min : (int64_t)1 << 20), (long long)out[i]);
      return false;
    }
  }
  return true;
}

/* An NCHW float tensor argument of what (name its parameter). */
static tc_Node *get_nchw(Ctx *c, const Val *v, const char *what, const char *param, int dtype) {
  tc_Node *x = as_tensor(c, v, dtype);
  if (!x) return NULL;
  if (x->rank != 4) {
    err(c, v->span, "%s needs %s of rank 4 (%s), found %s", what, param, !strcmp(param, "w") ? "OIHW" : "NCHW", type_s(c, x));
    return NULL;
  }
  if (!fe_dtype_is_float(x->dtype)) {
    err(c, v->span, "%s needs a float tensor, found %s; use cast()", what, type_s(c, x));
    return NULL;
  }
  return x;
}

/* The output size of builtin name's window of kernel k (a size) over dim `in` (named
 * dname for messages), or NULL after an error. */
static const tc_Poly *window_size(Ctx *c, const char *name, const char *dname, const tc_Poly *in, const tc_Poly *k,
                                  int64_t stride, int64_t pad, int64_t dil, fe_Span span) {
  const tc_Poly *num = pchk(c, tc_window_span(c->a, in, k, pad, dil), span);
  if (!num) return NULL;
  const char *what = fe_sprintf(c->a, "'%s'", name);
  int64_t nv, kv, iv;
  if (tc_poly_is_const(num, &nv)) {
    if (nv < 0) {
      bool kc = tc_poly_is_const(k, &kv), ic = tc_poly_is_const(in, &iv);
      const char *ks = kc ? fe_sprintf(c->a, "%lld", (long long)kv) : poly_s(c, k);
      if (kc && dil > 1) ks = fe_sprintf(c->a, "%s, dilated to %lld", ks, (long long)(dil * (kv - 1) + 1));
      err(c, span, "%s: the kernel (%s) is larger than the padded input (%s + 2*%lld) in dimension %s", what, ks,
          ic ? fe_sprintf(c->a, "%lld", (long long)iv) : poly_s(c, in), (long long)pad, dname);
      return NULL;
    }
    return pconst(c, nv / stride + 1);
  }
  bool nonneg = true; /* every term positive: sizes are >= 0, so it holds */
  for (int i = 0; i < num->n; i++) nonneg &= num->t[i].coef > 0;
  if (!nonneg)
    add_check(c, TC_CHECK_GE0, num, NULL, span,
              fe_sprintf(c->a, "%s: the window must fit the padded input in dimension %s", name, dname));
  const tc_Poly *q = num;
  if (stride > 1) {
    const tc_Poly *den = pconst(c, stride);
    int sy = -1;
    for (int i = 0; i < c->syms.n && sy < 0; i++) {
      tc_Sym *s = sym_at(c, i);
      if (s->kind == TC_SYM_FLOORDIV && tc_poly_eq(s->num, num) && tc_poly_eq(s->den, den)) sy = i;
    }
    if (sy < 0)
      sy = new_sym(c, fe_sprintf(c->a, num->n > 1 ? "floor((%s)/%lld)" : "floor(%s/%lld)", poly_s(c, num), (long long)stride),
                   TC_SYM_FLOORDIV, num, den);
    q = tc_poly_sym(c->a, sy);
  }
  return pchk(c, tc_poly_add(c->a, q, pconst(c, 1)), span);
}

/* The mean of x over the axes in mask (NULL after an error). f16 and bf16 sum and divide
 * in f32, rounded once: a sum or a count stored as f16 would round twice, or be inf past
 * 65504. */
static tc_Node *build_mean(Ctx *c, tc_Node *x, int64_t mask, bool keep, fe_Span span) {
  int dt = x->dtype == FE_F16 || x->dtype == FE_BF16 ? FE_F32 : x->dtype;
  tc_Node *r = tc_build_reduce(&c->b, TC_RSUM, dt == x->dtype ? x : tc_build_cast(&c->b, x, dt, span), mask, keep, span);
  const tc_Poly *cnt = pconst(c, 1);
  for (int i = 0; i < x->rank && cnt; i++)
    if (mask & (1ll << i)) cnt = pchk(c, tc_poly_mul(c->a, cnt, x->dims[i]), span);
  if (!cnt) return NULL;
  Val cv = {.k = V_DIM, .dim = cnt, .span = span};
  tc_Node *args2[2] = {r, as_tensor(c, &cv, dt)};
  r = elementwise(c, TC_DIV, dt, 2, args2, span);
  return dt == x->dtype ? r : tc_build_cast(&c->b, r, x->dtype, span);
}

/* The checker rule of conv2d, maxpool2d, avgpool2d and global_avgpool (a[]: the bound
 * arguments). */
__attribute__((noinline)) static Val neural(Ctx *c, int b, Val *a, fe_Span span) {
  const char *name = builtins[b].name, *what = fe_sprintf(c->a, "'%s'", name);
  const char *const hw[2] = {"H", "W"};
  if (!strcmp(name, "global_avgpool")) { /* the mean over H and W, kept as 1 x 1 */
    tc_Node *x = get_nchw(c, &a[0], what, "x", -1);
    tc_Node *r = x ? build_mean(c, x, 0xc, true, span) : NULL;
    return r ? tensor(r) : ERR;
  }
  tc_Node *x = get_nchw(c, &a[0], what, "x", -1);
  if (!x) return ERR;
  const tc_Poly *dims[4] = {x->dims[0], x->dims[1], NULL, NULL};
  int64_t stride[2], pad[2];
  if (!strcmp(name, "conv2d")) {
    int64_t dil[2], groups = 1;
    tc_Node *w = get_nchw(c, &a[1], what, "w", a[1].k == V_TENSOR ? -1 : x->dtype);
    if (w && w->dtype != x->dtype) {
      err(c, a[1].span, "%s needs w of x's dtype %s, found %s", what, fe_dtype_name(x->dtype), type_s(c, w));
      return ERR;
    }
    if (!w || !get_pair(c, &a[2], "stride", 1, 1, stride) || !get_pair(c, &a[3], "padding", 0, 0, pad) ||
        !get_pair(c, &a[4], "dilation", 1, 1, dil))
      return ERR;
    if (given(&a[5])) {
      if (!get_int(c, &a[5], "groups", &groups)) return ERR;
      if (groups < 1) { err(c, a[5].span, "groups must be at least 1, found %lld", (long long)groups); return ERR; }
    }
    int64_t cv, ov;
    const tc_Poly *gp = pconst(c, groups);
    if (tc_poly_is_const(x->dims[1], &cv) && cv % groups) {
      err(c, a[0].span, "%s: x's %lld channels are not divisible by groups=%lld", what, (long long)cv, (long long)groups);
      return ERR;
    }
    if (tc_poly_is_const(w->dims[0], &ov) && ov % groups) {
      err(c, a[1].span, "%s: w's %lld output channels are not divisible by groups=%lld", what, (long long)ov, (long long)groups);
      return ERR;
    }
    const tc_Poly *cin = pchk(c, tc_poly_mul(c->a, w->dims[1], gp), span);
    if (!cin) return ERR;
    if (tc_poly_is_const(x->dims[1], &cv) && tc_poly_is_const(cin, &ov) && cv != ov) {
      err(c, a[1].span, "%s: w's input channels (dim 1 of %s) are %lld, but x's %lld channels in %lld groups need %lld",
          what, type_s(c, w), (long long)(ov / groups), (long long)cv, (long long)groups, (long long)(cv / groups));
      return ERR;
    }
    add_check(c, TC_CHECK_EQ, x->dims[1], cin, span, "conv2d: x's channels must be groups * w's input channels");
    if (!quotient(c, w->dims[0], gp, span)) return ERR; /* O divisible by groups (at run time when symbolic) */
    for (int i = 0; i < 2; i++) {
      int64_t kv;
      const tc_Poly *k = w->dims[2 + i];
      if (tc_poly_is_const(k, &kv) && kv < 1) {
        err(c, a[1].span, "%s: the kernel (dim %d of %s) must be at least 1", what, 2 + i, type_s(c, w));
        return ERR;
      }
      add_check(c, TC_CHECK_GE0, pchk(c, tc_poly_sub(c->a, k, pconst(c, 1)), span), NULL, span,
                "conv2d: the kernel must be at least 1");
      dims[2 + i] = window_size(c, name, hw[i], x->dims[2 + i], k, stride[i], pad[i], dil[i], span);
      if (!dims[2 + i]) return ERR;
    }
    dims[1] = w->dims[0];
    tc_Node *n = tc_build_conv2d(&c->b, x, w, stride, pad, dil, groups, dims, span);
    return tensor(n);
  }
  int64_t kernel[2];
  if (!get_pair(c, &a[1], "kernel", 1, 1, kernel)) return ERR;
  if (!get_pair(c, &a[2], "stride", 1, 0, stride)) return ERR;
  if (!given(&a[2])) stride[0] = kernel[0], stride[1] = kernel[1]; /* PyTorch's default */
  if (!get_pair(c, &a[3], "padding", 0, 0, pad)) return ERR;
  for (int i = 0; i < 2; i++) {
    if (pad[i] > kernel[i] / 2) {
      err(c, a[3].span, "%s: padding %lld is more than half the kernel %lld in dimension %s", what, (long long)pad[i],
          (long long)kernel[i], hw[i]);
      return ERR;
    }
    dims[2 + i] = window_size(c, name, hw[i], x->dims[2 + i], pconst(c, kernel[i]), stride[i], pad[i], 1, span);
    if (!dims[2 + i]) return ERR;
  }
  return tensor(tc_build_pool2d(&c->b, !strcmp(name, "maxpool2d") ? TC_MAXPOOL2D : TC_AVGPOOL2D, x, kernel, stride, pad,
                                dims, span));
}

/* Not inlined (nor check_index): check_expr recurses FE_MAX_DEPTH deep, and their locals
 * (16 argument values here) would grow each of its frames, not only the frames of calls. */
__attribute__((noinline)) static Val call_builtin(Ctx *c, int b, const fe_Node *call, Val *args, const char **kw, int nargs) {
  fe_Span span = call->span;
  const char *name = builtins[b].name;
  const char *what = fe_sprintf(c->a, "'%s'", name);
  Val a[16]; /* builtins take at most 16 parameters */
  int np;
  if (!bind_args(c, what, builtins[b].params, NULL, args, kw, nargs, span, a, &np)) return ERR;
  for (int i = 0; i < np; i++)
    if (given(&a[i]) && a[i].k == V_ERR) return ERR;
  if (c->const_mode) {
    err(c, span, "a const must be a literal expression; '%s' is computed at run time", name);
    return ERR;
  }
  tc_Op op = builtins[b].op;
  switch (builtins[b].kind) {
  case B_UNARY_NUM: case B_UNARY_FLOAT: case B_UNARY_ROUND: case B_RELU: {
    tc_Node *x = as_tensor(c, &a[0], -1);
    if (!x) return ERR;
    if (builtins[b].kind == B_UNARY_FLOAT && !need_float(c, x, what, span)) return ERR;
    if (x->dtype == FE_BOOL) { err(c, span, "%s is not defined on bool tensors", what); return ERR; }
    if (builtins[b].kind == B_UNARY_ROUND && !fe_dtype_is_float(x->dtype)) return tensor(x);
    if (builtins[b].kind == B_RELU) {
      tc_Node *args2[2] = {x, tc_build_const(&c->b, x->dtype, 0, 0, span)};
      return tensor(elementwise(c, TC_MAX, x->dtype, 2, args2, span));
    }
    return tensor(tc_build_unary(&c->b, op, x, span));
  }
  case B_BINARY:
    if (op == TC_POW) return binary(c, FE_OP_POW, TC_POW, a[0], a[1], span);
    {
      Val r = binary(c, -1, op, a[0], a[1], span);
      return r;
    }
  case B_SELECT: {
    tc_Node *cond = as_tensor(c, &a[0], FE_BOOL);
    if (!cond) return ERR;
    int dt = meet_dtype(c, &a[1], &a[2], span);
    if (dt == -2) return ERR;
    if (dt == -1) dt = (a[1].k == V_WEAK && a[1].wk == W_FLOAT) || (a[2].k == V_WEAK && a[2].wk == W_FLOAT) ? FE_F32 : FE_I64;
    tc_Node *args3[3] = {cond, as_tensor(c, &a[1], dt), as_tensor(c, &a[2], dt)};
    if (!args3[1] || !args3[2]) return ERR;
    tc_Node *n = elementwise(c, TC_SELECT, dt, 3, args3, span);
    return n ? tensor(n) : ERR;
  }
  case B_CAST: {
    if (a[1].k != V_DTYPE) { err(c, a[1].span, "cast() needs a dtype like f32 as its second argument"); return ERR; }
    tc_Node *x = as_tensor(c, &a[0], a[0].k == V_WEAK ? (int)a[1].i : -1);
    if (!x) return ERR;
    return tensor(tc_build_cast(&c->b, x, (int)a[1].i, span));
  }
  case B_REDUCE: case B_MEAN: {
    tc_Node *x = as_tensor(c, &a[0], -1);
    int64_t mask;
    bool keep = false;
    if ((op == TC_RMAX || op == TC_RMIN) && (a[1].k == V_TENSOR || (a[1].k == V_WEAK && a[1].wk == W_FLOAT))) {
      err(c, a[1].span, "%s(x, axis) reduces x along an axis; the elementwise %s of two tensors is %s(x, y)", name,
          op == TC_RMAX ? "maximum" : "minimum", op == TC_RMAX ? "maximum" : "minimum");
      return ERR;
    }
    if (!x || !get_axes(c, &a[1], x->rank, &mask)) return ERR;
    if (given(&a[2]) && !get_bool(c, &a[2], "keepdims", &keep)) return ERR;
    if (x->dtype == FE_BOOL) { err(c, span, "%s is not defined on bool tensors; cast() first", what); return ERR; }
    if (builtins[b].kind == B_MEAN && !need_float(c, x, what, span)) return ERR;
    if (builtins[b].kind != B_MEAN) return tensor(tc_build_reduce(&c->b, op, x, mask, keep, span));
    tc_Node *r = build_mean(c, x, mask, keep, span);
    return r ? tensor(r) : ERR;
  }
  case B_SOFTMAX: case B_LOGSOFTMAX: {
    tc_Node *x = as_tensor(c, &a[0], -1);
    if (!x || !need_float(c, x, what, span)) return ERR;
    if (x->rank == 0) { err(c, span, "%s needs a tensor of rank 1 or more", what); return ERR; }
    int ax = x->rank - 1;
    if (given(&a[1]) && !get_axis(c, &a[1], x->rank, &ax)) return ERR;
    tc_Node *m = tc_build_reduce(&c->b, TC_RMAX, x, 1ll << ax, true, span);
    tc_Node *args2[2] = {x, m};
    tc_Node *sh = elementwise(c, TC_SUB, x->dtype, 2, args2, span);
    tc_Node *e = tc_build_unary(&c->b, TC_EXP, sh, span);
    tc_Node *s = tc_build_reduce(&c->b, TC_RSUM, e, 1ll << ax, true, span);
    if (builtins[b].kind == B_SOFTMAX) {
      tc_Node *d2[2] = {e, s};
      return tensor(elementwise(c, TC_DIV, x->dtype, 2, d2, span));
    }
    tc_Node *l = tc_build_unary(&c->b, TC_LOG, s, span);
    tc_Node *d2[2] = {sh, l};
    return tensor(elementwise(c, TC_SUB, x->dtype, 2, d2, span));
  }
  case B_RESHAPE: {
    tc_Node *x = as_tensor(c, &a[0], -1);
    const tc_Poly *dims[TC_MAXRANK];
    int r, m1;
    if (!x || !get_dims(c, &a[1], dims, &r, &m1)) return ERR;
    const tc_Poly *total = numel(c, x->rank, x->dims, span);
    if (!total) return ERR;
    if (m1 >= 0) {
      const tc_Poly *known = pconst(c, 1);
      for (int i = 0; i < r; i++)
        if (i != m1) known = pchk(c, tc_poly_mul(c->a, known, dims[i]), span);
      if (!known) return ERR;
      int64_t kv, tv;
      if (tc_poly_is_const(known, &kv) && tc_poly_is_const(total, &tv) && (kv == 0 || tv % kv)) {
        err(c, a[1].span, "cannot reshape %s (%lld elements) into a shape with %lld elements per -1",
            type_s(c, x), (long long)tv, (long long)kv);
        return ERR;
      }
      dims[m1] = quotient(c, total, known, span);
      if (!dims[m1]) return ERR;
    } else {
      const tc_Poly *out = numel(c, r, dims, span);
      if (!out) return ERR;
      int64_t va, vb;
      if (!tc_poly_eq(total, out) && tc_poly_is_const(total, &va) && tc_poly_is_const(out, &vb)) {
        err(c, a[1].span, "cannot reshape %s (%lld elements) into %lld elements", type_s(c, x), (long long)va, (long long)vb);
        return ERR;
      }
      const tc_Poly *diff = tc_poly_sub(c->a, total, out);
      bool one_sign = diff && diff->n > 0;
      for (int i = 0; one_sign && i < diff->n; i++)
        one_sign = diff->t[i].n > 0 && (diff->t[i].coef > 0) == (diff->t[0].coef > 0);
      if (one_sign) { /* sizes are never negative: every term of the difference would have to be 0 */
        err(c, a[1].span, "cannot reshape %s (%s elements) into a shape of %s elements: the counts agree only when a size is 0",
            type_s(c, x), poly_s(c, total), poly_s(c, out));
        return ERR;
      }
      add_check(c, TC_CHECK_EQ, total, out, span, "reshape: element counts must match");
    }
    if (x->op == TC_RESHAPE) x = x->args[0];
    return tensor(reshape_to(c, x, r, dims, span));
  }
  case B_TRANSPOSE: {
    tc_Node *x = as_tensor(c, &a[0], -1);
    if (!x) return ERR;
    int64_t perm[TC_MAXRANK];
    if (!given(&a[1])) {
      for (int i = 0; i < x->rank; i++) perm[i] = x->rank - 1 - i;
    } else {
      if (a[1].k != V_LIST || a[1].n != x->rank) {
        err(c, a[1].span, "transpose of %s needs a permutation of %d axes", type_s(c, x), x->rank);
        return ERR;
      }
      int64_t seen = 0;
      for (int i = 0; i < x->rank; i++) {
        int ax;
        if (!get_axis(c, &a[1].items[i], x->rank, &ax)) return ERR;
        if (seen & (1ll << ax)) { err(c, a[1].items[i].span, "axis %d appears twice in the permutation", ax); return ERR; }
        seen |= 1ll << ax;
        perm[i] = ax;
      }
    }
    return tensor(tc_build_transpose(&c->b, x, perm, span));
  }
  case B_BROADCAST_TO: case B_ZEROS: case B_FULL: {
    const tc_Poly *dims[TC_MAXRANK];
    int r;
    bool bt = builtins[b].kind == B_BROADCAST_TO;
    if (!get_dims(c, &a[bt ? 1 : 0], dims, &r, NULL)) return ERR;
    tc_Node *x;
    if (bt) x = as_tensor(c, &a[0], -1);
    else {
      const Val *dtv = &a[builtins[b].kind == B_ZEROS ? 1 : 2];
      if (dtv->k != V_DTYPE) { err(c, dtv->span, "%s needs a dtype like f32 as its last argument", what); return ERR; }
      Val zero = weak_int(0, span);
      if (builtins[b].kind == B_ZEROS && dtv->i == FE_BOOL) zero = weak_bool(false, span);
      x = as_tensor(c, builtins[b].kind == B_ZEROS ? &zero : &a[1], (int)dtv->i);
      if (x && x->rank != 0) { err(c, a[1].span, "full() needs a scalar value, found %s", type_s(c, x)); return ERR; }
    }
    if (!x) return ERR;
    if (x->rank > r) { err(c, span, "cannot broadcast %s to a shape of rank %d", type_s(c, x), r); return ERR; }
    for (int i = 0; i < x->rank; i++) {
      const tc_Poly *d = x->dims[i], *t = dims[r - x->rank + i];
      int64_t v;
      if (!tc_poly_eq(d, t) && !(tc_poly_is_const(d, &v) && v == 1)) {
        err(c, span, "cannot broadcast %s to size %s in dimension %d", type_s(c, x), poly_s(c, t), r - x->rank + i);
        return ERR;
      }
    }
    return tensor(tc_build_node(&c->b, TC_BROADCAST, x->dtype, r, dims, 1, &x, span));
  }
  case B_CONCAT: {
    if (a[0].k != V_LIST || a[0].n == 0) { err(c, a[0].span, "concat() needs a non-empty list of tensors"); return ERR; }
    int n = a[0].n;
    tc_Node **xs = fe_alloc(c->a, sizeof *xs * (size_t)n);
    for (int i = 0; i < n; i++) {
      int dt = -1;
      for (int j = 0; j < n; j++)
        if (a[0].items[j].k == V_TENSOR) { dt = a[0].items[j].t->dtype; break; }
      xs[i] = as_tensor(c, &a[0].items[i], dt);
      if (!xs[i]) return ERR;
    }
    if (xs[0]->rank == 0) { err(c, span, "concat() needs tensors of rank 1 or more"); return ERR; }
    int ax = 0;
    if (given(&a[1]) && !get_axis(c, &a[1], xs[0]->rank, &ax)) return ERR;
    const tc_Poly *dims[TC_MAXRANK];
    memcpy(dims, xs[0]->dims, sizeof *dims * (size_t)xs[0]->rank);
    for (int i = 1; i < n; i++) {
      bool ok = xs[i]->rank == xs[0]->rank;
      for (int k = 0; ok && k < xs[0]->rank; k++)
        if (k != ax && !tc_poly_eq(xs[i]->dims[k], xs[0]->dims[k])) ok = false;
      if (!ok) {
        err(c, a[0].items[i].span, "concat along axis %d: %s does not match %s", ax, type_s(c, xs[i]), type_s(c, xs[0]));
        return ERR;
      }
      dims[ax] = pchk(c, tc_poly_add(c->a, dims[ax], xs[i]->dims[ax]), span);
      if (!dims[ax]) return ERR;
    }
    return tensor(tc_build_concat(&c->b, ax, xs[0]->rank, dims, n, xs, span));
  }
  case B_NEURAL: return neural(c, b, a, span);
  }
  return ERR;
}

/* ---------------------------------------------------------------- slicing */

/* A slice bound or index as a size: a literal or size expression; negative literals
 * count from the end of dimension d. */
static bool get_bound(Ctx *c, Scope *s, const fe_Node *e, const tc_Poly *d, const tc_Poly **out) {
  Val v = check_expr(c, s, e);
  if (v.k == V_ERR) return false;
  if (v.k == V_WEAK && v.wk == W_INT) {
    *out = v.i < 0 ? pchk(c, tc_poly_add(c->a, d, pconst(c, v.i)), e->span) : pconst(c, v.i);
    return *out != NULL;
  }
  if (v.k == V_DIM) { *out = v.dim; return true; }
  err(c, e->span, "slice bounds must be compile-time integers or sizes, found %s", val_desc(c, &v));
  return false;
}

__attribute__((noinline)) static Val check_index(Ctx *c, Scope *s, const fe_Node *e) {
  Val xv = check_expr(c, s, e->a);
  if (xv.k == V_ERR) return ERR;
  if (xv.k != V_TENSOR || xv.t->rank == 0) {
    err(c, e->a->span, "only tensors of rank 1 or more can be sliced, found %s", val_desc(c, &xv));
    return ERR;
  }
  tc_Node *x = xv.t;
  int nitems = fe_list_len(e->b);
  if (nitems > x->rank) {
    err(c, e->span, "%d indices for a tensor of rank %d (%s)", nitems, x->rank, type_s(c, x));
    return ERR;
  }
  const tc_Poly **starts = fe_alloc(c->a, sizeof *starts * (size_t)x->rank);
  int64_t *steps = fe_alloc(c->a, sizeof *steps * (size_t)x->rank);
  uint8_t *drop = fe_alloc(c->a, (size_t)x->rank);
  const tc_Poly *dims[TC_MAXRANK];
  int r = 0, i = 0;
  const tc_Poly *zero = pconst(c, 0), *one = pconst(c, 1);
  for (const fe_Node *it = e->b; i < x->rank; i++, it = it ? it->next : NULL) {
    const tc_Poly *d = x->dims[i];
    steps[i] = 1;
    if (!it || (it->kind == FE_SLICE && !it->a && !it->b && !it->c)) {
      starts[i] = zero;
      dims[r++] = d;
      continue;
    }
    int64_t sv, dv;
    bool dconst = tc_poly_is_const(d, &dv);
    if (it->kind != FE_SLICE) {
      const tc_Poly *p;
      if (!get_bound(c, s, it, d, &p)) return ERR;
      if (dconst && tc_poly_is_const(p, &sv) && (sv < 0 || sv >= dv)) {
        err(c, it->span, "index is out of range for dimension %d of size %lld", i, (long long)dv);
        return ERR;
      }
      add_check(c, TC_CHECK_GE0, p, NULL, it->span, "index must be >= 0");
      add_check(c, TC_CHECK_GE0, pchk(c, tc_poly_sub(c->a, tc_poly_sub(c->a, d, p), one), it->span), NULL, it->span,
                "index must be inside the dimension");
      starts[i] = p;
      drop[i] = 1;
      continue;
    }
    const tc_Poly *lo = zero, *hi = d;
    if (it->a && !get_bound(c, s, it->a, d, &lo)) return ERR;
    if (it->b && !get_bound(c, s, it->b, d, &hi)) return ERR;
    if (it->c) {
      Val sv2 = check_expr(c, s, it->c);
      if (!get_int(c, &sv2, "a slice step", &steps[i])) return ERR;
      if (steps[i] <= 0) { err(c, it->c->span, "a slice step must be positive"); return ERR; }
    }
    int64_t lv, hv;
    if (tc_poly_is_const(lo, &lv) && tc_poly_is_const(hi, &hv)) {
      if (lv < 0 || hv < lv || (dconst && hv > dv)) {
        err(c, it->span, "slice %lld:%lld is out of range for dimension %d%s", (long long)lv, (long long)hv, i,
            dconst ? fe_sprintf(c->a, " of size %lld", (long long)dv) : "");
        return ERR;
      }
    }
    const tc_Poly *len = pchk(c, tc_poly_sub(c->a, hi, lo), it->span);
    if (!len) return ERR;
    add_check(c, TC_CHECK_GE0, lo, NULL, it->span, "slice start must be >= 0");
    add_check(c, TC_CHECK_GE0, len, NULL, it->span, "slice stop must not be before its start");
    add_check(c, TC_CHECK_GE0, pchk(c, tc_poly_sub(c->a, d, hi), it->span), NULL, it->span,
              "slice stop must be inside the dimension");
    if (steps[i] > 1) {
      int64_t lenv;
      if (tc_poly_is_const(len, &lenv)) len = pconst(c, (lenv + steps[i] - 1) / steps[i]);
      else {
        int sy = new_sym(c, fe_sprintf(c->a, "ceil((%s)/%lld)", poly_s(c, len), (long long)steps[i]), TC_SYM_CEILDIV,
                         len, pconst(c, steps[i]));
        len = tc_poly_sym(c->a, sy);
      }
    }
    starts[i] = lo;
    dims[r++] = len;
  }
  return tensor(tc_build_slice(&c->b, x, r, dims, starts, steps, drop, e->span));
}

/* ---------------------------------------------------------------- expression dispatch */

static Val check_expr(Ctx *c, Scope *s, const fe_Node *e) {
  switch (e->kind) {
  case FE_INT_LIT: return weak_int(e->ival, e->span);
  case FE_FLOAT_LIT: return weak_float(e->fval, e->span);
  case FE_BOOL_LIT: return weak_bool(e->ival, e->span);
  case FE_DTYPE_LIT: {
    Val v = {.k = V_DTYPE, .i = e->ival, .span = e->span};
    return v;
  }
  case FE_NAME: return lookup(c, s, e->name, e->span);
  case FE_MEMBER: {
    Val o = check_expr(c, s, e->a);
    if (o.k == V_ERR) return ERR;
    if (o.k != V_MODULE) { err(c, e->span, "'.' applies to imported modules, found %s", val_desc(c, &o)); return ERR; }
    bool found;
    Val v = lookup_decl(c, o.mod, e->name, e->span, &found);
    if (!found) {
      fe_Suggest sg;
      fe_suggest_init(&sg, e->name);
      suggest_decls(&sg, o.mod);
      err(c, e->span, "module '%s' has no declaration named '%s'%s", o.mod->name, e->name, did_you_mean(c, &sg));
    }
    return v;
  }
  case FE_UNARY: return unary_op(c, e->op, check_expr(c, s, e->a), e->span);
  case FE_BINARY: {
    Val x = check_expr(c, s, e->a), y = check_expr(c, s, e->b);
    if (e->op == FE_OP_MATMUL) {
      if (x.k == V_ERR || y.k == V_ERR) return ERR;
      if (c->const_mode) { err(c, e->span, "a const must be a literal expression"); return ERR; }
      return matmul(c, x, y, e->span);
    }
    return binary(c, e->op, binop_tir[e->op], x, y, e->span);
  }
  case FE_CALL: {
    Val f = check_expr(c, s, e->a);
    int n = fe_list_len(e->b);
    Val *args = fe_alloc(c->a, sizeof *args * (size_t)(n + 1));
    const char **kw = fe_alloc(c->a, sizeof *kw * (size_t)(n + 1));
    int i = 0;
    bool bad = f.k == V_ERR;
    for (const fe_Node *a = e->b; a; a = a->next, i++) {
      kw[i] = a->kind == FE_KWARG ? a->name : NULL;
      args[i] = check_expr(c, s, a->kind == FE_KWARG ? a->a : a);
      args[i].span = a->kind == FE_KWARG ? a->a->span : a->span;
      if (args[i].k == V_ERR) bad = true;
    }
    if (bad) return ERR;
    if (f.k == V_BUILTIN) return call_builtin(c, (int)f.i, e, args, kw, n);
    if (f.k == V_FN) {
      if (c->const_mode) { err(c, e->span, "a const must be a literal expression"); return ERR; }
      return call_fn(c, f.mod, f.fn, e, args, kw, n);
    }
    err(c, e->a->span, "%s is not a function", val_desc(c, &f));
    return ERR;
  }
  case FE_INDEX:
    if (c->const_mode) { err(c, e->span, "a const must be a literal expression"); return ERR; }
    return check_index(c, s, e);
  case FE_LIST: case FE_TUPLE: {
    Val v = {.k = e->kind == FE_LIST ? V_LIST : V_TUPLE, .span = e->span};
    v.n = fe_list_len(e->a);
    v.items = fe_alloc(c->a, sizeof *v.items * (size_t)(v.n + 1));
    int i = 0;
    for (const fe_Node *a = e->a; a; a = a->next, i++) {
      v.items[i] = check_expr(c, s, a);
      if (v.items[i].k == V_ERR) return ERR;
      if (v.items[i].k == V_TUPLE || v.items[i].k == V_LIST) {
        err(c, a->span, "lists and tuples do not nest");
        return ERR;
      }
    }
    if (v.k == V_TUPLE)
      for (i = 0; i < v.n; i++) {
        tc_Node *t = as_tensor(c, &v.items[i], -1);
        if (!t) return ERR;
        v.items[i] = tensor(t);
      }
    return v;
  }
  case FE_SLICE: err(c, e->span, "a slice 'a:b' is only valid inside x[...]"); return ERR;
  case FE_KWARG: err(c, e->span, "keyword arguments are only valid in calls"); return ERR;
  default: err(c, e->span, "unexpected %s here", fe_kind_name(e->kind)); return ERR;
  }
}

/* ---------------------------------------------------------------- consts */

static Val eval_const(Ctx *c, tc_Module *m, ConstVal *cv) {
  if (cv->state == 2) return cv->v;
  if (cv->state == 1) {
    err(c, cv->decl->span, "const '%s' is defined in terms of itself", cv->decl->name);
    cv->v = ERR;
    return ERR;
  }
  cv->state = 1;
  /* on the heap: consts defined by consts recurse here, and both structs are kilobytes */
  Ctx *cc = calloc(1, sizeof *cc);
  Scope *s = calloc(1, sizeof *s);
  if (!cc || !s) abort();
  cc->a = c->a, cc->d = c->d, cc->const_mode = true;
  s->mod = m;
  Val v = check_expr(cc, s, cv->decl->b);
  c->errors += cc->errors;
  free(s->names), free(s->vals), free(s->spans), free(s->used);
  free(s);
  free(cc);
  cv->typed = -1;
  if (v.k == V_DIM) {
    err(c, cv->decl->b->span, "a const must be a literal expression, not a size");
    v = ERR;
  } else if (v.k != V_WEAK && v.k != V_ERR) {
    err(c, cv->decl->b->span, "a const must be a scalar literal expression, found %s", val_desc(c, &v));
    v = ERR;
  }
  const fe_Node *ty = cv->decl->a;
  if (v.k == V_WEAK && ty) {
    if (ty->flags & FE_RANKED) {
      err(c, ty->span, "a const is a scalar: write its type as %s", fe_dtype_name((int)ty->ival));
      v = ERR;
    } else if (!weak_fits(c, &v, (int)ty->ival, cv->decl->b->span)) v = ERR;
    else {
      cv->typed = (int)ty->ival;
      if (v.wk == W_INT && fe_dtype_is_float(cv->typed)) v.f = (double)v.i;
    }
  }
  cv->v = v;
  cv->state = 2;
  return v;
}

/* ---------------------------------------------------------------- functions */

/* The size a declared dimension stands for in scope s; binds a new symbol on first use
 * when bind is set. */
static const tc_Poly *dim_of(Ctx *c, Scope *s, const fe_Node *d, const tc_Poly *actual, bool bind) {
  if (d->kind == FE_DIM_INT) return pconst(c, d->ival);
  if (d->kind == FE_DIM_BIN) {
    const tc_Poly *x = dim_of(c, s, d->a, NULL, false), *y = dim_of(c, s, d->b, NULL, false);
    if (!x || !y) return NULL;
    if (d->op == FE_OP_DIV) return quotient(c, x, y, d->span);
    const tc_Poly *r = d->op == FE_OP_ADD ? tc_poly_add(c->a, x, y)
                       : d->op == FE_OP_SUB ? tc_poly_sub(c->a, x, y) : tc_poly_mul(c->a, x, y);
    return pchk(c, r, d->span) ? r : NULL;
  }
  for (int i = 0; i < s->nsyms; i++)
    if (strcmp(s->symnames[i], d->name) == 0) return s->symvals[i];
  if (!bind || s->nsyms >= 64) return NULL;
  s->symnames[s->nsyms] = d->name;
  s->symvals[s->nsyms] = actual;
  s->symspans[s->nsyms] = d->span;
  s->nsyms++;
  return actual;
}

/* Whether declared dimension d is '_', a size left to the value (internal functions'
 * results, let annotations). */
static bool is_wildcard(const fe_Node *d) { return d->kind == FE_DIM_SYM && !strcmp(d->name, "_"); }

/* A declared dimension as written. */
static const char *dim_str(Ctx *c, const fe_Node *d) {
  switch (d->kind) {
  case FE_DIM_INT: return fe_sprintf(c->a, "%lld", (long long)d->ival);
  case FE_DIM_SYM: return d->name;
  case FE_DIM_BIN: {
    bool pa = d->a->kind == FE_DIM_BIN && d->op == FE_OP_MUL, pb = d->b->kind == FE_DIM_BIN;
    return fe_sprintf(c->a, "%s%s%s %s %s%s%s", pa ? "(" : "", dim_str(c, d->a), pa ? ")" : "", fe_op_name(d->op),
                      pb ? "(" : "", dim_str(c, d->b), pb ? ")" : "");
  }
  default: return "...";
  }
}

/* The declared type of a parameter or result as a string, for messages. */
static const char *decl_type_s(Ctx *c, const fe_Node *ty) {
  if (!(ty->flags & FE_RANKED)) return fe_dtype_name((int)ty->ival);
  char buf[512];
  size_t len = (size_t)snprintf(buf, sizeof buf, "%s[", fe_dtype_name((int)ty->ival));
  for (const fe_Node *d = ty->a; d && len < sizeof buf; d = d->next) {
    const char *t = dim_str(c, d);
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", t, d->next ? ", " : "");
  }
  if (len < sizeof buf) snprintf(buf + len, sizeof buf - len, "]");
  return fe_strndup(c->a, buf, strlen(buf));
}

/* Matches a tensor against a declared type, binding symbols and `...` in s. */
/* When t is a reduction without keepdims (or a mean) and the declared type has a 1 at
 * each reduced axis, says in a note on g that keepdims=true gives the declared rank. */
static void note_keepdims_decl(Ctx *c, fe_Diag *g, const tc_Node *t, const fe_Node *ty) {
  t = under_mean(t);
  if (tc_op_info(t->op)->cls != TC_CLASS_REDUCTION || t->reduce.keepdims) return;
  if (t->args[0]->rank != fe_list_len(ty->a)) return;
  int i = 0;
  for (const fe_Node *d = ty->a; d; d = d->next, i++)
    if ((t->reduce.axes_mask & (1ll << i)) && !(d->kind == FE_DIM_INT && d->ival == 1)) return;
  fe_note(c->d, g, t->span, "keepdims=true in this reduction keeps the reduced axes as size 1, as declared");
}

static bool match_type(Ctx *c, Scope *s, const fe_Node *ty, tc_Node *t, bool bind, fe_Span span,
                       const char *what) {
  int dt = (int)ty->ival;
  int nd = fe_list_len(ty->a);
  bool ell = ty->a && ty->a->kind == FE_DIM_ELLIPSIS;
  const char *want = decl_type_s(c, ty);
  if (t->dtype != dt) {
    err(c, span, "%s has dtype %s, but %s is declared", what, fe_dtype_name(t->dtype), want);
    return false;
  }
  int fixed = ell ? nd - 1 : nd;
  if (ell ? t->rank < fixed : t->rank != fixed) {
    fe_Diag *g = err(c, span, "%s has shape %s, but %s is declared (rank %s%d)", what, type_s(c, t), want,
                     ell ? "at least " : "", fixed);
    if (!ell) note_keepdims_decl(c, g, t, ty);
    return false;
  }
  int lead = t->rank - fixed;
  if (ell) {
    if (!s->has_ellipsis && bind) {
      s->has_ellipsis = 1;
      s->nell = lead;
      for (int i = 0; i < lead; i++) s->ell[i] = t->dims[i];
    } else {
      bool same = s->has_ellipsis && s->nell == lead;
      for (int i = 0; same && i < lead; i++) same = tc_poly_eq(s->ell[i], t->dims[i]);
      if (!same) {
        err(c, span, "%s has shape %s, whose leading dimensions differ from those bound to '...'", what, type_s(c, t));
        return false;
      }
    }
  }
  int i = lead;
  for (const fe_Node *d = ell ? ty->a->next : ty->a; d; d = d->next, i++) {
    if (is_wildcard(d)) continue; /* '_': whatever size the value has */
    const tc_Poly *p = dim_of(c, s, d, t->dims[i], bind);
    if (!p) {
      err(c, d->span, "size '%s' is not bound by any parameter", dim_str(c, d));
      return false;
    }
    if (!tc_poly_eq(p, t->dims[i])) {
      fe_Diag *g = NULL;
      c->errors++;
      g = fe_error(c->d, span, "%s has shape %s, but %s is declared: dimension %d is %s, expected %s", what,
                   type_s(c, t), want, i, poly_s(c, t->dims[i]), poly_s(c, p));
      if (d->kind == FE_DIM_SYM && strcmp(d->name, poly_s(c, p)) != 0)
        for (int k = 0; k < s->nsyms; k++)
          if (strcmp(s->symnames[k], d->name) == 0)
            fe_note(c->d, g, s->symspans[k], "%s was bound to %s here", d->name, poly_s(c, p));
      for (int k = c->depth - 1; k >= c->note_from; k--)
        fe_note(c->d, g, c->call_spans[k], "in this call of '%s'", c->call_fns[k]->name);
      return false;
    }
  }
  return true;
}

static bool bind_local(Ctx *c, Scope *s, const char *name, Val v, fe_Span span) {
  for (int i = 0; i < s->nlocals; i++)
    if (strcmp(s->names[i], name) == 0) {
      err(c, span, "'%s' is already bound in this function (bindings are immutable)", name);
      return false;
    }
  if (s->nlocals == s->caplocals) {
    int cap = s->caplocals ? s->caplocals * 2 : 32;
    const char **names = realloc(s->names, sizeof *names * (size_t)cap);
    if (names) s->names = names;
    Val *vals = names ? realloc(s->vals, sizeof *vals * (size_t)cap) : NULL;
    if (vals) s->vals = vals;
    fe_Span *spans = vals ? realloc(s->spans, sizeof *spans * (size_t)cap) : NULL;
    if (spans) s->spans = spans;
    unsigned char *used = spans ? realloc(s->used, (size_t)cap) : NULL;
    if (!used) abort();
    s->used = used;
    s->caplocals = cap;
  }
  s->names[s->nlocals] = name;
  s->spans[s->nlocals] = span;
  s->used[s->nlocals] = 0;
  s->vals[s->nlocals++] = v;
  if (c->depth == 1 && v.k == V_TENSOR) {
    fe_vec_push(c->a, &c->bind_names, (void *)name);
    fe_vec_push(c->a, &c->bind_nodes, v.t);
  }
  return true;
}

static int fn_index(tc_Module *m, const fe_Node *fn) {
  const DeclName *d = find_decl(m, fn->name);
  if (d && d->fidx >= 0 && m->fns.items[d->fidx] == fn) return d->fidx;
  for (int i = 0; i < m->fns.n; i++) /* a second function of the same name (an error) */
    if (m->fns.items[i] == fn) return i;
  return -1;
}

/* Checks the body of fn with its parameters bound in s; returns the result value. */
static Val check_body(Ctx *c, Scope *s, const fe_Node *fn) {
  Val result = ERR;
  bool returned = false, failed = false;
  int first_let = s->nlocals, errors = c->errors;
  for (const fe_Node *st = fn->c; st; st = st->next) {
    if (returned) {
      err(c, st->span, "statement after return: a body ends with its return");
      return ERR;
    }
    if (st->kind == FE_LET) {
      Val v = check_expr(c, s, st->a);
      if (v.k == V_TUPLE) {
        err(c, st->a->span, "%s %d results: bind them with let (a, b) = ...",
            st->a->kind == FE_CALL ? "this call returns" : "this tuple holds", v.n);
        v = ERR;
      }
      if (v.k == V_LIST) { err(c, st->a->span, "a list cannot be bound to a name"); v = ERR; }
      if (v.k == V_ERR) failed = true;
      fe_Span at = {st->span.src, (uint32_t)st->ival, (uint32_t)st->ival + (uint32_t)strlen(st->name)};
      bind_local(c, s, st->name, v, at);
    } else if (st->kind == FE_LET_TUPLE) {
      Val v = check_expr(c, s, st->b);
      int n = fe_list_len(st->a);
      if (v.k != V_ERR && (v.k != V_TUPLE || v.n != n)) {
        err(c, st->b->span, "%d names are bound, but the value is %s%s", n, val_desc(c, &v),
            v.k == V_TUPLE ? fe_sprintf(c->a, " of %d", v.n) : "");
        v = ERR;
      }
      int i = 0;
      for (const fe_Node *nm = st->a; nm; nm = nm->next, i++)
        bind_local(c, s, nm->name, v.k == V_TUPLE ? v.items[i] : ERR, nm->span);
      if (v.k == V_ERR) failed = true;
    } else if (st->kind == FE_RETURN) {
      result = check_expr(c, s, st->a);
      returned = true;
    }
  }
  if (!returned) {
    fe_Span end = fn->span;
    end.lo = end.hi > 0 ? end.hi - 1 : 0;
    err(c, end, "function '%s' ends without a return", fn->name);
    return ERR;
  }
  if (result.k != V_ERR && c->errors == errors) /* after an error, a use may have gone unseen */
    for (int i = first_let; i < s->nlocals; i++)
      if (!s->used[i] && s->names[i][0] != '_')
        fe_warning(c->d, s->spans[i], "'%s' is bound but never used (remove the let, or name it _%s)", s->names[i],
                   s->names[i]);
  (void)failed;
  return result;
}

/* Converts and checks returned values against the declared result types. */
static Val check_results(Ctx *c, Scope *s, const fe_Node *fn, Val r, fe_Span span) {
  if (r.k == V_ERR) return ERR;
  int nres = fe_list_len(fn->b);
  int got = r.k == V_TUPLE ? r.n : 1;
  if (got != nres) {
    err(c, r.span, "'%s' is declared to return %d result%s, but this returns %d", fn->name, nres, nres == 1 ? "" : "s", got);
    return ERR;
  }
  Val out = {.k = nres > 1 ? V_TUPLE : V_TENSOR, .n = nres, .span = span};
  out.items = fe_alloc(c->a, sizeof(Val) * (size_t)nres);
  int i = 0;
  for (const fe_Node *ty = fn->b; ty; ty = ty->next, i++) {
    Val v = r.k == V_TUPLE ? r.items[i] : r;
    tc_Node *t = as_tensor(c, &v, v.k == V_TENSOR ? -1 : (int)ty->ival);
    if (!t) return ERR;
    const char *what = nres > 1 ? fe_sprintf(c->a, "result %d", i) : "the result";
    if (!match_type(c, s, ty, t, false, v.span, what)) return ERR;
    out.items[i] = tensor(t);
  }
  return nres > 1 ? out : out.items[0];
}

/* ---------------------------------------------------------------- calls */

enum { SAME_BUDGET = 64, HASH_DEPTH = 3 }; /* nodes compared, levels hashed, per argument */

static bool same_poly(const tc_Poly *x, const tc_Poly *y) { return x == y || (x && y && tc_poly_eq(x, y)); }

/* Do x and y (of one op, rank and arguments' ranks) have the same attributes? */
static bool same_attrs(const tc_Node *x, const tc_Node *y) {
  switch (tc_op_info(x->op)->attr) {
  case TC_ATTR_NONE: return true;
  case TC_ATTR_PARAM: return x->param.index == y->param.index;
  case TC_ATTR_CONST:
    return memcmp(&x->cst.f, &y->cst.f, sizeof x->cst.f) == 0 && x->cst.i == y->cst.i;
  case TC_ATTR_DIMVAL: return same_poly(x->dimval.size, y->dimval.size);
  case TC_ATTR_REDUCE: return x->reduce.axes_mask == y->reduce.axes_mask && x->reduce.keepdims == y->reduce.keepdims;
  case TC_ATTR_CONCAT: return x->concat.axis == y->concat.axis;
  case TC_ATTR_CONV: return memcmp(&x->conv, &y->conv, sizeof x->conv) == 0; /* int64 fields, no padding */
  case TC_ATTR_POOL: return memcmp(&x->pool, &y->pool, sizeof x->pool) == 0;
  case TC_ATTR_TRANSPOSE:
    for (int i = 0; i < x->rank; i++)
      if (x->transpose.perm[i] != y->transpose.perm[i]) return false;
    return true;
  case TC_ATTR_SLICE:
    for (int i = 0; i < x->args[0]->rank; i++)
      if (x->slice.steps[i] != y->slice.steps[i] || x->slice.drop[i] != y->slice.drop[i] ||
          !tc_poly_eq(x->slice.starts[i], y->slice.starts[i]))
        return false;
    return true;
  }
  TRIC_BUG("same_attrs: '%s' has no attribute kind", tc_op_name(x->op));
}

/* Do x and y compute the same value? The same node, or the same operation with the same
 * attributes on arguments that are the same (so `g(x * 2.0)` twice is one call). The
 * comparison stops after *budget nodes (answering no): it must stay cheap on a DAG. */
static bool same_value(const tc_Node *x, const tc_Node *y, int *budget) {
  if (x == y) return true;
  if (--*budget < 0 || x->op != y->op || x->dtype != y->dtype || x->rank != y->rank || x->nargs != y->nargs ||
      x->op == TC_PARAM)
    return false;
  if (x->op == TC_CONST)
    return fe_dtype_is_float(x->dtype) ? memcmp(&x->cst.f, &y->cst.f, sizeof x->cst.f) == 0 : x->cst.i == y->cst.i;
  if (!same_attrs(x, y)) return false;
  for (int i = 0; i < x->rank; i++)
    if (!tc_poly_eq(x->dims[i], y->dims[i])) return false;
  for (int i = 0; i < x->nargs; i++)
    if (!same_value(x->args[i], y->args[i], budget)) return false;
  return true;
}

static bool same_arg(const tc_Node *x, const tc_Node *y) {
  int budget = SAME_BUDGET;
  return same_value(x, y, &budget);
}

/* A hash that values same_value calls the same agree on (from the top HASH_DEPTH levels). */
static uint64_t arg_hash_at(const tc_Node *x, int depth) {
  if (x->op == TC_PARAM) return (uint64_t)(uintptr_t)x;
  uint64_t h = ((uint64_t)x->op * 131 + (uint64_t)x->dtype) * 31 + (uint64_t)x->nargs;
  if (x->op == TC_CONST) {
    uint64_t bits = (uint64_t)x->cst.i;
    if (fe_dtype_is_float(x->dtype)) memcpy(&bits, &x->cst.f, sizeof bits);
    return h ^ (bits * 1099511628211ull);
  }
  if (depth == 0) return h;
  for (int i = 0; i < x->nargs; i++) h = (h ^ arg_hash_at(x->args[i], depth - 1)) * 1099511628211ull;
  return h;
}

static uint64_t arg_hash(const tc_Node *x) { return arg_hash_at(x, HASH_DEPTH); }

static size_t memo_bucket(const Ctx *c, const fe_Node *fn, tc_Node **args, int nargs) {
  uint64_t h = (uint64_t)(uintptr_t)fn;
  for (int i = 0; i < nargs; i++) h = (h ^ arg_hash(args[i])) * 1099511628211ull;
  return (size_t)(h ^ (h >> 29)) & (size_t)(c->memo_cap - 1);
}

/* The memoised result of calling fn with args, or NULL. */
static CallMemo *memo_find(Ctx *c, const fe_Node *fn, tc_Node **args, int nargs) {
  if (!c->memo_cap) return NULL;
  for (CallMemo *e = c->memo[memo_bucket(c, fn, args, nargs)]; e; e = e->next) {
    bool same = e->fn == fn && e->nargs == nargs;
    for (int i = 0; same && i < nargs; i++) same = same_arg(e->args[i], args[i]);
    if (same) return e;
  }
  return NULL;
}

/* Records the result of calling fn with args (the table doubles at load 1). */
static void memo_add(Ctx *c, const fe_Node *fn, tc_Node **args, int nargs, Val result) {
  if (c->memo_n >= c->memo_cap) {
    int cap = c->memo_cap ? c->memo_cap * 2 : 64;
    CallMemo **old = c->memo;
    int oldcap = c->memo_cap;
    c->memo = fe_alloc(c->a, sizeof *c->memo * (size_t)cap);
    c->memo_cap = cap;
    for (int i = 0; i < oldcap; i++)
      for (CallMemo *e = old[i], *next; e; e = next) {
        next = e->next;
        size_t b = memo_bucket(c, e->fn, e->args, e->nargs);
        e->next = c->memo[b];
        c->memo[b] = e;
      }
  }
  CallMemo *e = fe_alloc(c->a, sizeof *e);
  e->fn = fn;
  e->nargs = nargs;
  e->args = fe_alloc(c->a, sizeof *args * (size_t)(nargs + 1));
  if (nargs) memcpy(e->args, args, sizeof *args * (size_t)nargs);
  e->result = result;
  size_t b = memo_bucket(c, fn, args, nargs);
  e->next = c->memo[b];
  c->memo[b] = e;
  c->memo_n++;
}

/* A memoised result as the value of the call at span (tuples get their own items). */
static Val memo_result(Ctx *c, const Val *r, fe_Span span) {
  Val v = *r;
  v.span = span;
  if (v.k == V_TUPLE) {
    v.items = fe_alloc(c->a, sizeof *v.items * (size_t)(v.n + 1));
    memcpy(v.items, r->items, sizeof *v.items * (size_t)v.n);
  }
  return v;
}

enum { DEPTH_NOTES = 3 }; /* frames shown at each end of a too-deep chain of calls */

/* Reports a call one level deeper than MAX_DEPTH, with the innermost and outermost calls
 * that led to it (a note per frame would be hundreds of notes). */
static void err_too_deep(Ctx *c, fe_Span span, const fe_Node *fn) {
  c->errors++;
  fe_Diag *g = fe_error(c->d, span,
                        "calls nested too deeply: this call of '%s' is %d calls deep, and at most %d may nest (each "
                        "call is inlined)",
                        fn->name, c->depth, MAX_DEPTH - 1);
  int lo = c->note_from, hi = c->depth - 1, skipped = hi - lo + 1 - 2 * DEPTH_NOTES;
  for (int i = hi; i >= lo; i--) {
    if (skipped > 0 && i == hi - DEPTH_NOTES) {
      fe_note(c->d, g, c->call_spans[i], "in this call of '%s' (and %d more calls, not shown)", c->call_fns[i]->name,
              skipped - 1);
      i = lo + DEPTH_NOTES;
      continue;
    }
    fe_note(c->d, g, c->call_spans[i], "in this call of '%s'", c->call_fns[i]->name);
  }
}

static Val call_fn(Ctx *c, tc_Module *m, const fe_Node *fn, const fe_Node *call, Val *args,
                   const char **kw, int nargs) {
  int idx = fn_index(m, fn);
  if (idx >= 0 && m->fn_bad && m->fn_bad[idx]) { /* its own errors were reported */
    c->reached_bad = true;
    return ERR;
  }
  for (int i = 0; i < c->depth; i++)
    if (c->call_fns[i] == fn) {
      err(c, call->span, "'%s' calls itself; tri functions are inlined and cannot recurse", fn->name);
      return ERR;
    }
  if (c->depth >= MAX_DEPTH) { err_too_deep(c, call->span, fn); return ERR; }
  Val *a = fe_alloc(c->a, sizeof *a * (size_t)(fe_list_len(fn->a) + 1));
  int np;
  const char *what = fe_sprintf(c->a, "'%s'", fn->name);
  if (!bind_args(c, what, NULL, fn->a, args, kw, nargs, call->span, a, &np)) return ERR;
  Scope *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->mod = m;
  s->fn = fn;
  c->call_spans[c->depth] = call->span;
  c->call_fns[c->depth++] = fn;
  Val result = ERR;
  int i = 0;
  bool ok = true;
  tc_Node **conv = fe_alloc(c->a, sizeof *conv * (size_t)(np + 1)); /* the memo key */
  for (const fe_Node *p = fn->a; p; p = p->next, i++) {
    const fe_Node *ty = p->a;
    c->depth--; /* argument errors belong to the caller */
    tc_Node *t = as_tensor(c, &a[i], a[i].k == V_TENSOR ? -1 : (int)ty->ival);
    const char *pw = fe_sprintf(c->a, "argument '%s' of '%s'", p->name, fn->name);
    bool good = t && match_type(c, s, ty, t, true, a[i].span, pw);
    c->depth++;
    if (!good) { ok = false; continue; }
    conv[i] = t;
    bind_local(c, s, p->name, tensor(t), p->span);
  }
  CallMemo *hit = ok ? memo_find(c, fn, conv, np) : NULL;
  if (hit) result = memo_result(c, &hit->result, call->span);
  else if (ok) {
    Val r = check_body(c, s, fn);
    result = check_results(c, s, fn, r, call->span);
    memo_add(c, fn, conv, np, result);
  }
  c->depth--;
  free(s->names);
  free(s->vals);
  free(s->spans);
  free(s->used);
  free(s);
  return result;
}

/* ---------------------------------------------------------------- declarations */

/* Adds the size names of a dimension expression to seen. */
static int collect_syms(const fe_Node *d, const char **seen, int nseen) {
  if (d->kind == FE_DIM_BIN) return collect_syms(d->b, seen, collect_syms(d->a, seen, nseen));
  if (d->kind == FE_DIM_SYM && nseen < 64) seen[nseen++] = d->name;
  return nseen;
}

/* Every size name in a result dimension must come from a parameter. */
static bool result_syms_ok(Ctx *c, const fe_Node *d, const char **seen, int nseen) {
  if (d->kind == FE_DIM_BIN) {
    bool a = result_syms_ok(c, d->a, seen, nseen), b = result_syms_ok(c, d->b, seen, nseen); /* report both */
    return a && b;
  }
  if (d->kind != FE_DIM_SYM) return true;
  for (int i = 0; i < nseen; i++)
    if (strcmp(seen[i], d->name) == 0) return true;
  err(c, d->span, "size '%s' appears only in the result type; every result size must come from a parameter", d->name);
  return false;
}

/* The name of a function declaration, as a span. */
static fe_Span fn_name_span(const fe_Node *fn) {
  fe_Span s = {fn->span.src, (uint32_t)fn->ival, (uint32_t)fn->ival + (uint32_t)strlen(fn->name)};
  return s;
}

/* An exported function is a C symbol in the user's program: its name must not be one the
 * C library defines (the linker would take it for every call of that function in the
 * program) nor one the generated header cannot declare. */
static bool check_export_name(Ctx *c, const fe_Node *fn) {
  if (strcmp(fn->name, "main") == 0) {
    err(c, fn_name_span(fn), "exported function 'main' would be the entry point of every program it is linked into; rename it");
    return false;
  }
  if (fe_c_library_function(fn->name)) {
    err(c, fn_name_span(fn), "exported function '%s' would replace the C library's %s() in every program it is linked into; rename it",
        fn->name, fn->name);
    return false;
  }
  if (strncmp(fn->name, "tricrt", 6) == 0 && (fn->name[6] == '_' || !fn->name[6])) { /* tricrt_ws too */
    err(c, fn_name_span(fn), "exported function '%s' is in the tricrt_ namespace of tric's runtime library (libtricrt.a); rename it",
        fn->name);
    return false;
  }
  if (fe_c_reserved(fn->name)) {
    err(c, fn_name_span(fn), "exported function '%s' cannot be declared in the C header: '%s' is a C or C++ keyword or a name <stdint.h> or the header defines; rename it",
        fn->name, fn->name);
    return false;
  }
  return true;
}

/* A declared type has at most TC_MAXRANK dimensions. */
static bool rank_ok(Ctx *c, const fe_Node *ty) {
  int r = fe_list_len(ty->a);
  if (r <= TC_MAXRANK) return true;
  err(c, ty->span, "a type of rank %d: a tensor has at most %d dimensions", r, TC_MAXRANK);
  return false;
}

/* Checks a function's signature on its own: `...` placement, symbols of results. */
static bool check_signature(Ctx *c, const fe_Node *fn) {
  bool exported = fn->flags & FE_EXPORT, param_ell = false;
  bool ok = !exported || check_export_name(c, fn);
  for (const fe_Node *p = fn->a; p; p = p->next) ok &= rank_ok(c, p->a);
  for (const fe_Node *r = fn->b; r; r = r->next) ok &= rank_ok(c, r);
  if (!ok) return false;
  const char *seen[64];
  int nseen = 0;
  for (const fe_Node *p = fn->a; p; p = p->next) {
    for (const fe_Node *q = fn->a; q != p; q = q->next)
      if (strcmp(q->name, p->name) == 0) { err(c, p->span, "parameter '%s' is declared twice", p->name); ok = false; }
    for (const fe_Node *d = p->a->a; d; d = d->next) {
      if (d->kind == FE_DIM_ELLIPSIS) {
        if (exported) { err(c, d->span, "'...' is only allowed in internal functions; an exported function needs named sizes"); ok = false; }
        else if (d != p->a->a) { err(c, d->span, "'...' may only be the first dimension"); ok = false; }
        param_ell = true;
      } else if (d->kind == FE_DIM_BIN) {
        err(c, d->span, "a parameter's dimension must be a size name or an integer; size expressions belong in result types");
        ok = false;
        nseen = collect_syms(d, seen, nseen); /* no follow-on error for the result */
      } else if (is_wildcard(d)) {
        err(c, d->span, "'_' leaves a result's size to the function body; a parameter's sizes must be named or given");
        ok = false;
      } else if (d->kind == FE_DIM_SYM) {
        bool dup = false;
        for (int i = 0; i < nseen; i++) dup |= strcmp(seen[i], d->name) == 0;
        if (!dup && nseen < 64) seen[nseen++] = d->name;
      }
    }
  }
  for (const fe_Node *r = fn->b; r; r = r->next)
    for (const fe_Node *d = r->a; d; d = d->next) {
      if (d->kind == FE_DIM_ELLIPSIS) {
        if (exported) { err(c, d->span, "'...' is only allowed in internal functions"); ok = false; }
        else if (d != r->a) { err(c, d->span, "'...' may only be the first dimension"); ok = false; }
        else if (!param_ell) { err(c, d->span, "'...' in the result needs a parameter with '...'"); ok = false; }
      } else if (is_wildcard(d)) {
        if (exported) {
          err(c, d->span, "'_' is only allowed in internal functions: an exported function's result sizes are part of its C interface");
          ok = false;
        }
      } else if (!result_syms_ok(c, d, seen, nseen)) ok = false;
    }
  return ok;
}

static void check_dup_decls(Ctx *c, tc_Module *m) {
  for (const fe_Node *d = m->ast->decls; d; d = d->next) {
    if (d->kind == FE_IMPORT) continue;
    const DeclName *first = find_decl(m, d->name);
    if (first && first->first != d) {
      fe_Diag *g = fe_error(c->d, d->span, "'%s' is declared twice in this module", d->name);
      c->errors++;
      fe_note(c->d, g, first->first->span, "the first declaration is here");
    }
    for (int i = 0; i < m->imports.n; i++) {
      Import *im = m->imports.items[i];
      if (strcmp(im->qual, d->name) == 0) {
        err(c, d->span, "'%s' clashes with the name of the imported module '%s'", d->name, im->mod->name);
        break;
      }
    }
    /* every exported NAME is also the C symbols NAME_ws and NAME_workspace_size */
    static const char *const entry_suffix[] = {"_ws", "_workspace_size"};
    if (d->kind != FE_FN || !(d->flags & FE_EXPORT)) continue;
    for (const fe_Node *e = m->ast->decls; e; e = e->next) {
      if (e->kind != FE_FN || !(e->flags & FE_EXPORT)) continue;
      size_t len = strlen(e->name);
      for (int k = 0; k < 2; k++)
        if (strncmp(d->name, e->name, len) == 0 && strcmp(d->name + len, entry_suffix[k]) == 0) {
          fe_Diag *g = fe_error(c->d, fn_name_span(d),
                                "exported function '%s' has the C name of the workspace entry of exported function '%s' (docs/abi.md, \"Workspace\"); rename it",
                                d->name, e->name);
          c->errors++;
          fe_note(c->d, g, fn_name_span(e), "'%s' is exported here", e->name);
        }
    }
  }
}

/* Builds the TIR of one exported function. */
static bool check_export(Ctx *c, tc_Module *m, const fe_Node *fn, tc_Func *f) {
  int np_ = fe_list_len(fn->a);
  Val *args = fe_alloc(c->a, sizeof *args * (size_t)(np_ + 1));
  const char **kw = fe_alloc(c->a, sizeof *kw * (size_t)(np_ + 1));
  int n = 0;
  f->nparams = np_;
  f->params = fe_alloc(c->a, sizeof *f->params * (size_t)(f->nparams + 1));
  for (const fe_Node *p = fn->a; p; p = p->next, n++) {
    const fe_Node *ty = p->a;
    const tc_Poly *dims[TC_MAXRANK];
    int r = 0;
    for (const fe_Node *d = ty->a; d && r < TC_MAXRANK; d = d->next, r++) {
      if (d->kind == FE_DIM_INT) { dims[r] = pconst(c, d->ival); continue; }
      int id = -1;
      for (int k = 0; k < c->syms.n; k++)
        if (strcmp(sym_at(c, k)->name, d->name) == 0) id = k;
      if (id < 0) id = new_sym(c, d->name, TC_SYM_PARAM, NULL, NULL);
      dims[r] = tc_poly_sym(c->a, id);
    }
    tc_Node *pn = tc_build_param(&c->b, n, (int)ty->ival, r, dims, p->span);
    f->params[n].name = p->name;
    f->params[n].node = pn;
    args[n] = tensor(pn);
  }
  f->nparam_syms = c->syms.n;
  fe_Node call = {.kind = FE_CALL, .span = fn->span};
  Val r = call_fn(c, m, fn, &call, args, kw, n);
  if (r.k == V_ERR) return false;
  f->name = fn->name;
  f->span = fn->span;
  f->nresults = r.k == V_TUPLE ? r.n : 1;
  f->results = fe_alloc(c->a, sizeof(tc_Node *) * (size_t)f->nresults);
  for (int i = 0; i < f->nresults; i++) f->results[i] = r.k == V_TUPLE ? r.items[i].t : r.t;
  f->nsyms = c->syms.n;
  f->syms = sym_table(c);
  f->nchecks = c->checks.n;
  f->checks = fe_alloc(c->a, sizeof(tc_Check) * (size_t)(c->checks.n + 1));
  for (int i = 0; i < c->checks.n; i++) f->checks[i] = *(tc_Check *)c->checks.items[i];
  f->nnodes = c->b.nodes.n;
  f->nodes = (tc_Node **)c->b.nodes.items;
  f->nbindings = c->bind_names.n;
  f->binding_names = (const char **)c->bind_names.items;
  f->binding_nodes = (tc_Node **)c->bind_nodes.items;
  /* the tri signature, for the header */
  char buf[2048];
  size_t len = (size_t)snprintf(buf, sizeof buf, "export fn %s(", fn->name);
  for (const fe_Node *p = fn->a; p && len < sizeof buf; p = p->next)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s: %s%s", p->name, decl_type_s(c, p->a), p->next ? ", " : "");
  if (len < sizeof buf) len += (size_t)snprintf(buf + len, sizeof buf - len, ") -> %s", fn->b && fn->b->next ? "(" : "");
  for (const fe_Node *t = fn->b; t && len < sizeof buf; t = t->next)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", decl_type_s(c, t), t->next ? ", " : "");
  if (len < sizeof buf && fn->b && fn->b->next) snprintf(buf + len, sizeof buf - len, ")");
  f->signature = fe_strndup(c->a, buf, strlen(buf));
  const char *verify = getenv("TRIC_VERIFY"); /* a debugging switch: the test suite sets it */
  char msg[512];
  if (verify && *verify && strcmp(verify, "0") != 0 && !tc_verify(f, msg, sizeof msg))
    TRIC_BUG("the TIR of '%s' does not verify: %s", fn->name, msg);
  return true;
}

/* Checks an internal function's body once with fresh sizes ('...' as one dimension). */
static bool check_generic(Ctx *c, tc_Module *m, const fe_Node *fn) {
  int np_ = fe_list_len(fn->a);
  Val *args = fe_alloc(c->a, sizeof *args * (size_t)(np_ + 1));
  const char **kw = fe_alloc(c->a, sizeof *kw * (size_t)(np_ + 1));
  int n = 0;
  for (const fe_Node *p = fn->a; p; p = p->next, n++) {
    const fe_Node *ty = p->a;
    const tc_Poly *dims[TC_MAXRANK];
    int r = 0;
    for (const fe_Node *d = ty->a; d && r < TC_MAXRANK; d = d->next, r++) {
      const char *name = d->kind == FE_DIM_ELLIPSIS ? "..." : d->name;
      if (d->kind == FE_DIM_INT) { dims[r] = pconst(c, d->ival); continue; }
      int id = -1;
      for (int k = 0; k < c->syms.n; k++)
        if (strcmp(sym_at(c, k)->name, name) == 0) id = k;
      if (id < 0) id = new_sym(c, name, TC_SYM_PARAM, NULL, NULL);
      dims[r] = tc_poly_sym(c->a, id);
    }
    args[n] = tensor(tc_build_param(&c->b, n, (int)ty->ival, r, dims, p->span));
  }
  fe_Node call = {.kind = FE_CALL, .span = fn->span};
  int before = c->errors;
  call_fn(c, m, fn, &call, args, kw, n);
  return c->errors == before && !c->reached_bad; /* calling a bad function makes this one bad: one error */
}

/* Warns of each import that nothing in the module names (every body has been checked). */
static void warn_unused_imports(tc_Module *m, fe_Diags *d) {
  for (int i = 0; i < m->imports.n; i++) {
    const Import *im = m->imports.items[i];
    if (!im->used) fe_warning(d, im->decl->span, "module '%s' is imported but never used", im->mod->name);
  }
}

int tc_check_module(tc_Module *m, fe_Arena *a, fe_Diags *d, tc_Func **funcs) {
  Ctx base = {.a = a, .d = d};
  int errors_before = d->nerrors - d->nwerrors; /* warnings made errors do not hide more warnings */
  for (const fe_Node *x = m->ast->decls; x; x = x->next) {
    if (x->kind == FE_CONST) {
      ConstVal *cv = fe_alloc(a, sizeof *cv);
      cv->decl = x;
      cv->typed = -1;
      fe_vec_push(a, &m->consts, cv);
    } else if (x->kind == FE_FN) fe_vec_push(a, &m->fns, (void *)x);
  }
  m->fn_bad = fe_alloc(a, (size_t)m->fns.n + 1);
  index_decls(m);
  check_dup_decls(&base, m);
  for (int i = 0; i < m->consts.n; i++) eval_const(&base, m, m->consts.items[i]);
  for (int i = 0; i < m->fns.n; i++) {
    const fe_Node *fn = m->fns.items[i];
    Ctx c = {.a = a, .d = d, .note_from = 1, .b = {.arena = a}};
    if (!check_signature(&c, fn) || (!(fn->flags & FE_EXPORT) && !check_generic(&c, m, fn))) m->fn_bad[i] = 1;
    base.errors += c.errors;
  }
  int nexp = 0;
  for (int i = 0; i < m->fns.n; i++) nexp += (((const fe_Node *)m->fns.items[i])->flags & FE_EXPORT) != 0;
  tc_Func *fs = fe_alloc(a, sizeof *fs * (size_t)(nexp + 1));
  int k = 0;
  for (int i = 0; i < m->fns.n; i++) {
    const fe_Node *fn = m->fns.items[i];
    if (!(fn->flags & FE_EXPORT) || m->fn_bad[i]) continue;
    Ctx c = {.a = a, .d = d, .note_from = 1, .b = {.arena = a}};
    if (check_export(&c, m, fn, &fs[k])) k++;
  }
  if (d->nerrors - d->nwerrors == errors_before) warn_unused_imports(m, d);
  *funcs = fs;
  return k;
}
