/* Fused attention: the driver that walks query tiles and key blocks (shared by every variant),
 * the portable variant of its pieces (plain C, canonical.h's fmaf and exp: the vector pieces give
 * its bits), the scratch size and the frozen-layout conversion. Every score, sum and output
 * element of a query is a chain along d or along the keys, in ascending order, the same in every
 * variant whatever its tile sizes. */
#include "attention_internal.h"
#include "eam_kernels.h"
#include "canonical.h"
#include <string.h>

/* ---- Portable pieces: one query block (16 lanes) per tile ----------------------------------- */

#define BQS 16

static void pack_q_scalar(int nq, int hd, const float *Q, int ldq, float *qt) {
  for (int l = 0; l < BQS; l++) {
    const float *q = Q + (size_t)l * ldq;
    if (l < nq) for (int d = 0; d < hd; d++) qt[d * BQS + l] = q[d];
    else for (int d = 0; d < hd; d++) qt[d * BQS + l] = 0.0f;
  }
}

EAM_PORTABLE(static, scores_scalar, (int nk, int hd, float scale, const float *K, int ldk, const float *qt,
                                    float *strip, const uint64_t *fz, uint64_t dead),
             (nk, hd, scale, K, ldk, qt, strip, fz, dead)) {
  for (int j = 0; j < nk; j++) {
    if (fz && eam_attn_all_frozen(fz[j], dead, BQS)) continue;
    const float *k = K + (size_t)j * ldk;
    float acc[BQS] = {0};
    for (int d = 0; d < hd; d++) {
      const float x = k[d];
      for (int l = 0; l < BQS; l++) acc[l] = fmaf(x, qt[d * BQS + l], acc[l]);
    }
    for (int l = 0; l < BQS; l++) strip[j * BQS + l] = scale * acc[l];
  }
}

static void add_bias_scalar(int nk, int nq, const float *bias, int ldb, float *strip) {
  for (int l = 0; l < nq; l++) {
    const float *row = bias + (size_t)l * ldb;
    for (int j = 0; j < nk; j++) strip[j * BQS + l] += row[j];
  }
}

static void rowmax_scalar(int nk, const float *strip, const uint64_t *fz, float *cmax) {
  for (int j = 0; j < nk; j++) {
    const uint64_t w = fz ? fz[j] : 0;
    for (int l = 0; l < BQS; l++) {
      const float v = (w >> l) & 1 ? -INFINITY : strip[j * BQS + l];
      cmax[l] = v > cmax[l] ? v : cmax[l];
    }
  }
}

EAM_PORTABLE(static, exp_scalar, (int nk, float *strip, const uint64_t *fz, uint64_t dead, const float *m, float *sum),
             (nk, strip, fz, dead, m, sum)) {
  for (int j = 0; j < nk; j++) {
    float *row = strip + j * BQS;
    const uint64_t w = fz ? fz[j] : 0;
    if (fz && eam_attn_all_frozen(w, dead, BQS)) { /* its scores were not computed */
      for (int l = 0; l < BQS; l++) row[l] = 0.0f;
      continue;
    }
    for (int l = 0; l < BQS; l++) { /* a frozen entry's exponential (of whatever it holds) is dropped */
      const float x = row[l] - m[l];
      const float e = x >= EAM_ATTN_EXP_MIN ? eam_exp1(x) : 0.0f;
      row[l] = (w >> l) & 1 ? 0.0f : e;
      sum[l] += row[l];
    }
  }
}

/* Appends key j to the runs of live keys. */
static inline void add_live(int32_t *runs, int *nruns, int j) {
  if (*nruns > 0 && runs[2 * *nruns - 1] == j) {
    runs[2 * *nruns - 1] = j + 1;
  } else {
    runs[2 * *nruns] = j;
    runs[2 * *nruns + 1] = j + 1;
    (*nruns)++;
  }
}

static void insert_scalar(int blocks, const int32_t *first, const int32_t *count, int c0, const int32_t *keys,
                          const uint8_t *codes, int code_bits, float code_scale, const float *frozen_scale, float *strip) {
  (void)blocks; /* one query block per tile */
  const int w = eam_attn_code_width(code_bits);
  for (int e = first[0]; e < first[0] + count[0]; e++) {
    float *row = strip + (size_t)(keys[e] - c0) * BQS;
    const uint8_t *c = codes + (size_t)(2 * w) * e;
    for (int l = 0; l < BQS; l++) {
      const unsigned code = eam_attn_code(c, w, l);
      if (code) row[l] = (float)code * code_scale * frozen_scale[l];
    }
  }
}

