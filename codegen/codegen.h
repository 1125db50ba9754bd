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
enum { CG_EMIT_OBJ = 1, CG_EMIT_HEADER = 2, CG_EMIT_LLVM_IR = 4, CG_EMIT_ASM = 8 };

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
  double t_ir, t_opt, t_codegen; /* seconds: lowering to LLVM IR, optimising, emitting */
  int nkernels;                  /* loop-nest kernels emitted */
} cg_Result;

/* Initialises LLVM's targets once per process, before any thread compiles. */
void cg_init(void);
/* Releases LLVM's process-wide state at exit. */
void cg_shutdown(void);
/* Compiles the exported functions into the outputs selected by `emit` (OBJ, LLVM_IR,
 * ASM). Returns 0, or -1 with a malloc'd message in *err (a bad target name, an LLVM
 * failure). */
int cg_compile(const char *module_name, tc_Func *funcs, int nfuncs, const cg_Options *o, unsigned emit,
               cg_Result *out, char **err);
/* The same compile in steps, for a builder that runs the parts of one module on several
 * threads: cg_start emits the module and says in how many parts (*nparts >= 1) the rest
 * runs; cg_run_part runs part p (different parts may run at once on different threads);
 * cg_finish, once every part has run, joins them into *out and frees the job. The
 * parts, and so the output, depend only on the module and the options. On failure each
 * returns -1 with a malloc'd message in *err; free a job that will not finish with
 * cg_job_free. */
typedef struct cg_Job cg_Job;
enum { CG_MAX_PARTS = 4 };
int cg_start(const char *module_name, tc_Func *funcs, int nfuncs, const cg_Options *o, unsigned emit, cg_Job **job,
             int *nparts, char **err);
int cg_run_part(cg_Job *job, int p, char **err);
int cg_finish(cg_Job *job, cg_Result *out, char **err);
void cg_job_free(cg_Job *job);
/* Frees the blobs of a result. */
void cg_result_free(cg_Result *r);
/* The C header for the exported functions of module `module_name` (malloc'd text). */
char *cg_header(const char *module_name, tc_Func *funcs, int nfuncs, fe_Arena *a);
/* The triple, CPU and features that options o resolve to (malloc'd strings), for
 * --version, cache keys and messages. */
void cg_describe_target(const cg_Options *o, char **triple, char **cpu, char **features);
/* The LLVM version tric was built with ("19.1.7"). */
const char *cg_llvm_version(void);

#endif
