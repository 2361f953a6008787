/* Vector exp, exact GELU, the canonical reductions and the GEMM epilogue on float32x4 (aarch64):
 * canonical.h's operations lane for lane, so the NEON kernels give the portable variant's bits.
 * vfmaq_f32 (fmla) rounds once, as fmaf; max and min are compare-and-select, the operand order
 * of eam_maxps / eam_minps (fmax would differ on signed zeros and NaN). The 16 partials of a
 * reduction are four vectors: lanes 0–3, 4–7, 8–11, 12–15. */
#ifndef EAM_VECMATH_NEON_H
#define EAM_VECMATH_NEON_H
#include "internal.h"
#include <arm_neon.h>

#define EAM_NEON_INLINE static inline __attribute__((always_inline))

/* eam_maxps / eam_minps: a if a > b (a < b), else b. */
EAM_NEON_INLINE float32x4_t eam_maxq(float32x4_t a, float32x4_t b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
EAM_NEON_INLINE float32x4_t eam_minq(float32x4_t a, float32x4_t b) { return vbslq_f32(vcltq_f32(a, b), a, b); }

/* eam_exp1 on four lanes. frintn rounds to nearest even as the portable adding and removing of
 * 1.5·2²³ does; they may differ only in the sign of a zero n, which changes neither r (n·c + x
 * with x ≠ 0, or +0 from either sign when x = ±0 after the second step) nor 2^n. */
EAM_NEON_INLINE float32x4_t eam_exp4(float32x4_t x) {
  x = eam_minq(eam_maxq(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.7f));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmaq_f32(x, n, vdupq_n_f32(-0.693359375f));
  r = vfmaq_f32(r, n, vdupq_n_f32(2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

/* eam_gelu_canonical on four lanes. */
EAM_NEON_INLINE float32x4_t eam_gelu4(float32x4_t x) {
  const uint32x4_t sign = vdupq_n_u32(0x80000000u);
  const float32x4_t z = vmulq_f32(x, vdupq_n_f32(0.70710678118654752f));
  const float32x4_t az = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(z), sign));
  const float32x4_t t = vdivq_f32(vdupq_n_f32(1.0f), vfmaq_f32(vdupq_n_f32(1.0f), az, vdupq_n_f32(0.3275911f)));
  float32x4_t p = vdupq_n_f32(1.061405429f);
  p = vfmaq_f32(vdupq_n_f32(-1.453152027f), p, t);
  p = vfmaq_f32(vdupq_n_f32(1.421413741f), p, t);
  p = vfmaq_f32(vdupq_n_f32(-0.284496736f), p, t);
  p = vfmaq_f32(vdupq_n_f32(0.254829592f), p, t);
  p = vmulq_f32(p, t);
  const float32x4_t naz = vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(az), sign));
  const float32x4_t erf_abs = vfmsq_f32(vdupq_n_f32(1.0f), p, eam_exp4(vmulq_f32(naz, az))); /* 1 − p·e, fused */
  const float32x4_t erf = vreinterpretq_f32_u32(
      vorrq_u32(vreinterpretq_u32_f32(erf_abs), vandq_u32(vreinterpretq_u32_f32(z), sign)));
  return vmulq_f32(vmulq_f32(vdupq_n_f32(0.5f), x), vaddq_f32(vdupq_n_f32(1.0f), erf));
}

/* canonical.h's tree over the 16 partials q0..q3: i + i+8, i + i+4, i + i+2, i + i+1. */
EAM_NEON_INLINE float eam_hsum4x4(float32x4_t q0, float32x4_t q1, float32x4_t q2, float32x4_t q3) {
  const float32x4_t v = vaddq_f32(vaddq_f32(q0, q2), vaddq_f32(q1, q3));
  const float32x2_t w = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(w, 0) + vget_lane_f32(w, 1);
}

EAM_NEON_INLINE float eam_hmax4x4(float32x4_t q0, float32x4_t q1, float32x4_t q2, float32x4_t q3) {
  const float32x4_t v = eam_maxq(eam_maxq(q0, q2), eam_maxq(q1, q3));
  const float32x2_t lo = vget_low_f32(v), hi = vget_high_f32(v);
  const float32x2_t w = vbsl_f32(vcgt_f32(lo, hi), lo, hi);
  const float a = vget_lane_f32(w, 0), b = vget_lane_f32(w, 1);
  return a > b ? a : b;
}

/* The f32 GEMM's epilogue on 4 accumulators (columns [col, col+4), `valid` of them stored). */
EAM_NEON_INLINE void eam_store4(float32x4_t acc, float *c, int col, int valid, const eam_epilogue *e) {
  if (valid <= 0) return;
  float32x4_t v = vmulq_f32(acc, vdupq_n_f32(e->alpha));
  if (valid >= 4) {
    if (e->flags & EAM_EPI_BIAS) v = vaddq_f32(v, vld1q_f32(e->bias + col));
    if (e->flags & EAM_EPI_GELU) v = eam_gelu4(v);
    if (e->flags & EAM_EPI_ACCUMULATE) v = vaddq_f32(v, vld1q_f32(c));
    vst1q_f32(c, v);
    return;
  }
  float t[4] = {0};
  if (e->flags & EAM_EPI_BIAS) {
    for (int i = 0; i < valid; i++) t[i] = e->bias[col + i];
    v = vaddq_f32(v, vld1q_f32(t));
  }
  if (e->flags & EAM_EPI_GELU) v = eam_gelu4(v);
  if (e->flags & EAM_EPI_ACCUMULATE) {
    for (int i = 0; i < valid; i++) t[i] = c[i];
    v = vaddq_f32(v, vld1q_f32(t));
  }
  vst1q_f32(t, v);
  for (int i = 0; i < valid; i++) c[i] = t[i];
}

#endif
