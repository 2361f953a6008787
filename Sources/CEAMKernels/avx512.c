/* The AVX-512 variant: 12×32 GEMM tile over two panels (24 zmm accumulators; 6×32 for the last
 * rows) and a 6×16 tile for a last odd panel; vector exp/erf; masked tails. Reductions run in
 * canonical.h's 16 lanes (one zmm, element j in lane j mod 16) and tree. Every function carries the target attribute. */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "internal.h"
#include "vecmath.h"
#include <immintrin.h>
#include <math.h>

#define T __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

/* exp, GELU and the GEMM epilogue on 16 lanes: vecmath.h (eam_exp16, eam_gelu16, eam_mask16, eam_store16). */

#define ROWS(A, lda, mr)                                                                            \
  const float *a0 = A, *a1 = A + (mr > 1 ? lda : 0), *a2 = A + (mr > 2 ? 2 * (size_t)lda : 0);       \
  const float *a3 = A + (mr > 3 ? 3 * (size_t)lda : 0), *a4 = A + (mr > 4 ? 4 * (size_t)lda : 0);    \
  const float *a5 = A + (mr > 5 ? 5 * (size_t)lda : 0)

/* Rows [0, mr) (mr ≤ 6) × two panels (32 columns). Rows past mr repeat row 0, not stored. */
T static void tile6x32(int mr, int K, const float *A, int lda, const float *B0, const float *B1, float *C,
                       int ldc, int col, int valid, const eam_epilogue *e) {
  ROWS(A, lda, mr);
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < K; k++) {
    const __m512 b0 = _mm512_loadu_ps(B0 + (size_t)k * 16), b1 = _mm512_loadu_ps(B1 + (size_t)k * 16);
    __m512 x;
    x = _mm512_set1_ps(a0[k]); c00 = _mm512_fmadd_ps(x, b0, c00); c01 = _mm512_fmadd_ps(x, b1, c01);
    x = _mm512_set1_ps(a1[k]); c10 = _mm512_fmadd_ps(x, b0, c10); c11 = _mm512_fmadd_ps(x, b1, c11);
    x = _mm512_set1_ps(a2[k]); c20 = _mm512_fmadd_ps(x, b0, c20); c21 = _mm512_fmadd_ps(x, b1, c21);
    x = _mm512_set1_ps(a3[k]); c30 = _mm512_fmadd_ps(x, b0, c30); c31 = _mm512_fmadd_ps(x, b1, c31);
    x = _mm512_set1_ps(a4[k]); c40 = _mm512_fmadd_ps(x, b0, c40); c41 = _mm512_fmadd_ps(x, b1, c41);
    x = _mm512_set1_ps(a5[k]); c50 = _mm512_fmadd_ps(x, b0, c50); c51 = _mm512_fmadd_ps(x, b1, c51);
  }
  const __m512 r0[6] = {c00, c10, c20, c30, c40, c50}, r1[6] = {c01, c11, c21, c31, c41, c51};
  for (int i = 0; i < mr; i++) {
    float *c = C + (size_t)i * ldc + col;
    eam_store16(r0[i], c, col, valid, e);
    eam_store16(r1[i], c + 16, col + 16, valid - 16, e);
  }
}

/* Rows [0, mr) (mr ≤ 12) × two panels: 24 accumulators, so each pair of B loads feeds 24 FMAs
 * (6×32 feeds 12; B streams from L2 once K·32 floats outgrow L1). Same per-element arithmetic
 * as tile6x32. Rows past mr repeat row 0, not stored. */
#define FMA2(i)                                                                                     \
  x = _mm512_set1_ps(a##i[k]);                                                                     \
  c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0);                                                       \
  c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1)
