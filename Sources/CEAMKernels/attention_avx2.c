/* The fused attention's AVX2 + FMA pieces: query tiles of 16 lanes (two ymm per key row), Q·Kᵀ
 * in 6-key × 16-query register tiles, P·V in 6-query × 16-dim tiles. Every function carries
 * target("avx2,fma"). */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "attention_internal.h"
#include "vecmath.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define T __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

#define BQ 16       /* query lanes per tile */
#define NB (BQ / 8) /* ymm per key row */
#define RK 6        /* keys per Q·Kᵀ register tile */

/* lane_bits[b]: all ones in lane i where bit i of b is set. */
#define BIT(b, i) (((b) >> (i)) & 1)
#define LANES1(b) {-BIT(b, 0), -BIT(b, 1), -BIT(b, 2), -BIT(b, 3), -BIT(b, 4), -BIT(b, 5), -BIT(b, 6), -BIT(b, 7)}
#define LANES4(b) LANES1(b), LANES1(b + 1), LANES1(b + 2), LANES1(b + 3)
#define LANES16(b) LANES4(b), LANES4(b + 4), LANES4(b + 8), LANES4(b + 12)
#define LANES64(b) LANES16(b), LANES16(b + 16), LANES16(b + 32), LANES16(b + 48)
static const int32_t lane_bits[256][8] __attribute__((aligned(32))) = {LANES64(0), LANES64(64), LANES64(128),
                                                                        LANES64(192)};

/* Frozen lanes of the ymm v of a key row, as a bit set and as a lane mask. */
INLINE unsigned frozen8(uint64_t fz, int v) { return (unsigned)(fz >> (8 * v)) & 0xFFu; }
T INLINE __m256 lanes(unsigned bits) { return _mm256_load_ps((const float *)lane_bits[bits]); }

/* Qᵀ by gathers, a dim of 8 queries at a time (queries past nq: zeros). */
T static void pack_q(int nq, int hd, const float *Q, int ldq, float *qt) {
  if (ldq > INT32_MAX / 16) { /* offsets past the gather's int32 */
    for (int l = 0; l < BQ; l++)
      for (int d = 0; d < hd; d++) qt[d * BQ + l] = l < nq ? Q[(size_t)l * ldq + d] : 0.0f;
    return;
  }
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(ldq));
  for (int v = 0; v < NB; v++) {
    const int left = nq - 8 * v;
    const __m256 valid = lanes(left >= 8 ? 0xFFu : left <= 0 ? 0 : (1u << left) - 1);
    const float *q = Q + (size_t)(left > 0 ? 8 * v : 0) * ldq;
    for (int d = 0; d < hd; d++)
      _mm256_storeu_ps(qt + d * BQ + 8 * v, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), q + d, idx, valid, 4));
  }
}

/* Keys [0, mr) (mr ≤ RK) × the tile's 16 queries; keys past mr repeat key 0 and are not stored.
 * The products and their order are those of avx2.c's GEMM tile: the scores are the same. */
T INLINE void scores_tile(int mr, int hd, float scale, const float *K, int ldk, const float *qt, float *strip) {
  const float *k[RK];
  for (int r = 0; r < RK; r++) k[r] = K + (size_t)(r < mr ? r : 0) * ldk;
  __m256 acc[RK][NB];
  for (int r = 0; r < RK; r++)
    for (int v = 0; v < NB; v++) acc[r][v] = _mm256_setzero_ps();
  for (int d = 0; d < hd; d++) {
    __m256 b[NB];
    for (int v = 0; v < NB; v++) b[v] = _mm256_loadu_ps(qt + d * BQ + 8 * v);
    for (int r = 0; r < RK; r++) {
      const __m256 x = _mm256_broadcast_ss(k[r] + d);
      for (int v = 0; v < NB; v++) acc[r][v] = _mm256_fmadd_ps(x, b[v], acc[r][v]);
    }
  }
  const __m256 s = _mm256_set1_ps(scale);
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < NB; v++) _mm256_storeu_ps(strip + r * BQ + 8 * v, _mm256_mul_ps(acc[r][v], s));
}

T static void scores(int nk, int hd, float scale, const float *K, int ldk, const float *qt, float *strip,
                     const uint64_t *fz, uint64_t dead) {
  for (int j = 0; j < nk; j += RK) {
    const int mr = nk - j < RK ? nk - j : RK;
    if (fz) {
      int all = 1;
      for (int r = 0; r < mr; r++) all &= eam_attn_all_frozen(fz[j + r], dead, BQ);
      if (all) continue;
    }
    if (mr == RK) scores_tile(RK, hd, scale, K + (size_t)j * ldk, ldk, qt, strip + j * BQ);
    else scores_tile(mr, hd, scale, K + (size_t)j * ldk, ldk, qt, strip + j * BQ);
  }
}

