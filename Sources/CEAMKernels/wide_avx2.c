/* The wide GEMMs (f16, int4 weights), AVX2 + FMA variant: a chunk of one panel decoded to f32 in
 * registers (F16C vcvtph2ps; nibbles zero-extended, converted and scaled), stored to a stack
 * buffer and run by avx2.c's 6×16 tile. A CPU with AVX2 but without F16C decodes f16 in portable
 * C (same values: widening is exact). */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "quant_internal.h"
#include "vecmath.h"

#define T EAM_T_AVX2
#define KC EAM_WIDE_KC
#define MB EAM_WIDE_MB

__attribute__((target("avx2,fma,f16c"))) static void decode_f16(const uint16_t *src, int kc, float *dst) {
  for (int k = 0; k < kc; k++) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)(src + k * 16));
    _mm256_store_ps(dst + k * 16, _mm256_cvtph_ps(_mm256_castsi256_si128(h)));
    _mm256_store_ps(dst + k * 16 + 8, _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)));
  }
}

__attribute__((target("avx2,fma,f16c"))) static void decode_int4(const eam_wide_src *w, int p, int k0, int kc, float *dst) {
  const int G = w->group, groups = (w->K + G - 1) / G;
  const uint8_t *src = w->codes + ((size_t)p * w->K + k0) * (EAM_PANEL / 2);
  const __m256i low = _mm256_set1_epi32(15);
  const __m256 eight = _mm256_set1_ps(8.0f);
  for (int k = 0; k < kc;) {
    const int g = (k0 + k) / G, end = (g + 1) * G - k0 < kc ? (g + 1) * G - k0 : kc;
    const uint16_t *sp = w->scales + ((size_t)p * groups + g) * 16;
    const __m256 s0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)sp));
    const __m256 s1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sp + 8)));
    for (; k < end; k++) {
      const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(src + k * 8)));
      const __m256 q0 = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(b, low)), eight);
      const __m256 q1 = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4)), eight);
      _mm256_store_ps(dst + k * 16, _mm256_mul_ps(q0, s0));
      _mm256_store_ps(dst + k * 16 + 8, _mm256_mul_ps(q1, s1));
    }
  }
}

/* Rows [0, mr) × one panel over kc values of k: B is the decoded chunk ([kc][16]), part the
 * tile's carried accumulators ([6][16]); `first`: start from zero; `last`: epilogue to C. */
T static void tile6x16(int mr, int kc, const float *A, int lda, const float *B, float *part, int first, int last,
                       float *C, int ldc, int col, int valid, const eam_epilogue *e) {
  const float *a0 = A, *a1 = A + (mr > 1 ? lda : 0), *a2 = A + (mr > 2 ? 2 * (size_t)lda : 0);
  const float *a3 = A + (mr > 3 ? 3 * (size_t)lda : 0), *a4 = A + (mr > 4 ? 4 * (size_t)lda : 0);
  const float *a5 = A + (mr > 5 ? 5 * (size_t)lda : 0);
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  if (!first) {
    c00 = _mm256_load_ps(part + 0), c01 = _mm256_load_ps(part + 8), c10 = _mm256_load_ps(part + 16);
    c11 = _mm256_load_ps(part + 24), c20 = _mm256_load_ps(part + 32), c21 = _mm256_load_ps(part + 40);
    c30 = _mm256_load_ps(part + 48), c31 = _mm256_load_ps(part + 56), c40 = _mm256_load_ps(part + 64);
    c41 = _mm256_load_ps(part + 72), c50 = _mm256_load_ps(part + 80), c51 = _mm256_load_ps(part + 88);
  }
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(B + (size_t)k * 16), b1 = _mm256_load_ps(B + (size_t)k * 16 + 8);
    __m256 x;
    x = _mm256_broadcast_ss(a0 + k); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a1 + k); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a2 + k); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a3 + k); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a4 + k); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a5 + k); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  const __m256 r0[6] = {c00, c10, c20, c30, c40, c50}, r1[6] = {c01, c11, c21, c31, c41, c51};
  if (!last) {
    for (int i = 0; i < 6; i++) _mm256_store_ps(part + 16 * i, r0[i]), _mm256_store_ps(part + 16 * i + 8, r1[i]);
    return;
  }
  for (int i = 0; i < mr; i++) {
    float *c = C + (size_t)i * ldc + col;
    eam_store8(r0[i], c, col, valid, e);
    eam_store8(r1[i], c + 8, col + 8, valid - 8, e);
  }
}

T void eam_gemm_wide_avx2(int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc, int n0, int n1,
                          const eam_epilogue *e) {
  const int K = w->K;
  const int f16c = eam_cpu_extra_features() & EAM_CPU_F16C;
  float buf[KC * 16] __attribute__((aligned(32)));
  float part[MB * 16] __attribute__((aligned(32)));
  for (int p = n0 / EAM_PANEL; p * EAM_PANEL < n1; p++) {
    const int col = p * EAM_PANEL;
    const int valid = n1 - col < EAM_PANEL ? n1 - col : EAM_PANEL;
    for (int m0 = 0; m0 < M; m0 += MB) {
      const int mb = M - m0 < MB ? M - m0 : MB;
      for (int k0 = 0;; k0 += KC) {
        const int kc = K - k0 < KC ? K - k0 : KC;
        const int first = k0 == 0, last = k0 + kc >= K;
        if (!f16c) eam_wide_decode_portable(w, p, k0, kc, buf, 16);
        else if (w->kind == EAM_WIDE_F16) decode_f16(w->f16 + ((size_t)p * K + k0) * EAM_PANEL, kc, buf);
        else decode_int4(w, p, k0, kc, buf);
        for (int m = 0; m < mb; m += 6) {
          const int mr = mb - m < 6 ? mb - m : 6;
          tile6x16(mr, kc, A + (size_t)(m0 + m) * lda + k0, lda, buf, part + m * 16, first, last,
                   C + (size_t)(m0 + m) * ldc, ldc, col, valid, e);
        }
        if (last) break;
      }
    }
  }
}
#endif
