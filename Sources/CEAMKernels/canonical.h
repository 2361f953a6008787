/* The arithmetic every kernel variant performs, in portable C: the exp and GELU of vecmath.h lane
 * for lane, and the canonical reduction (16 partial sums, then one fixed tree). The vector
 * variants perform exactly these operations in this order, so every variant gives the same bits
 * (docs/KERNELS.md, "Determinism"). The fused steps are fmaf (one rounding, as vfmadd); the
 * package compiles the kernels with -ffp-contract=off, so nothing else is fused. */
#ifndef EAM_CANONICAL_H
#define EAM_CANONICAL_H
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Lanes of every reduction: element j of a row goes to partial j mod 16. */
#define EAM_LANES 16

#define EAM_ALWAYS_INLINE static inline __attribute__((always_inline))

/* A portable kernel: `void name params`, its body following the macro. On x86-64 the body is
 * compiled twice, as is and with target("fma"), the latter run when the CPU has FMA: the same C
 * and the same results (fmaf rounds once either way), but fmaf is then one vfmadd instead of a
 * libm call. `storage` is `static` or empty. */
#if defined(__x86_64__)
#define EAM_PORTABLE(storage, name, params, args)                                                   \
  EAM_ALWAYS_INLINE void name##_body params;                                                        \
  __attribute__((target("fma"))) static void name##_fma params { name##_body args; }                \
  storage void name params {                                                                        \
    if (__builtin_cpu_supports("fma")) name##_fma args;                                             \
    else name##_body args;                                                                          \
  }                                                                                                 \
  EAM_ALWAYS_INLINE void name##_body params
#else
#define EAM_PORTABLE(storage, name, params, args) storage void name params
#endif

static inline float eam_bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static inline uint32_t eam_float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* maxps / minps: the second operand when either is NaN or both are zero. */
EAM_ALWAYS_INLINE float eam_maxps(float a, float b) { return a > b ? a : b; }
EAM_ALWAYS_INLINE float eam_minps(float a, float b) { return a < b ? a : b; }

/* roundps to nearest (ties to even) for |t| < 2²²: adding and removing 1.5·2²³ (no libm call). */
EAM_ALWAYS_INLINE float eam_round_nearest(float t) { return (t + 12582912.0f) - 12582912.0f; }

/* The fixed tree over 16 partials: halves folded (i + i+8, then i + i+4, i + i+2, i + i+1), as
 * AVX-512 folds a zmm into its lower ymm and AVX2 adds its two ymm, then within the ymm. */
EAM_ALWAYS_INLINE float eam_tree_sum16(const float *p) {
  float t[8];
  for (int i = 0; i < 8; i++) t[i] = p[i] + p[i + 8];
  for (int i = 0; i < 4; i++) t[i] = t[i] + t[i + 4];
  for (int i = 0; i < 2; i++) t[i] = t[i] + t[i + 2];
  return t[0] + t[1];
}

EAM_ALWAYS_INLINE float eam_tree_max16(const float *p) {
  float t[8];
  for (int i = 0; i < 8; i++) t[i] = eam_maxps(p[i], p[i + 8]);
  for (int i = 0; i < 4; i++) t[i] = eam_maxps(t[i], t[i + 4]);
  for (int i = 0; i < 2; i++) t[i] = eam_maxps(t[i], t[i + 2]);
  return eam_maxps(t[0], t[1]);
}

/* exp: clamped to [−87.3, 88.7] (NaN becomes −87.3, as maxps does), x = n·ln2 + r (ln2 in two
 * parts), degree-7 Taylor polynomial in r by Horner's rule, times 2^n built in the exponent bits. */
EAM_ALWAYS_INLINE float eam_exp1(float x) {
  x = eam_maxps(x, -87.3f);
  x = eam_minps(x, 88.7f);
  const float n = eam_round_nearest(x * 1.44269504088896341f); /* |n| ≤ 128 */
  float r = fmaf(n, -0.693359375f, x);
  r = fmaf(n, 2.12194440e-4f, r);
  float p = 1.0f / 5040.0f;
  p = fmaf(p, r, 1.0f / 720.0f);
  p = fmaf(p, r, 1.0f / 120.0f);
  p = fmaf(p, r, 1.0f / 24.0f);
  p = fmaf(p, r, 1.0f / 6.0f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  return p * eam_bits_float(((uint32_t)(int32_t)n + 127u) << 23);
}

/* Exact GELU 0.5·x·(1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7); the
 * sign of erf is z's sign bit OR-ed in, as the vector code does. */
EAM_ALWAYS_INLINE float eam_gelu_canonical(float x) {
  const float z = x * 0.70710678118654752f;
  const float az = eam_bits_float(eam_float_bits(z) & 0x7FFFFFFFu);
  const float t = 1.0f / fmaf(az, 0.3275911f, 1.0f);
  float p = 1.061405429f;
  p = fmaf(p, t, -1.453152027f);
  p = fmaf(p, t, 1.421413741f);
  p = fmaf(p, t, -0.284496736f);
  p = fmaf(p, t, 0.254829592f);
  p = p * t;
  const float erf_abs = fmaf(-p, eam_exp1(eam_bits_float(eam_float_bits(az) ^ 0x80000000u) * az), 1.0f);
  const float erf = eam_bits_float(eam_float_bits(erf_abs) | (eam_float_bits(z) & 0x80000000u));
  return (0.5f * x) * (1.0f + erf);
}

#endif
