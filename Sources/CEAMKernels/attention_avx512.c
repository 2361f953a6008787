/* The fused attention's AVX-512 pieces: query tiles of 64 lanes (four zmm per key row; a last
 * short tile takes two or one), Q·Kᵀ in 6-key × 64-query register tiles, P·V in 6-query × 64-dim
 * tiles over sub-blocks of 48 keys. Every function carries the target attribute; each piece is
 * written once for NB zmm per key row and instantiated for NB = 4, 2 and 1. */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "attention_internal.h"
#include "vecmath.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define T __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define INLINE static inline __attribute__((always_inline))

#define RK 6 /* keys per Q·Kᵀ register tile */

/* The frozen lanes of query block v in a key row's mask. */
INLINE __mmask16 frozen16(uint64_t fz, int v) { return (__mmask16)(fz >> (16 * v)); }

/* Lanes per key row of a tile of NB zmm: the pieces below take NB as a constant argument. */
#define BQ (16 * NB)
#define NB_MAX 4 /* array bounds: constants, so that the arrays live in registers */

/* Qᵀ by gathers, a dim of 16 queries at a time (queries past nq: zeros). */
T INLINE void pack_q(const int NB, int nq, int hd, const float *Q, int ldq, float *qt) {
  if (ldq > INT32_MAX / 16) { /* offsets past the gather's int32 */
    for (int l = 0; l < BQ; l++)
      for (int d = 0; d < hd; d++) qt[d * BQ + l] = l < nq ? Q[(size_t)l * ldq + d] : 0.0f;
    return;
  }
  const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(ldq));
  for (int v = 0; v < NB; v++) {
    const int left = nq - 16 * v;
    const __mmask16 valid = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    const float *q = Q + (size_t)(valid ? 16 * v : 0) * ldq;
    for (int d = 0; d < hd; d++)
      _mm512_storeu_ps(qt + d * BQ + 16 * v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, idx, q + d, 4));
  }
}

/* Keys [0, mr) (mr ≤ RK) × the tile's queries; keys past mr repeat key 0 and are not stored.
 * The products and their order are those of avx512.c's GEMM tile: the scores are the same. */
T INLINE void scores_tile(const int NB, int mr, int hd, float scale, const float *K, int ldk, const float *qt, float *strip) {
  const float *k[RK];
  for (int r = 0; r < RK; r++) k[r] = K + (size_t)(r < mr ? r : 0) * ldk;
  __m512 acc[RK][NB_MAX];
  for (int r = 0; r < RK; r++)
    for (int v = 0; v < NB; v++) acc[r][v] = _mm512_setzero_ps();
  for (int d = 0; d < hd; d++) {
    __m512 b[NB_MAX];
    for (int v = 0; v < NB; v++) b[v] = _mm512_loadu_ps(qt + d * BQ + 16 * v);
    for (int r = 0; r < RK; r++) {
      const __m512 x = _mm512_set1_ps(k[r][d]);
      for (int v = 0; v < NB; v++) acc[r][v] = _mm512_fmadd_ps(x, b[v], acc[r][v]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < NB; v++) _mm512_storeu_ps(strip + r * BQ + 16 * v, _mm512_mul_ps(acc[r][v], s));
}

T INLINE void scores(const int NB, int nk, int hd, float scale, const float *K, int ldk, const float *qt, float *strip,
                     const uint64_t *fz, uint64_t dead) {
  for (int j = 0; j < nk; j += RK) {
    const int mr = nk - j < RK ? nk - j : RK;
    if (fz) {
      int all = 1;
      for (int r = 0; r < mr; r++) all &= eam_attn_all_frozen(fz[j + r], dead, BQ);
      if (all) continue;
    }
    for (int r = 0; r < RK && j + RK + r < nk; r++)
      for (int d = 0; d < hd; d += 16) _mm_prefetch((const char *)(K + (size_t)(j + RK + r) * ldk + d), _MM_HINT_T0);
    if (mr == RK) scores_tile(NB, RK, hd, scale, K + (size_t)j * ldk, ldk, qt, strip + j * BQ);
    else scores_tile(NB, mr, hd, scale, K + (size_t)j * ldk, ldk, qt, strip + j * BQ);
  }
}

/* The bias, transposed by gathers: a key's 16 queries at a time. */
T INLINE void add_bias(const int NB, int nk, int nq, const float *bias, int ldb, float *strip) {
  if (ldb > INT32_MAX / 16) { /* offsets past the gather's int32 */
    for (int l = 0; l < nq; l++)
      for (int j = 0; j < nk; j++) strip[j * BQ + l] += bias[(size_t)l * ldb + j];
    return;
  }
  const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(ldb));
  for (int v = 0; v < NB; v++) {
    const int left = nq - 16 * v;
    if (left <= 0) break;
    const __mmask16 valid = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    const float *b = bias + (size_t)(16 * v) * ldb;
    for (int j = 0; j < nk; j++) {
      float *s = strip + j * BQ + 16 * v;
      _mm512_storeu_ps(s, _mm512_add_ps(_mm512_loadu_ps(s), _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, idx, b + j, 4)));
    }
  }
}

