/* typecheck.h - the contract of the type checker.
 *
 * The checker takes parsed modules (each with its imports already checked) and turns
 * every exported function into a tensor-level IR (TIR): a DAG of typed tensor operations
 * with dtypes and symbolic shapes, internal functions inlined (each call is checked with
 * the argument types it is given), consts folded and composites (mean, softmax,
 * logsoftmax, relu) expanded into primitives. Sizes are polynomials over the function's
 * size symbols; whatever cannot be proved at compile time becomes a runtime constraint
 * that the generated function checks before it writes anything.
 *
 * Every rule violation is one located error in fe_Diags. No global mutable state.
 */
#ifndef TRIC_TYPECHECK_H
#define TRIC_TYPECHECK_H

#include "frontend/frontend.h"

/* ---------------------------------------------------------------- sizes */

enum { TC_MAXDEG = 8, TC_MAXRANK = 16 };

/* One term coef * s[0] * ... * s[n-1] (symbol ids sorted). */
typedef struct tc_Mono {
  int64_t coef;
  int n;
  int s[TC_MAXDEG];
} tc_Mono;

/* A size: a canonical polynomial with integer coefficients over size symbols (terms
 * sorted, no zero coefficients; 0 has no terms). Immutable once built. */
typedef struct tc_Poly {
  int n;
  tc_Mono t[];
} tc_Poly;

typedef enum {
  TC_SYM_PARAM,    /* a size argument of the exported function */
  TC_SYM_QUOT,     /* num / den, with the runtime rule den != 0 and den divides num */
  TC_SYM_CEILDIV,  /* ceil(num / den) for num >= 0 and a constant den > 0 */
} tc_SymKind;

/* A size symbol of one exported function. */
typedef struct tc_Sym {
  const char *name;
  tc_SymKind kind;
  const tc_Poly *num, *den; /* for derived symbols */
} tc_Sym;

typedef enum {
  TC_CHECK_EQ,  /* a == b */
  TC_CHECK_GE0, /* a >= 0 */
} tc_CheckKind;

/* A rule on the size arguments checked at run time (failing returns TRIC_ERR_SIZE). */
typedef struct tc_Check {
  tc_CheckKind kind;
  const tc_Poly *a, *b;
  fe_Span span;
  const char *why;
} tc_Check;

/* ---------------------------------------------------------------- TIR */

#define TC_OPS(X)                                                                            \
  /* leaves */                                                                               \
  X(PARAM, "param")       /* i0: parameter index */                                          \
  X(CONST, "const")       /* scalar constant: f0 (floats) or i0 (integers, bool) */          \
  X(DIMVAL, "dimval")     /* the i64 value of the size poly `size` */                        \
  /* elementwise unary (one argument, same dtype) */                                         \
  X(NEG, "neg") X(NOT, "not") X(ABS, "abs") X(EXP, "exp") X(LOG, "log") X(SQRT, "sqrt")      \
  X(RSQRT, "rsqrt") X(TANH, "tanh") X(SIGMOID, "sigmoid") X(SIN, "sin") X(COS, "cos")         \
  X(FLOOR, "floor") X(CEIL, "ceil") X(ERF, "erf")                                            \
  /* elementwise binary (NumPy broadcasting) */                                              \
  X(ADD, "add") X(SUB, "sub") X(MUL, "mul") X(DIV, "div") X(MOD, "mod") X(POW, "pow")        \
  X(MIN, "minimum") X(MAX, "maximum") X(EQ, "eq") X(NE, "ne") X(LT, "lt") X(LE, "le")        \
  X(GT, "gt") X(GE, "ge") X(AND, "and") X(OR, "or")                                          \
  X(SELECT, "select")     /* cond, a, b */                                                   \
  X(CAST, "cast")         /* to the node's dtype */                                          \
  X(BROADCAST, "broadcast") /* to the node's dims */                                         \
  /* reductions: i0 = mask of reduced axes of the argument, i1 = keepdims */                 \
  X(RSUM, "reduce_sum") X(RMAX, "reduce_max") X(RMIN, "reduce_min") X(RPROD, "reduce_prod")  \
  /* structure */                                                                            \
  X(MATMUL, "matmul")     /* [..., M, K] @ [..., K, N], both rank >= 2 */                    \
  X(SLICE, "slice")       /* starts[], steps[], drop[] per argument dim */                   \
  X(TRANSPOSE, "transpose") /* ints: perm */                                                 \
  X(RESHAPE, "reshape")                                                                      \
  X(CONCAT, "concat")     /* i0: axis */

