/* int8 GEMM, AVX-512 VNNI path (vpdpbusd zmm: 16 columns × 4 k per instruction), and the
 * AVX-512 activation quantizer. */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "quant_internal.h"
#include "int8_epilogue_avx512.h"
#include "vecmath.h"
#include <string.h>

#define T EAM_T_AVX512
#define TV __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx512vnni")))
#define R 8 /* rows per tile: 2R accumulators + 2 weight vectors of the 32 zmm */

T void eam_quantize_rows_avx512(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                                int32_t *zero, const float *range) {
  const int Kp = (K + 3) & ~3;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ldx;
    uint8_t *qr = q + (size_t)r * ldq;
    __m512 vmn = _mm512_setzero_ps(), vmx = vmn;
    for (int k = 0; k < (range ? 0 : K); k += 16) {
      const __mmask16 m = eam_mask16(K - k);
      const __m512 v = _mm512_maskz_loadu_ps(m, xr + k);
      vmn = _mm512_mask_min_ps(vmn, m, v, vmn); /* minps(x, mn): a NaN x leaves mn, as x < mn ? x : mn */
      vmx = _mm512_mask_max_ps(vmx, m, v, vmx);
    }
    float inv;
    eam_quant_row_params(range ? range[0] : _mm512_reduce_min_ps(vmn), range ? range[1] : _mm512_reduce_max_ps(vmx), qmax,
                         &scale[r], &inv, &zero[r]);
    const __m512 vi = _mm512_set1_ps(inv);
    const __m512i z = _mm512_set1_epi32(zero[r]), top = _mm512_set1_epi32(qmax), none = _mm512_setzero_si512();
    for (int k = 0; k < Kp; k += 16) {
      const __mmask16 m = eam_mask16(K - k);
      __m512i u = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + k), vi)), z);
      u = _mm512_maskz_mov_epi32(m, _mm512_min_epi32(_mm512_max_epi32(u, none), top));
      _mm_mask_storeu_epi8(qr + k, eam_mask16(Kp - k), _mm512_cvtepi32_epi8(u));
    }
  }
}

T static inline __m512i broadcast4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/* Rows [m, m + mr) (mr ≤ R, a constant in each instance: a short last tile does only its rows)
 * × np panels (1 or 2) from panel p. */
TV static inline __attribute__((always_inline)) void tile(const eam_s8_gemm *g, int m, const int mr, int p, const int np) {
  const uint8_t *a[R];
  for (int i = 0; i < mr; i++) a[i] = g->q + (size_t)(m + i) * g->ldq;
  const int8_t *w0 = g->packed + (size_t)p * g->groups * 64, *w1 = w0 + (size_t)g->groups * 64;
  __m512i acc[R][2];
  for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
  for (int k = 0; k < g->groups; k++) {
    const __m512i b0 = _mm512_loadu_si512(w0 + (size_t)k * 64);
    const __m512i b1 = np > 1 ? _mm512_loadu_si512(w1 + (size_t)k * 64) : b0;
    for (int i = 0; i < mr; i++) {
      const __m512i x = broadcast4(a[i] + 4 * k);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x, b0);
      if (np > 1) acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x, b1);
    }
  }
  const int col = p * EAM_PANEL, valid = g->n1 - col;
  for (int i = 0; i < mr; i++) {
    float *c = g->Y + (size_t)(m + i) * g->ldy + col;
    eam_s8_store16_avx512(acc[i][0], g->row_zero[m + i], g->row_scale[m + i], g, c, col, valid);
    if (np > 1) eam_s8_store16_avx512(acc[i][1], g->row_zero[m + i], g->row_scale[m + i], g, c + 16, col + 16, valid - 16);
  }
}

/* The tile of mr rows, mr a constant in each case. */
#define TILES(np)                                                                                  \
  switch (mr) {                                                                                    \
  case 1: tile(g, m, 1, p, np); break;                                                             \
  case 2: tile(g, m, 2, p, np); break;                                                             \
  case 3: tile(g, m, 3, p, np); break;                                                             \
  case 4: tile(g, m, 4, p, np); break;                                                             \
  case 5: tile(g, m, 5, p, np); break;                                                             \
  case 6: tile(g, m, 6, p, np); break;                                                             \
  case 7: tile(g, m, 7, p, np); break;                                                             \
  default: tile(g, m, R, p, np);                                                                   \
  }

TV void eam_gemm_s8_vnni512(const eam_s8_gemm *g) {
  for (int p = g->n0 / EAM_PANEL; p * EAM_PANEL < g->n1; p += 2) {
    const int two = g->n1 - p * EAM_PANEL > EAM_PANEL;
    for (int m = 0; m < g->M; m += R) {
      const int mr = g->M - m < R ? g->M - m : R;
      if (two) TILES(2)
      else TILES(1)
    }
  }
}
#endif
