/* The NEON variant (aarch64): 4×16 GEMM tile (16 float32x4 accumulators, fmla by element),
 * vector exp/erf, reductions in canonical.h's 16 lanes (four float32x4). Kernels without a NEON
 * version here run the portable one (dispatch). */
/* aarch64 only: the whole file (other targets compile it empty). */
#if defined(__aarch64__)
#include "internal.h"
#include "vecmath_neon.h"
#include <math.h>

/* Rows [0, mr) (mr ≤ 4) × one 16-column panel over K values of k; rows past mr repeat row 0 and
 * are not stored. Each accumulator lane: one fmla per k, k ascending, from +0 (eam_gemm_scalar's
 * chain) or, unless `first`, from the tile's carried accumulators part ([4][16]); `last`: the
 * epilogue to C, else the accumulators back to part (the wide GEMMs' chunks of k). */
void eam_tile4x16_neon(int mr, int K, const float *A, int lda, const float *B, float *part, int first, int last,
                       float *C, int ldc, int col, int valid, const eam_epilogue *e) {
  const float *a0 = A, *a1 = A + (mr > 1 ? lda : 0), *a2 = A + (mr > 2 ? 2 * (size_t)lda : 0);
  const float *a3 = A + (mr > 3 ? 3 * (size_t)lda : 0);
  float32x4_t c[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) c[i][j] = first ? vdupq_n_f32(0.0f) : vld1q_f32(part + 16 * i + 4 * j);
#define STEP(x0, x1, x2, x3, L, b)                                                                   \
  do {                                                                                               \
    for (int j = 0; j < 4; j++) {                                                                    \
      const float32x4_t bj = vld1q_f32((b) + 4 * j);                                                 \
      c[0][j] = vfmaq_laneq_f32(c[0][j], bj, x0, L);                                                 \
      c[1][j] = vfmaq_laneq_f32(c[1][j], bj, x1, L);                                                 \
      c[2][j] = vfmaq_laneq_f32(c[2][j], bj, x2, L);                                                 \
      c[3][j] = vfmaq_laneq_f32(c[3][j], bj, x3, L);                                                 \
    }                                                                                                \
  } while (0)
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    const float32x4_t x0 = vld1q_f32(a0 + k), x1 = vld1q_f32(a1 + k), x2 = vld1q_f32(a2 + k), x3 = vld1q_f32(a3 + k);
    const float *b = B + (size_t)k * EAM_PANEL;
    STEP(x0, x1, x2, x3, 0, b);
    STEP(x0, x1, x2, x3, 1, b + EAM_PANEL);
    STEP(x0, x1, x2, x3, 2, b + 2 * EAM_PANEL);
    STEP(x0, x1, x2, x3, 3, b + 3 * EAM_PANEL);
  }
  for (; k < K; k++) {
    const float32x4_t x0 = vld1q_dup_f32(a0 + k), x1 = vld1q_dup_f32(a1 + k), x2 = vld1q_dup_f32(a2 + k),
                      x3 = vld1q_dup_f32(a3 + k);
    STEP(x0, x1, x2, x3, 0, B + (size_t)k * EAM_PANEL);
  }
#undef STEP
  if (!last) {
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) vst1q_f32(part + 16 * i + 4 * j, c[i][j]);
    return;
  }
  for (int i = 0; i < mr; i++) {
    float *ci = C + (size_t)i * ldc + col;
    for (int j = 0; j < 4; j++) eam_store4(c[i][j], ci + 4 * j, col + 4 * j, valid - 4 * j, e);
  }
}

void eam_gemm_neon(int M, int K, const float *A, int lda, const float *panels, float *C, int ldc, int n0, int n1,
                   const eam_epilogue *e) {
  for (int p = n0 / EAM_PANEL; p * EAM_PANEL < n1; p++) {
    const int col = p * EAM_PANEL;
    const int valid = n1 - col < EAM_PANEL ? n1 - col : EAM_PANEL;
    const float *B = panels + (size_t)p * K * EAM_PANEL;
    for (int m = 0; m < M; m += 4)
      eam_tile4x16_neon(M - m < 4 ? M - m : 4, K, A + (size_t)m * lda, lda, B, NULL, 1, 1, C + (size_t)m * ldc, ldc,
                        col, valid, e);
  }
}