T INLINE void rowmax(const int NB, int nk, const float *strip, const uint64_t *fz, float *cmax) {
  __m512 m[NB_MAX];
  for (int v = 0; v < NB; v++) m[v] = _mm512_loadu_ps(cmax + 16 * v);
  for (int j = 0; j < nk; j++)
    for (int v = 0; v < NB; v++) {
      const __m512 x = _mm512_loadu_ps(strip + j * BQ + 16 * v);
      m[v] = fz ? _mm512_mask_max_ps(m[v], (__mmask16)~frozen16(fz[j], v), m[v], x) : _mm512_max_ps(m[v], x);
    }
  for (int v = 0; v < NB; v++) _mm512_storeu_ps(cmax + 16 * v, m[v]);
}

T INLINE void exps(const int NB, int nk, float *strip, const uint64_t *fz, uint64_t dead, const float *mx, float *sum) {
  __m512 m[NB_MAX], s[NB_MAX];
  for (int v = 0; v < NB; v++) {
    m[v] = _mm512_loadu_ps(mx + 16 * v);
    s[v] = _mm512_loadu_ps(sum + 16 * v);
  }
  for (int j = 0; j < nk; j++) {
    float *row = strip + j * BQ;
    if (fz && eam_attn_all_frozen(fz[j], dead, BQ)) { /* its scores were not computed */
      for (int v = 0; v < NB; v++) _mm512_storeu_ps(row + 16 * v, _mm512_setzero_ps());
      continue;
    }
    for (int v = 0; v < NB; v++) {
      const __m512 x = _mm512_sub_ps(_mm512_loadu_ps(row + 16 * v), m[v]), low = _mm512_set1_ps(EAM_ATTN_EXP_MIN);
      __mmask16 keep = _mm512_cmp_ps_mask(x, low, _CMP_GE_OQ);
      if (fz) keep &= (__mmask16)~frozen16(fz[j], v);
      const __m512 e = _mm512_maskz_mov_ps(keep, eam_exp16_scalef(_mm512_max_ps(x, low)));
      _mm512_storeu_ps(row + 16 * v, e);
      s[v] = _mm512_add_ps(s[v], e);
    }
  }
  for (int v = 0; v < NB; v++) _mm512_storeu_ps(sum + 16 * v, s[v]);
}

/* An entry's 16 codes of W bits (2W bytes), one per lane. */
T INLINE __m512i codes16(const int W, const uint8_t *entry) {
  if (W == 8) return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)entry));
  uint64_t u = 0;
  memcpy(&u, entry, 2 * W);
  const __m512i lo = _mm512_set1_epi32((int)(uint32_t)u), hi = _mm512_set1_epi32((int)(uint32_t)(u >> 32));
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i shift = _mm512_and_si512(_mm512_mullo_epi32(lane, _mm512_set1_epi32(W)), _mm512_set1_epi32(31));
  const __m512i x = W == 4 ? _mm512_mask_blend_epi32((__mmask16)0xFF00, lo, hi) : lo; /* lane r: bit 4r */
  return _mm512_and_si512(_mm512_srlv_epi32(x, shift), _mm512_set1_epi32((1 << W) - 1));
}

