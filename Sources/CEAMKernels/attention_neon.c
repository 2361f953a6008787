/* The fused attention's pieces, NEON variant (aarch64): one query block (16 lanes, four
 * float32x4) per tile. Q·K takes 4 keys at a time (16 accumulators, each query lane a chain along
 * d), P·V 4 queries × 16 of d; exp as vecmath_neon.h. Packing Q, the bias and the frozen values'
 * insertion are the portable pieces (called through eam_attention_scalar_ops). Used when hd is a
 * multiple of 8, as the x86 pieces (attention.c). */
/* aarch64 only: the whole file (other targets compile it empty). */
#if defined(__aarch64__)
#include "attention_internal.h"
#include "vecmath_neon.h"
#include <math.h>

#define BQ 16

static void pack_q_neon(int nq, int hd, const float *Q, int ldq, float *qt) {
  eam_attention_scalar_ops.pack_q(nq, hd, Q, ldq, qt);
}

/* Keys j .. j+nj (nj ≤ 4): acc[i][c] lane l = Σ_d K[j+i][d] · qt[d][4c + l], d ascending. */
static inline void scores_keys(int nj, int hd, float scale, const float *K, int ldk, const float *qt, float *strip,
                               const uint64_t *fz, uint64_t dead, int j) {
  const float *k[4];
  for (int i = 0; i < 4; i++) k[i] = K + (size_t)(j + (i < nj ? i : 0)) * ldk;
  float32x4_t acc[4][4];
  for (int i = 0; i < 4; i++)
    for (int c = 0; c < 4; c++) acc[i][c] = vdupq_n_f32(0.0f);
  for (int d = 0; d < hd; d++) {
    const float32x4_t q0 = vld1q_f32(qt + d * BQ), q1 = vld1q_f32(qt + d * BQ + 4), q2 = vld1q_f32(qt + d * BQ + 8),
                      q3 = vld1q_f32(qt + d * BQ + 12);
    for (int i = 0; i < 4; i++) {
      const float x = k[i][d];
      acc[i][0] = vfmaq_n_f32(acc[i][0], q0, x);
      acc[i][1] = vfmaq_n_f32(acc[i][1], q1, x);
      acc[i][2] = vfmaq_n_f32(acc[i][2], q2, x);
      acc[i][3] = vfmaq_n_f32(acc[i][3], q3, x);
    }
  }
  for (int i = 0; i < nj; i++) {
    if (fz && eam_attn_all_frozen(fz[j + i], dead, BQ)) continue; /* left as it is */
    for (int c = 0; c < 4; c++) vst1q_f32(strip + (size_t)(j + i) * BQ + 4 * c, vmulq_n_f32(acc[i][c], scale));
  }
}

static void scores_neon(int nk, int hd, float scale, const float *K, int ldk, const float *qt, float *strip,
                        const uint64_t *fz, uint64_t dead) {
  for (int j = 0; j < nk; j += 4) {
    int nj = nk - j < 4 ? nk - j : 4;
    if (fz) { /* no work for a group of keys all frozen */
      int live = 0;
      for (int i = 0; i < nj; i++) live |= !eam_attn_all_frozen(fz[j + i], dead, BQ);
      if (!live) continue;
    }
    scores_keys(nj, hd, scale, K, ldk, qt, strip, fz, dead, j);
  }
}

static void add_bias_neon(int nk, int nq, const float *bias, int ldb, float *strip) {
  eam_attention_scalar_ops.add_bias(nk, nq, bias, ldb, strip);
}

/* All ones in lane l of quad c where bit 4c + l of w is set. */
static inline uint32x4_t lanes_of(uint64_t w, int c) {
  return vtstq_u32(vdupq_n_u32((uint32_t)(w >> (4 * c))), (uint32x4_t){1, 2, 4, 8});
}

static void rowmax_neon(int nk, const float *strip, const uint64_t *fz, float *cmax) {
  const float32x4_t ninf = vdupq_n_f32(-INFINITY);
  float32x4_t m[4];
  for (int c = 0; c < 4; c++) m[c] = vld1q_f32(cmax + 4 * c);
  for (int j = 0; j < nk; j++) {
    const uint64_t w = fz ? fz[j] : 0;
    for (int c = 0; c < 4; c++) {
      float32x4_t v = vld1q_f32(strip + (size_t)j * BQ + 4 * c);
      if (w) v = vbslq_f32(lanes_of(w, c), ninf, v);
      m[c] = eam_maxq(v, m[c]); /* v > cmax ? v : cmax */
    }
  }
  for (int c = 0; c < 4; c++) vst1q_f32(cmax + 4 * c, m[c]);
}