EAM_PORTABLE(static, pv_scalar, (int nq, int hd, const float *strip, const int32_t *runs, int nruns, const float *V,
                                int ldv, float *out, int ldo, const float *a, const float *b),
             (nq, hd, strip, runs, nruns, V, ldv, out, ldo, a, b)) {
  for (int r = 0; r < nq; r++) {
    float *o = out + (size_t)r * ldo;
    for (int d0 = 0; d0 < hd; d0 += BQS) {
      const int nd = hd - d0 < BQS ? hd - d0 : BQS;
      float acc[BQS]; /* the chain starts from b·out (or 0), a scales its end */
      for (int x = 0; x < nd; x++) acc[x] = b ? b[r] * o[d0 + x] : 0.0f;
      for (int i = 0; i < nruns; i++)
        for (int j = runs[2 * i]; j < runs[2 * i + 1]; j++) {
          const float p = strip[j * BQS + r];
          const float *v = V + (size_t)j * ldv + d0;
          for (int x = 0; x < nd; x++) acc[x] = fmaf(p, v[x], acc[x]);
        }
      for (int x = 0; x < nd; x++) o[d0 + x] = (a ? a[r] : 1.0f) * acc[x];
    }
  }
}

const eam_attention_ops eam_attention_scalar_ops = {BQS, pack_q_scalar, scores_scalar, add_bias_scalar, rowmax_scalar,
                                                    exp_scalar, insert_scalar, pv_scalar, NULL};

/* ---- Driver ------------------------------------------------------------------------------- */

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static int key_block_for(int T, int key_block) {
  if (key_block > 0) return key_block < T ? key_block : T;
  return T < EAM_ATTN_MAX_KEY_BLOCK ? T : EAM_ATTN_MAX_KEY_BLOCK;
}

size_t eam_attention_scratch(int T, int hd, int key_block) {
  if (T <= 0 || hd <= 0) return 0;
  const size_t kb = (size_t)key_block_for(T, key_block), bq = EAM_ATTN_BQ_MAX;
  size_t n = round16((size_t)hd * bq) + round16(kb * bq) + 9 * bq; /* qt, strip, lane state */
  n += round16(2 * kb) + round16(kb + 2) + round16(kb / 4 + 1);   /* fz (uint64), runs (int32), live keys (bytes) */
  if (kb < (size_t)T) n += 2 * round16(bq * (size_t)hd);           /* free and frozen accumulators */
  return n;
}

static const eam_attention_ops *ops_for(int hd) {
  if (hd % 8 == 0) {
    switch (eam_kernels_variant()) {
#if defined(__x86_64__)
    case EAM_VARIANT_AVX512: return &eam_attention_avx512_ops;
    case EAM_VARIANT_AVX2: return &eam_attention_avx2_ops;
#endif
#if defined(__aarch64__)
    case EAM_VARIANT_NEON: return &eam_attention_neon_ops;
#endif
    default: break;
    }
  }
  return &eam_attention_scalar_ops;
}

/* The scratch, carved. */
typedef struct {
  float *qt, *strip, *acc, *frz;
  /* Per lane: running max, sum, rescale factor, block max, max to subtract, output scale, scales
   * of frozen values and of free entries in P, ones. */
  float *m, *sum, *f, *cmax, *meff, *alpha, *vscale, *escale, *one;
  uint64_t *fz;
  int32_t *runs;
  uint8_t *live; /* per key of the block: some entry of the layout puts a nonzero value on it */
} areas;

static areas carve(float *s, int T, int hd, int kb) {
  const size_t bq = EAM_ATTN_BQ_MAX;
  areas a;
  a.qt = s; s += round16((size_t)hd * bq);
  a.strip = s; s += round16((size_t)kb * bq);
  float **lanes[] = {&a.m, &a.sum, &a.f, &a.cmax, &a.meff, &a.alpha, &a.vscale, &a.escale, &a.one};
  for (int i = 0; i < 9; i++, s += bq) *lanes[i] = s;
  a.fz = (uint64_t *)(void *)s; s += round16(2 * (size_t)kb);
  a.runs = (int32_t *)(void *)s; s += round16((size_t)kb + 2);
  a.live = (uint8_t *)(void *)s; s += round16((size_t)kb / 4 + 1);
  a.acc = a.frz = NULL;
  if (kb < T) { a.acc = s; s += round16(bq * (size_t)hd); a.frz = s; }
  return a;
}

