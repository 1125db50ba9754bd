/* kernels_bench.c - times tric's kernels side by side with their C baselines in one
 * process (benchmarks/run.py, section kernels), and checks that tric's result matches the
 * baseline's before any figure counts: a benchmark of a wrong result is worthless.
 *
 *   kernels_bench [--baseline-only] THREADS REPS GROUP SIZES...
 *   kernels_bench THREADS REPS matmul M K N        tric's a @ b against OpenBLAS cblas_sgemm
 *   kernels_bench THREADS REPS softmax R C         tric's softmax(x, axis=-1) against a copy loop
 *   kernels_bench THREADS REPS layernorm R C       tric's layer norm against a copy loop
 *   kernels_bench THREADS REPS mlp T D F DUMPFILE  tric's MLP block against the same block in C
 *                                                  on OpenBLAS; tric's result goes to DUMPFILE
 *                                                  for run.py to compare with PyTorch's
 *
 * --baseline-only times the baseline alone (run.py's second run with OpenBLAS forced to the
 * kernel of the CPU's vector width, an environment setting read once at load).
 * THREADS is what OpenBLAS and tric are given (openblas_set_num_threads,
 * tricrt_set_num_threads). After one warm-up call of each, the kernels run
 * REPS times interleaved, so that a slow spell of the shared machine hits both alike.
 * Output, one fact a line, for run.py to parse:
 *   openblas CORENAME | CONFIG        which kernel OpenBLAS ran
 *   time FIGURE IMPL S S S ...        every repetition's seconds
 *   check FIGURE ERR TOL              the error of tric's result against the reference
 * The input data follow formulas that run.py repeats for PyTorch (see fill()). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <cblas.h>

#include "kernels.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* 2 MiB aligned, huge pages where the kernel allows (fewer TLB misses, less variance from
   page placement), zeroed so every page is touched before timing starts. */
static float *alloc(int64_t n) {
  size_t bytes = ((size_t)n * sizeof(float) + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
  float *p = aligned_alloc(2 << 20, bytes);
  if (!p) {
    fprintf(stderr, "kernels_bench: out of memory (%zu bytes)\n", bytes);
    exit(1);
  }
  madvise(p, bytes, MADV_HUGEPAGE);
  memset(p, 0, bytes);
  return p;
}

/* Element i of tensor number `seed`: values in [-scale, scale], a period (2001) prime to
   every dimension used, so rows differ. run.py's fill() is the same formula. */
static void fill(float *x, int64_t n, int seed, float scale) {
  for (int64_t i = 0; i < n; i++) x[i] = (float)(((i * 7 + seed * 131) % 2001) - 1000) / 1000.0f * scale;
}

/* The bandwidth baseline: reads and writes the bytes a row kernel moves. Not a memcpy call
   (the driver is built with -fno-tree-loop-distribute-patterns), so it is a loop the
   compiler vectorizes as it would any elementwise kernel. */
__attribute__((noinline)) static void copy_loop(const float *restrict x, float *restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i];
}

static void print_times(const char *fig, const char *impl, const double *t, int reps) {
  printf("time %s %s", fig, impl);
  for (int r = 0; r < reps; r++) printf(" %.6g", t[r]);
  printf("\n");
}

static void call(int rc, const char *what) {
  if (rc) {
    fprintf(stderr, "kernels_bench: tric's %s returned %d\n", what, rc);
    exit(2);
  }
}

/* Largest |got - want| over the largest |want|: the relative error of the whole result. */
static double rel_err(const float *got, const float *want, int64_t n) {
  double e = 0, m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - want[i]);
    if (!(d <= e)) e = d; /* a NaN counts as the worst error */
    if (fabs(want[i]) > m) m = fabs(want[i]);
  }
  return m > 0 ? e / m : e;
}

static void sgemm(const float *a, const float *b, float *c, int64_t m, int64_t k, int64_t n) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)k, b, (int)n, 0.0f, c,
              (int)n);
}

