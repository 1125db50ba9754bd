/* lower.h - private to codegen/: the loop-nest builder that every kernel kind's lowering
 * uses (emit.c for elementwise, layout and copy kernels and the entry function;
 * reduction.c for reductions; contraction.c for matmul). It holds the state of lowering
 * one function (Fn), indices (Ix), counted loops (Loop) and the helpers that load, store,
 * convert and evaluate a fused node at an index. Planning (plan.h) has decided everything these follow.
 */
#ifndef TRIC_CODEGEN_LOWER_H
#define TRIC_CODEGEN_LOWER_H

#include "codegen/internal.h"
#include "codegen/plan.h"

enum { ERR_SIZE = -1, ERR_NOMEM = -2 };

typedef struct Ix {
  int rank;
  LLVMValueRef v[TC_MAXRANK]; /* per-dimension indices (NULL in flat loops) */
  LLVMValueRef lin;           /* linear index in the node's own shape, when known */
} Ix;

/* A node's value at one index in the current loop body. */
typedef struct Memo {
  Ix ix;
  LLVMValueRef v;
  int next; /* the node's previous entry, or -1 */
} Memo;

/* What the loop body being emitted has computed so far, so that a node with several
 * uses is evaluated once per element (per index it is read at), not once per path to it
 * (a tree walk of a DAG that doubles at every shared node). Per node, a chain of entries
 * valid while its stamp is the current generation; a new loop body starts a generation.
 * Also the per-node scratch of flat_ok. One per exported function, lent to its kernels
 * (allocating per kernel would cost nodes x kernels). */
typedef struct Memos {
  unsigned gen, *stamp; /* per node */
  int *head;            /* per node: its newest entry */
  Memo *ent;            /* malloc'd */
  int n, cap;
  unsigned flat_gen, *flat_stamp; /* per node: flat_ok's answer, valid at flat_gen */
  uint8_t *flat_val;
} Memos;

enum { SIZE_MEMO = 64 };

/* A byte size already checked in the entry block. */
typedef struct SizeMemo {
  int rank, elsize;
  const tc_Poly **dims;
  LLVMValueRef bytes;
} SizeMemo;

typedef struct Fn {
  cg_Emit *e;
  tc_Func *f;
  LLVMValueRef fn;
  LLVMValueRef *sym;    /* per size symbol: i64 */
  LLVMValueRef *buf;    /* per node: pointer to its buffer (params, materialised) */
  LLVMValueRef *scalar; /* per node: by-value scalar parameters */
  uint8_t *reach, *mat;
  Memos *memo;
  LLVMBasicBlockRef fail_size, entry;
  int nsizes;
  SizeMemo sizes[SIZE_MEMO];
  bool to_output; /* in a kernel: its destination is an output of the exported function */
  /* in the entry function: per node, the stack slot holding the offset of its temporary
     in the one allocation `temps` (NULL: not a temporary). Offsets go through memory so
     that none stays in a register across the whole function: the entry is not optimised,
     and a thousand long live ranges made register allocation most of a large model's
     compile time. */
  LLVMValueRef *slot, temps;
  LLVMValueRef *pslot; /* likewise, per tensor parameter: the slot holding its pointer */
  LLVMValueRef nthreads; /* in the entry: i32, the workers a contraction may use */
  /* in a row-wise kernel: per node, the value of a reduction of the current row (NULL:
     none), which cg_emit_at returns at any index of that row */
  LLVMValueRef *rowval;
} Fn;

/* A counted loop 0 <= i < n: cg_loop_begin opens it at the builder, cg_loop_end closes it. */
typedef struct Loop {
  LLVMBasicBlockRef header, exit;
  LLVMValueRef i;
  int interleave; /* >1: ask the vectoriser for that many vectors per iteration; <0: do not
                     vectorise; CG_PLAIN: neither vectorise nor unroll (a loop over blocks) */
} Loop;

enum { CG_PLAIN = -2 };