T static void tile12x32(int mr, int K, const float *A, int lda, const float *B0, const float *B1, float *C,
                        int ldc, int col, int valid, const eam_epilogue *e) {
  ROWS12(A, lda, mr);
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
  __m512 c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;
  for (int k = 0; k < K; k++) {
    const __m512 b0 = _mm512_loadu_ps(B0 + (size_t)k * 16), b1 = _mm512_loadu_ps(B1 + (size_t)k * 16);
    __m512 x;
    FMA2(0); FMA2(1); FMA2(2); FMA2(3); FMA2(4); FMA2(5);
    FMA2(6); FMA2(7); FMA2(8); FMA2(9); FMA2(10); FMA2(11);
  }
  const __m512 r0[12] = {c00, c10, c20, c30, c40, c50, c60, c70, c80, c90, c100, c110};
  const __m512 r1[12] = {c01, c11, c21, c31, c41, c51, c61, c71, c81, c91, c101, c111};
  for (int i = 0; i < mr; i++) {
    float *c = C + (size_t)i * ldc + col;
    eam_store16(r0[i], c, col, valid, e);
    eam_store16(r1[i], c + 16, col + 16, valid - 16, e);
  }
}
#undef FMA2

/* Rows [0, mr) × one panel. Same per-element arithmetic as tile6x32. */
T static void tile6x16(int mr, int K, const float *A, int lda, const float *B0, float *C, int ldc, int col,
                       int valid, const eam_epilogue *e) {
  ROWS(A, lda, mr);
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  for (int k = 0; k < K; k++) {
    const __m512 b0 = _mm512_loadu_ps(B0 + (size_t)k * 16);
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[k]), b0, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[k]), b0, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[k]), b0, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[k]), b0, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(a4[k]), b0, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(a5[k]), b0, c5);
  }
  const __m512 r[6] = {c0, c1, c2, c3, c4, c5};
  for (int i = 0; i < mr; i++) eam_store16(r[i], C + (size_t)i * ldc + col, col, valid, e);
}

/* Rows are taken in blocks of EAM_GEMM_MB (a multiple of 12) so that a block of A stays in L2
 * while every panel passes over it (at batch 8 a thread has 1,028 rows: 1.5 MB of A at K = 384). */
#define EAM_GEMM_MB 192

T void eam_gemm_avx512(int M, int K, const float *A, int lda, const float *panels, float *C, int ldc, int n0,
                       int n1, const eam_epilogue *e) {
  for (int m0 = 0; m0 < M; m0 += EAM_GEMM_MB) {
    const int m1 = M - m0 < EAM_GEMM_MB ? M : m0 + EAM_GEMM_MB;
    for (int p = n0 / EAM_PANEL; p * EAM_PANEL < n1; p += 2) {
      const int col = p * EAM_PANEL;
      const int valid = n1 - col < 2 * EAM_PANEL ? n1 - col : 2 * EAM_PANEL;
      const float *B0 = panels + (size_t)p * K * EAM_PANEL;
      if (valid > EAM_PANEL) {
        const float *B1 = B0 + (size_t)K * EAM_PANEL;
        int m = m0;
        for (; m1 - m > 6; m += 12)
          tile12x32(m1 - m < 12 ? m1 - m : 12, K, A + (size_t)m * lda, lda, B0, B1, C + (size_t)m * ldc, ldc, col, valid, e);
        if (m < m1) tile6x32(m1 - m, K, A + (size_t)m * lda, lda, B0, B1, C + (size_t)m * ldc, ldc, col, valid, e);
      } else {
        for (int m = m0; m < m1; m += 6)
          tile6x16(m1 - m < 6 ? m1 - m : 6, K, A + (size_t)m * lda, lda, B0, C + (size_t)m * ldc, ldc, col, valid, e);
      }
    }
  }
}

T void eam_softmax_avx512(float *x, int ld, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < cols; j += 16)
      vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), eam_mask16(cols - j), row + j));
    const __m512 vm = _mm512_set1_ps(eam_hmax16(vmax));
    __m512 vsum = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 16) {
      const __mmask16 m = eam_mask16(cols - j);
      __m512 e = _mm512_maskz_mov_ps(m, eam_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), vm)));
      _mm512_mask_storeu_ps(row + j, m, e);
      vsum = _mm512_add_ps(vsum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / eam_hsum16(vsum));
    for (int j = 0; j < cols; j += 16) {
      const __mmask16 m = eam_mask16(cols - j);
      _mm512_mask_storeu_ps(row + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), inv));
    }
  }
}

