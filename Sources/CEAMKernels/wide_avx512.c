/* The wide GEMMs (f16, int4 weights), AVX-512 variant: a chunk of two panels decoded to f32 in
 * registers (vcvtph2ps; nibbles zero-extended, converted and scaled), stored to a stack buffer
 * and run by 12×32 / 6×32 / 6×16 register tiles like avx512.c's. Decoding once per block of rows rather than in every
 * tile keeps the conversions off the FMA ports the tile saturates. */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "quant_internal.h"
#include "vecmath.h"

#define T EAM_T_AVX512
#define KC EAM_WIDE_KC
#define MB EAM_WIDE_MB

/* Panel p, rows k0 .. k0+kc, into dst[k · stride + j]. */
T static void decode(const eam_wide_src *w, int p, int k0, int kc, float *dst, int stride) {
  if (w->kind == EAM_WIDE_F16) {
    const uint16_t *src = w->f16 + ((size_t)p * w->K + k0) * EAM_PANEL;
    for (int k = 0; k < kc; k++)
      _mm512_store_ps(dst + (size_t)k * stride, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + k * 16))));
    return;
  }
  const int G = w->group, groups = (w->K + G - 1) / G;
  const uint8_t *src = w->codes + ((size_t)p * w->K + k0) * (EAM_PANEL / 2);
  const __m256i low = _mm256_set1_epi32(15);
  const __m512 eight = _mm512_set1_ps(8.0f);
  for (int k = 0; k < kc;) {
    const int g = (k0 + k) / G, end = (g + 1) * G - k0 < kc ? (g + 1) * G - k0 : kc;
    const __m512 s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w->scales + ((size_t)p * groups + g) * 16)));
    for (; k < end; k++) {
      const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(src + k * 8)));
      const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(b, low)), _mm256_srli_epi32(b, 4), 1);
      _mm512_store_ps(dst + (size_t)k * stride, _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(q), eight), s));
    }
  }
}

#define ROWS(A, lda, mr)                                                                            \
  const float *a0 = A, *a1 = A + (mr > 1 ? lda : 0), *a2 = A + (mr > 2 ? 2 * (size_t)lda : 0);       \
  const float *a3 = A + (mr > 3 ? 3 * (size_t)lda : 0), *a4 = A + (mr > 4 ? 4 * (size_t)lda : 0);    \
  const float *a5 = A + (mr > 5 ? 5 * (size_t)lda : 0)

/* Rows [0, mr) × 32 columns over kc values of k: B is the decoded chunk ([kc][32]), part the
 * tile's carried accumulators ([6][32]); `first`: start from zero; `last`: epilogue to C. */
T static void tile6x32(int mr, int kc, const float *A, int lda, const float *B, float *part, int first, int last,
                       float *C, int ldc, int col, int valid, const eam_epilogue *e) {
  ROWS(A, lda, mr);
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  if (!first) {
    c00 = _mm512_load_ps(part + 0), c01 = _mm512_load_ps(part + 16), c10 = _mm512_load_ps(part + 32);
    c11 = _mm512_load_ps(part + 48), c20 = _mm512_load_ps(part + 64), c21 = _mm512_load_ps(part + 80);
    c30 = _mm512_load_ps(part + 96), c31 = _mm512_load_ps(part + 112), c40 = _mm512_load_ps(part + 128);
    c41 = _mm512_load_ps(part + 144), c50 = _mm512_load_ps(part + 160), c51 = _mm512_load_ps(part + 176);
  }
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(B + (size_t)k * 32), b1 = _mm512_load_ps(B + (size_t)k * 32 + 16);
    __m512 x;
    x = _mm512_set1_ps(a0[k]); c00 = _mm512_fmadd_ps(x, b0, c00); c01 = _mm512_fmadd_ps(x, b1, c01);
    x = _mm512_set1_ps(a1[k]); c10 = _mm512_fmadd_ps(x, b0, c10); c11 = _mm512_fmadd_ps(x, b1, c11);
    x = _mm512_set1_ps(a2[k]); c20 = _mm512_fmadd_ps(x, b0, c20); c21 = _mm512_fmadd_ps(x, b1, c21);
    x = _mm512_set1_ps(a3[k]); c30 = _mm512_fmadd_ps(x, b0, c30); c31 = _mm512_fmadd_ps(x, b1, c31);
    x = _mm512_set1_ps(a4[k]); c40 = _mm512_fmadd_ps(x, b0, c40); c41 = _mm512_fmadd_ps(x, b1, c41);
    x = _mm512_set1_ps(a5[k]); c50 = _mm512_fmadd_ps(x, b0, c50); c51 = _mm512_fmadd_ps(x, b1, c51);
  }
  const __m512 r0[6] = {c00, c10, c20, c30, c40, c50}, r1[6] = {c01, c11, c21, c31, c41, c51};
  if (!last) {
    for (int i = 0; i < 6; i++) _mm512_store_ps(part + 32 * i, r0[i]), _mm512_store_ps(part + 32 * i + 16, r1[i]);
    return;
  }
  for (int i = 0; i < mr; i++) {
    float *c = C + (size_t)i * ldc + col;
    eam_store16(r0[i], c, col, valid, e);
    eam_store16(r1[i], c + 16, col + 16, valid - 16, e);
  }
}