static int bench_matmul(int with_tric, int reps, int64_t m, int64_t k, int64_t n) {
  float *a = alloc(m * k), *b = alloc(k * n), *c = alloc(m * n), *ref = alloc(m * n);
  fill(a, m * k, 1, 1.0f);
  fill(b, k * n, 2, 1.0f);
  double *tt = calloc(reps, sizeof(double)), *tb = calloc(reps, sizeof(double));
  char fig[64];
  snprintf(fig, sizeof fig, "matmul.%lldx%lldx%lld", (long long)m, (long long)k, (long long)n);
  sgemm(a, b, ref, m, k, n);
  if (with_tric) {
    call(matmul(a, b, c, m, k, n), "matmul");
    /* inputs in [-1, 1]: a sum of k products in float, whatever the order, stays well
       within this of the largest element */
    printf("check %s %.3g %.3g\n", fig, rel_err(c, ref, m * n), 1e-5 * sqrt((double)k));
  }
  /* a small product runs `inner` times a sample, so that a sample lasts long enough for
     the clock and a stray interrupt not to matter; the time per call is reported */
  int inner = m * k * n >= (32 << 20) ? 1 : (int)((32 << 20) / (m * k * n));
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    for (int i = 0; i < inner && with_tric; i++) call(matmul(a, b, c, m, k, n), "matmul");
    double t1 = now();
    for (int i = 0; i < inner; i++) sgemm(a, b, ref, m, k, n);
    double t2 = now();
    tt[r] = (t1 - t0) / inner, tb[r] = (t2 - t1) / inner;
  }
  if (with_tric) print_times(fig, "tric", tt, reps);
  print_times(fig, "openblas", tb, reps);
  return 0;
}

/* softmax of each row, in double: the reference tric's result is checked against */
static void softmax_ref(const float *x, float *y, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; i++) {
    const float *xr = x + i * cols;
    double mx = -INFINITY, s = 0;
    for (int64_t j = 0; j < cols; j++) mx = xr[j] > mx ? xr[j] : mx;
    for (int64_t j = 0; j < cols; j++) s += exp(xr[j] - mx);
    for (int64_t j = 0; j < cols; j++) y[i * cols + j] = (float)(exp(xr[j] - mx) / s);
  }
}

/* layer norm of each row (no scale or shift, eps 1e-5, biased variance), in double */
static void layernorm_ref(const float *x, float *y, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; i++) {
    const float *xr = x + i * cols;
    double mu = 0, var = 0;
    for (int64_t j = 0; j < cols; j++) mu += xr[j];
    mu /= cols;
    for (int64_t j = 0; j < cols; j++) var += (xr[j] - mu) * (xr[j] - mu);
    var /= cols;
    double inv = 1.0 / sqrt(var + 1e-5);
    for (int64_t j = 0; j < cols; j++) y[i * cols + j] = (float)((xr[j] - mu) * inv);
  }
}

static int bench_rows(int reps, const char *kind, int64_t rows, int64_t cols) {
  int soft = strcmp(kind, "softmax") == 0;
  int64_t n = rows * cols;
  float *x = alloc(n), *y = alloc(n), *ref = alloc(n);
  fill(x, n, 3, 4.0f);
  double *tt = calloc(reps, sizeof(double)), *tc = calloc(reps, sizeof(double));
  char fig[64];
  snprintf(fig, sizeof fig, "%s.%lldx%lld", kind, (long long)rows, (long long)cols);
  (soft ? softmax_ref : layernorm_ref)(x, ref, rows, cols);
  call(soft ? softmax_rows(x, y, rows, cols) : layernorm(x, y, rows, cols), kind);
  printf("check %s %.3g %.3g\n", fig, rel_err(y, ref, n), 1e-5);
  copy_loop(x, y, n);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    copy_loop(x, y, n);
    double t1 = now();
    call(soft ? softmax_rows(x, y, rows, cols) : layernorm(x, y, rows, cols), kind);
    double t2 = now();
    tc[r] = t1 - t0, tt[r] = t2 - t1;
  }
  print_times(fig, "tric", tt, reps);
  print_times(fig, "copy", tc, reps);
  return 0;
}

/* The MLP block in C on OpenBLAS: layernorm(x + gelu(x @ w1 + b1) @ w2 + b2), float
   throughout like tric's (its layer norm in float too, so that it is a fair baseline). */
