/* typecheck.h - the contract of the type checker.
 *
 * The checker takes parsed modules (each with its imports already checked) and turns
 * every exported function into a tensor-level IR (TIR): a DAG of typed tensor operations
 * with dtypes and symbolic shapes, internal functions inlined (each call is checked with
 * the argument types it is given), consts folded and composites (mean, softmax,
 * logsoftmax, relu, global_avgpool) expanded into primitives. Sizes are polynomials over the function's
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
  TC_SYM_FLOORDIV, /* floor(num / den) for a constant den > 0, with the runtime rule num >= 0 */
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

/* The TIR op table, one row per op: X(id, name, arity, class, attr, dtype rule, combine,
 * identity, flags). arity is the number of arguments (TC_VARIADIC: one or more); class
 * says how the node's index relates to its arguments' (tc_OpClass); attr names the
 * attribute struct of tc_Node that the op uses (tc_AttrKind); the dtype rule says which
 * argument and result dtypes are valid (tc_DtypeRule); a reduction's combine op folds an
 * element into the accumulator, starting from identity (tc_Identity). Adding an op is
 * one row here plus its checker rule and its lowering: every switch over tc_Op ends in
 * a TRIC_BUG naming the op, so a missed case is a loud internal error. */
#define TC_OPS(X)                                                                                    \
  /* leaves */                                                                                      \
  X(PARAM, "param", 0, LEAF, PARAM, ANY, NOPS, NONE, 0) /* a parameter of the function */           \
  X(CONST, "const", 0, LEAF, CONST, ANY, NOPS, NONE, 0) /* a scalar constant */                     \
  X(DIMVAL, "dimval", 0, LEAF, DIMVAL, I64, NOPS, NONE, 0) /* the i64 value of a size */            \
  /* elementwise unary (one argument, same dtype) */                                                \
  X(NEG, "neg", 1, ELEMENTWISE, NONE, NUM, NOPS, NONE, 0)                                           \
  X(NOT, "not", 1, ELEMENTWISE, NONE, BOOL, NOPS, NONE, 0)                                          \
  X(ABS, "abs", 1, ELEMENTWISE, NONE, NUM, NOPS, NONE, 0)                                           \
  X(EXP, "exp", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                         \
  X(LOG, "log", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                         \
  X(SQRT, "sqrt", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                       \
  X(RSQRT, "rsqrt", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                     \
  X(TANH, "tanh", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                       \
  X(SIGMOID, "sigmoid", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                 \
  X(SIN, "sin", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                         \
  X(COS, "cos", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                         \
  X(FLOOR, "floor", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                     \
  X(CEIL, "ceil", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                       \
  X(ERF, "erf", 1, ELEMENTWISE, NONE, FLOAT, NOPS, NONE, 0)                                         \
  /* elementwise binary (NumPy broadcasting) */                                                     \
  X(ADD, "add", 2, ELEMENTWISE, NONE, NUM, NOPS, NONE, TC_F_COMMUTATIVE)                            \
  X(SUB, "sub", 2, ELEMENTWISE, NONE, NUM, NOPS, NONE, 0)                                           \
  X(MUL, "mul", 2, ELEMENTWISE, NONE, NUM, NOPS, NONE, TC_F_COMMUTATIVE)                            \
  X(DIV, "div", 2, ELEMENTWISE, NONE, NUM, NOPS, NONE, 0)                                           \
  X(MOD, "mod", 2, ELEMENTWISE, NONE, NUM, NOPS, NONE, 0)                                           \
  X(POW, "pow", 2, ELEMENTWISE, NONE, NUM, NOPS, NONE, 0)                                           \
  X(MIN, "minimum", 2, ELEMENTWISE, NONE, NUM, NOPS, NONE, TC_F_COMMUTATIVE)                        \
  X(MAX, "maximum", 2, ELEMENTWISE, NONE, NUM, NOPS, NONE, TC_F_COMMUTATIVE)                        \
  X(EQ, "eq", 2, ELEMENTWISE, NONE, EQUALITY, NOPS, NONE, TC_F_COMMUTATIVE)                         \
  X(NE, "ne", 2, ELEMENTWISE, NONE, EQUALITY, NOPS, NONE, TC_F_COMMUTATIVE)                         \
  X(LT, "lt", 2, ELEMENTWISE, NONE, ORDER, NOPS, NONE, 0)                                           \
  X(LE, "le", 2, ELEMENTWISE, NONE, ORDER, NOPS, NONE, 0)                                           \
  X(GT, "gt", 2, ELEMENTWISE, NONE, ORDER, NOPS, NONE, 0)                                           \
  X(GE, "ge", 2, ELEMENTWISE, NONE, ORDER, NOPS, NONE, 0)                                           \
  X(AND, "and", 2, ELEMENTWISE, NONE, BOOL, NOPS, NONE, TC_F_COMMUTATIVE)                           \
  X(OR, "or", 2, ELEMENTWISE, NONE, BOOL, NOPS, NONE, TC_F_COMMUTATIVE)                             \
  X(SELECT, "select", 3, ELEMENTWISE, NONE, SELECT, NOPS, NONE, 0) /* cond, a, b */                 \
  X(CAST, "cast", 1, ELEMENTWISE, NONE, CAST, NOPS, NONE, 0) /* to the node's dtype */              \
  X(BROADCAST, "broadcast", 1, ELEMENTWISE, NONE, SAME, NOPS, NONE, TC_F_MOVE) /* to the node's dims */\
  /* reductions over the axes in a mask */                                                          \
  X(RSUM, "reduce_sum", 1, REDUCTION, REDUCE, SAME, ADD, ZERO, 0)                                   \
  X(RMAX, "reduce_max", 1, REDUCTION, REDUCE, SAME, MAX, LOWEST, 0)                                 \
  X(RMIN, "reduce_min", 1, REDUCTION, REDUCE, SAME, MIN, HIGHEST, 0)                                \
  X(RPROD, "reduce_prod", 1, REDUCTION, REDUCE, SAME, MUL, ONE, 0)                                  \
  /* structure */                                                                                   \
  X(MATMUL, "matmul", 2, CONTRACTION, NONE, SAME, NOPS, NONE, 0) /* [..., M, K] @ [..., K, N], both rank >= 2 */\
  X(SLICE, "slice", 1, LAYOUT, SLICE, SAME, NOPS, NONE, TC_F_MOVE)                                  \
  X(TRANSPOSE, "transpose", 1, LAYOUT, TRANSPOSE, SAME, NOPS, NONE, TC_F_MOVE)                      \
  X(RESHAPE, "reshape", 1, LAYOUT, NONE, SAME, NOPS, NONE, TC_F_MOVE) /* the same elements in row-major order */\
  X(CONCAT, "concat", TC_VARIADIC, LAYOUT, CONCAT, SAME, NOPS, NONE, 0) /* along one axis */\
  /* neural: x NCHW, w OIHW; output H, W as docs/language.md */                                        \
  X(CONV2D, "conv2d", 2, CONTRACTION, CONV, FLOAT, NOPS, NONE, 0) /* x, w: a sum over C/groups, kh, kw */\
  X(MAXPOOL2D, "maxpool2d", 1, WINDOW, POOL, FLOAT, NOPS, NONE, 0) /* padded cells ignored */        \
  X(AVGPOOL2D, "avgpool2d", 1, WINDOW, POOL, FLOAT, NOPS, NONE, 0) /* padded cells count, as zeros */

typedef enum {
#define X(id, name, ...) TC_##id,
  TC_OPS(X)
#undef X
      TC_NOPS
} tc_Op;

enum { TC_VARIADIC = -1 };

/* How a node's value at an index depends on its arguments. */
typedef enum {
  TC_CLASS_LEAF,        /* no arguments */
  TC_CLASS_ELEMENTWISE, /* each argument at the node's index, broadcast NumPy-style */
  TC_CLASS_REDUCTION,   /* the argument over the reduced axes of the node's index */
  TC_CLASS_CONTRACTION, /* a sum of products over a shared axis (matmul, conv2d) */
  TC_CLASS_LAYOUT,      /* argument elements moved to other indices */
  TC_CLASS_WINDOW,      /* a fold over a 2-D window of the argument's last two dims (pooling) */
} tc_OpClass;

/* Which attribute struct of tc_Node an op uses. */
typedef enum {
  TC_ATTR_NONE,
  TC_ATTR_PARAM,
  TC_ATTR_CONST,
  TC_ATTR_DIMVAL,
  TC_ATTR_REDUCE,
  TC_ATTR_SLICE,
  TC_ATTR_TRANSPOSE,
  TC_ATTR_CONCAT,
  TC_ATTR_CONV,
  TC_ATTR_POOL,
} tc_AttrKind;

/* The dtypes an op accepts and gives. */
typedef enum {
  TC_DT_ANY,      /* a leaf of any dtype */
  TC_DT_I64,      /* a leaf of dtype i64 */
  TC_DT_SAME,     /* arguments and result of one dtype */
  TC_DT_NUM,      /* arguments and result of one dtype, not bool */
  TC_DT_FLOAT,    /* arguments and result of one float dtype */
  TC_DT_BOOL,     /* arguments and result bool */
  TC_DT_EQUALITY, /* arguments of one dtype, result bool */
  TC_DT_ORDER,    /* arguments of one dtype, not bool, result bool */
  TC_DT_SELECT,   /* a bool condition, then two arguments of the result's dtype */
  TC_DT_CAST,     /* any argument dtype to any result dtype */
} tc_DtypeRule;

/* The value a reduction starts from. */
typedef enum {
  TC_ID_NONE,    /* not a reduction */
  TC_ID_ZERO,    /* 0 */
  TC_ID_ONE,     /* 1 */
  TC_ID_LOWEST,  /* -inf, or the dtype's least value */
  TC_ID_HIGHEST, /* +inf, or the dtype's greatest value */
} tc_Identity;

enum {
  TC_F_COMMUTATIVE = 1, /* a binary op whose arguments may be swapped */
  TC_F_MOVE = 2,        /* the value at an index is the argument's at another index */
};

/* The properties of one op (a row of TC_OPS). */
typedef struct tc_OpInfo {
  const char *name;
  int arity;
  tc_OpClass cls;
  tc_AttrKind attr;
  tc_DtypeRule dtypes;
  tc_Op combine; /* reductions: the binary op that folds an element in; else TC_NOPS */
  tc_Identity identity;
  unsigned flags;
} tc_OpInfo;

/* The properties of op (one row of the const table in tir.c). */
const tc_OpInfo *tc_op_info(tc_Op op);

typedef struct tc_Node tc_Node;
struct tc_Node {
  tc_Op op;
  int dtype;
  int rank;
  const tc_Poly **dims;
  int nargs;
  tc_Node **args;
  union { /* the attributes, the member that tc_op_info(op)->attr names */
    struct {
      int64_t index; /* the parameter's position */
    } param;         /* TC_ATTR_PARAM */
    struct {
      double f;  /* float dtypes */
      int64_t i; /* integer dtypes and bool; the other field is 0 */
    } cst;       /* TC_ATTR_CONST */
    struct {
      const tc_Poly *size;
    } dimval; /* TC_ATTR_DIMVAL */
    struct {
      int64_t axes_mask; /* bit i: axis i of the argument is reduced */
      int64_t keepdims;  /* 1: reduced axes stay, of size 1 */
    } reduce;            /* TC_ATTR_REDUCE */
    struct {
      const tc_Poly **starts; /* per argument dim */
      int64_t *steps;         /* per argument dim */
      uint8_t *drop;          /* per argument dim: dropped by a plain index */
    } slice;                  /* TC_ATTR_SLICE */
    struct {
      int64_t *perm; /* result dim i is argument dim perm[i] */
    } transpose;     /* TC_ATTR_TRANSPOSE */
    struct {
      int64_t axis;
    } concat; /* TC_ATTR_CONCAT */
    struct {
      int64_t stride[2], pad[2], dil[2]; /* [h, w] */
      int64_t groups;                    /* C and O split into groups; w's I dim is C/groups */
    } conv;                              /* TC_ATTR_CONV */
    struct {
      int64_t kernel[2], stride[2], pad[2]; /* [h, w] */
    } pool;                                 /* TC_ATTR_POOL */
  };
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

/* ---------------------------------------------------------------- building TIR
 *
 * Nodes are made through a builder, by the checker and by any later pass: it allocates
 * in the builder's arena, copies dims and arguments, numbers nodes in the order made
 * (arguments before their users) and fills the attribute struct the op's row names.
 * The builder checks nothing: tc_verify does (the checker reports the user's errors
 * before it builds). */

typedef struct tc_Builder {
  fe_Arena *arena;
  fe_Vec nodes; /* tc_Node*: every node made, node i has id i */
} tc_Builder;

/* A node of op over args with the given dtype and dims, attributes zero. */
tc_Node *tc_build_node(tc_Builder *b, tc_Op op, int dtype, int rank, const tc_Poly **dims, int nargs,
                       tc_Node **args, fe_Span span);
/* Parameter `index` of the function. */
tc_Node *tc_build_param(tc_Builder *b, int64_t index, int dtype, int rank, const tc_Poly **dims, fe_Span span);
/* A scalar constant: f for float dtypes, i otherwise. */
tc_Node *tc_build_const(tc_Builder *b, int dtype, double f, int64_t i, fe_Span span);
/* The i64 value of size. */
tc_Node *tc_build_dimval(tc_Builder *b, const tc_Poly *size, fe_Span span);
/* The elementwise unary op of x (x's dtype and dims). */
tc_Node *tc_build_unary(tc_Builder *b, tc_Op op, tc_Node *x, fe_Span span);
/* x converted to dtype (x itself when it has that dtype). */
tc_Node *tc_build_cast(tc_Builder *b, tc_Node *x, int dtype, fe_Span span);
/* The elementwise op of args (1 to 3, NumPy-broadcast to dims) giving dtype. */
tc_Node *tc_build_elementwise(tc_Builder *b, tc_Op op, int dtype, int rank, const tc_Poly **dims, int nargs,
                              tc_Node **args, fe_Span span);
/* The reduction op of x over the axes in mask, keeping them as size 1 when keepdims. */
tc_Node *tc_build_reduce(tc_Builder *b, tc_Op op, tc_Node *x, int64_t mask, bool keepdims, fe_Span span);
/* x with its dims permuted: result dim i is x's dim perm[i]. */
tc_Node *tc_build_transpose(tc_Builder *b, tc_Node *x, const int64_t *perm, fe_Span span);
/* x sliced: per x dim a start, a step and whether a plain index drops it; dims are the
 * result's. */
tc_Node *tc_build_slice(tc_Builder *b, tc_Node *x, int rank, const tc_Poly **dims, const tc_Poly **starts,
                        const int64_t *steps, const uint8_t *drop, fe_Span span);
/* xs joined along axis (dims: the result's). */
tc_Node *tc_build_concat(tc_Builder *b, int64_t axis, int rank, const tc_Poly **dims, int nargs, tc_Node **xs,
                         fe_Span span);

/* x (NCHW) convolved with w (OIHW): dims are the result's [N, O, OH, OW]. */
tc_Node *tc_build_conv2d(tc_Builder *b, tc_Node *x, tc_Node *w, const int64_t stride[2], const int64_t pad[2],
                         const int64_t dil[2], int64_t groups, const tc_Poly **dims, fe_Span span);
/* Pooling op (TC_MAXPOOL2D, TC_AVGPOOL2D) of x (NCHW): dims are the result's [N, C, OH, OW]. */
tc_Node *tc_build_pool2d(tc_Builder *b, tc_Op op, tc_Node *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t pad[2], const tc_Poly **dims, fe_Span span);

/* Checks every node of f against its op's row and class: arity, dtypes, ranks and dims
 * (broadcasting, reduced axes, matmul, conv2d, pooling windows, slice, transpose, reshape,
 * concat), attributes (axes
 * within rank, perm a permutation, parameter indices), arguments before users. Returns
 * true when f is well formed; else false with the first violation in msg ("%3 = add:
 * ..."). tc_check_module runs it on every function when TRIC_VERIFY is set. */
bool tc_verify(const tc_Func *f, char *msg, size_t cap);

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
