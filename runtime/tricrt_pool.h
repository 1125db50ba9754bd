/* tricrt_pool.h - the ABI of libtricrt.a, tric's runtime thread pool.
 *
 * Generated kernels split their parallel axis (output tiles, rows, batch) into chunks and
 * call tricrt_parallel_for, which runs the chunks on a pool of worker threads started on
 * first use. It is the one library shipped with tric that a program may link (the
 * contract allows it plus -lm -lpthread): `cc app.o model.o -Lpath/to/build -ltricrt -lm
 * -lpthread`. The pool never fails a call (without threads a loop runs serially), idle
 * workers sleep, and results never depend on the thread count or the chunking. The
 * header needs only <stdint.h> and compiles as C11 and C++. docs/abi.md, "Threads".
 */
#ifndef TRICRT_POOL_H
#define TRICRT_POOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A task body: computes items [lo, hi) of a parallel loop; worker is in [0, max_workers). */
typedef void tricrt_task_fn(void *ctx, int64_t lo, int64_t hi, int32_t worker);

/* Runs fn over [0, n) split into contiguous chunks of at least `grain` items (grain >= 1),
 * on at most max_workers threads (the caller counts as one; max_workers <= 0 means the
 * pool's size), and returns when every chunk has run. Two chunks of one call that run at
 * the same time never share a worker id; ids belong to the call (two calls in flight at
 * once from different user threads each number their own workers from 0, so per-call
 * scratch indexed by id is never shared). Any call may run entirely on the calling thread
 * (e.g. when the pool is busy with another caller's job, when n <= grain, or when called
 * from inside a task): correctness never depends on parallelism. Never fails: if threads
 * cannot be created it runs serially. */
void tricrt_parallel_for(tricrt_task_fn *fn, void *ctx, int64_t n, int64_t grain, int32_t max_workers);

/* The number of threads parallel loops use now (>= 1). */
int32_t tricrt_get_num_threads(void);

/* Sets it (n >= 1); n <= 0 restores the default. Returns the previous value. Safe to call
 * from any thread at any time; a loop already running keeps its count. */
int32_t tricrt_set_num_threads(int32_t n);

#ifdef __cplusplus
}
#endif

#endif