static void mlp_c(const float *x, const float *w1, const float *b1, const float *w2, const float *b2, float *h,
                  float *out, int64_t t, int64_t d, int64_t f) {
  sgemm(x, w1, h, t, d, f);
  for (int64_t i = 0; i < t; i++)
    for (int64_t j = 0; j < f; j++) {
      float v = h[i * f + j] + b1[j];
      h[i * f + j] = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
    }
  sgemm(h, w2, out, t, f, d);
  for (int64_t i = 0; i < t; i++) {
    float *o = out + i * d, mu = 0, var = 0;
    const float *xr = x + i * d;
    for (int64_t j = 0; j < d; j++) o[j] += xr[j] + b2[j], mu += o[j];
    mu /= (float)d;
    for (int64_t j = 0; j < d; j++) var += (o[j] - mu) * (o[j] - mu);
    float inv = 1.0f / sqrtf(var / (float)d + 1e-5f);
    for (int64_t j = 0; j < d; j++) o[j] = (o[j] - mu) * inv;
  }
}

static int bench_mlp(int with_tric, int reps, int64_t t, int64_t d, int64_t f, const char *dump) {
  float *x = alloc(t * d), *w1 = alloc(d * f), *b1 = alloc(f), *w2 = alloc(f * d), *b2 = alloc(d);
  float *h = alloc(t * f), *y = alloc(t * d), *ref = alloc(t * d);
  /* weights scaled like a trained layer's (about 1/sqrt(fan-in)), so the activations stay
     in the range where GELU is neither linear nor zero */
  fill(x, t * d, 4, 1.0f);
  fill(w1, d * f, 5, 1.0f / sqrtf((float)d));
  fill(b1, f, 6, 0.1f);
  fill(w2, f * d, 7, 1.0f / sqrtf((float)f));
  fill(b2, d, 8, 0.1f);
  double *tt = calloc(reps, sizeof(double)), *tb = calloc(reps, sizeof(double));
  char fig[64];
  snprintf(fig, sizeof fig, "mlp.T%lld.D%lld.F%lld", (long long)t, (long long)d, (long long)f);
  mlp_c(x, w1, b1, w2, b2, h, ref, t, d, f);
  if (with_tric) {
    call(mlp(x, w1, b1, w2, b2, y, t, d, f), "mlp");
    printf("check %s %.3g %.3g\n", fig, rel_err(y, ref, t * d), 1e-4);
    FILE *fp = fopen(dump, "wb");
    if (!fp || fwrite(y, sizeof(float), (size_t)(t * d), fp) != (size_t)(t * d) || fclose(fp)) {
      fprintf(stderr, "kernels_bench: cannot write %s\n", dump);
      return 1;
    }
  }
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    if (with_tric) call(mlp(x, w1, b1, w2, b2, y, t, d, f), "mlp");
    double t1 = now();
    mlp_c(x, w1, b1, w2, b2, h, ref, t, d, f);
    double t2 = now();
    tt[r] = t1 - t0, tb[r] = t2 - t1;
  }
  if (with_tric) print_times(fig, "tric", tt, reps);
  print_times(fig, "c_openblas", tb, reps);
  return 0;
}

int main(int argc, char **argv) {
  int with_tric = !(argc > 1 && strcmp(argv[1], "--baseline-only") == 0);
  if (!with_tric) argc--, argv++;
  if (argc < 4) {
    fprintf(stderr, "usage: kernels_bench THREADS REPS matmul|softmax|layernorm|mlp SIZES...\n");
    return 1;
  }
  int threads = atoi(argv[1]), reps = atoi(argv[2]);
  if (threads < 1 || reps < 1) return 1;
  openblas_set_num_threads(threads);
  tricrt_set_num_threads(threads);
  printf("openblas %s | %s | threads %d\n", openblas_get_corename(), openblas_get_config(),
         openblas_get_num_threads());
  const char *g = argv[3];
  if (strcmp(g, "matmul") == 0 && argc == 7) return bench_matmul(with_tric, reps, atoll(argv[4]), atoll(argv[5]), atoll(argv[6]));
  if ((strcmp(g, "softmax") == 0 || strcmp(g, "layernorm") == 0) && argc == 6 && with_tric)
    return bench_rows(reps, g, atoll(argv[4]), atoll(argv[5]));
  if (strcmp(g, "mlp") == 0 && argc == 8) return bench_mlp(with_tric, reps, atoll(argv[4]), atoll(argv[5]), atoll(argv[6]), argv[7]);
  fprintf(stderr, "kernels_bench: bad arguments for %s\n", g);
  return 1;
}
