/* tricrt.h - optional helpers for programs that call tric-generated functions.
 *
 * Generated objects need no runtime; this header only spares users the bit twiddling of
 * f16 and bf16 tensors, which the C interface passes as raw uint16_t bits. Everything is
 * static inline, so including it in many files links without clashes. It depends on no
 * other part of tric and needs no library (the runtime library, libtricrt.a, is the
 * thread pool of tricrt_pool.h).
 */
#ifndef TRICRT_H
#define TRICRT_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* bf16 bits of f (round to nearest even; NaN stays NaN). */
static inline uint16_t tricrt_f32_to_bf16(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40);
  return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

/* The float value of bf16 bits. */
static inline float tricrt_bf16_to_f32(uint16_t h) {
  uint32_t b = (uint32_t)h << 16;
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/* The float value of IEEE half-precision bits. */
static inline float tricrt_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, b;
  if (exp == 0x1f) b = sign | 0x7f800000u | (man << 13); /* inf, NaN */
  else if (exp) b = sign | ((exp + 112u) << 23) | (man << 13);
  else if (!man) b = sign;
  else { /* subnormal: normalise */
    exp = 113;
    while (!(man & 0x400u)) { man <<= 1; exp--; }
    b = sign | (exp << 23) | ((man & 0x3ffu) << 13);
  }
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/* IEEE half-precision bits of f (round to nearest even, overflow to inf). */
static inline uint16_t tricrt_f32_to_f16(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  uint32_t sign = (b >> 16) & 0x8000u, a = b & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);           /* NaN */
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);          /* rounds past 65504 */
  if (a < 0x38800000u) {                                            /* subnormal or zero */
    if (a < 0x33000000u) return (uint16_t)sign;
    uint32_t man = (a & 0x7fffffu) | 0x800000u, shift = 126u - (a >> 23);
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1u), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u;
  return (uint16_t)(sign | (r >> 13));
}

#ifdef __cplusplus
}
#endif

#endif