/* Rows [0, mr) (mr ≤ 12) × 32 columns: tile6x32 with twice the rows (24 accumulators, part
 * [12][32]); the same per-element arithmetic. */
#define FMA2(i)                                                                                     \
  x = _mm512_set1_ps(a##i[k]);                                                                     \
  c[i][0] = _mm512_fmadd_ps(x, b0, c[i][0]);                                                       \
  c[i][1] = _mm512_fmadd_ps(x, b1, c[i][1])
T static void tile12x32(int mr, int kc, const float *A, int lda, const float *B, float *part, int first, int last,
                        float *C, int ldc, int col, int valid, const eam_epilogue *e) {
  ROWS12(A, lda, mr);
  __m512 c[12][2];
  for (int i = 0; i < 12; i++) {
    c[i][0] = first ? _mm512_setzero_ps() : _mm512_load_ps(part + 32 * i);
    c[i][1] = first ? _mm512_setzero_ps() : _mm512_load_ps(part + 32 * i + 16);
  }
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(B + (size_t)k * 32), b1 = _mm512_load_ps(B + (size_t)k * 32 + 16);
    __m512 x;
    FMA2(0); FMA2(1); FMA2(2); FMA2(3); FMA2(4); FMA2(5);
    FMA2(6); FMA2(7); FMA2(8); FMA2(9); FMA2(10); FMA2(11);
  }
  if (!last) {
    for (int i = 0; i < 12; i++) _mm512_store_ps(part + 32 * i, c[i][0]), _mm512_store_ps(part + 32 * i + 16, c[i][1]);
    return;
  }
  for (int i = 0; i < mr; i++) {
    float *out = C + (size_t)i * ldc + col;
    eam_store16(c[i][0], out, col, valid, e);
    eam_store16(c[i][1], out + 16, col + 16, valid - 16, e);
  }
}
#undef FMA2

/* Rows [0, mr) × 16 columns (a last odd panel): B is [kc][16], part [6][16]. */
T static void tile6x16(int mr, int kc, const float *A, int lda, const float *B, float *part, int first, int last,
                       float *C, int ldc, int col, int valid, const eam_epilogue *e) {
  ROWS(A, lda, mr);
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  if (!first) {
    c0 = _mm512_load_ps(part), c1 = _mm512_load_ps(part + 16), c2 = _mm512_load_ps(part + 32);
    c3 = _mm512_load_ps(part + 48), c4 = _mm512_load_ps(part + 64), c5 = _mm512_load_ps(part + 80);
  }
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(B + (size_t)k * 16);
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[k]), b0, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[k]), b0, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[k]), b0, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[k]), b0, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(a4[k]), b0, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(a5[k]), b0, c5);
  }
  const __m512 r[6] = {c0, c1, c2, c3, c4, c5};
  if (!last) {
    for (int i = 0; i < 6; i++) _mm512_store_ps(part + 16 * i, r[i]);
    return;
  }
  for (int i = 0; i < mr; i++) eam_store16(r[i], C + (size_t)i * ldc + col, col, valid, e);
}

T void eam_gemm_wide_avx512(int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc, int n0, int n1,
                            const eam_epilogue *e) {
  const int K = w->K;
  float buf[KC * 32] __attribute__((aligned(64)));
  float part[MB * 32] __attribute__((aligned(64)));
  for (int p = n0 / EAM_PANEL; p * EAM_PANEL < n1; p += 2) {
    const int col = p * EAM_PANEL;
    const int valid = n1 - col < 2 * EAM_PANEL ? n1 - col : 2 * EAM_PANEL;
    const int two = valid > EAM_PANEL, stride = two ? 32 : 16;
    for (int m0 = 0; m0 < M; m0 += MB) {
      const int mb = M - m0 < MB ? M - m0 : MB;
      for (int k0 = 0;; k0 += KC) {
        const int kc = K - k0 < KC ? K - k0 : KC;
        const int first = k0 == 0, last = k0 + kc >= K;
        decode(w, p, k0, kc, buf, stride);
        if (two) decode(w, p + 1, k0, kc, buf + 16, stride);
        for (int m = 0; m < mb;) {
          const float *a = A + (size_t)(m0 + m) * lda + k0;
          float *c = C + (size_t)(m0 + m) * ldc;
          if (two && mb - m > 6) {
            const int mr = mb - m < 12 ? mb - m : 12;
            tile12x32(mr, kc, a, lda, buf, part + m * 32, first, last, c, ldc, col, valid, e);
            m += 12;
            continue;
          }
          const int mr = mb - m < 6 ? mb - m : 6;
          if (two) tile6x32(mr, kc, a, lda, buf, part + m * 32, first, last, c, ldc, col, valid, e);
          else tile6x16(mr, kc, a, lda, buf, part + m * 16, first, last, c, ldc, col, valid, e);
          m += 6;
        }
        if (last) break;
      }
    }
  }
}
#endif