/* The bias, transposed by gathers: a key's 8 queries at a time. */
T static void add_bias(int nk, int nq, const float *bias, int ldb, float *strip) {
  if (ldb > INT32_MAX / 16) { /* offsets past the gather's int32 */
    for (int l = 0; l < nq; l++)
      for (int j = 0; j < nk; j++) strip[j * BQ + l] += bias[(size_t)l * ldb + j];
    return;
  }
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(ldb));
  for (int v = 0; v < NB; v++) {
    const int left = nq - 8 * v;
    if (left <= 0) break;
    const __m256 valid = lanes(left >= 8 ? 0xFFu : (1u << left) - 1);
    const float *b = bias + (size_t)(8 * v) * ldb;
    for (int j = 0; j < nk; j++) {
      float *s = strip + j * BQ + 8 * v;
      _mm256_storeu_ps(s, _mm256_add_ps(_mm256_loadu_ps(s), _mm256_mask_i32gather_ps(_mm256_setzero_ps(), b + j, idx, valid, 4)));
    }
  }
}

T static void rowmax(int nk, const float *strip, const uint64_t *fz, float *cmax) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 m[NB];
  for (int v = 0; v < NB; v++) m[v] = _mm256_loadu_ps(cmax + 8 * v);
  for (int j = 0; j < nk; j++)
    for (int v = 0; v < NB; v++) {
      __m256 x = _mm256_loadu_ps(strip + j * BQ + 8 * v);
      if (fz) x = _mm256_blendv_ps(x, ninf, lanes(frozen8(fz[j], v)));
      m[v] = _mm256_max_ps(m[v], x);
    }
  for (int v = 0; v < NB; v++) _mm256_storeu_ps(cmax + 8 * v, m[v]);
}

T static void exps(int nk, float *strip, const uint64_t *fz, uint64_t dead, const float *mx, float *sum) {
  __m256 m[NB], s[NB];
  for (int v = 0; v < NB; v++) {
    m[v] = _mm256_loadu_ps(mx + 8 * v);
    s[v] = _mm256_loadu_ps(sum + 8 * v);
  }
  for (int j = 0; j < nk; j++) {
    float *row = strip + j * BQ;
    if (fz && eam_attn_all_frozen(fz[j], dead, BQ)) { /* its scores were not computed */
      for (int v = 0; v < NB; v++) _mm256_storeu_ps(row + 8 * v, _mm256_setzero_ps());
      continue;
    }
    for (int v = 0; v < NB; v++) {
      const __m256 x = _mm256_sub_ps(_mm256_loadu_ps(row + 8 * v), m[v]), low = _mm256_set1_ps(EAM_ATTN_EXP_MIN);
      __m256 e = _mm256_and_ps(_mm256_cmp_ps(x, low, _CMP_GE_OQ), eam_exp8(_mm256_max_ps(x, low)));
      if (fz) e = _mm256_andnot_ps(lanes(frozen8(fz[j], v)), e);
      _mm256_storeu_ps(row + 8 * v, e);
      s[v] = _mm256_add_ps(s[v], e);
    }
  }
  for (int v = 0; v < NB; v++) _mm256_storeu_ps(sum + 8 * v, s[v]);
}

/* Codes 8v .. 8v + 7 of an entry of 16 codes of W bits (2W bytes), one per lane. */
T INLINE __m256i codes8(const int W, const uint8_t *entry, int v) {
  if (W == 8) return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(entry + 8 * v)));
  uint64_t u = 0;
  memcpy(&u, entry, 2 * W);
  const __m256i x = _mm256_set1_epi32((int)(uint32_t)(u >> (8 * W * v))); /* codes 8v.. from bit 0 */
  const __m256i shift = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(W));
  return _mm256_and_si256(_mm256_srlv_epi32(x, shift), _mm256_set1_epi32((1 << W) - 1));
}

T INLINE void insert_w(const int W, int first, int count, int c0, const int32_t *keys, const uint8_t *codes,
                       float code_scale, const float *frozen_scale, float *strip) {
  const __m256 cs = _mm256_set1_ps(code_scale);
  __m256 sf[NB];
  for (int v = 0; v < NB; v++) sf[v] = _mm256_loadu_ps(frozen_scale + 8 * v);
  for (int e = first; e < first + count; e++) {
    float *row = strip + (size_t)(keys[e] - c0) * BQ;
    for (int v = 0; v < NB; v++) {
      const __m256i c = codes8(W, codes + (size_t)(2 * W) * e, v);
      const __m256 x = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(c), cs), sf[v]);
      _mm256_maskstore_ps(row + 8 * v, _mm256_cmpgt_epi32(c, _mm256_setzero_si256()), x);
    }
  }
}

/* An entry: 16 codes to floats (times the scales), stored on the lanes whose code is not 0. */
T static void insert(int blocks, const int32_t *first, const int32_t *count, int c0, const int32_t *keys,
                     const uint8_t *codes, int code_bits, float code_scale, const float *frozen_scale, float *strip) {
  (void)blocks; /* one query block per tile */
  switch (eam_attn_code_width(code_bits)) {
  case 1: insert_w(1, first[0], count[0], c0, keys, codes, code_scale, frozen_scale, strip); break;
  case 2: insert_w(2, first[0], count[0], c0, keys, codes, code_scale, frozen_scale, strip); break;
  case 4: insert_w(4, first[0], count[0], c0, keys, codes, code_scale, frozen_scale, strip); break;
  default: insert_w(8, first[0], count[0], c0, keys, codes, code_scale, frozen_scale, strip); break;
  }
}

