/* plan.h - the kernel plan of an exported function, decided before any LLVM IR exists.
 *
 * Planning turns a function's TIR into the list of loop-nest kernels that emission
 * lowers: which nodes get a buffer (are materialised), and for each buffer or output the
 * kernel that computes it: its kind, its root, the nodes fused into its loop, the buffers
 * and scalars it reads and where it writes. Emission (emit.c) follows the plan and decides
 * nothing of this itself. This header includes no llvm-c header: planning is LLVM-free.
 */
#ifndef TRIC_CODEGEN_PLAN_H
#define TRIC_CODEGEN_PLAN_H

#include "typecheck/typecheck.h"

/* What a kernel's loop nest does. */
typedef enum {
  CG_PK_ELEMENTWISE, /* one loop over the root's elements, its fused expression at each */
  CG_PK_REDUCTION,   /* the root reduction, its argument's expression fused into the fold */
  CG_PK_CONTRACTION, /* the root matmul, reading its operands (buffers or cheap remaps) */
  CG_PK_LAYOUT,      /* the root concat: each argument's expression into its part */
  CG_PK_COPY,        /* an output copied from a buffer or a parameter (the root) */
  CG_PK_ROWWISE,     /* the elementwise root row by row, after its row's reductions (fused,
                        kept as per-row scalars, in node order) */
  CG_PK_POOL,        /* the root pooling: per output element a fold over its window of the
                        argument, whose expression is fused (pool.c) */
  CG_PK_DEPTHWISE,   /* a depthwise conv2d (cg_plan_depthwise): per output element a
                        weighted fold over its window, then its epilogue up to the root,
                        before the one store (pool.c) */
} cg_PlanKind;

/* Whether conv2d n takes the depthwise path (CG_PK_DEPTHWISE) instead of an implicit GEMM:
 * every group reads one input channel and writes at most DW_MAX_OUT output channels, so a
 * GEMM per group would be a product with 1-4 rows and KH*KW depth, too thin for the
 * microkernel (docs/plan.md, "Depthwise convolution"). Needs a float dtype and constant
 * C, O, KH and KW. */
enum { CG_DW_MAX_OUT = 4, CG_DW_MAX_CELLS = 64 };
bool cg_plan_depthwise(const tc_Node *n);

/* What the cost model knows of the target: its vector width, vector registers and the
 * cache sizes assumed for its class of CPU (see docs/plan.md, "Cost model"). */
typedef struct cg_TargetInfo {
  int vector_bytes; /* the widest vector the code may use: 64 (AVX-512), 32 (AVX2), 16 */
  int vector_regs;  /* architectural vector registers: 32 or 16 */
  int64_t l1, l2, l3; /* data cache bytes per core assumed (l3: the share of one core) */
} cg_TargetInfo;

/* A contraction's register tile and cache blocks, in elements of its compute type. */
typedef struct cg_Tiles {
  int vl;        /* elements per vector */
  int nv;        /* vectors per tile row: the tile is mr x (nv * vl) */
  int mr, nr;    /* the register tile: mr rows of C, nr = nv * vl columns */
  int64_t kc;    /* the depth of a block: packed panels of kc x nr (B) and mr x kc (A) */
  int64_t mc;    /* rows of A packed at once (a multiple of mr) */
  int64_t nc;    /* columns of B packed at once (a multiple of nr) */
  bool split_k;  /* K is split into kc blocks (not for f16/bf16 storage: C is rounded once) */
  int64_t a_in_place_max; /* A of at most this many elements is read in place, not packed, */
  int64_t a_in_place_cols; /* when the product has at most this many columns */
  bool images_inside; /* a convolution runs its images inside each depth block (plan.c) */
} cg_Tiles;

/* One loop nest of the plan. */
typedef struct cg_PlanKernel {
  cg_PlanKind kind;
  const tc_Node *root; /* the node whose value the kernel writes */
  int output;          /* the result index it writes, or -1: the root's temporary */
  bool scratch;        /* needs scratch memory (a contraction's packed panels) */
  const tc_Node *contraction; /* a contraction kernel's matmul: the root, or the start of
                                 the elementwise epilogue the root ends (fused) */
  int nfused;          /* the non-leaf nodes computed inside the loop, arguments first */
  const tc_Node **fused; /* (the root among them, but for a copy) */
  int ninputs;         /* the buffers and scalar parameters the loop reads, in node order */
  const tc_Node **inputs;
  /* its key (plan.c, "kernel keys"): kernels with one key are one loop nest, whose
     parameters are these inputs in the order the loop first reads them */
  unsigned char key[16];
  int nparams;
  const tc_Node **params;
} cg_PlanKernel;

/* The plan of one exported function (allocated in the arena given to cg_plan_function). */
typedef struct cg_Plan {
  const tc_Func *f;
  uint8_t *reach;   /* per node id: a result depends on it */
  uint8_t *mat;     /* per node id: it has a buffer of its own (never a parameter) */
  int *out_of;      /* per node id: the result it is computed into in place, or -1 */
  int nkernels;     /* in the order they run: every buffer in node order, then the */
  cg_PlanKernel *kernels; /* results not computed in place, in result order */
  /* where temporaries live (plan.c, "memory"): one workspace cut into slices; the
     temporaries whose lifetimes (the kernel that writes one to the last that reads it)
     do not overlap share a slice, as large as its largest member at run time. The
     contractions' scratch follows, in one area they all share (one runs at a time). */
  int *slice_of;    /* per node id: the slice of its temporary, or -1 (it has none) */
  int *first, *last; /* per node id: the kernels that write its temporary and read it last */
  int nslices;
  int ntemps;       /* temporaries (each in one slice) */
} cg_Plan;

/* The cost model's view of a target given as LLVM names it (cpu "generic" or a CPU name,
 * features "+avx2,-avx512f,..." or empty). Never fails: an unknown CPU is baseline. */
void cg_target_info(const char *triple, const char *cpu, const char *features, cg_TargetInfo *out);
/* The tiles of a contraction computing in dtype dt's compute type on target t. */
void cg_contraction_tiles(const cg_TargetInfo *t, int dt, cg_Tiles *out);

/* The tiles of contraction kernel (x, root): x's, with K not split when root (the end of
 * x's epilogue) is stored in another type than x computes in. */
void cg_contraction_tiles_for(const cg_TargetInfo *t, const tc_Node *x, const tc_Node *root, cg_Tiles *out);

/* Plans f: decides what is materialised and groups the nodes into kernels. */
cg_Plan *cg_plan_function(fe_Arena *a, const tc_Func *f);
/* The plan of funcs as text or JSON (docs/plan.md), tiles from the cost model for t. */
char *cg_plan_write(tc_Func *funcs, int nfuncs, fe_Arena *a, bool json, const cg_TargetInfo *t);
/* Whether kernel k writes a temporary of the workspace (not a result, not a copy). */
bool cg_plan_writes_temp(const cg_Plan *p, const cg_PlanKernel *k);

/* Whether node n has a buffer under plan p (a tensor parameter, or materialised). */
bool cg_plan_has_buffer(const cg_Plan *p, const tc_Node *n);
/* The name of a kernel kind ("elementwise", ...). */
const char *cg_plan_kind_name(cg_PlanKind k);
/* Whether a and b have the same dims. */
bool cg_same_shape(const tc_Node *a, const tc_Node *b);

#endif