/* The last n (< 4) floats of a row as a vector, the other lanes `fill` (no read past the row). */
static inline float32x4_t load_part(const float *x, int n, float fill) {
  float t[4] = {fill, fill, fill, fill};
  for (int i = 0; i < n; i++) t[i] = x[i];
  return vld1q_f32(t);
}

static inline void store_part(float *x, int n, float32x4_t v) {
  float t[4];
  vst1q_f32(t, v);
  for (int i = 0; i < n; i++) x[i] = t[i];
}

/* Element j of a row goes to lane j mod 16: vector j/4 of a 16-column block to partial (j/4) % 4. */
void eam_softmax_neon(float *x, int ld, int rows, int cols) {
  const float32x4_t ninf = vdupq_n_f32(-INFINITY), zero = vdupq_n_f32(0.0f);
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    float32x4_t m[4] = {ninf, ninf, ninf, ninf};
    int j = 0;
    for (; j + 4 <= cols; j += 4) m[(j >> 2) & 3] = eam_maxq(m[(j >> 2) & 3], vld1q_f32(row + j));
    if (j < cols) m[(j >> 2) & 3] = eam_maxq(m[(j >> 2) & 3], load_part(row + j, cols - j, -INFINITY));
    const float32x4_t vm = vdupq_n_f32(eam_hmax4x4(m[0], m[1], m[2], m[3]));
    float32x4_t s[4] = {zero, zero, zero, zero};
    for (j = 0; j + 4 <= cols; j += 4) {
      const float32x4_t ev = eam_exp4(vsubq_f32(vld1q_f32(row + j), vm));
      vst1q_f32(row + j, ev);
      s[(j >> 2) & 3] = vaddq_f32(s[(j >> 2) & 3], ev);
    }
    if (j < cols) {
      const uint32x4_t live = vcltq_u32((uint32x4_t){0, 1, 2, 3}, vdupq_n_u32((uint32_t)(cols - j)));
      const float32x4_t ev = vbslq_f32(live, eam_exp4(vsubq_f32(load_part(row + j, cols - j, 0.0f), vm)), zero);
      store_part(row + j, cols - j, ev);
      s[(j >> 2) & 3] = vaddq_f32(s[(j >> 2) & 3], ev);
    }
    const float32x4_t inv = vdupq_n_f32(1.0f / eam_hsum4x4(s[0], s[1], s[2], s[3]));
    for (j = 0; j + 4 <= cols; j += 4) vst1q_f32(row + j, vmulq_f32(vld1q_f32(row + j), inv));
    if (j < cols) store_part(row + j, cols - j, vmulq_f32(load_part(row + j, cols - j, 0.0f), inv));
  }
}

void eam_layernorm_neon(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                        const float *b, float eps) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ldx;
    float *yr = y + (size_t)r * ldy;
    float32x4_t s[4] = {zero, zero, zero, zero};
    int j = 0;
    for (; j + 4 <= dim; j += 4) s[(j >> 2) & 3] = vaddq_f32(s[(j >> 2) & 3], vld1q_f32(xr + j));
    if (j < dim) s[(j >> 2) & 3] = vaddq_f32(s[(j >> 2) & 3], load_part(xr + j, dim - j, 0.0f));
    const float mean = eam_hsum4x4(s[0], s[1], s[2], s[3]) / (float)dim;
    const float32x4_t vm = vdupq_n_f32(mean);
    for (int i = 0; i < 4; i++) s[i] = zero;
    for (j = 0; j + 4 <= dim; j += 4) {
      const float32x4_t d = vsubq_f32(vld1q_f32(xr + j), vm);
      s[(j >> 2) & 3] = vfmaq_f32(s[(j >> 2) & 3], d, d);
    }
    if (j < dim) { /* padding lanes: d = 0 (adds +0, as the portable variant adds nothing) */
      const uint32x4_t live = vcltq_u32((uint32x4_t){0, 1, 2, 3}, vdupq_n_u32((uint32_t)(dim - j)));
      const float32x4_t d = vbslq_f32(live, vsubq_f32(load_part(xr + j, dim - j, 0.0f), vm), zero);
      s[(j >> 2) & 3] = vfmaq_f32(s[(j >> 2) & 3], d, d);
    }
    const float inv = 1.0f / sqrtf(eam_hsum4x4(s[0], s[1], s[2], s[3]) / (float)dim + eps);
    const float32x4_t vi = vdupq_n_f32(inv);
    for (j = 0; j + 4 <= dim; j += 4) {
      const float32x4_t d = vmulq_f32(vsubq_f32(vld1q_f32(xr + j), vm), vi);
      vst1q_f32(yr + j, vfmaq_f32(vld1q_f32(b + j), d, vld1q_f32(g + j)));
    }
    if (j < dim) {
      const int n = dim - j;
      const float32x4_t d = vmulq_f32(vsubq_f32(load_part(xr + j, n, 0.0f), vm), vi);
      store_part(yr + j, n, vfmaq_f32(load_part(b + j, n, 0.0f), d, load_part(g + j, n, 0.0f)));
    }
  }
}

