/* poly.c - sizes as canonical polynomials over size symbols.
 *
 * Shapes in tri are symbolic: B, N*784, N + M after a concat. Keeping every size as a
 * sorted sum of monomials makes equality a structural comparison, so `f32[N] + f32[M]`
 * is rejected at compile time and reshape(x, [-1]) of f32[B, 784] is exactly B*784.
 * Every operation returns NULL when a coefficient would overflow int64.
 */
#include <string.h>

#include "typecheck/internal.h"

static int mono_cmp(const tc_Mono *a, const tc_Mono *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (int i = 0; i < a->n; i++)
    if (a->s[i] != b->s[i]) return a->s[i] < b->s[i] ? -1 : 1;
  return 0;
}

/* Sorts, merges equal monomials and drops zero terms; copies into the arena. */
static const tc_Poly *canon(fe_Arena *a, tc_Mono *t, int n) {
  for (int i = 1; i < n; i++) { /* insertion sort: polys are tiny */
    tc_Mono m = t[i];
    int j = i;
    while (j > 0 && mono_cmp(&m, &t[j - 1]) < 0) {
      t[j] = t[j - 1];
      j--;
    }
    t[j] = m;
  }
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (k > 0 && mono_cmp(&t[k - 1], &t[i]) == 0) {
      if (__builtin_add_overflow(t[k - 1].coef, t[i].coef, &t[k - 1].coef)) return NULL;
    } else t[k++] = t[i];
    if (t[k - 1].coef == 0) k--;
  }
  tc_Poly *p = fe_alloc(a, sizeof *p + sizeof(tc_Mono) * (size_t)k);
  p->n = k;
  memcpy(p->t, t, sizeof(tc_Mono) * (size_t)k);
  return p;
}

const tc_Poly *tc_poly_const(fe_Arena *a, int64_t v) {
  tc_Mono m = {.coef = v};
  return canon(a, &m, 1);
}

const tc_Poly *tc_poly_sym(fe_Arena *a, int sym) {
  tc_Mono m = {.coef = 1, .n = 1, .s = {sym}};
  return canon(a, &m, 1);
}

bool tc_poly_is_const(const tc_Poly *p, int64_t *v) {
  if (p->n == 0) {
    *v = 0;
    return true;
  }
  if (p->n == 1 && p->t[0].n == 0) {
    *v = p->t[0].coef;
    return true;
  }
  return false;
}

bool tc_poly_eq(const tc_Poly *a, const tc_Poly *b) {
  if (a->n != b->n) return false;
  for (int i = 0; i < a->n; i++)
    if (a->t[i].coef != b->t[i].coef || mono_cmp(&a->t[i], &b->t[i])) return false;
  return true;
}

const tc_Poly *tc_poly_addmul(fe_Arena *a, const tc_Poly *x, const tc_Poly *y, int64_t k) {
  if (!x || !y) return NULL;
  tc_Mono t[64];
  if (x->n + y->n > 64) return NULL;
  int n = 0;
  for (int i = 0; i < x->n; i++) t[n++] = x->t[i];
  for (int i = 0; i < y->n; i++) {
    t[n] = y->t[i];
    if (__builtin_mul_overflow(t[n].coef, k, &t[n].coef)) return NULL;
    n++;
  }
  return canon(a, t, n);
}

const tc_Poly *tc_poly_add(fe_Arena *a, const tc_Poly *x, const tc_Poly *y) {
  return tc_poly_addmul(a, x, y, 1);
}

const tc_Poly *tc_poly_sub(fe_Arena *a, const tc_Poly *x, const tc_Poly *y) {
  return tc_poly_addmul(a, x, y, -1);
}

const tc_Poly *tc_poly_mul(fe_Arena *a, const tc_Poly *x, const tc_Poly *y) {
  if (!x || !y) return NULL;
  tc_Mono t[64];
  if (x->n * y->n > 64) return NULL;
  int n = 0;
  for (int i = 0; i < x->n; i++)
    for (int j = 0; j < y->n; j++) {
      tc_Mono m = {0};
      if (x->t[i].n + y->t[j].n > TC_MAXDEG) return NULL;
      if (__builtin_mul_overflow(x->t[i].coef, y->t[j].coef, &m.coef)) return NULL;
      /* merge the sorted symbol lists */
      int p = 0, q = 0;
      while (p < x->t[i].n || q < y->t[j].n) {
        if (q >= y->t[j].n || (p < x->t[i].n && x->t[i].s[p] <= y->t[j].s[q]))
          m.s[m.n++] = x->t[i].s[p++];
        else m.s[m.n++] = y->t[j].s[q++];
      }
      t[n++] = m;
    }
  return canon(a, t, n);
}

/* Divides monomial m by d when the symbols of d are a sub-multiset of those of m and the
 * coefficient divides. */
static bool mono_div(const tc_Mono *m, const tc_Mono *d, tc_Mono *q) {
  if (d->coef == 0 || m->coef % d->coef) return false;
  q->coef = m->coef / d->coef;
  q->n = 0;
  int j = 0;
  for (int i = 0; i < m->n; i++) {
    if (j < d->n && m->s[i] == d->s[j]) j++;
    else if (j < d->n && m->s[i] > d->s[j]) return false;
    else q->s[q->n++] = m->s[i];
  }
  return j == d->n;
}

const tc_Poly *tc_poly_divexact(fe_Arena *a, const tc_Poly *x, const tc_Poly *y) {
  if (!x || !y || y->n != 1) return NULL; /* only division by a monomial is symbolic */
  tc_Mono t[64];
  if (x->n > 64) return NULL;
  for (int i = 0; i < x->n; i++)
    if (!mono_div(&x->t[i], &y->t[0], &t[i])) return NULL;
  return canon(a, t, x->n);
}

void tc_poly_str(const tc_Poly *p, const tc_Sym *syms, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = 0;
#define PUT(...) \
  do { \
    int w_ = snprintf(buf + len, len < cap ? cap - len : 0, __VA_ARGS__); \
    if (w_ > 0) len += (size_t)w_; \
  } while (0)
  if (p->n == 0) PUT("0");
  for (int i = p->n - 1; i >= 0; i--) { /* highest degree first */
    const tc_Mono *m = &p->t[i];
    int64_t c = m->coef;
    if (i != p->n - 1) {
      PUT(c < 0 ? " - " : " + ");
      if (c < 0) c = -c;
    } else if (c < 0 && m->n) {
      PUT("-");
      c = -c;
    }
    bool first = true;
    if (c != 1 || m->n == 0) {
      PUT("%lld", (long long)c);
      first = false;
    }
    for (int k = 0; k < m->n; k++) {
      PUT("%s%s", first ? "" : "*", syms[m->s[k]].name);
      first = false;
    }
  }
#undef PUT
  if (len >= cap && cap > 4) strcpy(buf + cap - 4, "...");
}

const tc_Poly *tc_window_span(fe_Arena *a, const tc_Poly *in, const tc_Poly *k, int64_t pad, int64_t dil) {
  int64_t c;
  /* in + 2*pad - dil*(k - 1) - 1 = in - dil*k + (2*pad + dil - 1) */
  if (__builtin_mul_overflow(pad, 2, &c) || __builtin_add_overflow(c, dil - 1, &c)) return NULL;
  return tc_poly_add(a, tc_poly_addmul(a, in, k, -dil), tc_poly_const(a, c));
}
