/* The AVX2 + FMA variant: 6×16 GEMM tile (12 ymm accumulators), vector exp/erf, reductions in
 * canonical.h's 16 lanes.
 * Every function carries target("avx2,fma"); nothing here runs unless the CPU has both. */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "internal.h"
#include "vecmath.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define T __attribute__((target("avx2,fma")))

/* exp, GELU and the GEMM epilogue on 8 lanes: vecmath.h (eam_exp8, eam_gelu8, eam_mask8, eam_store8). */

/* Rows [0, mr) (mr ≤ 6) × one 16-column panel. Rows past mr repeat row 0 and are not stored. */
T static void tile6x16(int mr, int K, const float *A, int lda, const float *B, float *C, int ldc, int col,
                       int valid, const eam_epilogue *e) {
  const float *a0 = A, *a1 = A + (mr > 1 ? lda : 0), *a2 = A + (mr > 2 ? 2 * lda : 0);
  const float *a3 = A + (mr > 3 ? 3 * lda : 0), *a4 = A + (mr > 4 ? 4 * lda : 0), *a5 = A + (mr > 5 ? 5 * lda : 0);
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < K; k++) {
    const __m256 b0 = _mm256_loadu_ps(B + (size_t)k * 16), b1 = _mm256_loadu_ps(B + (size_t)k * 16 + 8);
    __m256 x;
    x = _mm256_broadcast_ss(a0 + k); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a1 + k); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a2 + k); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a3 + k); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a4 + k); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a5 + k); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  const __m256 r0[6] = {c00, c10, c20, c30, c40, c50}, r1[6] = {c01, c11, c21, c31, c41, c51};
  for (int i = 0; i < mr; i++) {
    float *c = C + (size_t)i * ldc + col;
    eam_store8(r0[i], c, col, valid, e);
    eam_store8(r1[i], c + 8, col + 8, valid - 8, e);
  }
}

T void eam_gemm_avx2(int M, int K, const float *A, int lda, const float *panels, float *C, int ldc, int n0,
                     int n1, const eam_epilogue *e) {
  for (int p = n0 / EAM_PANEL; p * EAM_PANEL < n1; p++) {
    const int col = p * EAM_PANEL;
    const int valid = n1 - col < EAM_PANEL ? n1 - col : EAM_PANEL;
    const float *B = panels + (size_t)p * K * EAM_PANEL;
    for (int m = 0; m < M; m += 6)
      tile6x16(M - m < 6 ? M - m : 6, K, A + (size_t)m * lda, lda, B, C + (size_t)m * ldc, ldc, col, valid, e);
  }
}

/* Reductions run in canonical.h's 16 lanes: two ymm accumulators taking alternate vectors of 8
 * (element j in lane j mod 16); after each vector they swap, which costs nothing. The tree
 * (eam_hsum8x2) starts with lo + hi, the same sum whichever of the two holds lanes 0–7. */
#define SWAP(a, b) do { const __m256 t_ = a; a = b; b = t_; } while (0)

T void eam_softmax_avx2(float *x, int ld, int rows, int cols) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    int j = 0;
    __m256 m0 = ninf, m1 = ninf;
    for (; j + 8 <= cols; j += 8) {
      m0 = _mm256_max_ps(m0, _mm256_loadu_ps(row + j));
      SWAP(m0, m1);
    }
    if (j < cols) {
      __m256i m = eam_mask8(cols - j);
      m0 = _mm256_max_ps(m0, _mm256_blendv_ps(ninf, _mm256_maskload_ps(row + j, m), _mm256_castsi256_ps(m)));
    }
    const __m256 vm = _mm256_set1_ps(eam_hmax8x2(m0, m1));
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (j = 0; j + 8 <= cols; j += 8) {
      __m256 e = eam_exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm));
      _mm256_storeu_ps(row + j, e);
      s0 = _mm256_add_ps(s0, e);
      SWAP(s0, s1);
    }
    if (j < cols) {
      __m256i m = eam_mask8(cols - j);
      __m256 e = eam_exp8(_mm256_sub_ps(_mm256_maskload_ps(row + j, m), vm));
      e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
      _mm256_maskstore_ps(row + j, m, e);
      s0 = _mm256_add_ps(s0, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / eam_hsum8x2(s0, s1));
    for (j = 0; j + 8 <= cols; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
    if (j < cols) {
      __m256i m = eam_mask8(cols - j);
      _mm256_maskstore_ps(row + j, m, _mm256_mul_ps(_mm256_maskload_ps(row + j, m), inv));
    }
  }
}

T void eam_layernorm_avx2(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                          const float *b, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ldx;
    float *yr = y + (size_t)r * ldy;
    int j = 0;
    const __m256i tail = eam_mask8(dim % 8);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (; j + 8 <= dim; j += 8) {
      s0 = _mm256_add_ps(s0, _mm256_loadu_ps(xr + j));
      SWAP(s0, s1);
    }
    if (j < dim) s0 = _mm256_add_ps(s0, _mm256_maskload_ps(xr + j, tail));
    const float mean = eam_hsum8x2(s0, s1) / dim;
    const __m256 vm = _mm256_set1_ps(mean);
    s0 = s1 = _mm256_setzero_ps();
    for (j = 0; j + 8 <= dim; j += 8) {
      __m256 d = _mm256_sub_ps(_mm256_loadu_ps(xr + j), vm);
      s0 = _mm256_fmadd_ps(d, d, s0);
      SWAP(s0, s1);
    }
    if (j < dim) {
      __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + j, tail), vm), _mm256_castsi256_ps(tail));
      s0 = _mm256_fmadd_ps(d, d, s0);
    }
    const float inv = 1.0f / sqrtf(eam_hsum8x2(s0, s1) / dim + eps);
    const __m256 vi = _mm256_set1_ps(inv);
    for (j = 0; j + 8 <= dim; j += 8) {
      __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm), vi);
      _mm256_storeu_ps(yr + j, _mm256_fmadd_ps(d, _mm256_loadu_ps(g + j), _mm256_loadu_ps(b + j)));
    }
    if (j < dim) {
      __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + j, tail), vm), vi);
      _mm256_maskstore_ps(yr + j, tail, _mm256_fmadd_ps(d, _mm256_maskload_ps(g + j, tail), _mm256_maskload_ps(b + j, tail)));
    }
  }
}