/* An entry: 16 codes to floats (times the scales), stored on the lanes whose code is not 0. */
T INLINE void insert_w(const int NB, const int W, int blocks, const int32_t *first, const int32_t *count, int c0,
                       const int32_t *keys, const uint8_t *codes, float code_scale, const float *frozen_scale,
                       float *strip) {
  const __m512 cs = _mm512_set1_ps(code_scale);
  for (int v = 0; v < blocks && v < NB; v++) {
    const __m512 sf = _mm512_loadu_ps(frozen_scale + 16 * v);
    for (int e = first[v], end = first[v] + count[v]; e < end; e++) {
      const __m512i c = codes16(W, codes + (size_t)(2 * W) * e);
      const __m512 x = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c), cs), sf);
      _mm512_mask_storeu_ps(strip + (size_t)(keys[e] - c0) * BQ + 16 * v, _mm512_test_epi32_mask(c, c), x);
    }
  }
}

T INLINE void insert(const int NB, int blocks, const int32_t *first, const int32_t *count, int c0, const int32_t *keys,
                     const uint8_t *codes, int code_bits, float code_scale, const float *frozen_scale, float *strip) {
  switch (eam_attn_code_width(code_bits)) {
  case 1: insert_w(NB, 1, blocks, first, count, c0, keys, codes, code_scale, frozen_scale, strip); break;
  case 2: insert_w(NB, 2, blocks, first, count, c0, keys, codes, code_scale, frozen_scale, strip); break;
  case 4: insert_w(NB, 4, blocks, first, count, c0, keys, codes, code_scale, frozen_scale, strip); break;
  default: insert_w(NB, 8, blocks, first, count, c0, keys, codes, code_scale, frozen_scale, strip); break;
  }
}

/* Queries [r0, r0 + mr) (mr ≤ R) × dims [d0, d0 + nd) (nd ≤ 16·NV) over the keys of runs [i0, i1)
 * clipped to [j0, j1): out = acc (partial sums between key sub-blocks; the first starts from
 * b·out or 0, the last multiplies by a). Queries past mr repeat query r0 and are not stored. */
T INLINE void pv_tile(const int NB, const int R, const int NV, int mr, int nd, const float *strip, int r0, const int32_t *runs,
                      int i0, int i1, int j0, int j1, int first, int last, const float *V, int ldv, int d0, float *out,
                      int ldo, const float *a, const float *b, int prefetch) {
  const __mmask16 tail = (__mmask16)(nd - 16 * (NV - 1) >= 16 ? 0xFFFF : (1u << (nd - 16 * (NV - 1))) - 1);
  const float *p[12];
  for (int r = 0; r < R; r++) p[r] = strip + r0 + (r < mr ? r : 0);
  __m512 acc[12][4];
  for (int r = 0; r < R; r++) {
    const float *o = out + (size_t)(r0 + (r < mr ? r : 0)) * ldo + d0;
    for (int k = 0; k < NV; k++) {
      const __mmask16 m = k == NV - 1 ? tail : (__mmask16)0xFFFF;
      acc[r][k] = !first ? _mm512_maskz_loadu_ps(m, o + 16 * k)
                  : b    ? _mm512_mul_ps(_mm512_set1_ps(b[r0 + r]), _mm512_maskz_loadu_ps(m, o + 16 * k))
                         : _mm512_setzero_ps();
    }
  }
  for (int i = i0; i < i1; i++) {
    const int ja = runs[2 * i] > j0 ? runs[2 * i] : j0, jb = runs[2 * i + 1] < j1 ? runs[2 * i + 1] : j1;
    for (int j = ja; j < jb; j++) {
      const float *vj = V + (size_t)j * ldv + d0;
      if (prefetch)
        for (int k = 0; k < NV; k++) _mm_prefetch((const char *)(vj + 8 * (size_t)ldv + 16 * k), _MM_HINT_T0);
      __m512 x[4];
      for (int k = 0; k < NV - 1; k++) x[k] = _mm512_loadu_ps(vj + 16 * k);
      x[NV - 1] = _mm512_maskz_loadu_ps(tail, vj + 16 * (NV - 1));
      for (int r = 0; r < R; r++) {
        const __m512 pj = _mm512_set1_ps(p[r][j * BQ]);
        for (int k = 0; k < NV; k++) acc[r][k] = _mm512_fmadd_ps(pj, x[k], acc[r][k]);
      }
    }
  }
  for (int r = 0; r < mr; r++) {
    float *o = out + (size_t)(r0 + r) * ldo + d0;
    const __m512 ar = _mm512_set1_ps(last && a ? a[r0 + r] : 1.0f);
    for (int k = 0; k < NV; k++)
      _mm512_mask_storeu_ps(o + 16 * k, k == NV - 1 ? tail : (__mmask16)0xFFFF, _mm512_mul_ps(acc[r][k], ar));
  }
}