/* The type a dtype computes in (f16 and bf16 in f32, bool as i1). */
LLVMTypeRef cg_ctype(cg_Emit *e, int dt);
/* The type a dtype is stored as (f16 and bf16 as i16 bits, bool as i8). */
LLVMTypeRef cg_stype(cg_Emit *e, int dt);
/* An i64 constant. */
LLVMValueRef cg_i64(Fn *F, int64_t v);
/* Converts a stored element (scalar or vector) to its compute type. */
LLVMValueRef cg_from_storage(cg_Emit *e, int dt, LLVMValueRef v);
/* Converts a compute value (scalar or vector) to its stored form. */
LLVMValueRef cg_to_storage(cg_Emit *e, int dt, LLVMValueRef v);
/* The compute value of element lin of a dtype-dt buffer at ptr. */
LLVMValueRef cg_load_at(Fn *F, int dt, LLVMValueRef ptr, LLVMValueRef lin);
/* Stores compute value v as element lin of a dtype-dt buffer at ptr. */
void cg_store_at(Fn *F, int dt, LLVMValueRef ptr, LLVMValueRef lin, LLVMValueRef v);
/* The value of a size expression. */
LLVMValueRef cg_poly(Fn *F, const tc_Poly *p);
/* Row-major linear index of idx in dims. */
LLVMValueRef cg_linear(Fn *F, int rank, const tc_Poly **dims, LLVMValueRef *idx);
/* The number of elements of a shape. */
LLVMValueRef cg_numel(Fn *F, int rank, const tc_Poly **dims);
/* Whether a size expression is the constant 1. */
bool cg_is_const1(const tc_Poly *p);
/* Opens a loop 0 <= L->i < n at the builder; the body follows. */
void cg_loop_begin(Fn *F, Loop *L, LLVMValueRef n);
/* Closes the loop L: the builder continues after it. */
void cg_loop_end(Fn *F, Loop *L);
/* Attaches llvm.loop metadata {key: value} to a loop's back edge br. */
void cg_set_loop_md(Fn *F, LLVMValueRef br, const char *key, LLVMValueRef value);
/* A new module for a compile unit of its own (split jobs), with the target and data layout
 * of the module being emitted, appended to mods (the kernels' or the microkernels'), that
 * asks for optimisation pipeline pipe. */
LLVMModuleRef cg_unit_module(cg_Emit *e, fe_Vec *mods, cg_Pipeline pipe);
/* An alloca at the top of the function's entry block. */
LLVMValueRef cg_entry_alloca(Fn *F, LLVMTypeRef ty);
/* The compute value of node n at index ix in the current loop body (fused unless n has a
 * buffer), computed once per index however many uses read it. */
LLVMValueRef cg_emit_at(Fn *F, const tc_Node *n, const Ix *ix);
/* Records v as node n's value at index ix in the current loop body: cg_emit_at returns it
 * from then on (a contraction's epilogue reads the product tile this way). */
void cg_memo_put(Fn *F, const tc_Node *n, const Ix *ix, LLVMValueRef v);
/* The binary elementwise op `op` on compute values a and b of dtype dt (emit.c). */
LLVMValueRef cg_binop(Fn *F, tc_Op op, int dt, LLVMValueRef a, LLVMValueRef b);
/* Whether n can be evaluated at a flat index of its own shape, no per-dimension index. */
bool cg_flat_ok(Fn *F, const tc_Node *n);
/* dst = the reduction n of its argument, the argument's expression fused (reduction.c). */
void cg_emit_reduce(Fn *F, const tc_Node *n, LLVMValueRef dst);
/* dst = root row by row after its row-wise group's reductions, for indices
 * range[0] <= i < range[1] of its first dimension when its rank is 2 or more (reduction.c). */
void cg_emit_rowwise(Fn *F, const tc_Node *root, LLVMValueRef dst, const LLVMValueRef *range);
/* Calls elementwise or copy kernel kfn (rank >= 1; as cg_parallel_call) split over its
 * first dimension when it is large enough (parallel.c). */
void cg_fill_call(Fn *F, const tc_Node *root, LLVMValueRef kfn, LLVMTypeRef fty, LLVMValueRef *args, int nargs);
/* dst = the pooling n (maxpool2d, avgpool2d) of its argument, the argument's expression
 * fused into each window, for the planes (image, channel) range[0] <= p < range[1] of its
 * output (pool.c). */
void cg_emit_pool(Fn *F, const tc_Node *n, LLVMValueRef dst, const LLVMValueRef *range);
/* dst = root, the end of depthwise conv2d x's epilogue (or x itself), for the planes
 * range[0] <= p < range[1] of its output (image, channel) (pool.c). */