T void eam_gelu_avx2(float *x, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, eam_gelu8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    __m256i m = eam_mask8((int)(n - i));
    _mm256_maskstore_ps(x + i, m, eam_gelu8(_mm256_maskload_ps(x + i, m)));
  }
}

/* lanes[b]: all ones in lane i where bit i of b is set (as the mask of maskload, blendv, and). */
#define B1(b, i) (((b) >> (i)) & 1)
#define L1(b) {-B1(b, 0), -B1(b, 1), -B1(b, 2), -B1(b, 3), -B1(b, 4), -B1(b, 5), -B1(b, 6), -B1(b, 7)}
#define L4(b) L1(b), L1(b + 1), L1(b + 2), L1(b + 3)
#define L16(b) L4(b), L4(b + 4), L4(b + 8), L4(b + 12)
#define L64(b) L16(b), L16(b + 16), L16(b + 32), L16(b + 48)
static const int32_t lanes[256][8] __attribute__((aligned(32))) = {L64(0), L64(64), L64(128), L64(192)};

T static inline __m256 lanes8(unsigned bits) { return _mm256_load_ps((const float *)lanes[bits]); }

/* The values code · code_scale of 8 entries from their codes (n < 8: the first n, the others 0;
 * code NULL: all 0). */
T static inline __m256 frozen_values8(const uint8_t *code, int n, __m256 cs) {
  if (!code) return _mm256_setzero_ps();
  uint64_t c = 0;
  if (n >= 8) memcpy(&c, code, 8); else memcpy(&c, code, (size_t)n);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)c))), cs);
}

/* Softmax over the free entries (EAM), eight lanes at a time from the frozen bitmask (a byte of
 * it per vector). No branch on the mask but at the row's end: frozen entries are scattered, such
 * branches mispredict; the exponentials of frozen entries are computed and dropped. */
T void eam_softmax_frozen_avx2(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                               const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY), cs = _mm256_set1_ps(code_scale);
  const unsigned tailbits = cols % 8 ? (1u << (cols % 8)) - 1 : 0xFFu;
  const int full = cols & ~7;
  const __m256i tail = _mm256_castps_si256(lanes8(tailbits));
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    const uint16_t *bits = frozen + (size_t)r * frozen_ld;
    const uint8_t *code = codes ? codes + (size_t)r * codes_ld : NULL;
#define FROZEN8(j) ((unsigned)((const uint8_t *)bits)[(j) >> 3] & (j < full ? 0xFFu : tailbits))
    __m256 vmax = ninf, vmax1 = ninf;
    int j = 0;
    for (; j < full; j += 8) {
      vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(_mm256_loadu_ps(row + j), ninf, lanes8(FROZEN8(j))));
      SWAP(vmax, vmax1);
    }
    if (j < cols) {
      const __m256 m = lanes8(~FROZEN8(j) & tailbits);
      vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(ninf, _mm256_maskload_ps(row + j, _mm256_castps_si256(m)), m));
    }
    const float max = eam_hmax8x2(vmax, vmax1);
    if (max == -INFINITY) { /* every entry frozen (or every free score −inf) */
      for (j = 0; j < cols; j += 8) {
        const unsigned fz = FROZEN8(j);
        const __m256 p = _mm256_and_ps(frozen_values8(code ? code + j : NULL, cols - j, cs), lanes8(fz));
        if (j < full) _mm256_storeu_ps(row + j, p); else _mm256_maskstore_ps(row + j, tail, p);
      }
      continue;
    }
    const __m256 vm = _mm256_set1_ps(max);
    __m256 vsum = _mm256_setzero_ps(), vsum1 = vsum;
    for (j = 0; j < full; j += 8) {
      const unsigned fz = FROZEN8(j);
      const __m256 e = _mm256_andnot_ps(lanes8(fz), eam_exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm)));
      _mm256_storeu_ps(row + j, e);
      vsum = _mm256_add_ps(vsum, e);
      SWAP(vsum, vsum1);
    }
    if (j < cols) {
      const __m256 m = lanes8(~FROZEN8(j) & tailbits);
      const __m256 e = _mm256_and_ps(eam_exp8(_mm256_sub_ps(_mm256_maskload_ps(row + j, _mm256_castps_si256(m)), vm)), m);
      _mm256_maskstore_ps(row + j, tail, e);
      vsum = _mm256_add_ps(vsum, e);
    }
    const __m256 scale = _mm256_set1_ps(free_mass[r] / eam_hsum8x2(vsum, vsum1));
    for (j = 0; j < full; j += 8) {
      const unsigned fz = FROZEN8(j);
      const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(row + j), scale);
      _mm256_storeu_ps(row + j, _mm256_blendv_ps(p, frozen_values8(code ? code + j : NULL, 8, cs), lanes8(fz)));
    }
    if (j < cols) {
      const unsigned fz = FROZEN8(j);
      __m256 p = _mm256_mul_ps(_mm256_maskload_ps(row + j, tail), scale);
      if (fz) p = _mm256_blendv_ps(p, frozen_values8(code ? code + j : NULL, cols - j, cs), lanes8(fz));
      _mm256_maskstore_ps(row + j, tail, p);
    }
#undef FROZEN8
  }
}
#endif
