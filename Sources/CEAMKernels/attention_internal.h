/* The fused attention's pieces that differ by variant (not part of the public interface).
 *
 * The driver (attention.c) walks query tiles of `bq` queries and, within a tile, key blocks of
 * nk keys. A block's scores live in a strip, key-major: strip[j·bq + l] is key j, query lane l.
 * Per key, fz[j] (NULL when nothing in the block is frozen) has bit l set when entry (lane l, key
 * j) is frozen, for every lane of a token (past the tile's last query too: the values of those
 * entries are in the layout); `dead` has the bits of lanes past the last query of the tile.
 * A key row is "all frozen" when (fz[j] | dead) covers all bq lanes. Per-lane state (max, sum,
 * scale) is bq floats. */
#ifndef EAM_ATTENTION_INTERNAL_H
#define EAM_ATTENTION_INTERNAL_H
#include "eam_attention.h"
#include "eam_frozen.h"

/* Largest query tile of any variant: sizes the scratch and the lane masks (uint64_t). */
#define EAM_ATTN_BQ_MAX 64

typedef struct eam_attention_ops {
  int bq; /* query lanes per tile: a multiple of EAM_ATTN_QBLOCK, at most EAM_ATTN_BQ_MAX */
  /* qt[d·bq + l] = Q[l][d] for queries l < nq, 0 for the other lanes (Qᵀ of the tile). */
  void (*pack_q)(int nq, int hd, const float *Q, int ldq, float *qt);
  /* strip[j·bq + l] = scale · K[j]·qt[·][l] for keys j < nk (qt: hd rows of bq lanes), except
   * on key rows that are all frozen (left as they are). */
  void (*scores)(int nk, int hd, float scale, const float *K, int ldk, const float *qt, float *strip,
                 const uint64_t *fz, uint64_t dead);
  /* strip[j·bq + l] += bias[l·ldb + j] for keys j < nk and queries l < nq. */
  void (*add_bias)(int nk, int nq, const float *bias, int ldb, float *strip);
  /* cmax[l] = max(cmax[l], strip[j·bq + l]) over keys j < nk whose entry is free. */
  void (*rowmax)(int nk, const float *strip, const uint64_t *fz, float *cmax);
  /* strip = exp(strip − m[l]) on free entries, 0 on frozen ones (key rows all frozen: zeros,
   * their scores are not read); sum[l] += the lane's sum. */
  void (*exp)(int nk, float *strip, const uint64_t *fz, uint64_t dead, const float *m, float *sum);
  /* Puts frozen values into the strip: for query block b of the tile (b < blocks), entries
   * [first[b], first[b] + count[b]) of the layout (eam_attention_frozen) set, on key row
   * keys[e] − c0, lane 16b + r to entry e's code r (eam_attn_code) · code_scale ·
   * frozen_scale[16b + r] where that code is not 0. Other lanes are left as they are. code_bits
   * is 1, 2, 4 or 8 (eam_attn_code_width). */
  void (*insert)(int blocks, const int32_t *first, const int32_t *count, int c0, const int32_t *keys,
                 const uint8_t *codes, int code_bits, float code_scale, const float *frozen_scale, float *strip);
  /* out[r][d] = a[r] · Σ_j strip[j·bq + r] · V[j][d] (+ b[r] · out[r][d]) for r < nq, d < hd,
   * keys j in the runs; a NULL means 1, b NULL adds nothing (out is not read); not both given. */
  void (*pv)(int nq, int hd, const float *strip, const int32_t *runs, int nruns, const float *V, int ldv,
             float *out, int ldo, const float *a, const float *b);
  /* If not NULL: narrower pieces, for a tile of at most their bq queries. */
  const struct eam_attention_ops *narrow;
} eam_attention_ops;

extern const eam_attention_ops eam_attention_scalar_ops;
extern const eam_attention_ops eam_attention_avx2_ops;
extern const eam_attention_ops eam_attention_avx512_ops;
extern const eam_attention_ops eam_attention_neon_ops;

/* Below this, exp(score − max) is taken as 0 (exp(−87) ≈ 1.6e-38, just above FLT_MIN): no
 * subnormal probabilities, which cost a microcode assist per operation (a Swin shift mask of −100
 * made the unfused softmax + P·V of a window 9× slower). */
#define EAM_ATTN_EXP_MIN (-87.0f)

/* Whether key row j is all frozen for the tile. */
static inline int eam_attn_all_frozen(uint64_t fz, uint64_t dead, int bq) {
  const uint64_t all = bq >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bq) - 1;
  return (fz | dead) == all;
}

/* The code width of the layout: 1, 2 or 4 as given, anything else 8. */
static inline int eam_attn_code_width(int code_bits) {
  return code_bits == 1 || code_bits == 2 || code_bits == 4 ? code_bits : 8;
}

/* Code r (0..15) of an entry whose 16 codes are w bits each (w: 1, 2, 4 or 8): bits
 * [r·w, r·w + w) of its 2w bytes, little-endian. */
static inline unsigned eam_attn_code(const uint8_t *entry, int w, int r) {
  const int bit = r * w;
  return (unsigned)(entry[bit >> 3] >> (bit & 7)) & ((1u << w) - 1);
}

#endif