/* Keys per P·V sub-block: their rows of V stay in L1 for all the tile's queries. */
#define KSUB 48

/* Query rows per P·V tile for NV vectors of dims: about 24 accumulators. */
#define PV(R, NV)                                                                                            \
  for (int r0 = 0; r0 < nq; r0 += R)                                                                         \
    pv_tile(NB, R, NV, nq - r0 < R ? nq - r0 : R, nd, strip, r0, runs, i0, i1, j0, j1, first, last, V, ldv, d0, out, \
            ldo, a, b, r0 == 0)

/* a and b are not both given (the driver scales either the result or what it adds to). */
T INLINE void pv(const int NB, int nq, int hd, const float *strip, const int32_t *runs, int nruns, const float *V, int ldv,
                 float *out, int ldo, const float *a, const float *b) {
  const int end = nruns > 0 ? runs[2 * nruns - 1] : 0;
  int i0 = 0;
  for (int j0 = 0;; j0 += KSUB) {
    const int j1 = j0 + KSUB, first = j0 == 0, last = j1 >= end;
    while (i0 < nruns && runs[2 * i0 + 1] <= j0) i0++;
    int i1 = i0;
    while (i1 < nruns && runs[2 * i1] < j1) i1++;
    for (int d0 = 0; d0 < hd; d0 += 64) {
      const int nd = hd - d0 < 64 ? hd - d0 : 64;
      switch ((nd + 15) / 16) {
      case 4: PV(6, 4); break;
      case 3: PV(8, 3); break;
      case 2: PV(12, 2); break;
      default: PV(12, 1); break;
      }
    }
    if (last) break;
  }
}

/* The instances for NB zmm per key row: tiles of 64 queries, and of 32 or 16 for a last short tile. */
#define INSTANCES(NB)                                                                                         \
  T static void pack_q##NB(int nq, int hd, const float *Q, int ldq, float *qt) {                               \
    pack_q(NB, nq, hd, Q, ldq, qt);                                                                           \
  }                                                                                                           \
  T static void scores##NB(int nk, int hd, float scale, const float *K, int ldk, const float *qt, float *strip, \
                           const uint64_t *fz, uint64_t dead) {                                               \
    scores(NB, nk, hd, scale, K, ldk, qt, strip, fz, dead);                                                   \
  }                                                                                                           \
  T static void add_bias##NB(int nk, int nq, const float *bias, int ldb, float *strip) {                        \
    add_bias(NB, nk, nq, bias, ldb, strip);                                                                   \
  }                                                                                                           \
  T static void rowmax##NB(int nk, const float *strip, const uint64_t *fz, float *cmax) {                     \
    rowmax(NB, nk, strip, fz, cmax);                                                                          \
  }                                                                                                           \
  T static void exps##NB(int nk, float *strip, const uint64_t *fz, uint64_t dead, const float *m, float *sum) { \
    exps(NB, nk, strip, fz, dead, m, sum);                                                                    \
  }                                                                                                           \
  T static void insert##NB(int blocks, const int32_t *first, const int32_t *count, int c0, const int32_t *keys,  \
                           const uint8_t *codes, int code_bits, float code_scale, const float *frozen_scale,     \
                           float *strip) {                                                                    \
    insert(NB, blocks, first, count, c0, keys, codes, code_bits, code_scale, frozen_scale, strip);            \
  }                                                                                                           \
  T static void pv##NB(int nq, int hd, const float *strip, const int32_t *runs, int nruns, const float *V,     \
                       int ldv, float *out, int ldo, const float *a, const float *b) {                        \
    pv(NB, nq, hd, strip, runs, nruns, V, ldv, out, ldo, a, b);                                               \
  }
INSTANCES(1)
INSTANCES(2)
INSTANCES(4)

static const eam_attention_ops ops16 = {16, pack_q1, scores1, add_bias1, rowmax1, exps1, insert1, pv1, NULL};
static const eam_attention_ops ops32 = {32, pack_q2, scores2, add_bias2, rowmax2, exps2, insert2, pv2, &ops16};
const eam_attention_ops eam_attention_avx512_ops = {64, pack_q4, scores4, add_bias4, rowmax4, exps4, insert4, pv4, &ops32};
#endif
