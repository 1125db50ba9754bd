/* mathfn.c - tric's vectorisable math library, emitted inline as LLVM IR.
 *
 * LLVM turns llvm.exp/llvm.tanh into one libm call per element, which no vectoriser can
 * widen. Here every function is straight-line arithmetic (range reduction, a polynomial,
 * exponent bit tricks, selects for special values), so a loop calling it becomes AVX-512
 * or NEON code. f32 exp/log/tanh/sigmoid have native single-precision kernels (they
 * dominate real models); f32 erf/sin/cos/pow evaluate the f64 kernel and round, which
 * is slower but accurate. Accuracy is measured by tests/math and stated in
 * docs/language.md.
 */
#include <math.h>
#include <string.h>

#include "codegen/internal.h"
#include "codegen/erf_table.h"

LLVMValueRef cg_intrinsic_decl(cg_Emit *e, const char *name) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  return LLVMGetIntrinsicDeclaration(e->mod, id, NULL, 0);
}

LLVMValueRef cg_intrinsic(cg_Emit *e, const char *name, LLVMTypeRef ty, LLVMValueRef *args, int n) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(e->mod, id, &ty, 1);
  LLVMTypeRef ft = LLVMIntrinsicGetType(e->ctx, id, &ty, 1);
  return LLVMBuildCall2(e->b, ft, f, args, (unsigned)n, "");
}

/* ---------------------------------------------------------------- small helpers */

typedef struct M {
  cg_Emit *e;
  LLVMTypeRef ty, ity; /* float type and the integer of its width */
  bool d;              /* f64 */
} M;

static LLVMValueRef K(M *m, double v) { return LLVMConstReal(m->ty, v); }
static LLVMValueRef add(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(m->e->b, a, b, ""); }
static LLVMValueRef sub(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(m->e->b, a, b, ""); }
static LLVMValueRef mul(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(m->e->b, a, b, ""); }
static LLVMValueRef dv(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(m->e->b, a, b, ""); }
static LLVMValueRef fma3(M *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  return cg_intrinsic(m->e, "llvm.fmuladd", m->ty, args, 3);
}
static LLVMValueRef un(M *m, const char *name, LLVMValueRef x) { return cg_intrinsic(m->e, name, m->ty, &x, 1); }
static LLVMValueRef bin(M *m, const char *name, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef args[2] = {a, b};
  return cg_intrinsic(m->e, name, m->ty, args, 2);
}
static LLVMValueRef cmp(M *m, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFCmp(m->e->b, p, a, b, "");
}
static LLVMValueRef sel(M *m, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSelect(m->e->b, c, a, b, ""); }
static LLVMValueRef isnan_(M *m, LLVMValueRef x) { return cmp(m, LLVMRealUNO, x, x); }

/* c[0] + x*(c[1] + x*(...)) */
static LLVMValueRef horner(M *m, LLVMValueRef x, const double *c, int n) {
  LLVMValueRef p = K(m, c[n - 1]);
  for (int i = n - 2; i >= 0; i--) p = fma3(m, p, x, K(m, c[i]));
  return p;
}

/* Chebyshev series sum c[k] T_k(t) by Clenshaw's recurrence. */
static LLVMValueRef clenshaw(M *m, LLVMValueRef t, const double *c, int n) {
  LLVMValueRef t2 = add(m, t, t), b1 = K(m, 0), b2 = K(m, 0);
  for (int k = n - 1; k >= 1; k--) {
    LLVMValueRef b0 = sub(m, fma3(m, t2, b1, K(m, c[k])), b2);
    b2 = b1;
    b1 = b0;
  }
  return sub(m, fma3(m, t, b1, K(m, c[0])), b2);
}

/* 2^k for an integral float k within the normal exponent range. */
static LLVMValueRef exp2i(M *m, LLVMValueRef kint) {
  int mbits = m->d ? 52 : 23, bias = m->d ? 1023 : 127;
  LLVMValueRef biased = LLVMBuildAdd(m->e->b, kint, LLVMConstInt(m->ity, (unsigned long long)bias, 0), "");
  LLVMValueRef bits = LLVMBuildShl(m->e->b, biased, LLVMConstInt(m->ity, (unsigned long long)mbits, 0), "");
  return LLVMBuildBitCast(m->e->b, bits, m->ty, "");
}

