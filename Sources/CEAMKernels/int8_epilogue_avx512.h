/* The AVX-512 dequantizing epilogue of the int8 GEMM paths that finish in zmm registers (VNNI-512,
 * AMX): the same operations, in the same order, as eam_s8_epilogue. */
#ifndef EAM_INT8_EPILOGUE_AVX512_H
#define EAM_INT8_EPILOGUE_AVX512_H
#if defined(__x86_64__)
#include "quant_internal.h"
#include "vecmath.h"

/* The epilogue of 16 columns [col, col+16) of one row; `valid` of them stored. */
EAM_T_AVX512 static inline void eam_s8_store16_avx512(__m512i acc, int32_t z, float s, const eam_s8_gemm *g, float *c,
                                                   int col, int valid) {
  if (valid <= 0) return;
  const __mmask16 m = eam_mask16(valid);
  const __m512i zs = _mm512_mullo_epi32(_mm512_set1_epi32(z), _mm512_loadu_si512(g->col_sum + col));
  const __m512 sc = _mm512_mul_ps(_mm512_set1_ps(s), _mm512_loadu_ps(g->col_scale + col));
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, zs)), sc);
  if (g->flags & EAM_EPI_BIAS) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, g->bias + col));
  if (g->flags & EAM_EPI_GELU) v = eam_gelu16(v);
  if (g->flags & EAM_EPI_ACCUMULATE) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
  _mm512_mask_storeu_ps(c, m, v);
}

#endif
#endif