typedef enum {
#define X(id, name) TC_##id,
  TC_OPS(X)
#undef X
      TC_NOPS
} tc_Op;

typedef struct tc_Node tc_Node;
struct tc_Node {
  tc_Op op;
  int dtype;
  int rank;
  const tc_Poly **dims;
  int nargs;
  tc_Node **args;
  int64_t i0, i1;
  double f0;
  const tc_Poly *size;    /* DIMVAL */
  const tc_Poly **starts; /* SLICE: per argument dim */
  int64_t *ints;          /* SLICE steps / TRANSPOSE perm */
  uint8_t *drop;          /* SLICE: dims dropped by a plain index */
  fe_Span span;
  int id;
};

/* One parameter of an exported function. */
typedef struct tc_Param {
  const char *name;
  tc_Node *node; /* the PARAM node: dtype, rank, dims */
} tc_Param;

/* An exported function, checked and lowered to TIR. */
typedef struct tc_Func {
  const char *name;
  const char *signature; /* the tri signature, for the header comment */
  fe_Span span;
  int nparams;
  tc_Param *params;
  int nresults;
  tc_Node **results;
  int nsyms, nparam_syms; /* the first nparam_syms are the size arguments */
  tc_Sym *syms;
  int nchecks;
  tc_Check *checks;
  int nnodes;
  tc_Node **nodes; /* every node, arguments before their users */
  int nbindings;   /* let bindings, for --dump=types */
  const char **binding_names;
  tc_Node **binding_nodes;
} tc_Func;

/* ---------------------------------------------------------------- modules */

typedef struct tc_Module tc_Module;

/* Creates the checker's view of a parsed module named `name` (its dotted import path).
 * Imports are attached with tc_module_add_import before checking. */
tc_Module *tc_module_new(fe_Arena *a, const fe_Module *ast, const char *name);
/* Makes the imported module `dep` visible in m under the last part of its path, for the
 * import declaration `decl`. Two imports with the same qualifier are an error. */
void tc_module_add_import(tc_Module *m, fe_Diags *d, const fe_Node *decl, tc_Module *dep);
/* Checks every declaration of m and builds the TIR of each exported function. Errors
 * go to d; returns the number of exported functions (in *funcs), valid only when d has
 * no errors. Nodes live in arena a. */
int tc_check_module(tc_Module *m, fe_Arena *a, fe_Diags *d, tc_Func **funcs);

/* ---------------------------------------------------------------- printing */

/* Appends the text of a size (N*784 + 2) to buf. */
void tc_poly_str(const tc_Poly *p, const tc_Sym *syms, char *buf, size_t cap);
/* "f32[B, 784]" in arena a. */
const char *tc_type_str(fe_Arena *a, int dtype, int rank, const tc_Poly **dims,
                        const tc_Sym *syms);
/* The name of a TIR op. */
const char *tc_op_name(tc_Op op);
/* Writes each function's signature, symbols, checks and let bindings. */
void tc_dump_types(FILE *out, tc_Func *funcs, int n, fe_Arena *a);
/* Writes each function's TIR, one node a line. */
void tc_dump_ir(FILE *out, tc_Func *funcs, int n, fe_Arena *a);

/* ---------------------------------------------------------------- size algebra */

bool tc_poly_is_const(const tc_Poly *p, int64_t *v);
bool tc_poly_eq(const tc_Poly *a, const tc_Poly *b);

#endif
