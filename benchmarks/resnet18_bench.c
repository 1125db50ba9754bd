/* resnet18_bench.c - the tric side of the resnet18 section of make bench (resnet18.py):
 * times resnet18() built from examples/resnet18.tri on B images at a given thread count,
 * with the weights and images resnet18.py wrote (torchvision's, so that PyTorch runs on the
 * same data), and dumps the logits of the last call for resnet18.py to check.
 *
 *   resnet18_bench THREADS REPS B DATA DUMP
 *
 * DATA is float32: B images of 3x224x224, then the 102 parameters in state_dict order.
 * Prints `time resnet18.bB.tTHREADS tric S S ...` (every repetition's seconds, after one
 * warm-up call), the format of kernels_bench.c that run.py's kernels section parses. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "resnet18.h"

/* The 20 convolutions in parameter order: output and input channels, kernel size; each is
 * followed by its batch norm's 4 vectors, and fc's weight and bias close the list (as in
 * examples/resnet18_demo.c). */
static const struct { int o, i, k; } convs[20] = {
  {64, 3, 7},    {64, 64, 3},   {64, 64, 3},   {64, 64, 3},   {64, 64, 3},
  {128, 64, 3},  {128, 128, 3}, {128, 64, 1},  {128, 128, 3}, {128, 128, 3},
  {256, 128, 3}, {256, 256, 3}, {256, 128, 1}, {256, 256, 3}, {256, 256, 3},
  {512, 256, 3}, {512, 512, 3}, {512, 256, 1}, {512, 512, 3}, {512, 512, 3},
};
enum { NPARAM = 20 * 5 + 2, CLASSES = 1000, IMAGE = 3 * 224 * 224 };

static float *readn(FILE *f, size_t n) {
  float *p = malloc(n * sizeof *p);
  if (!p || fread(p, sizeof *p, n, f) != n) {
    fprintf(stderr, "resnet18_bench: short data file\n");
    exit(1);
  }
  return p;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: resnet18_bench THREADS REPS B DATA DUMP\n");
    return 2;
  }
  int threads = atoi(argv[1]), reps = atoi(argv[2]);
  long b = atol(argv[3]);
  FILE *f = fopen(argv[4], "rb");
  if (threads < 1 || reps < 1 || b < 1 || !f) {
    fprintf(stderr, "resnet18_bench: bad arguments or no data file\n");
    return 2;
  }
  float *x = readn(f, (size_t)b * IMAGE), *p[NPARAM], *out = malloc((size_t)b * CLASSES * sizeof *out);
  int n = 0;
  for (int c = 0; c < 20; c++) {
    p[n++] = readn(f, (size_t)convs[c].o * convs[c].i * convs[c].k * convs[c].k);
    for (int j = 0; j < 4; j++) p[n++] = readn(f, (size_t)convs[c].o);
  }
  p[n++] = readn(f, (size_t)CLASSES * 512);
  p[n++] = readn(f, CLASSES);
  fclose(f);
  if (!out) return 1;
  tricrt_set_num_threads(threads);

#define P5(j) p[j], p[j + 1], p[j + 2], p[j + 3], p[j + 4]
#define RUN()                                                                                              \
  resnet18(x, P5(0), P5(5), P5(10), P5(15), P5(20), P5(25), P5(30), P5(35), P5(40), P5(45), P5(50), P5(55), \
           P5(60), P5(65), P5(70), P5(75), P5(80), P5(85), P5(90), P5(95), p[100], p[101], out, b)
  int rc = RUN();
  printf("time resnet18.b%ld.t%d tric", b, threads);
  for (int k = 0; rc == TRIC_OK && k < reps; k++) {
    double t0 = now();
    rc = RUN();
    printf(" %.6g", now() - t0);
  }
  printf("\n");
  if (rc != TRIC_OK) {
    fprintf(stderr, "resnet18_bench: resnet18 returned %d\n", rc);
    return 1;
  }
  f = fopen(argv[5], "wb");
  if (!f || fwrite(out, sizeof *out, (size_t)b * CLASSES, f) != (size_t)b * CLASSES) return 1;
  fclose(f);
  for (int j = 0; j < n; j++) free(p[j]);
  free(x);
  free(out);
  return 0;
}
