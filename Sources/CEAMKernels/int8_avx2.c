/* int8 GEMM on ymm: the AVX2 path (codes widened to 16 bits, vpmaddwd: tiles of R rows × 8
 * columns) and the AVX-VNNI path (vpdpbusd ymm: R rows × 16 columns); the AVX2 activation
 * quantizer. */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "quant_internal.h"
#include "vecmath.h"
#include <string.h>

#define T EAM_T_AVX2
#define TVNNI __attribute__((target("avx2,fma,avxvnni")))
#define R 6 /* rows per tile: 2R accumulators of the 16 ymm */

T void eam_quantize_rows_avx2(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                              int32_t *zero, const float *range) {
  const int Kp = (K + 3) & ~3;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ldx;
    uint8_t *qr = q + (size_t)r * ldq;
    __m256 vmn = _mm256_setzero_ps(), vmx = vmn;
    int k = range ? K : 0;
    for (; k + 8 <= K; k += 8) {
      const __m256 v = _mm256_loadu_ps(xr + k);
      vmn = _mm256_min_ps(v, vmn); /* a NaN v leaves the running value, as x < mn ? x : mn */
      vmx = _mm256_max_ps(v, vmx);
    }
    float lanes_mn[8], lanes_mx[8];
    _mm256_storeu_ps(lanes_mn, vmn);
    _mm256_storeu_ps(lanes_mx, vmx);
    float mn = 0.0f, mx = 0.0f;
    for (int i = 0; i < 8; i++) {
      mn = lanes_mn[i] < mn ? lanes_mn[i] : mn;
      mx = lanes_mx[i] > mx ? lanes_mx[i] : mx;
    }
    for (; k < K; k++) {
      mn = xr[k] < mn ? xr[k] : mn;
      mx = xr[k] > mx ? xr[k] : mx;
    }
    if (range) mn = range[0], mx = range[1];
    float inv;
    eam_quant_row_params(mn, mx, qmax, &scale[r], &inv, &zero[r]);
    const __m256 vi = _mm256_set1_ps(inv);
    const __m256i z = _mm256_set1_epi32(zero[r]), top = _mm256_set1_epi32(qmax), none = _mm256_setzero_si256();
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (k = 0; k + 32 <= K; k += 32) {
      __m256i u[4];
      for (int i = 0; i < 4; i++) {
        u[i] = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + k + 8 * i), vi)), z);
        u[i] = _mm256_min_epi32(_mm256_max_epi32(u[i], none), top);
      }
      /* the packs work per 128-bit lane: dword i of h holds codes of u[i % 4], half i / 4 */
      const __m256i h = _mm256_packus_epi16(_mm256_packus_epi32(u[0], u[1]), _mm256_packus_epi32(u[2], u[3]));
      _mm256_storeu_si256((__m256i *)(qr + k), _mm256_permutevar8x32_epi32(h, order));
    }
    for (; k < K; k++) {
      const int32_t c = (int32_t)((uint32_t)eam_activation_code(xr[k] * inv) + (uint32_t)zero[r]);
      qr[k] = (uint8_t)(c < 0 ? 0 : c > qmax ? qmax : c);
    }
    for (; k < Kp; k++) qr[k] = 0;
  }
}

/* The epilogue of 8 columns [col, col+8) of one row; `valid` of them stored. */
T static inline void store8(__m256i acc, int32_t z, float s, const eam_s8_gemm *g, float *c, int col, int valid) {
  if (valid <= 0) return;
  const __m256i zs = _mm256_mullo_epi32(_mm256_set1_epi32(z), _mm256_loadu_si256((const __m256i *)(g->col_sum + col)));
  const __m256 sc = _mm256_mul_ps(_mm256_set1_ps(s), _mm256_loadu_ps(g->col_scale + col));
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc, zs)), sc);
  if (valid >= 8) {
    if (g->flags & EAM_EPI_BIAS) v = _mm256_add_ps(v, _mm256_loadu_ps(g->bias + col));
    if (g->flags & EAM_EPI_GELU) v = eam_gelu8(v);
    if (g->flags & EAM_EPI_ACCUMULATE) v = _mm256_add_ps(v, _mm256_loadu_ps(c));
    _mm256_storeu_ps(c, v);
  } else {
    const __m256i m = eam_mask8(valid);
    if (g->flags & EAM_EPI_BIAS) v = _mm256_add_ps(v, _mm256_maskload_ps(g->bias + col, m));
    if (g->flags & EAM_EPI_GELU) v = eam_gelu8(v);
    if (g->flags & EAM_EPI_ACCUMULATE) v = _mm256_add_ps(v, _mm256_maskload_ps(c, m));
    _mm256_maskstore_ps(c, m, v);
  }
}