void cg_emit_depthwise(Fn *F, const tc_Node *x, const tc_Node *root, LLVMValueRef dst, const LLVMValueRef *range);
/* Calls pooling kernel kfn (as cg_parallel_call) split over its output planes when its
 * windows are large enough in all (parallel.c). */
void cg_pool_call(Fn *F, const tc_Node *root, LLVMValueRef kfn, LLVMTypeRef fty, LLVMValueRef *args, int nargs);
/* Calls row-wise kernel kfn (as cg_parallel_call) split over its first dimension. */
void cg_rowwise_call(Fn *F, const tc_Node *root, LLVMValueRef kfn, LLVMTypeRef fty, LLVMValueRef *args, int nargs);
/* Opens loops over dims (all of them, or those selected by mask), filling ix. */
void cg_open_loops(Fn *F, Loop *L, int rank, const tc_Poly **dims, int64_t mask, Ix *ix, int *nopen);
/* Closes the loops L[downto..*nopen). */
void cg_close_loops(Fn *F, Loop *L, int *nopen, int downto);

/* A contraction's scratch per thread stays below 2^CG_SCRATCH_BITS bytes, and it runs on
 * at most CG_MAX_THREADS threads, so their product fits the 2^62 bound on allocations. */
enum { CG_SCRATCH_BITS = 56, CG_MAX_THREADS = 64 };
/* The function attributes of every generated function (target CPU and features). */
void cg_add_fn_attrs(cg_Emit *e, LLVMValueRef fn);
/* contraction.c: computes rows range[0..1) and columns range[2..3) of root into dst,
 * where root is matmul x or the end of x's elementwise epilogue (plan.h), packing x's
 * operands into scratch. */
void cg_emit_contraction(Fn *F, const tc_Node *x, const tc_Node *root, LLVMValueRef dst, LLVMValueRef scratch,
                         const LLVMValueRef *range);
/* parallel.c: how a parallel kernel's range parameters follow from a chunk [lo, hi) of
 * its loop of `units` (chunk units of `unit` items): nrange 4, a contraction's rows and
 * columns (split_n: columns [lo*unit, min(hi*unit, n)) and all m rows, else rows); nrange
 * 2, items [lo*unit, min(hi*unit, m)). */
typedef struct cg_Split {
  int nrange;
  LLVMValueRef split_n;       /* i1, nrange 4 only */
  LLVMValueRef unit, m, n;    /* i64; n for nrange 4 only */
  LLVMValueRef units, grain;  /* chunk units in the loop; the fewest per chunk */
  LLVMValueRef par;           /* i1: large enough to pay for threads */
  LLVMValueRef stride;        /* scratch bytes per worker (args[1]), or NULL: no scratch */
} cg_Split;
/* Calls kernel kfn (type fty, args as run_kernel made them, range placeholders after the
 * output and scratch) from the entry: over tricrt_parallel_for when s->par and the pool
 * has more than one thread, else on the calling thread. */
void cg_parallel_call(Fn *F, LLVMValueRef kfn, LLVMTypeRef fty, LLVMValueRef *args, int nargs, const cg_Split *s);
/* The fewest chunk units that make a chunk of chunk_work when a unit is unit_work (>= 1). */
LLVMValueRef cg_grain(Fn *F, LLVMValueRef unit_work, int64_t chunk_work);
/* Calls contraction kernel kfn (type fty; args as run_kernel made them, the range
 * placeholders at 2..5, args[1] the scratch of worker 0, stride bytes apart) from the
 * entry: split over tricrt_parallel_for when it pays, else on the calling thread. */
void cg_contraction_call(Fn *F, const tc_Node *x, const tc_Node *root, LLVMValueRef kfn, LLVMTypeRef fty,
                         LLVMValueRef *args, int nargs, LLVMValueRef stride);
/* The bytes of scratch cg_emit_contraction needs for (x, root) (its packed panels),
 * computed at the builder from the size arguments; *ok is false when they pass 2^62. */
LLVMValueRef cg_contraction_scratch_bytes(Fn *F, const tc_Node *x, const tc_Node *root, LLVMValueRef *ok);

#endif
