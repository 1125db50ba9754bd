"""Kernels on several threads (libtricrt.a's pool, docs/abi.md "Threads"): results are
bit-identical for every thread count, the parallel path really runs on more than one
thread, a program may call tric functions from several threads at once, and two tric
objects link into one program."""
import os
import shutil

MODEL = """
export fn mm(a: f32[M, K], b: f32[K, N]) -> f32[M, N] { return a @ b; }
export fn mlp(a: f32[M, K], w: f32[K, N], b: f32[N]) -> f32[M, N] { return tanh(a @ w + b) * 0.5; }
export fn bmm(a: f32[B, M, K], w: f32[K, N]) -> f32[B, M, N] { return a @ w; }
export fn mm64(a: f64[M, K], b: f64[K, N]) -> f64[M, N] { return a @ b; }
export fn sm(x: f32[R, C]) -> f32[R, C] { return softmax(x, axis=-1); }
fn ln(x: f32[...]) -> f32[...] {
  let mu = mean(x, axis=-1, keepdims=true);
  let d = x - mu;
  return d * rsqrt(mean(d * d, axis=-1, keepdims=true) + 1e-5);
}
export fn ln3(x: f32[B, R, C], g: f32[C]) -> f32[B, R, C] { return ln(x) * g; }
export fn ew(x: f32[R, C], y: f32[C]) -> f32[R, C] { return tanh(x) * y + 1.0; }
export fn ew1(x: f32[N]) -> f32[N] { return exp(x) * 0.5 - x; }
export fn cp(x: f32[R, C]) -> (f32[R, C], f32[R, C]) { return (x, x * 2.0); }
export fn pools(x: f32[N, C, 57, 61]) -> (f32[N, C, 29, 31], f32[N, C, 57, 61]) {
  return (maxpool2d(x, kernel=3, stride=2, padding=1), avgpool2d(x, kernel=3, stride=1, padding=1));
}
"""