static LLVMValueRef to_int(M *m, LLVMValueRef k) { return LLVMBuildFPToSI(m->e->b, k, m->ity, ""); }

/* ---------------------------------------------------------------- exp, expm1 */

/* f32 exp in 20 vector instructions: the argument clamped to [-110, 89] by a compare and
 * select each (vmaxps/vminps: a NaN passes through, and the rest of the code keeps it), k
 * = x/ln2 rounded by adding 1.5 * 2^23 (the integer lands in the low mantissa bits, so the
 * float's bits minus the constant's are k, no conversion), r = x - k*ln2 in two fused
 * steps, e^r by a polynomial of degree 6 (|r| <= ln2/2), then 2^k in two factors so
 * that results in the subnormal range round once. Past the true overflow and
 * underflow thresholds the product itself overflows to inf (k = 128: 2^64 * 2^64 * e^r
 * with e^r >= 0.7 and the threshold past FLT_MAX) or rounds to 0 (k <= -150), so no
 * select for the special values follows: exp(inf) = inf, exp(-inf) = 0, NaN stays NaN. */
static LLVMValueRef m_exp_f32(M *m, LLVMValueRef x) {
  cg_Emit *e = m->e;
  LLVMValueRef xc = sel(m, cmp(m, LLVMRealOLT, x, K(m, -110.0)), K(m, -110.0), x);
  xc = sel(m, cmp(m, LLVMRealOGT, xc, K(m, 89.0)), K(m, 89.0), xc);
  LLVMValueRef kf = fma3(m, xc, K(m, 1.4426950408889634), K(m, 12582912.0));
  LLVMValueRef k = sub(m, kf, K(m, 12582912.0));
  LLVMValueRef r = fma3(m, k, K(m, -0.693145751953125), xc);
  r = fma3(m, k, K(m, -1.428606765330187045e-06), r);
  /* e^r: a polynomial of degree 6 fitted for relative error (Lawson's iteration on
     Chebyshev nodes; 0.05 of an f32 ULP on [-ln2/2, ln2/2], the Taylor polynomial of
     degree 7 is 0.12) */
  static const double c[7] = {1.0, 1.0, 0.4999999403953552, 0.1666652113199234, 0.04166838899254799,
                              0.008368716575205326, 0.001381459878757596};
  LLVMValueRef p = horner(m, r, c, 7);
  LLVMValueRef ki = LLVMBuildSub(e->b, LLVMBuildBitCast(e->b, kf, m->ity, ""), LLVMConstInt(m->ity, 0x4b400000u, 0), "");
  LLVMValueRef k1 = LLVMBuildAShr(e->b, ki, LLVMConstInt(m->ity, 1, 0), "");
  LLVMValueRef k2 = LLVMBuildSub(e->b, ki, k1, "");
  /* (p * 2^k1, exact) * 2^k2, the one rounding. Adding k1 to p's exponent bits instead
     measured no faster and would turn a NaN's payload into a number. */
  return mul(m, mul(m, p, exp2i(m, k1)), exp2i(m, k2));
}

static LLVMValueRef m_exp(M *m, LLVMValueRef x) {
  if (!m->d) return m_exp_f32(m, x);
  double hi = m->d ? 709.782712893384 : 88.72283935546875;
  double lo = m->d ? -745.1332191019412 : -103.97208404541016;
  LLVMValueRef xc = bin(m, "llvm.minnum", bin(m, "llvm.maxnum", x, K(m, lo)), K(m, hi));
  LLVMValueRef k = un(m, "llvm.rint", mul(m, xc, K(m, 1.4426950408889634)));
  double ln2hi = m->d ? 6.93147180369123816490e-01 : 0.693145751953125;
  double ln2lo = m->d ? 1.90821492927058770002e-10 : 1.428606765330187045e-06;
  LLVMValueRef r = fma3(m, k, K(m, -ln2hi), xc);
  r = fma3(m, k, K(m, -ln2lo), r);
  double c[16];
  int n = m->d ? 14 : 8;
  c[0] = 1;
  for (int i = 1; i < n; i++) c[i] = c[i - 1] / i;
  LLVMValueRef p = horner(m, r, c, n);
  /* 2^k in two factors so that results near the subnormal range round once */
  LLVMValueRef ki = to_int(m, k);
  LLVMValueRef k1 = LLVMBuildAShr(m->e->b, ki, LLVMConstInt(m->ity, 1, 0), "");
  LLVMValueRef k2 = LLVMBuildSub(m->e->b, ki, k1, "");
  LLVMValueRef res = mul(m, mul(m, p, exp2i(m, k1)), exp2i(m, k2));
  res = sel(m, cmp(m, LLVMRealOGT, x, K(m, hi)), K(m, INFINITY), res);
  res = sel(m, cmp(m, LLVMRealOLT, x, K(m, lo)), K(m, 0), res);
  return sel(m, isnan_(m, x), x, res);
}

