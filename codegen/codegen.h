/* codegen.h - the contract of code generation, the only layer that includes llvm-c.
 *
 * Takes the TIR of a module's exported functions and produces, for one target, the
 * object file, the C header and on request LLVM IR and assembly. Fusion happens here:
 * chains of elementwise operations, broadcasts, slices and transposes are evaluated
 * inside the loop that consumes them (a reduction, a matmul operand, an output), so they
 * never touch memory. Each call builds its own LLVMContext and TargetMachine, so several
 * modules may compile at once on several threads after cg_init.
 */
#ifndef TRIC_CODEGEN_H
#define TRIC_CODEGEN_H

#include "typecheck/typecheck.h"

/* What to produce. */
enum { CG_EMIT_OBJ = 1, CG_EMIT_HEADER = 2, CG_EMIT_LLVM_IR = 4, CG_EMIT_ASM = 8, CG_EMIT_PLAN = 16, CG_EMIT_PLAN_JSON = 32 };

/* Options that change the generated code. */
typedef struct cg_Options {
  int opt_level;        /* 0..3 */
  const char *triple;   /* NULL: the host */
  const char *cpu;      /* NULL: the host CPU when triple is NULL, else "generic" */
  const char *features; /* NULL: the host's features for the host CPU, else the CPU's own */
} cg_Options;

/* A produced file in memory (malloc-owned). */
typedef struct cg_Blob {
  char *data;
  size_t len;
} cg_Blob;

typedef struct cg_Result {
  cg_Blob obj, ir, asm_text;
  double t_ir, t_opt, t_codegen; /* seconds: lowering to LLVM IR, optimising, emitting (but
                                    for the kernel units, which report their own) */
  int nkernels;                  /* loop-nest kernels and microkernels emitted */
} cg_Result;

/* What went wrong, for the caller to map to an exit status: a user's mistake (a name
 * LLVM does not know) or tric's and the system's (everything else). Messages are for
 * people; this is what a caller decides by. */
typedef enum cg_Status {
  CG_OK = 0,
  CG_ERR_TARGET,   /* no such target triple */
  CG_ERR_CPU,      /* an unknown CPU or CPU feature name, or a malformed feature list */
  CG_ERR_RESOURCE, /* the system refused what a step needs (a temporary file) */
  CG_ERR_INTERNAL, /* a bug in tric or LLVM: invalid IR generated, an LLVM step failed */
} cg_Status;

/* Initialises LLVM's targets once per process, before any thread compiles. */
void cg_init(void);
/* Releases LLVM's process-wide state at exit. */
void cg_shutdown(void);
/* A module compiles as a job in steps that may run on different threads:
 *
 *   cg_start     emits the module and says how many kernel units (*nunits >= 0) it has;
 *   cg_run_unit  compiles kernel unit u (0 <= u < *nunits) into a cg_Unit that the
 *                caller owns (different units may compile at once);
 *   cg_finish    compiles the exported functions, joins them with the compiled kernel
 *                units (passed in unit order) into the outputs, and frees the job.
 *
 * Objects and assembly for ELF targets are compiled this way, each kernel in a module of
 * its own. A kernel unit's code depends only on what cg_unit_key_feed feeds (its LLVM
 * bitcode, the target and the options), so a builder that meets those bytes again, in
 * this module or another, may pass the cg_Unit compiled for the first one to cg_finish
 * instead of compiling it again: the output is the same byte for byte. Codegen hashes
 * nothing itself: the builder keys units and jobs (cmd/keys.c). Otherwise (LLVM IR
 * requested, other object formats) the job has no units and cg_finish compiles the
 * whole module.
 *
 * On failure each returns a cg_Status other than CG_OK with a malloc'd message in *err
 * (a bad target name, an LLVM failure); free a job that will not finish with cg_job_free. */
typedef struct cg_Job cg_Job;
/* Target machines kept for reuse from one step to the next (making one costs about a
 * millisecond): each step takes a cg_Machines (or NULL: its own, freed with the job),
 * used by that step alone while it runs. */
typedef struct cg_Machines cg_Machines;
cg_Machines *cg_machines_new(void);
void cg_machines_free(cg_Machines *m);
typedef struct cg_Unit {
  cg_Blob asm_text;
  double t_opt, t_codegen; /* seconds */
} cg_Unit;
cg_Status cg_start(const char *module_name, tc_Func *funcs, int nfuncs, const cg_Options *o, unsigned emit,
                   cg_Machines *m, cg_Job **job, int *nunits, char **err);
/* Takes n bytes at p into the key being made (ctx: the caller's hasher). */
typedef void cg_KeyFeed(void *ctx, const void *p, size_t n);
/* Feeds everything kernel unit u's code depends on: the target triple, CPU and features,
 * the options that change code, and the unit's LLVM bitcode. */
void cg_unit_key_feed(const cg_Job *job, int u, cg_KeyFeed *feed, void *ctx);
/* Feeds everything cg_finish's outputs depend on but the kernel units: the target, the
 * options, the outputs asked for and the exported functions' bitcode, so that a builder
 * keying that with every unit's key may reuse the outputs of an earlier identical job;
 * false (nothing fed) for a job without units. */
bool cg_job_key_feed(const cg_Job *job, cg_KeyFeed *feed, void *ctx);
/* The loop-nest kernels and shared microkernels the module emitted. */
int cg_job_nkernels(const cg_Job *job);
cg_Status cg_run_unit(cg_Job *job, int u, cg_Machines *m, cg_Unit *out, char **err);
cg_Status cg_finish(cg_Job *job, const cg_Unit *const *units, cg_Machines *m, cg_Result *out, char **err);
void cg_job_free(cg_Job *job);
void cg_unit_free(cg_Unit *u);
/* Frees the blobs of a result. */
void cg_result_free(cg_Result *r);
/* The include guard of a header: TRIC_, the module's path sanitised, and a hash of that
 * path and the header's file name, so headers of same-named modules can go together
 * while one module's header is the same bytes in any output folder. */
char *cg_header_guard(fe_Arena *a, const char *module_path, const char *header_path);
/* The C header for the exported functions of module `module_name` (malloc'd text). */
char *cg_header(const char *module_name, const char *guard, tc_Func *funcs, int nfuncs, fe_Arena *a);
/* The kernel plan of each exported function as text, or with json as a JSON document
 * (malloc'd; docs/plan.md), for --emit=plan and plan-json, with the tiles the cost model
 * picks for the target o names; planning allocates in a. */
char *cg_plan_text(tc_Func *funcs, int nfuncs, const cg_Options *o, fe_Arena *a, bool json);
/* The triple, CPU and features that options o resolve to (malloc'd strings), for
 * --version, cache keys and messages. */
void cg_describe_target(const cg_Options *o, char **triple, char **cpu, char **features);
/* Checks that the target, CPU and features o names exist in LLVM (after cg_init): CG_OK,
 * or a failure with a message naming the bad value (and close valid names) in msg. With list, it
 * writes the target's CPU and feature names there instead. It takes LLVM's tables from
 * text LLVM prints to stderr once per process, so call it once, before other threads start. */
cg_Status cg_check_target(const cg_Options *o, FILE *list, char *msg, size_t cap);
/* The LLVM version tric was built with ("19.1.7"). */
const char *cg_llvm_version(void);

#endif