static void exp_neon(int nk, float *strip, const uint64_t *fz, uint64_t dead, const float *m, float *sum) {
  const float32x4_t zero = vdupq_n_f32(0.0f), lo = vdupq_n_f32(EAM_ATTN_EXP_MIN);
  float32x4_t vm[4], s[4];
  for (int c = 0; c < 4; c++) {
    vm[c] = vld1q_f32(m + 4 * c);
    s[c] = vld1q_f32(sum + 4 * c);
  }
  for (int j = 0; j < nk; j++) {
    const uint64_t w = fz ? fz[j] : 0;
    float *row = strip + (size_t)j * BQ;
    if (fz && eam_attn_all_frozen(w, dead, BQ)) { /* its scores were not computed */
      for (int c = 0; c < 4; c++) vst1q_f32(row + 4 * c, zero);
      continue;
    }
    for (int c = 0; c < 4; c++) {
      const float32x4_t x = vsubq_f32(vld1q_f32(row + 4 * c), vm[c]);
      float32x4_t e = vbslq_f32(vcgeq_f32(x, lo), eam_exp4(x), zero);
      if (w) e = vbslq_f32(lanes_of(w, c), zero, e);
      vst1q_f32(row + 4 * c, e);
      s[c] = vaddq_f32(s[c], e);
    }
  }
  for (int c = 0; c < 4; c++) vst1q_f32(sum + 4 * c, s[c]);
}

static void insert_neon(int blocks, const int32_t *first, const int32_t *count, int c0, const int32_t *keys,
                        const uint8_t *codes, int code_bits, float code_scale, const float *frozen_scale, float *strip) {
  eam_attention_scalar_ops.insert(blocks, first, count, c0, keys, codes, code_bits, code_scale, frozen_scale, strip);
}

/* out[r][d0 .. d0 + 4·nv) for queries r0 .. r0+nr (nr ≤ 4), nv ≤ 4 vectors: each element a chain
 * from b·out (or 0) along the keys of the runs, times a at its end. */
static inline void pv_tile(int r0, int nr, int d0, int nv, const float *strip, const int32_t *runs, int nruns,
                           const float *V, int ldv, float *out, int ldo, const float *a, const float *b) {
  float32x4_t acc[4][4];
  for (int i = 0; i < 4; i++)
    for (int c = 0; c < 4; c++)
      acc[i][c] = (b && i < nr && c < nv) ? vmulq_n_f32(vld1q_f32(out + (size_t)(r0 + i) * ldo + d0 + 4 * c), b[r0 + i])
                                          : vdupq_n_f32(0.0f);
  for (int t = 0; t < nruns; t++)
    for (int j = runs[2 * t]; j < runs[2 * t + 1]; j++) {
      const float *v = V + (size_t)j * ldv + d0;
      const float *p = strip + (size_t)j * BQ + r0;
      float32x4_t vv[4];
      for (int c = 0; c < 4; c++) vv[c] = c < nv ? vld1q_f32(v + 4 * c) : vdupq_n_f32(0.0f);
      for (int i = 0; i < 4; i++)
        for (int c = 0; c < 4; c++) acc[i][c] = vfmaq_n_f32(acc[i][c], vv[c], p[i]); /* fma(p, v, acc) */
    }
  for (int i = 0; i < nr; i++)
    for (int c = 0; c < nv; c++)
      vst1q_f32(out + (size_t)(r0 + i) * ldo + d0 + 4 * c, vmulq_n_f32(acc[i][c], a ? a[r0 + i] : 1.0f));
}

static void pv_neon(int nq, int hd, const float *strip, const int32_t *runs, int nruns, const float *V, int ldv,
                    float *out, int ldo, const float *a, const float *b) {
  for (int r0 = 0; r0 < nq; r0 += 4)
    for (int d0 = 0; d0 < hd; d0 += 16) {
      const int nv = (hd - d0 < 16 ? hd - d0 : 16) / 4; /* hd is a multiple of 8 */
      pv_tile(r0, nq - r0 < 4 ? nq - r0 : 4, d0, nv, strip, runs, nruns, V, ldv, out, ldo, a, b);
    }
}

const eam_attention_ops eam_attention_neon_ops = {BQ, pack_q_neon, scores_neon, add_bias_neon, rowmax_neon,
                                                  exp_neon, insert_neon, pv_neon, NULL};
#endif