/* expm1(x) for x in [0, 20] (the range tanh needs); accurate near 0. */
static LLVMValueRef m_expm1_pos(M *m, LLVMValueRef x) {
  cg_Emit *e = m->e;
  LLVMValueRef k, t, r;
  if (m->d) {
    k = un(m, "llvm.rint", mul(m, x, K(m, 1.4426950408889634)));
    t = exp2i(m, to_int(m, k));
    r = fma3(m, k, K(m, -1.90821492927058770002e-10), fma3(m, k, K(m, -6.93147180369123816490e-01), x));
  } else {
    /* round x/ln2 by adding 1.5 * 2^23: the integer lands in the low mantissa bits, whose
       shift by 23 is then 2^k's exponent field (two integer operations, no conversion) */
    LLVMValueRef kf = fma3(m, x, K(m, 1.4426950408889634), K(m, 12582912.0));
    k = sub(m, kf, K(m, 12582912.0));
    LLVMValueRef bits = LLVMBuildShl(e->b, LLVMBuildBitCast(e->b, kf, m->ity, ""), LLVMConstInt(m->ity, 23, 0), "");
    t = LLVMBuildBitCast(e->b, LLVMBuildAdd(e->b, bits, LLVMConstInt(m->ity, 127u << 23, 0), ""), m->ty, "");
    /* one fused step with ln2 rounded to f32 (k <= 27 here): r is off by k * 1.9e-9 at
       most, which tanh, the only caller, divides away (its measured bound is unchanged) */
    r = fma3(m, k, K(m, -0.693147182464599609375), x);
  }
  LLVMValueRef p; /* expm1(r) */
  if (m->d) {
    double c[16];
    c[0] = 1;
    for (int i = 1; i < 16; i++) c[i] = c[i - 1] / (i + 1); /* Taylor: 1/(i+1)! */
    p = mul(m, r, horner(m, r, c, 16));
  } else {
    /* r + r^2 q(r), q fitted for relative error 1.4e-8 on [-ln2/2, ln2/2] */
    static const double q[5] = {0.4999999701976776, 0.16666541993618011, 0.04166734591126442,
                                0.008366608060896397, 0.0013873479329049587};
    p = fma3(m, mul(m, r, r), horner(m, r, q, 5), r);
  }
  return fma3(m, t, p, sub(m, t, K(m, 1)));
}

static LLVMValueRef m_tanh(M *m, LLVMValueRef x) {
  double lim = m->d ? 19.1 : 9.1;
  LLVMValueRef a = un(m, "llvm.fabs", x);
  /* a select, not minnum: a NaN stays NaN through the rest (one x86 min either way) */
  LLVMValueRef ac = sel(m, cmp(m, LLVMRealOGT, a, K(m, lim)), K(m, lim), a);
  LLVMValueRef t = m_expm1_pos(m, add(m, ac, ac));
  LLVMValueRef y = dv(m, t, add(m, t, K(m, 2)));
  /* in f32, t/(t+2) at the clamp already rounds to exactly 1 */
  if (m->d) y = sel(m, cmp(m, LLVMRealOGT, a, K(m, lim)), K(m, 1), y);
  return bin(m, "llvm.copysign", y, x);
}

static LLVMValueRef m_sigmoid(M *m, LLVMValueRef x) {
  LLVMValueRef e = m_exp(m, LLVMBuildFNeg(m->e->b, un(m, "llvm.fabs", x), ""));
  LLVMValueRef inv = dv(m, K(m, 1), add(m, K(m, 1), e));
  return sel(m, cmp(m, LLVMRealOGE, x, K(m, 0)), inv, mul(m, e, inv));
}