/* Queries [r0, r0 + mr) (mr ≤ R) × dims [d0, d0 + nd) (nd ≤ 8·NV) over the keys of runs [i0, i1)
 * clipped to [j0, j1): out = acc (partial sums between key sub-blocks; the first starts from
 * b·out or 0, the last multiplies by a). Queries past mr repeat query r0 and are not stored. */
T INLINE void pv_tile(const int R, const int NV, int mr, int nd, const float *strip, int r0, const int32_t *runs,
                      int i0, int i1, int j0, int j1, int first, int last, const float *V, int ldv, int d0, float *out,
                      int ldo, const float *a, const float *b) {
  const int left = nd - 8 * (NV - 1);
  const __m256i tail = _mm256_castps_si256(lanes(left >= 8 ? 0xFFu : (1u << left) - 1));
  const float *p[12];
  for (int r = 0; r < R; r++) p[r] = strip + r0 + (r < mr ? r : 0);
  __m256 acc[12][2];
  for (int r = 0; r < R; r++) {
    const float *o = out + (size_t)(r0 + (r < mr ? r : 0)) * ldo + d0;
    for (int k = 0; k < NV; k++) {
      const __m256 old = k < NV - 1 || left >= 8 ? _mm256_loadu_ps(o + 8 * k) : _mm256_maskload_ps(o + 8 * k, tail);
      acc[r][k] = !first ? old : b ? _mm256_mul_ps(_mm256_set1_ps(b[r0 + r]), old) : _mm256_setzero_ps();
    }
  }
  for (int i = i0; i < i1; i++) {
    const int ja = runs[2 * i] > j0 ? runs[2 * i] : j0, jb = runs[2 * i + 1] < j1 ? runs[2 * i + 1] : j1;
    for (int j = ja; j < jb; j++) {
      const float *vj = V + (size_t)j * ldv + d0;
      __m256 x[2];
      for (int k = 0; k < NV - 1; k++) x[k] = _mm256_loadu_ps(vj + 8 * k);
      x[NV - 1] = left >= 8 ? _mm256_loadu_ps(vj + 8 * (NV - 1)) : _mm256_maskload_ps(vj + 8 * (NV - 1), tail);
      for (int r = 0; r < R; r++) {
        const __m256 pj = _mm256_broadcast_ss(p[r] + j * BQ);
        for (int k = 0; k < NV; k++) acc[r][k] = _mm256_fmadd_ps(pj, x[k], acc[r][k]);
      }
    }
  }
  for (int r = 0; r < mr; r++) {
    float *o = out + (size_t)(r0 + r) * ldo + d0;
    const __m256 ar = _mm256_set1_ps(last && a ? a[r0 + r] : 1.0f);
    for (int k = 0; k < NV; k++) {
      const __m256 y = _mm256_mul_ps(acc[r][k], ar);
      if (k < NV - 1 || left >= 8) _mm256_storeu_ps(o + 8 * k, y);
      else _mm256_maskstore_ps(o + 8 * k, tail, y);
    }
  }
}

/* Keys per P·V sub-block: their rows of V (and their pages) stay close for all the tile's queries. */
#define KSUB 48

/* a and b are not both given (the driver scales either the result or what it adds to). */
T static void pv(int nq, int hd, const float *strip, const int32_t *runs, int nruns, const float *V, int ldv,
                 float *out, int ldo, const float *a, const float *b) {
  const int end = nruns > 0 ? runs[2 * nruns - 1] : 0;
  int i0 = 0;
  for (int j0 = 0;; j0 += KSUB) {
    const int j1 = j0 + KSUB, first = j0 == 0, last = j1 >= end;
    while (i0 < nruns && runs[2 * i0 + 1] <= j0) i0++;
    int i1 = i0;
    while (i1 < nruns && runs[2 * i1] < j1) i1++;
    for (int d0 = 0; d0 < hd; d0 += 16) {
      const int nd = hd - d0 < 16 ? hd - d0 : 16;
      if (nd > 8) {
        for (int r0 = 0; r0 < nq; r0 += 6)
          pv_tile(6, 2, nq - r0 < 6 ? nq - r0 : 6, nd, strip, r0, runs, i0, i1, j0, j1, first, last, V, ldv, d0, out,
                  ldo, a, b);
      } else {
        for (int r0 = 0; r0 < nq; r0 += 12)
          pv_tile(12, 1, nq - r0 < 12 ? nq - r0 : 12, nd, strip, r0, runs, i0, i1, j0, j1, first, last, V, ldv, d0,
                  out, ldo, a, b);
      }
    }
    if (last) break;
  }
}

const eam_attention_ops eam_attention_avx2_ops = {BQ, pack_q, scores, add_bias, rowmax, exps, insert, pv, NULL};
#endif
