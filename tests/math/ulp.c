/* ulp.c - measures the largest error, in units in the last place, of tric's vector math
 * against the C library on many inputs per function: uniform samples over each
 * function's interesting range, a sweep of magnitudes, and the special values (zeros,
 * subnormals, infinities, NaN, the overflow edges). f32 results are compared with the
 * double-precision libm result rounded to float; f64 results with the long double one.
 * Prints one line per function: NAME MAX_ULP WORST_INPUT. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ulp.h"

typedef int (*fn32)(const float *, float *, int64_t);
typedef int (*fn64)(const double *, double *, int64_t);

static int64_t ord32(float f) {
  int32_t i;
  memcpy(&i, &f, 4);
  return i >= 0 ? i : (int64_t)INT32_MIN - i;
}
static double ulp32(float got, float want) {
  if (isnan(want) || isnan(got)) return isnan(want) && isnan(got) ? 0 : 1e30;
  return fabs((double)(ord32(got) - ord32(want)));
}
static long double ord64(double f) {
  int64_t i;
  memcpy(&i, &f, 8);
  return i >= 0 ? (long double)i : (long double)INT64_MIN - (long double)i;
}
static double ulp64(double got, double want) {
  if (isnan(want) || isnan(got)) return isnan(want) && isnan(got) ? 0 : 1e30;
  return (double)fabsl(ord64(got) - ord64(want));
}

static double sigmoid_ref(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static long double sigmoid_refl(long double x) { return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x)); }

enum { N = 1 << 20 };

/* Samples: uniform in [lo, hi], magnitudes 10^-30..10^hi_exp of both signs, specials. */
static int fill(double *x, double lo, double hi, unsigned seed) {
  int n = 0;
  srand(seed);
  for (int i = 0; i < N - 4096; i++) x[n++] = lo + (hi - lo) * ((double)rand() / RAND_MAX);
  for (int e = -300; e <= 300 && n < N - 64; e++)
    for (int k = 1; k <= 9; k += 2) {
      double v = k * pow(10.0, e / 10.0);
      if (v >= -hi && v <= hi) { x[n++] = v; x[n++] = -v; }
    }
  double sp[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e-310, -1e-310, 1e-40, 88.72, 88.73, -103.9, -104, 709.78,
                 709.79, -745.1, -745.2, 1.0, -1.0, 0.5, 6.0, -6.0, 3.5, 9.1, 19.1};
  for (size_t i = 0; i < sizeof sp / sizeof *sp; i++) x[n++] = sp[i];
  return n;
}

static void run32(const char *name, fn32 f, double (*ref)(double), double lo, double hi) {
  static double xd[N];
  static float x[N], y[N];
  int n = fill(xd, lo, hi, 42);
  for (int i = 0; i < n; i++) x[i] = (float)xd[i];
  if (f(x, y, n)) { printf("%s FAILED-CALL\n", name); return; }
  double worst = 0, wx = 0;
  for (int i = 0; i < n; i++) {
    double u = ulp32(y[i], (float)ref(x[i]));
    if (u > worst) { worst = u; wx = x[i]; }
  }
  printf("%s %.0f %.9g\n", name, worst, wx);
}

static void run64(const char *name, fn64 f, long double (*ref)(long double), double lo, double hi) {
  static double x[N], y[N];
  int n = fill(x, lo, hi, 7);
  if (f(x, y, n)) { printf("%s FAILED-CALL\n", name); return; }
  double worst = 0, wx = 0;
  for (int i = 0; i < n; i++) {
    double u = ulp64(y[i], (double)ref(x[i]));
    if (u > worst) { worst = u; wx = x[i]; }
  }
  printf("%s %.0f %.17g\n", name, worst, wx);
}

int main(void) {
  run32("exp32", exp32, exp, -110, 90);
  run32("log32", log32, log, 0, 1e30);
  run32("tanh32", tanh32, tanh, -12, 12);
  run32("sigmoid32", sigmoid32, sigmoid_ref, -120, 120);
  run32("erf32", erf32, erf, -7, 7);
  run32("sin32", sin32, sin, -1e5, 1e5);
  run32("cos32", cos32, cos, -1e5, 1e5);
  run64("exp64", exp64, expl, -750, 710);
  run64("log64", log64, logl, 0, 1e300);
  run64("tanh64", tanh64, tanhl, -25, 25);
  run64("sigmoid64", sigmoid64, sigmoid_refl, -750, 750);
  run64("erf64", erf64, erfl, -7, 7);
  run64("sin64", sin64, sinl, -1e5, 1e5);
  run64("cos64", cos64, cosl, -1e5, 1e5);
  return 0;
}