/* ---------------------------------------------------------------- log */

static LLVMValueRef m_log(M *m, LLVMValueRef x) {
  cg_Emit *e = m->e;
  int mbits = m->d ? 52 : 23, bias = m->d ? 1023 : 127;
  double minnorm = m->d ? 2.2250738585072014e-308 : 1.17549435e-38;
  LLVMValueRef small = cmp(m, LLVMRealOLT, x, K(m, minnorm));
  LLVMValueRef xs = sel(m, small, mul(m, x, K(m, ldexp(1, mbits))), x);
  LLVMValueRef eadj = LLVMBuildSelect(e->b, small, LLVMConstInt(m->ity, (unsigned long long)-mbits, 1),
                                      LLVMConstInt(m->ity, 0, 0), "");
  LLVMValueRef bits = LLVMBuildBitCast(e->b, xs, m->ity, "");
  LLVMValueRef ex = LLVMBuildSub(e->b, LLVMBuildLShr(e->b, bits, LLVMConstInt(m->ity, (unsigned long long)mbits, 0), ""),
                                 LLVMConstInt(m->ity, (unsigned long long)bias, 0), "");
  unsigned long long mant = (1ull << mbits) - 1, one = (unsigned long long)bias << mbits;
  LLVMValueRef mb = LLVMBuildOr(e->b, LLVMBuildAnd(e->b, bits, LLVMConstInt(m->ity, mant, 0), ""),
                                LLVMConstInt(m->ity, one, 0), "");
  LLVMValueRef mf = LLVMBuildBitCast(e->b, mb, m->ty, "");
  LLVMValueRef big = cmp(m, LLVMRealOGT, mf, K(m, 1.4142135623730951));
  mf = sel(m, big, mul(m, mf, K(m, 0.5)), mf);
  ex = LLVMBuildAdd(e->b, ex, LLVMBuildZExt(e->b, big, m->ity, ""), "");
  ex = LLVMBuildAdd(e->b, ex, eadj, "");
  LLVMValueRef dk = LLVMBuildSIToFP(e->b, ex, m->ty, "");
  LLVMValueRef f = sub(m, mf, K(m, 1));
  LLVMValueRef s = dv(m, f, add(m, K(m, 2), f));
  LLVMValueRef z = mul(m, s, s), w = mul(m, z, z), R;
  if (m->d) { /* fdlibm e_log.c */
    static const double odd[] = {6.666666666666735130e-01, 2.857142874366239149e-01, 1.818357216161805012e-01,
                                 1.479819860511658591e-01};
    static const double even[] = {3.999999999940941908e-01, 2.222219843214978396e-01, 1.531383769920937332e-01};
    R = add(m, mul(m, z, horner(m, w, odd, 4)), mul(m, w, horner(m, w, even, 3)));
  } else { /* musl logf.c */
    static const double odd[] = {0.66666662693, 0.28498786688};
    static const double even[] = {0.40000972152, 0.24279078841};
    R = add(m, mul(m, z, horner(m, w, odd, 2)), mul(m, w, horner(m, w, even, 2)));
  }
  double ln2hi = m->d ? 6.93147180369123816490e-01 : 6.9313812256e-01;
  double ln2lo = m->d ? 1.90821492927058770002e-10 : 9.0580006145e-06;
  LLVMValueRef hfsq = mul(m, K(m, 0.5), mul(m, f, f));
  LLVMValueRef inner = sub(m, sub(m, hfsq, fma3(m, s, add(m, hfsq, R), mul(m, dk, K(m, ln2lo)))), f);
  LLVMValueRef res = sub(m, mul(m, dk, K(m, ln2hi)), inner);
  res = sel(m, cmp(m, LLVMRealOEQ, x, K(m, 0)), K(m, -INFINITY), res);
  res = sel(m, cmp(m, LLVMRealOLT, x, K(m, 0)), K(m, NAN), res);
  res = sel(m, cmp(m, LLVMRealOEQ, x, K(m, INFINITY)), x, res);
  return sel(m, isnan_(m, x), x, res);
}

/* ---------------------------------------------------------------- erf (f64) */