# sizes: split along N (M <= N), along M, a single row, a batch; all above the
# parallel threshold (2^20 multiply-adds) but for the last
DRIVER = r"""
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "m.h"

static unsigned long long seed = 88172645463325252ull;
static double rnd(void) { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return (double)(seed % 2000001) / 1e6 - 1; }
static float *fr(size_t n) { float *p = malloc(n * sizeof *p + 1); for (size_t i = 0; i < n; i++) p[i] = (float)rnd(); return p; }
static double *dr(size_t n) { double *p = malloc(n * sizeof *p + 1); for (size_t i = 0; i < n; i++) p[i] = rnd(); return p; }
static int tasks(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/task");
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

typedef struct { int64_t M, K, N, B; } Shape;
static const Shape shapes[] = {{97, 389, 1031, 1}, {1013, 211, 67, 1}, {1, 3001, 1999, 1}, {61, 128, 259, 3}, {7, 13, 5, 1}};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

/* runs every function on shape s into out[0..3] */
static int run(const Shape *s, float *a, float *w, float *b, double *a64, double *w64, void **out) {
  if (mm(a, w, out[0], s->M, s->K, s->N)) return 1;
  if (mlp(a, w, b, out[1], s->M, s->K, s->N)) return 1;
  if (bmm(a, w, out[2], s->B, s->M, s->K, s->N)) return 1;
  if (mm64(a64, w64, out[3], s->M, s->K, s->N)) return 1;
  return 0;
}

typedef struct { const Shape *s; float *a, *w, *b; double *a64, *w64; void **want; int bad; } Job;
static void *user_thread(void *p) {
  Job *j = p;
  size_t mn = (size_t)(j->s->B * j->s->M * j->s->N);
  void *out[4] = {malloc(mn * 4), malloc(mn * 4), malloc(mn * 4), malloc(mn * 8)};
  for (int rep = 0; rep < 3; rep++) {
    if (run(j->s, j->a, j->w, j->b, j->a64, j->w64, out)) j->bad = 1;
    for (int f = 0; f < 4; f++)
      if (memcmp(out[f], j->want[f], (size_t)(j->s->M * j->s->N) * (f == 3 ? 8 : 4))) j->bad = 1;
  }
  for (int f = 0; f < 4; f++) free(out[f]);
  return NULL;
}

int main(void) {
  static const int counts[] = {1, 2, 3, 7};
  int used_threads = 0;
  for (int k = 0; k < NSHAPES; k++) {
    const Shape *s = &shapes[k];
    size_t mk = (size_t)(s->B * s->M * s->K), kn = (size_t)(s->K * s->N), mn = (size_t)(s->B * s->M * s->N);
    float *a = fr(mk), *w = fr(kn), *b = fr((size_t)s->N);
    double *a64 = dr(mk), *w64 = dr(kn);
    void *want[4], *got[4];
    for (int f = 0; f < 4; f++) want[f] = malloc(mn * 8 + 1), got[f] = malloc(mn * 8 + 1);
    for (int c = 0; c < 4; c++) {
      tricrt_set_num_threads(counts[c]);
      if (tricrt_get_num_threads() != counts[c]) { printf("set %d, get %d\n", counts[c], tricrt_get_num_threads()); return 1; }
      if (run(s, a, w, b, a64, w64, c ? got : want)) { printf("call failed\n"); return 1; }
      if (c && counts[c] > 1 && tasks() > 1) used_threads = 1;
      for (int f = 0; c && f < 4; f++) {
        size_t bytes = (f == 2 ? mn : (size_t)(s->M * s->N)) * (f == 3 ? 8 : 4);
        if (memcmp(want[f], got[f], bytes)) {
          printf("shape %d function %d: %d threads differ from 1 thread\n", k, f, counts[c]);
          return 1;
        }
      }
    }
    /* four user threads at once, each calling every function, with the pool at 2 */
    tricrt_set_num_threads(2);
    Job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
      jobs[i] = (Job){s, a, w, b, a64, w64, want, 0};
      pthread_create(&th[i], NULL, user_thread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
      pthread_join(th[i], NULL);
      if (jobs[i].bad) { printf("shape %d: a user thread got other results\n", k); return 1; }
    }
    for (int f = 0; f < 4; f++) free(want[f]), free(got[f]);
    free(a), free(w), free(b), free(a64), free(w64);
  }
  /* row-wise kernels: split over their first dimension */
  static const int64_t rows[][3] = {{1, 1031, 257}, {3, 129, 517}, {5, 1, 40000}, {1, 7, 13}};
  for (int k = 0; k < 4; k++) {
    int64_t B = rows[k][0], R = rows[k][1], C = rows[k][2];
    size_t n = (size_t)(B * R * C);
    float *x = fr(n), *g = fr((size_t)C), *want[2] = {malloc(n * 4), malloc(n * 4)}, *got = malloc(n * 4);
    for (int c = 0; c < 4; c++) {
      tricrt_set_num_threads(counts[c]);
      for (int f = 0; f < 2; f++) {
        float *out = c ? got : want[f];
        if (f ? ln3(x, g, out, B, R, C) : sm(x, out, B * R, C)) { printf("row call failed\n"); return 1; }
        if (c && memcmp(out, want[f], n * 4)) {
          printf("rows %d function %d: %d threads differ from 1 thread\n", k, f, counts[c]);
          return 1;
        }
      }
    }
    free(x), free(g), free(want[0]), free(want[1]), free(got);
  }
  /* elementwise and copy kernels: split over their first dimension (rank 1: elements);
     the output is poisoned before each call, so a row no chunk wrote shows */
  static const int64_t maps[][2] = {{1031, 517}, {3, 100003}, {700001, 1}, {7, 13}};
  for (int k = 0; k < 4; k++) {
    int64_t R = maps[k][0], C = maps[k][1];
    size_t n = (size_t)(R * C);
    float *x = fr(n), *y = fr((size_t)C), *want[4], *got[2];
    for (int f = 0; f < 4; f++) want[f] = malloc(n * 4);
    got[0] = malloc(n * 4), got[1] = malloc(n * 4);
    for (int c = 0; c < 4; c++) {
      tricrt_set_num_threads(counts[c]);
      if (!c)
        for (int f = 0; f < 4; f++) memset(want[f], 0xff, n * 4);
      memset(got[0], 0xff, n * 4), memset(got[1], 0xff, n * 4);
      if (ew(x, y, c ? got[0] : want[0], R, C) || ew1(x, c ? got[1] : want[1], (int64_t)n)) { printf("map call failed\n"); return 1; }
      if (c && (memcmp(got[0], want[0], n * 4) || memcmp(got[1], want[1], n * 4))) {
        printf("maps %d: %d threads differ from 1 thread\n", k, counts[c]);
        return 1;
      }
      memset(got[0], 0xff, n * 4), memset(got[1], 0xff, n * 4);
      if (cp(x, c ? got[0] : want[2], c ? got[1] : want[3], R, C)) { printf("copy call failed\n"); return 1; }
      if (memcmp(c ? got[0] : want[2], x, n * 4) || (c && memcmp(got[1], want[3], n * 4))) {
        printf("copies %d: %d threads give another result\n", k, counts[c]);
        return 1;
      }
      if (c && counts[c] > 1 && tasks() > 1) used_threads = 1;
    }
    free(x), free(y), free(got[0]), free(got[1]);
    for (int f = 0; f < 4; f++) free(want[f]);
  }
  /* pooling kernels: split over their planes (image, channel); a batch, one image of many
     channels, and a plane too few to split */
  static const int64_t pools_nc[][2] = {{3, 17}, {1, 131}, {1, 1}};
  for (int k = 0; k < 3; k++) {
    int64_t N = pools_nc[k][0], C = pools_nc[k][1];
    size_t n = (size_t)(N * C * 57 * 61), m = (size_t)(N * C * 29 * 31);
    float *x = fr(n), *want[2] = {malloc(m * 4), malloc(n * 4)}, *got[2] = {malloc(m * 4), malloc(n * 4)};
    for (int c = 0; c < 4; c++) {
      tricrt_set_num_threads(counts[c]);
      memset(got[0], 0xff, m * 4), memset(got[1], 0xff, n * 4);
      if (pools(x, c ? got[0] : want[0], c ? got[1] : want[1], N, C)) { printf("pools call failed\n"); return 1; }
      if (c && (memcmp(got[0], want[0], m * 4) || memcmp(got[1], want[1], n * 4))) {
        printf("pools %d: %d threads differ from 1 thread\n", k, counts[c]);
        return 1;
      }
      if (c && counts[c] > 1 && tasks() > 1) used_threads = 1;
    }
    free(x), free(want[0]), free(want[1]), free(got[0]), free(got[1]);
  }
  if (!used_threads) { printf("no parallel call ever ran on a second thread\n"); return 1; }
  printf("ok\n");
  return 0;
}
"""