/* Online softmax: a larger max rescales what the lane has summed (and accumulated). */
EAM_PORTABLE(static, rescale, (int bq, const areas *w), (bq, w)) {
  for (int l = 0; l < bq; l++) {
    const float m = w->m[l] > w->cmax[l] ? w->m[l] : w->cmax[l];
    w->f[l] = m == -INFINITY ? 1.0f : eam_exp1(w->m[l] - m);
    w->m[l] = m;
    w->meff[l] = m == -INFINITY ? 0.0f : m;
    w->sum[l] *= w->f[l];
  }
}

/* The runs of keys [0, nk) whose bit is not set in dead. */
static int runs_from_dead(const uint64_t *dead, int nk, int32_t *runs) {
  int n = 0;
  for (int k = 0; k * 64 < nk; k++) {
    uint64_t live = ~dead[k];
    if (nk - 64 * k < 64) live &= ((uint64_t)1 << (nk - 64 * k)) - 1;
    while (live) {
      const int a = __builtin_ctzll(live);
      const uint64_t rest = ~(live >> a); /* a run of ones from bit a */
      const int len = rest == 0 ? 64 - a : __builtin_ctzll(rest);
      const int j0 = 64 * k + a, j1 = j0 + len;
      if (n > 0 && runs[2 * n - 1] == j0) {
        runs[2 * n - 1] = j1;
      } else {
        runs[2 * n] = j0;
        runs[2 * n + 1] = j1;
        n++;
      }
      live = a + len >= 64 ? 0 : live & ~(((uint64_t)1 << (a + len)) - 1);
    }
  }
  return n;
}

