/* Vector exp, exact GELU, the canonical reductions and the GEMM epilogue of the AVX2 and AVX-512
 * kernels: one copy for the f32 kernels (avx2.c, avx512.c, attention_*.c) and the f16/int4 GEMMs.
 * Each performs canonical.h's operations lane for lane, so every variant gives the portable
 * variant's bits. Static inline, with the target attribute of the variant; a function using them
 * carries at least that attribute. */
#ifndef EAM_VECMATH_H
#define EAM_VECMATH_H
#include "internal.h"
#include <immintrin.h>

#define EAM_T_AVX2 __attribute__((target("avx2,fma")))
#define EAM_T_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

/* exp: x = n·ln2 + r, degree-7 Taylor polynomial in r, 2^n through the exponent bits. */
EAM_T_AVX2 static inline __m256 eam_exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* 0.5·x·(1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26. */
EAM_T_AVX2 static inline __m256 eam_gelu8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  __m256 az = _mm256_andnot_ps(sign, z);
  __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(az, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  __m256 erf_abs = _mm256_fnmadd_ps(p, eam_exp8(_mm256_mul_ps(_mm256_xor_ps(az, sign), az)), _mm256_set1_ps(1.0f));
  __m256 erf = _mm256_or_ps(erf_abs, _mm256_and_ps(z, sign));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

/* canonical.h's tree over 16 partials held as two ymm (lanes 0–7, 8–15): lo + hi, then within
 * the ymm (i + i+4, i + i+2, i + i+1). */
EAM_T_AVX2 static inline float eam_hsum8x2(__m256 lo, __m256 hi) {
  const __m256 v = _mm256_add_ps(lo, hi);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

EAM_T_AVX2 static inline float eam_hmax8x2(__m256 lo, __m256 hi) {
  const __m256 v = _mm256_max_ps(lo, hi);
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

EAM_T_AVX2 static inline __m256i eam_mask8(int valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The f32 GEMM's epilogue on 8 accumulators (columns [col, col+8), `valid` of them stored). */
EAM_T_AVX2 static inline void eam_store8(__m256 acc, float *c, int col, int valid, const eam_epilogue *e) {
  __m256 v = _mm256_mul_ps(acc, _mm256_set1_ps(e->alpha));
  if (valid >= 8) {
    if (e->flags & EAM_EPI_BIAS) v = _mm256_add_ps(v, _mm256_loadu_ps(e->bias + col));
    if (e->flags & EAM_EPI_GELU) v = eam_gelu8(v);
    if (e->flags & EAM_EPI_ACCUMULATE) v = _mm256_add_ps(v, _mm256_loadu_ps(c));
    _mm256_storeu_ps(c, v);
  } else if (valid > 0) {
    __m256i m = eam_mask8(valid);
    if (e->flags & EAM_EPI_BIAS) v = _mm256_add_ps(v, _mm256_maskload_ps(e->bias + col, m));
    if (e->flags & EAM_EPI_GELU) v = eam_gelu8(v);
    if (e->flags & EAM_EPI_ACCUMULATE) v = _mm256_add_ps(v, _mm256_maskload_ps(c, m));
    _mm256_maskstore_ps(c, m, v);
  }
}

/* exp's range reduction and polynomial: p ≈ e^r with x = n·ln2 + r (n returned in *n). */
EAM_T_AVX512 static inline __m512 eam_exp16_poly(__m512 x, __m512 *n_out) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  *n_out = n;
  return p;
}

EAM_T_AVX512 static inline __m512 eam_exp16(__m512 x) {
  __m512 n;
  const __m512 p = eam_exp16_poly(x, &n);
  __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

/* eam_exp16 with 2^n applied by scalef (one operation instead of four): p·2^n rounded once
 * either way, the same bits wherever 2^n is a normal float, i.e. for x ≤ 88 (the fused
 * attention's arguments are ≤ 0). */
EAM_T_AVX512 static inline __m512 eam_exp16_scalef(__m512 x) {
  __m512 n;
  const __m512 p = eam_exp16_poly(x, &n);
  return _mm512_scalef_ps(p, n);
}

EAM_T_AVX512 static inline __m512 eam_gelu16(__m512 x) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  __m512 az = _mm512_andnot_ps(sign, z);
  __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  __m512 erf_abs = _mm512_fnmadd_ps(p, eam_exp16(_mm512_mul_ps(_mm512_xor_ps(az, sign), az)), _mm512_set1_ps(1.0f));
  __m512 erf = _mm512_or_ps(erf_abs, _mm512_and_ps(z, sign));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

/* The same tree on one zmm: its halves, then as eam_hsum8x2. */
EAM_T_AVX512 static inline float eam_hsum16(__m512 v) {
  return eam_hsum8x2(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
}

EAM_T_AVX512 static inline float eam_hmax16(__m512 v) {
  return eam_hmax8x2(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
}

EAM_T_AVX512 static inline __mmask16 eam_mask16(int valid) {
  return valid >= 16 ? (__mmask16)0xFFFF : valid <= 0 ? (__mmask16)0 : (__mmask16)((1u << valid) - 1);
}

/* The f32 GEMM's epilogue on 16 accumulators. */
EAM_T_AVX512 static inline void eam_store16(__m512 acc, float *c, int col, int valid, const eam_epilogue *e) {
  if (valid <= 0) return;
  const __mmask16 m = eam_mask16(valid);
  __m512 v = _mm512_mul_ps(acc, _mm512_set1_ps(e->alpha));
  if (e->flags & EAM_EPI_BIAS) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, e->bias + col));
  if (e->flags & EAM_EPI_GELU) v = eam_gelu16(v);
  if (e->flags & EAM_EPI_ACCUMULATE) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
  _mm512_mask_storeu_ps(c, m, v);
}

/* Row pointers a0 … a11 of a 12-row GEMM tile (rows [0, mr) of A, lda apart); rows past mr repeat
 * row 0 (loaded, never stored), so a short tile needs no other code. */
#define ROWS12(A, lda, mr)                                                                          \
  const float *a0 = A, *a1 = A + (mr > 1 ? lda : 0), *a2 = A + (mr > 2 ? 2 * (size_t)lda : 0);       \
  const float *a3 = A + (mr > 3 ? 3 * (size_t)lda : 0), *a4 = A + (mr > 4 ? 4 * (size_t)lda : 0);    \
  const float *a5 = A + (mr > 5 ? 5 * (size_t)lda : 0), *a6 = A + (mr > 6 ? 6 * (size_t)lda : 0);    \
  const float *a7 = A + (mr > 7 ? 7 * (size_t)lda : 0), *a8 = A + (mr > 8 ? 8 * (size_t)lda : 0);    \
  const float *a9 = A + (mr > 9 ? 9 * (size_t)lda : 0), *a10 = A + (mr > 10 ? 10 * (size_t)lda : 0); \
  const float *a11 = A + (mr > 11 ? 11 * (size_t)lda : 0)

#endif
