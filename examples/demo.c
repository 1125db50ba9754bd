/* demo.c - links the object tric built from mlp.tri into a plain C program: random
 * weights, a batch of 4 inputs, and the predicted class of each input. */
#include <stdio.h>
#include <stdlib.h>

#include "mlp.h"

enum { B = 4, I = 64, H = 128, C = 10 };

static float rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return ((float)((*s >> 8) & 0xffff) / 65535.0f - 0.5f) * 0.5f;
}

int main(void) {
  static float x[B * I], w1[I * H], b1[H], w2[H * C], b2[C], probs[B * C], best[B];
  unsigned seed = 1;
  for (int i = 0; i < B * I; i++) x[i] = rnd(&seed) * 4;
  for (int i = 0; i < I * H; i++) w1[i] = rnd(&seed);
  for (int i = 0; i < H; i++) b1[i] = rnd(&seed);
  for (int i = 0; i < H * C; i++) w2[i] = rnd(&seed);
  for (int i = 0; i < C; i++) b2[i] = rnd(&seed);
  int rc = classify(x, w1, b1, w2, b2, probs, best, B);
  if (rc != TRIC_OK) {
    fprintf(stderr, "classify failed: %d\n", rc);
    return 1;
  }
  for (int b = 0; b < B; b++) {
    int arg = 0;
    double total = 0;
    for (int c = 0; c < C; c++) {
      total += probs[b * C + c];
      if (probs[b * C + c] > probs[b * C + arg]) arg = c;
    }
    printf("input %d: class %d with probability %.3f (probabilities sum to %.4f)\n", b, arg, best[b], total);
  }
  /* a wrong size argument is refused, and the outputs are left alone */
  printf("classify with B = -1 returns %d (TRIC_ERR_SIZE is %d)\n", classify(x, w1, b1, w2, b2, probs, best, -1),
         TRIC_ERR_SIZE);
  return 0;
}