static LLVMValueRef m_erf64(M *m, LLVMValueRef x) {
  LLVMValueRef a = un(m, "llvm.fabs", x);
  /* |x| < 1.25: Taylor series x * sum (-1)^n x^2n * 2/sqrt(pi) / (n! (2n+1)) */
  double c[26], fact = 1;
  for (int n = 0; n < 26; n++) {
    if (n) fact *= n;
    c[n] = (n & 1 ? -1 : 1) * 1.1283791670955126 / (fact * (2 * n + 1));
  }
  LLVMValueRef small = mul(m, a, horner(m, mul(m, a, a), c, 26));
  /* 1.25 <= |x| < 3.5: Chebyshev series of erf */
  LLVMValueRef t1 = mul(m, sub(m, add(m, a, a), K(m, 4.75)), K(m, 1 / 2.25));
  LLVMValueRef mid = clenshaw(m, t1, erf_mid, (int)(sizeof erf_mid / sizeof *erf_mid));
  /* 3.5 <= |x| < 6: 1 - exp(-x^2) R(x) */
  LLVMValueRef t2 = mul(m, sub(m, add(m, a, a), K(m, 9.5)), K(m, 1 / 2.5));
  LLVMValueRef ac = bin(m, "llvm.minnum", a, K(m, 6));
  LLVMValueRef tail = sub(m, K(m, 1), mul(m, m_exp(m, LLVMBuildFNeg(m->e->b, mul(m, ac, ac), "")),
                                          clenshaw(m, t2, erfc_tail, (int)(sizeof erfc_tail / sizeof *erfc_tail))));
  LLVMValueRef r = sel(m, cmp(m, LLVMRealOLT, a, K(m, 6)), tail, K(m, 1));
  r = sel(m, cmp(m, LLVMRealOLT, a, K(m, 3.5)), mid, r);
  r = sel(m, cmp(m, LLVMRealOLT, a, K(m, 1.25)), small, r);
  r = bin(m, "llvm.copysign", r, x);
  return sel(m, isnan_(m, x), x, r);
}

/* ---------------------------------------------------------------- sin, cos (f64) */

static LLVMValueRef m_sincos64(M *m, LLVMValueRef x, bool is_cos) {
  LLVMValueRef k = un(m, "llvm.rint", mul(m, x, K(m, 0.63661977236758134)));
  /* pi/2 in four parts (halves of SLEEF's PI_A..PI_D); each k*part is exact */
  static const double p[4] = {1.5707963109016418457, 1.5893254712295856735e-08, 6.123233932053594251e-17,
                              6.368317163510949908e-25};
  LLVMValueRef r = x;
  for (int i = 0; i < 4; i++) r = fma3(m, k, K(m, -p[i]), r);
  LLVMValueRef r2 = mul(m, r, r);
  double sc[9], cc[10], f = 1;
  for (int i = 1; i <= 20; i++) {
    f *= i;
    if (i % 2 == 1 && i >= 3) sc[(i - 3) / 2] = ((i - 1) / 2 % 2 ? -1 : 1) / f;
    if (i % 2 == 0) cc[i / 2 - 1] = (i / 2 % 2 ? -1 : 1) / f;
  }
  LLVMValueRef s = fma3(m, mul(m, r, r2), horner(m, r2, sc, 9), r);
  LLVMValueRef c = fma3(m, r2, horner(m, r2, cc, 10), K(m, 1));
  /* quadrant q = k mod 4 (as a float, so no integer conversion of huge k) */
  LLVMValueRef kq = is_cos ? add(m, k, K(m, 1)) : k;
  LLVMValueRef q = sub(m, kq, mul(m, K(m, 4), un(m, "llvm.floor", mul(m, kq, K(m, 0.25)))));
  LLVMValueRef odd = LLVMBuildOr(m->e->b, cmp(m, LLVMRealOEQ, q, K(m, 1)), cmp(m, LLVMRealOEQ, q, K(m, 3)), "");
  LLVMValueRef v = sel(m, odd, c, s);
  v = sel(m, cmp(m, LLVMRealOGE, q, K(m, 2)), LLVMBuildFNeg(m->e->b, v, ""), v);
  /* past about 1e15 the Cody-Waite reduction no longer finds r in [-pi/4, pi/4]; say so
     with NaN rather than return a wrong number (documented) */
  LLVMValueRef lost = cmp(m, LLVMRealUGT, un(m, "llvm.fabs", r), K(m, 1.0));
  v = sel(m, lost, K(m, NAN), v);
  /* the reduction turns -0 into +0 (x - 0 * p); sin(-0) is -0 */
  if (!is_cos) v = sel(m, cmp(m, LLVMRealOEQ, x, K(m, 0)), x, v);
  return sel(m, isnan_(m, x), x, v);
}

