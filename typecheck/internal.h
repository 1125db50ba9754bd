/* internal.h - private to typecheck/: the size algebra shared by the checker files. */
#ifndef TRIC_TYPECHECK_INTERNAL_H
#define TRIC_TYPECHECK_INTERNAL_H

#include "typecheck/typecheck.h"

/* The constant v. */
const tc_Poly *tc_poly_const(fe_Arena *a, int64_t v);
/* The symbol with id sym. */
const tc_Poly *tc_poly_sym(fe_Arena *a, int sym);
/* x + y, x - y, x * y, x + k*y: NULL on overflow (or when an argument is NULL). */
const tc_Poly *tc_poly_add(fe_Arena *a, const tc_Poly *x, const tc_Poly *y);
const tc_Poly *tc_poly_sub(fe_Arena *a, const tc_Poly *x, const tc_Poly *y);
const tc_Poly *tc_poly_mul(fe_Arena *a, const tc_Poly *x, const tc_Poly *y);
const tc_Poly *tc_poly_addmul(fe_Arena *a, const tc_Poly *x, const tc_Poly *y, int64_t k);
/* x / y when y is a monomial dividing every term of x; NULL otherwise. */
const tc_Poly *tc_poly_divexact(fe_Arena *a, const tc_Poly *x, const tc_Poly *y);
/* The span of a window over a dim of size in: in + 2*pad - dil*(k - 1) - 1 (kernel k,
 * padding pad, dilation dil), which must be >= 0; the output size is span / stride + 1,
 * rounded down. NULL on overflow. */
const tc_Poly *tc_window_span(fe_Arena *a, const tc_Poly *in, const tc_Poly *k, int64_t pad, int64_t dil);

#endif
