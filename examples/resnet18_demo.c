/* resnet18_demo.c - links the object tric built from resnet18.tri into a plain C program:
 * deterministic pseudo-random weights (He-scaled, so activations neither vanish nor blow
 * up) and image, one image through the network, its five highest-scoring classes, and the
 * time per call. Usage: ./resnet18_demo [CALLS] (10 timed calls by default, after one to
 * warm up); TRIC_NUM_THREADS sets the threads, as for every tric object. */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "resnet18.h"

/* The 20 convolutions in resnet18.h's parameter order (torchvision's state_dict order):
 * output and input channels and kernel size. Each convolution's weight is followed by its
 * batch norm's weight, bias, running mean and running variance; fc's weight and bias close
 * the list. */
static const struct { int o, i, k; } convs[20] = {
  {64, 3, 7},                                                           /* conv1 */
  {64, 64, 3},   {64, 64, 3},   {64, 64, 3},   {64, 64, 3},             /* layer1 */
  {128, 64, 3},  {128, 128, 3}, {128, 64, 1},  {128, 128, 3}, {128, 128, 3}, /* layer2 */
  {256, 128, 3}, {256, 256, 3}, {256, 128, 1}, {256, 256, 3}, {256, 256, 3}, /* layer3 */
  {512, 256, 3}, {512, 512, 3}, {512, 256, 1}, {512, 512, 3}, {512, 512, 3}, /* layer4 */
};
enum { NPARAM = 20 * 5 + 2, CLASSES = 1000, FEATURES = 512, IMAGE = 3 * 224 * 224 };

/* Uniform in [-1, 1) from a 32-bit LCG: the same numbers on every machine. */
static float rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

/* n floats uniform in [center - spread, center + spread), or NULL when memory is short. */
static float *filled(size_t n, float center, float spread, unsigned *seed) {
  float *p = malloc(n * sizeof *p);
  for (size_t j = 0; p && j < n; j++) p[j] = center + spread * rnd(seed);
  return p;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int calls = argc > 1 ? atoi(argv[1]) : 10;
  if (calls < 1) {
    fprintf(stderr, "usage: %s [CALLS >= 1]\n", argv[0]);
    return 2;
  }
  unsigned seed = 1;
  float *p[NPARAM], *x = filled(IMAGE, 0, 1, &seed), logits[CLASSES];
  int n = 0, ok = x != NULL;
  for (int c = 0; c < 20; c++) {
    size_t fan_in = (size_t)convs[c].i * convs[c].k * convs[c].k;
    /* uniform with variance 2 / fan_in (He), as after training roughly */
    p[n++] = filled((size_t)convs[c].o * fan_in, 0, sqrtf(6.0f / (float)fan_in), &seed);
    p[n++] = filled((size_t)convs[c].o, 1, 0.2f, &seed);   /* batch norm weight */
    p[n++] = filled((size_t)convs[c].o, 0, 0.1f, &seed);   /* bias */
    p[n++] = filled((size_t)convs[c].o, 0, 0.1f, &seed);   /* running mean */
    p[n++] = filled((size_t)convs[c].o, 1, 0.25f, &seed);  /* running variance */
  }
  p[n++] = filled((size_t)CLASSES * FEATURES, 0, 1 / sqrtf(FEATURES), &seed); /* fc.weight [1000, 512] */
  p[n++] = filled(CLASSES, 0, 0.01f, &seed);                                   /* fc.bias */
  for (int j = 0; j < n; j++) ok = ok && p[j] != NULL;
  if (!ok) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }

#define P5(j) p[j], p[j + 1], p[j + 2], p[j + 3], p[j + 4] /* a convolution and its batch norm */
#define RUN()                                                                                              \
  resnet18(x, P5(0), P5(5), P5(10), P5(15), P5(20), P5(25), P5(30), P5(35), P5(40), P5(45), P5(50), P5(55), \
           P5(60), P5(65), P5(70), P5(75), P5(80), P5(85), P5(90), P5(95), p[100], p[101], logits, 1)
  int rc = RUN(); /* warm-up: pages in the weights, starts the thread pool */
  double best = INFINITY, total = 0;
  for (int k = 0; rc == TRIC_OK && k < calls; k++) {
    double t0 = now();
    rc = RUN();
    double t = now() - t0;
    total += t;
    best = t < best ? t : best;
  }
  if (rc != TRIC_OK) {
    fprintf(stderr, "resnet18 failed: %d\n", rc);
    return 1;
  }

  int top[5];
  for (int r = 0; r < 5; r++) { /* the r-th highest logit not taken yet */
    top[r] = -1;
    for (int c = 0; c < CLASSES; c++) {
      int taken = 0;
      for (int q = 0; q < r; q++) taken |= top[q] == c;
      if (!taken && (top[r] < 0 || logits[c] > logits[top[r]])) top[r] = c;
    }
  }
  printf("top-5 classes:");
  for (int r = 0; r < 5; r++) printf(" %d (%.3f)", top[r], logits[top[r]]);
  printf("\nbatch 1, threads %d: %.2f ms per call (mean of %d), %.2f ms best\n", tricrt_get_num_threads(),
         total / calls * 1e3, calls, best * 1e3);
  for (int j = 0; j < n; j++) free(p[j]);
  free(x);
  return 0;
}