T void eam_layernorm_avx512(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                            const float *b, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ldx;
    float *yr = y + (size_t)r * ldy;
    __m512 vs = _mm512_setzero_ps();
    for (int j = 0; j < dim; j += 16) vs = _mm512_add_ps(vs, _mm512_maskz_loadu_ps(eam_mask16(dim - j), xr + j));
    const float mean = eam_hsum16(vs) / dim;
    const __m512 vm = _mm512_set1_ps(mean);
    __m512 vq = _mm512_setzero_ps();
    for (int j = 0; j < dim; j += 16) {
      const __mmask16 m = eam_mask16(dim - j);
      __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xr + j), vm);
      vq = _mm512_fmadd_ps(d, d, vq);
    }
    const float inv = 1.0f / sqrtf(eam_hsum16(vq) / dim + eps);
    const __m512 vi = _mm512_set1_ps(inv);
    for (int j = 0; j < dim; j += 16) {
      const __mmask16 m = eam_mask16(dim - j);
      __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + j), vm), vi);
      _mm512_mask_storeu_ps(yr + j, m, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, g + j), _mm512_maskz_loadu_ps(m, b + j)));
    }
  }
}

T void eam_gelu_avx512(float *x, size_t n) {
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = eam_mask16((int)(n - i < 16 ? n - i : 16));
    _mm512_mask_storeu_ps(x + i, m, eam_gelu16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

/* The values code · code_scale of the frozen lanes fz of 16 entries (the other lanes, or all
 * when code is NULL: 0). */
T static inline __m512 frozen_values16(const uint8_t *code, __mmask16 fz, __m512 cs) {
  if (!code) return _mm512_setzero_ps();
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(fz, code))), cs);
}

/* Softmax over the free entries (EAM): the frozen bitmask words are the lane masks, the frozen
 * values come from their codes by masked byte loads. Vectors with every entry frozen skip the
 * exponentials; the values go in without a branch (frozen entries are scattered: a branch on
 * them mispredicts). */
T void eam_softmax_frozen_avx512(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                                 const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass) {
  const __m512 cs = _mm512_set1_ps(code_scale);
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    const uint16_t *bits = frozen + (size_t)r * frozen_ld;
    const uint8_t *code = codes ? codes + (size_t)r * codes_ld : NULL;
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < cols; j += 16) {
      const __mmask16 free = (__mmask16)(~bits[j >> 4] & eam_mask16(cols - j));
      vmax = _mm512_mask_max_ps(vmax, free, vmax, _mm512_maskz_loadu_ps(free, row + j));
    }
    const float max = eam_hmax16(vmax);
    if (max == -INFINITY) { /* every entry frozen (or every free score −inf) */
      for (int j = 0; j < cols; j += 16) {
        const __mmask16 m = eam_mask16(cols - j), fz = (__mmask16)(bits[j >> 4] & m);
        _mm512_mask_storeu_ps(row + j, m, _mm512_maskz_mov_ps(fz, frozen_values16(code ? code + j : NULL, fz, cs)));
      }
      continue;
    }
    const __m512 vm = _mm512_set1_ps(max);
    __m512 vsum = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 16) {
      const __mmask16 free = (__mmask16)(~bits[j >> 4] & eam_mask16(cols - j));
      if (!free) continue;
      __m512 e = _mm512_maskz_mov_ps(free, eam_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(free, row + j), vm)));
      _mm512_mask_storeu_ps(row + j, free, e);
      vsum = _mm512_add_ps(vsum, e);
    }
    const __m512 scale = _mm512_set1_ps(free_mass[r] / eam_hsum16(vsum));
    for (int j = 0; j < cols; j += 16) {
      const __mmask16 m = eam_mask16(cols - j), fz = (__mmask16)(bits[j >> 4] & m), free = (__mmask16)(~fz & m);
      const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(free, row + j), scale);
      _mm512_mask_storeu_ps(row + j, m, _mm512_mask_mov_ps(p, fz, frozen_values16(code ? code + j : NULL, fz, cs)));
    }
  }
}
#endif