void eam_gelu_neon(float *x, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, eam_gelu4(vld1q_f32(x + i)));
  if (i < n) store_part(x + i, (int)(n - i), eam_gelu4(load_part(x + i, (int)(n - i), 0.0f)));
}

/* All ones in lane l of quad q where bit 4q + l of w is set. */
static inline uint32x4_t frozen_lanes(unsigned w, int q) {
  return vtstq_u32(vdupq_n_u32(w >> (4 * q)), (uint32x4_t){1, 2, 4, 8});
}

/* eam_softmax_frozen_scalar, 16 entries (one mask word) at a time: the max over free entries,
 * exp of every entry with frozen ones zeroed, the free mass spread, then the frozen values put in.
 * Entries past the row's end count as frozen (nothing read or written there). */
void eam_softmax_frozen_neon(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                             const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass) {
  const float32x4_t ninf = vdupq_n_f32(-INFINITY), zero = vdupq_n_f32(0.0f);
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    const uint16_t *bits = frozen + (size_t)r * frozen_ld;
    float32x4_t m[4] = {ninf, ninf, ninf, ninf};
    for (int j0 = 0; j0 < cols; j0 += 16) {
      const int n = cols - j0 < 16 ? cols - j0 : 16;
      const unsigned w = bits[j0 >> 4] | (n < 16 ? 0xFFFFu << n : 0u);
      for (int q = 0; q < 4 && 4 * q < n; q++) {
        const float *p = row + j0 + 4 * q;
        const float32x4_t v = n - 4 * q >= 4 ? vld1q_f32(p) : load_part(p, n - 4 * q, -INFINITY);
        m[q] = eam_maxq(m[q], vbslq_f32(frozen_lanes(w, q), ninf, v));
      }
    }
    const float max = eam_hmax4x4(m[0], m[1], m[2], m[3]);
    if (max == -INFINITY) { /* every entry frozen (or every free score −inf) */
      for (int j = 0; j < cols; j++) row[j] = 0.0f;
    } else {
      const float32x4_t vm = vdupq_n_f32(max);
      float32x4_t s[4] = {zero, zero, zero, zero};
      for (int j0 = 0; j0 < cols; j0 += 16) {
        const int n = cols - j0 < 16 ? cols - j0 : 16;
        const unsigned w = bits[j0 >> 4] | (n < 16 ? 0xFFFFu << n : 0u);
        for (int q = 0; q < 4 && 4 * q < n; q++) {
          float *p = row + j0 + 4 * q;
          const int full = n - 4 * q >= 4;
          const float32x4_t v = full ? vld1q_f32(p) : load_part(p, n - 4 * q, 0.0f);
          const float32x4_t ev = vbslq_f32(frozen_lanes(w, q), zero, eam_exp4(vsubq_f32(v, vm)));
          if (full) vst1q_f32(p, ev); else store_part(p, n - 4 * q, ev);
          s[q] = vaddq_f32(s[q], ev);
        }
      }
      const float32x4_t scale = vdupq_n_f32(free_mass[r] / eam_hsum4x4(s[0], s[1], s[2], s[3]));
      int j = 0;
      for (; j + 4 <= cols; j += 4) vst1q_f32(row + j, vmulq_f32(vld1q_f32(row + j), scale));
      if (j < cols) store_part(row + j, cols - j, vmulq_f32(load_part(row + j, cols - j, 0.0f), scale));
    }
    eam_put_frozen_codes(row, bits, cols, codes ? codes + (size_t)r * codes_ld : NULL, code_scale);
  }
}
#endif