/* One query tile: rows [q0, q0 + nq). */
static void tile(const eam_attention_ops *ops, const areas *w, int T, int hd, float scale, const float *Q, int ldq,
                 const float *K, int ldk, const float *V, int ldv, float *O, int ldo, const float *bias, int ldb,
                 const eam_attention_frozen *frozen, int q0, int nq, int kb) {
  const int bq = ops->bq, blocks = (nq + EAM_ATTN_QBLOCK - 1) / EAM_ATTN_QBLOCK, qb0 = q0 / EAM_ATTN_QBLOCK;
  const int multi = kb < T;
  /* The tile is a whole 64-query group of the layout, in one key block. */
  const int direct = bq == 64 && q0 % 64 == 0 && nq == (T - q0 < 64 ? T - q0 : 64) && !multi;
  const uint64_t dead = (bq >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bq) - 1) & ~(nq >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << nq) - 1);
  ops->pack_q(nq, hd, Q + (size_t)q0 * ldq, ldq, w->qt);
  for (int l = 0; l < bq; l++) {
    w->m[l] = -INFINITY;
    w->sum[l] = 0.0f;
    w->one[l] = 1.0f;
  }
  if (multi) {
    memset(w->acc, 0, sizeof(float) * (size_t)nq * hd);
    memset(w->frz, 0, sizeof(float) * (size_t)nq * hd);
  }
  /* Per query block of the tile: the next entry of the layout and the end of the block's. */
  int32_t cur[EAM_ATTN_BQ_MAX / EAM_ATTN_QBLOCK], end[EAM_ATTN_BQ_MAX / EAM_ATTN_QBLOCK];
  int32_t first[EAM_ATTN_BQ_MAX / EAM_ATTN_QBLOCK], count[EAM_ATTN_BQ_MAX / EAM_ATTN_QBLOCK];
  for (int b = 0; b < bq / EAM_ATTN_QBLOCK; b++) {
    cur[b] = frozen && b < blocks ? frozen->entry_start[qb0 + b] : 0;
    end[b] = frozen && b < blocks ? frozen->entry_start[qb0 + b + 1] : 0;
    first[b] = count[b] = 0;
  }
  for (int c0 = 0; c0 < T; c0 += kb) {
    const int nk = T - c0 < kb ? T - c0 : kb;
    const uint64_t *fz = NULL;
    int marked = 0; /* 1: w->live holds the keys with entries; 2: the layout's dead keys hold */
    if (frozen && direct) { /* a whole 64-query group of the layout: its words and dead keys as they are */
      fz = frozen->mask + (size_t)(q0 / 64) * T;
      marked = 2;
      for (int b = 0; b < blocks; b++) {
        first[b] = cur[b];
        count[b] = end[b] - cur[b];
      }
    } else if (frozen) {
      uint64_t any = 0;
      for (int b = 0; b < blocks; b++) { /* the tile's mask words, a query block at a time */
        const uint64_t *words = frozen->mask + (size_t)((qb0 + b) / 4) * T + c0;
        /* Every query of the block (past q_end too: bits of a token, whoever computes its row). */
        const int left = T - q0 - b * EAM_ATTN_QBLOCK, shift = b * EAM_ATTN_QBLOCK, from = 16 * ((qb0 + b) % 4);
        const uint64_t valid = left >= 16 ? 0xFFFFu : (1u << left) - 1;
        if (b == 0)
          for (int j = 0; j < nk; j++) any |= w->fz[j] = (words[j] >> from) & valid;
        else
          for (int j = 0; j < nk; j++) any |= w->fz[j] |= ((words[j] >> from) & valid) << shift;
      }
      if (any) {
        fz = w->fz;
        const uint64_t all = bq >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bq) - 1;
        int some_all_frozen = 0; /* a key with no free entry in the tile: it lives by its entries alone */
        for (int j = 0; j < nk; j++) some_all_frozen |= (fz[j] | dead) == all;
        marked = multi || some_all_frozen;
        uint8_t *live = w->live;
        const int32_t *keys = frozen->keys;
        if (marked) memset(live, 0, (size_t)nk);
        for (int b = 0; b < blocks; b++) { /* the block's entries on these keys */
          int32_t e = cur[b];
          const int32_t stop = end[b], lim = c0 + nk;
          first[b] = e;
          if (marked) for (; e < stop && keys[e] < lim; e++) live[keys[e] - c0] = 1;
          else e = stop; /* one key block: all the block's entries */
          count[b] = e - first[b];
          cur[b] = e;
        }
      }
    }
    ops->scores(nk, hd, scale, K + (size_t)c0 * ldk, ldk, w->qt, w->strip, fz, dead);
    if (bias) ops->add_bias(nk, nq, bias + (size_t)q0 * ldb + c0, ldb, w->strip);
    for (int l = 0; l < bq; l++) w->cmax[l] = -INFINITY;
    ops->rowmax(nk, w->strip, fz, w->cmax);
    rescale(bq, w);
    ops->exp(nk, w->strip, fz, dead, w->meff, w->sum);
    const float *vb = V + (size_t)c0 * ldv;
    int nruns = 1;
    w->runs[0] = 0;
    w->runs[1] = nk;
    if (!multi) { /* one key block: P is final, frozen values join it before the one P·V */
      /* Frozen values enter P as value / alpha and P·V scales by alpha (free entries untouched);
       * a lane whose free entries get no mass (alpha 0) takes alpha·e beside its values. */
      int scaled = 1;
      for (int l = 0; l < bq; l++) {
        const float fm = frozen && l < nq ? frozen->free_mass[q0 + l] : 1.0f;
        const float alpha = w->m[l] == -INFINITY ? 0.0f : fm / w->sum[l];
        const int s = !fz || isfinite(1.0f / alpha); /* no values to scale, or 1 / alpha finite */
        w->alpha[l] = s ? alpha : 1.0f;
        w->vscale[l] = s ? 1.0f / alpha : 1.0f;
        w->escale[l] = s ? 1.0f : alpha;
        scaled &= s || l >= nq;
      }
      if (fz) {
        if (!scaled) /* rare (a lane whose free entries get no mass): the free entries scaled in place */
          for (int j = 0; j < nk; j++)
            for (int l = 0; l < bq; l++) w->strip[j * bq + l] *= w->escale[l];
        ops->insert(blocks, first, count, c0, frozen->keys, frozen->codes, frozen->code_bits, frozen->code_scale,
                    w->vscale, w->strip);
        if (marked == 2) {
          nruns = runs_from_dead(frozen->dead + (size_t)(q0 / 64) * ((T + 63) / 64), nk, w->runs);
        } else if (marked) { /* keys with a free entry or a nonzero frozen one */
          nruns = 0;
          for (int j = 0; j < nk; j++)
            if (!eam_attn_all_frozen(fz[j], dead, bq) || w->live[j]) add_live(w->runs, &nruns, j);
        }
      }
      ops->pv(nq, hd, w->strip, w->runs, nruns, vb, ldv, O + (size_t)q0 * ldo, ldo, w->alpha, NULL);
      return;
    }
    if (fz) { /* keys whose entries are all frozen add nothing to the free part */
      nruns = 0;
      for (int j = 0; j < nk; j++)
        if (!eam_attn_all_frozen(fz[j], dead, bq)) add_live(w->runs, &nruns, j);
    }
    ops->pv(nq, hd, w->strip, w->runs, nruns, vb, ldv, w->acc, hd, NULL, w->f);
    if (fz) { /* the frozen part: a strip of the values alone */
      memset(w->strip, 0, sizeof(float) * (size_t)nk * bq);
      ops->insert(blocks, first, count, c0, frozen->keys, frozen->codes, frozen->code_bits, frozen->code_scale, w->one,
                  w->strip);
      nruns = 0;
      for (int j = 0; j < nk; j++)
        if (w->live[j]) add_live(w->runs, &nruns, j);
      ops->pv(nq, hd, w->strip, w->runs, nruns, vb, ldv, w->frz, hd, NULL, w->one); /* not rescaled */
    }
  }
  for (int l = 0; l < nq; l++) {
    const float alpha = w->m[l] == -INFINITY ? 0.0f : (frozen ? frozen->free_mass[q0 + l] : 1.0f) / w->sum[l];
    float *o = O + (size_t)(q0 + l) * ldo;
    for (int d = 0; d < hd; d++) o[d] = alpha * w->acc[l * hd + d] + w->frz[l * hd + d];
  }
}