T static inline __m256i broadcast4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

T static inline void store_rows(const eam_s8_gemm *g, int m, int mr, int p, __m256i acc[R][2]) {
  const int col = p * EAM_PANEL, valid = g->n1 - col;
  for (int i = 0; i < mr; i++) {
    float *c = g->Y + (size_t)(m + i) * g->ldy + col;
    store8(acc[i][0], g->row_zero[m + i], g->row_scale[m + i], g, c, col, valid);
    store8(acc[i][1], g->row_zero[m + i], g->row_scale[m + i], g, c + 8, col + 8, valid - 8);
  }
}

#define ROW_POINTERS                                                                                \
  const uint8_t *a[R];                                                                              \
  for (int i = 0; i < mr; i++) a[i] = g->q + (size_t)(m + i) * g->ldq;                             \
  const int8_t *w = g->packed + (size_t)p * g->groups * 64;                                         \
  __m256i acc[R][2];                                                                                \
  for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256()

#define INLINE static inline __attribute__((always_inline))

/* The AVX2 tile: R rows × 8 columns (half h of panel p). Codes widen to 16 bits in registers and
 * vpmaddwd sums pairs of products exactly in 32 bits (no saturation, so activation codes use all
 * of 0 .. 255). A 16-byte load of the panel holds 4 columns × 4 k; widened, its 32-bit lanes are
 * (column, k pair) = (c, 01), (c, 23), (c+1, 01), … and the row's 4 codes widened and repeated
 * match them. Each accumulator holds two partial sums per column, added once at the end. */
T INLINE void tile8_avx2(const eam_s8_gemm *g, int m, const int mr, int p, int h) {
  const uint8_t *a[R];
  for (int i = 0; i < mr; i++) a[i] = g->q + (size_t)(m + i) * g->ldq;
  const int8_t *w = g->packed + (size_t)p * g->groups * 64 + 32 * h;
  __m256i acc[R][2];
  for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  const __m256i zero = _mm256_setzero_si256();
  for (int k = 0; k < g->groups; k++) {
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + (size_t)k * 64)));
    const __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + (size_t)k * 64 + 16)));
    for (int i = 0; i < mr; i++) {
      const __m256i x = _mm256_unpacklo_epi8(broadcast4(a[i] + 4 * k), zero);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(x, b0));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(x, b1));
    }
  }
  const int col = p * EAM_PANEL + 8 * h;
  for (int i = 0; i < mr; i++) {
    /* hadd per 128-bit lane gives columns (0 1 4 5 | 2 3 6 7); the permute restores their order */
    const __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][0], acc[i][1]), 0xD8);
    store8(s, g->row_zero[m + i], g->row_scale[m + i], g, g->Y + (size_t)(m + i) * g->ldy + col, col, g->n1 - col);
  }
}

T INLINE void tile_avx2(const eam_s8_gemm *g, int m, const int mr, int p) {
  tile8_avx2(g, m, mr, p, 0);
  if (p * EAM_PANEL + 8 < g->n1) tile8_avx2(g, m, mr, p, 1);
}

TVNNI INLINE void tile_avxvnni(const eam_s8_gemm *g, int m, const int mr, int p) {
  ROW_POINTERS;
  for (int k = 0; k < g->groups; k++) {
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(w + (size_t)k * 64));
    const __m256i b1 = _mm256_loadu_si256((const __m256i *)(w + (size_t)k * 64 + 32));
    for (int i = 0; i < mr; i++) {
      const __m256i x = broadcast4(a[i] + 4 * k);
      acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], x, b0);
      acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], x, b1);
    }
  }
  store_rows(g, m, mr, p, acc);
}

/* Every tile of the GEMM with `tile`, each short one by its own instance. */
#define TILES(tile)                                                                                \
  for (int p = g->n0 / EAM_PANEL; p * EAM_PANEL < g->n1; p++)                                      \
    for (int m = 0; m < g->M; m += R) {                                                            \
      switch (g->M - m < R ? g->M - m : R) {                                                       \
      case 1: tile(g, m, 1, p); break;                                                             \
      case 2: tile(g, m, 2, p); break;                                                             \
      case 3: tile(g, m, 3, p); break;                                                             \
      case 4: tile(g, m, 4, p); break;                                                             \
      case 5: tile(g, m, 5, p); break;                                                             \
      default: tile(g, m, R, p);                                                                   \
      }                                                                                            \
    }

T void eam_gemm_s8_avx2(const eam_s8_gemm *g) { TILES(tile_avx2) }

TVNNI void eam_gemm_s8_avxvnni(const eam_s8_gemm *g) { TILES(tile_avxvnni) }
#endif
