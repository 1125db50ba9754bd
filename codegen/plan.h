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
} cg_PlanKind;

/* One loop nest of the plan. */
typedef struct cg_PlanKernel {
  cg_PlanKind kind;
  const tc_Node *root; /* the node whose value the kernel writes */
  int output;          /* the result index it writes, or -1: the root's temporary */
  bool scratch;        /* needs an f64 scratch row (a matmul's accumulators) */
  int nfused;          /* the non-leaf nodes computed inside the loop, arguments first */
  const tc_Node **fused; /* (the root among them, but for a copy) */
  int ninputs;         /* the buffers and scalar parameters the loop reads, in node order */
  const tc_Node **inputs;
} cg_PlanKernel;

/* The plan of one exported function (allocated in the arena given to cg_plan_function). */
typedef struct cg_Plan {
  const tc_Func *f;
  uint8_t *reach;   /* per node id: a result depends on it */
  uint8_t *mat;     /* per node id: it has a buffer of its own (never a parameter) */
  int *out_of;      /* per node id: the result it is computed into in place, or -1 */
  int nkernels;     /* in the order they run: every buffer in node order, then the */
  cg_PlanKernel *kernels; /* results not computed in place, in result order */
} cg_Plan;

/* Plans f: decides what is materialised and groups the nodes into kernels. */
cg_Plan *cg_plan_function(fe_Arena *a, const tc_Func *f);
/* Whether node n has a buffer under plan p (a tensor parameter, or materialised). */
bool cg_plan_has_buffer(const cg_Plan *p, const tc_Node *n);
/* The name of a kernel kind ("elementwise", ...). */
const char *cg_plan_kind_name(cg_PlanKind k);
/* Whether a and b have the same dims. */
bool cg_same_shape(const tc_Node *a, const tc_Node *b);

#endif