void eam_attention_fused(int T, int hd, float scale, const float *Q, int ldq, const float *K, int ldk,
                         const float *V, int ldv, float *O, int ldo, const float *bias, int ldb,
                         const eam_attention_frozen *frozen, int q_begin, int q_end, int key_block,
                         float *scratch) {
  if (T <= 0 || hd <= 0 || q_end <= q_begin) return;
  const eam_attention_ops *ops = ops_for(hd);
  const int kb = key_block_for(T, key_block);
  const areas w = carve(scratch, T, hd, kb);
  for (int q0 = q_begin; q0 < q_end; q0 += ops->bq) {
    const int nq = q_end - q0 < ops->bq ? q_end - q0 : ops->bq;
    const eam_attention_ops *o = ops; /* a short last tile takes the narrowest pieces that hold it */
    while (o->narrow && nq <= o->narrow->bq) o = o->narrow;
    tile(o, &w, T, hd, scale, Q, ldq, K, ldk, V, ldv, O, ldo, bias, ldb, frozen, q0, nq, kb);
  }
}

/* ---- Frozen layout ------------------------------------------------------------------------ */

size_t eam_attention_mask_words(int T) { return T <= 0 ? 0 : (size_t)((T + 63) / 64) * (size_t)T; }

size_t eam_attention_dead_words(int T) { return T <= 0 ? 0 : (size_t)((T + 63) / 64) * (size_t)((T + 63) / 64); }

int eam_attention_code_bits(int bits) { return bits <= 1 ? 1 : bits == 2 ? 2 : bits <= 4 ? 4 : 8; }

/* An entry's 16 codes (each below 2^w) at w bits each, little-endian: 2w bytes. */
static void put_codes(uint8_t *out, const uint8_t *c, int w) {
  if (w == 8) {
    memcpy(out, c, 16);
    return;
  }
  memset(out, 0, (size_t)(2 * w));
  for (int r = 0; r < 16; r++) out[(r * w) >> 3] |= (uint8_t)((c[r] & ((1u << w) - 1)) << ((r * w) & 7));
}

/* Packs (or, with mask NULL, counts) the attention layout's entries. A block of 16 queries is
 * gathered PACK_COLS keys at a time: each query row's set bits are walked with ctz (a head at
 * 20% frozen has a fifth of its T^2 bits set), then the keys are emitted in ascending order. */
enum { PACK_COLS = 256 };