/* ---------------------------------------------------------------- dispatch */

static M mk_m(cg_Emit *e, LLVMTypeRef ty) {
  M m = {.e = e, .ty = ty, .d = ty == e->f64};
  m.ity = m.d ? e->i64 : e->i32;
  return m;
}

LLVMValueRef cg_math(cg_Emit *e, int op, LLVMValueRef x) {
  LLVMTypeRef ty = LLVMTypeOf(x);
  M m = mk_m(e, ty);
  switch (op) {
  case TC_EXP: return m_exp(&m, x);
  case TC_LOG: return m_log(&m, x);
  case TC_TANH: return m_tanh(&m, x);
  case TC_SIGMOID: return m_sigmoid(&m, x);
  case TC_ERF: case TC_SIN: case TC_COS: break; /* below */
  default: TRIC_BUG("cg_math: no lowering of '%s'", tc_op_name((tc_Op)op));
  }
  /* erf, sin, cos: the f64 kernel, rounded for f32 */
  M d = mk_m(e, e->f64);
  LLVMValueRef xd = m.d ? x : LLVMBuildFPExt(e->b, x, e->f64, "");
  LLVMValueRef r = op == TC_ERF ? m_erf64(&d, xd) : m_sincos64(&d, xd, op == TC_COS);
  return m.d ? r : LLVMBuildFPTrunc(e->b, r, ty, "");
}

LLVMValueRef cg_pow(cg_Emit *e, LLVMValueRef x, LLVMValueRef y) {
  LLVMTypeRef ty = LLVMTypeOf(x);
  bool d = ty == e->f64;
  M m = mk_m(e, e->f64);
  LLVMValueRef xd = d ? x : LLVMBuildFPExt(e->b, x, e->f64, "");
  LLVMValueRef yd = d ? y : LLVMBuildFPExt(e->b, y, e->f64, "");
  LLVMValueRef ax = un(&m, "llvm.fabs", xd);
  LLVMValueRef r = m_exp(&m, mul(&m, yd, m_log(&m, ax)));
  LLVMValueRef yint = cmp(&m, LLVMRealOEQ, un(&m, "llvm.floor", yd), yd);
  LLVMValueRef half = mul(&m, yd, K(&m, 0.5));
  LLVMValueRef yodd = LLVMBuildAnd(e->b, yint, cmp(&m, LLVMRealONE, un(&m, "llvm.floor", half), half), "");
  LLVMValueRef neg = cmp(&m, LLVMRealOLT, xd, K(&m, 0));
  LLVMValueRef signed_r = sel(&m, yodd, LLVMBuildFNeg(e->b, r, ""), r);
  r = sel(&m, neg, sel(&m, yint, signed_r, K(&m, NAN)), r);
  LLVMValueRef zero = cmp(&m, LLVMRealOEQ, xd, K(&m, 0));
  r = sel(&m, LLVMBuildAnd(e->b, zero, yodd, ""), bin(&m, "llvm.copysign", r, xd), r);
  LLVMValueRef one = LLVMBuildOr(e->b, cmp(&m, LLVMRealOEQ, yd, K(&m, 0)), cmp(&m, LLVMRealOEQ, xd, K(&m, 1)), "");
  LLVMValueRef m1inf = LLVMBuildAnd(e->b, cmp(&m, LLVMRealOEQ, ax, K(&m, 1)),
                                    cmp(&m, LLVMRealOEQ, un(&m, "llvm.fabs", yd), K(&m, INFINITY)), "");
  r = sel(&m, LLVMBuildOr(e->b, one, m1inf, ""), K(&m, 1), r);
  return d ? r : LLVMBuildFPTrunc(e->b, r, ty, "");
}