def _program(ctx, driver, ldflags=()):
    """Builds MODEL and the C driver into a program: (its folder, None) or (None, the error)."""
    d = ctx.tmpdir()
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write(MODEL)
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(driver)
    r = ctx.run([ctx.tric, "build", "m.tri"], cwd=d)
    if r.returncode:
        return None, "build: %s" % r.stderr
    r = ctx.run([ctx.cc] + ctx.cflags + ["-I", d, "main.c", "m.o"] + list(ldflags) + ctx.libs + ["-o", "prog"], cwd=d)
    if r.returncode:
        return None, "cc: %s" % r.stderr
    return d, None


def test_results_identical_for_any_thread_count(ctx):
    d, err = _program(ctx, DRIVER)
    if err:
        return err
    r = ctx.run(["./prog"], cwd=d, timeout=600, env=dict(os.environ, TRIC_NUM_THREADS="2"))
    if r.returncode or r.stdout.strip() != "ok":
        return "program: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr[-3000:])
    shutil.rmtree(d)


def test_two_objects_share_the_pool(ctx):
    # two modules, each with a parallel matmul, linked into one program with the library
    d = ctx.tmpdir()
    for name, scale in (("one", "2.0"), ("two", "3.0")):
        with open(os.path.join(d, name + ".tri"), "w") as f:
            f.write("export fn %s_mm(a: f32[M, K], b: f32[K, N]) -> f32[M, N] { return (a @ b) * %s; }\n"
                    % (name, scale))
        r = ctx.run([ctx.tric, "build", name + ".tri"], cwd=d)
        if r.returncode:
            return "build %s: %s" % (name, r.stderr)
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "one.h"
#include "two.h"
int main(void) {
  enum { M = 300, K = 200, N = 400 };
  float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
  float *x = malloc(sizeof(float) * M * N), *y = malloc(sizeof(float) * M * N);
  for (int i = 0; i < M * K; i++) a[i] = (float)((i * 7) % 13) - 6;
  for (int i = 0; i < K * N; i++) b[i] = (float)((i * 5) % 11) - 5;
  tricrt_set_num_threads(2);
  if (one_mm(a, b, x, M, K, N) || two_mm(a, b, y, M, K, N)) return 1;
  for (int i = 0; i < M; i += 37)
    for (int j = 0; j < N; j += 41) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)a[i * K + k] * b[k * N + j];
      if (x[i * N + j] != (float)(2 * s) || y[i * N + j] != (float)(3 * s)) { printf("wrong at %d %d\n", i, j); return 1; }
    }
  free(a), free(b), free(x), free(y);
  printf("ok\n");
  return 0;
}
""")
    r = ctx.run([ctx.cc] + ctx.cflags + ["-I", d, "main.c", "one.o", "two.o"] + ctx.libs + ["-o", "prog"], cwd=d)
    if r.returncode:
        return "cc: %s" % r.stderr
    r = ctx.run(["./prog"], cwd=d)
    if r.returncode or r.stdout.strip() != "ok":
        return "program: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr[-2000:])
    shutil.rmtree(d)


SPLIT_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "m.h"
#include "tricrt_pool.h"

/* every call the object makes of the pool, through ld's --wrap: the most chunks it allows */
void __real_tricrt_parallel_for(tricrt_task_fn *fn, void *ctx, int64_t n, int64_t grain, int32_t max_workers);
static int64_t most_pieces;
void __wrap_tricrt_parallel_for(tricrt_task_fn *fn, void *ctx, int64_t n, int64_t grain, int32_t max_workers) {
  int64_t pieces = n / (grain < 1 ? 1 : grain);
  if (pieces > most_pieces) most_pieces = pieces;
  __real_tricrt_parallel_for(fn, ctx, n, grain, max_workers);
}

static float *fr(size_t n) { float *p = malloc(n * sizeof *p + 1); for (size_t i = 0; i < n; i++) p[i] = (float)(i % 7) - 3; return p; }

int main(void) {
  /* odd numbers of panels along the split axis: 33 column panels (M <= N), 73 row panels */
  static const int64_t shapes[][3] = {{97, 389, 1031}, {1013, 211, 67}, {64, 576, 3136}};
  tricrt_set_num_threads(2);
  for (int k = 0; k < 3; k++) {
    int64_t M = shapes[k][0], K = shapes[k][1], N = shapes[k][2];
    float *a = fr((size_t)(M * K)), *b = fr((size_t)(K * N)), *c = fr((size_t)(M * N));
    most_pieces = 0;
    if (mm(a, b, c, M, K, N)) { printf("mm failed\n"); return 1; }
    if (most_pieces < 2) { printf("mm %lldx%lldx%lld on 2 threads: the pool was allowed %lld chunk(s)\n", (long long)M, (long long)K, (long long)N, (long long)most_pieces); return 1; }
    free(a), free(b), free(c);
  }
  printf("ok\n");
  return 0;
}
"""


def test_contraction_splits_for_any_panel_count(ctx):
    """A large contraction on two threads gives the pool two chunks whatever the parity of
    its panel count (the grain was rounded up, so 33 panels made one chunk of 17 and ran on
    one thread)."""
    d, err = _program(ctx, SPLIT_DRIVER, ["-Wl,--wrap=tricrt_parallel_for"])
    if err:
        return err
    r = ctx.run([os.path.join(d, "prog")], cwd=d, timeout=300)
    if r.returncode or r.stdout.strip() != "ok":
        return "driver: %s%s" % (r.stdout, r.stderr)
    shutil.rmtree(d)