static size_t pack(int T, const uint16_t *row_bits, int row_ld, const uint8_t *codes, int code_bits, uint64_t *mask,
                   uint64_t *dead, int32_t *entry_start, int32_t *keys, uint8_t *entry_codes) {
  const int kw = (T + 63) / 64, w = eam_attn_code_width(code_bits);
  size_t n = 0;
  int b = 0;
  uint16_t word[PACK_COLS];
  uint8_t any[PACK_COLS], c[PACK_COLS][16];
  if (mask) memset(dead, 0xFF, sizeof(uint64_t) * eam_attention_dead_words(T)); /* cleared where a key lives */
  for (; b * 16 < T; b++) {
    const int rows = T - b * 16 < 16 ? T - b * 16 : 16, g = b / 4, shift = 16 * (b % 4);
    const uint16_t all = (uint16_t)((1u << rows) - 1);
    if (mask) entry_start[b] = (int32_t)n;
    for (int j0 = 0; j0 < T; j0 += PACK_COLS) {
      const int j1 = T - j0 < PACK_COLS ? T : j0 + PACK_COLS;
      memset(word, 0, sizeof word);
      memset(any, 0, sizeof any);
      if (mask) memset(c, 0, sizeof c);
      for (int r = 0; r < rows; r++) {
        const uint16_t *bits = row_bits + (size_t)(b * 16 + r) * row_ld;
        const uint8_t *code = codes + (size_t)(b * 16 + r) * T;
        for (int w = j0 / 16; w * 16 < j1; w++) {
          unsigned m = bits[w];
          if (j1 - w * 16 < 16) m &= (1u << (j1 - w * 16)) - 1; /* no keys past T */
          while (m) {
            const int j = w * 16 + __builtin_ctz(m);
            m &= m - 1;
            word[j - j0] |= (uint16_t)(1u << r);
            any[j - j0] |= code[j];
            if (mask) c[j - j0][r] = code[j];
          }
        }
      }
      for (int j = j0; j < j1; j++) {
        const int k = j - j0;
        if (mask) {
          uint64_t *m = mask + (size_t)g * T + j;
          *m = (shift ? *m : 0) | (uint64_t)word[k] << shift;
          if (word[k] != all || any[k]) dead[(size_t)g * kw + j / 64] &= ~((uint64_t)1 << (j % 64));
          if (any[k]) {
            keys[n] = j;
            put_codes(entry_codes + (size_t)(2 * w) * n, c[k], w);
          }
        }
        n += any[k] != 0;
      }
    }
  }
  if (mask) {
    entry_start[b] = (int32_t)n;
    if (T % 64) /* no keys past T */
      for (int g = 0; g < kw; g++) dead[(size_t)g * kw + kw - 1] &= ((uint64_t)1 << (T % 64)) - 1;
  }
  return n;
}

size_t eam_attention_frozen_entries(int T, const uint16_t *row_bits, int row_ld, const uint8_t *codes) {
  return T <= 0 ? 0 : pack(T, row_bits, row_ld, codes, 8, NULL, NULL, NULL, NULL, NULL);
}

void eam_attention_pack_frozen(int T, const uint16_t *row_bits, int row_ld, const uint8_t *codes, int code_bits,
                               uint64_t *mask, uint64_t *dead, int32_t *entry_start, int32_t *keys,
                               uint8_t *entry_codes) {
  if (T > 0) pack(T, row_bits, row_ld, codes, code_bits, mask, dead, entry_start, keys, entry_codes);
}

void eam_attention_row_bits(int T, const uint64_t *mask, uint16_t *row_bits, int row_ld) {
  for (int i = 0; i < T; i++) {
    uint16_t *row = row_bits + (size_t)i * row_ld;
    const uint64_t *words = mask + (size_t)(i / 64) * T;
    memset(row, 0, sizeof(uint16_t) * (size_t)row_ld);
    for (int j = 0; j < T; j++) row[j / 16] |= (uint16_t)(((words[j] >> (i % 64)) & 1) << (j % 16));
  }
}

void eam_attention_put_frozen(int T, const eam_attention_frozen *frozen, float *map, int ld) {
  const int w = eam_attn_code_width(frozen->code_bits);
  for (int b = 0; b * 16 < T; b++) {
    const int rows = T - b * 16 < 16 ? T - b * 16 : 16;
    for (int32_t e = frozen->entry_start[b]; e < frozen->entry_start[b + 1]; e++) {
      const uint8_t *c = frozen->codes + (size_t)(2 * w) * e;
      float *col = map + (size_t)(b * 16) * ld + frozen->keys[e];
      for (int r = 0; r < rows; r++) {
        const unsigned code = eam_attn_code(c, w, r);
        if (code) col[(size_t)r * ld] = (float)code * frozen->code_scale;
      }
    }
  }
}
