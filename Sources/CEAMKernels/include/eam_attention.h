/*
 * eam_attention.h — fused attention for one head: O = softmax(scale · Q·Kᵀ (+ bias)) · V without
 * the T×T map, optionally with EAM frozen entries (eam_frozen.h gives the row-wise semantics).
 *
 * Query rows are taken a tile at a time (EAM_ATTN_QBLOCK rows or a multiple, by variant). For a
 * tile, keys are taken a block at a time: the block's scores sit transposed in scratch (key-major,
 * the tile's queries across vector lanes), the softmax runs down the lanes (a running max and
 * sum per query; when the keys span more than one block the accumulated output is rescaled as
 * the max grows: an online softmax), and P·V accumulates from that strip. Frozen entries (EAM)
 * have no Q·K and no exponential:
 *   O_i = α_i · Σ_free e_ij v_j + Σ_frozen c_ij v_j,   α_i = free_mass_i / Σ_free e_ij.
 * With one key block (the default, up to EAM_ATTN_MAX_KEY_BLOCK keys) the frozen values join the
 * strip as c_ij / α_i and one P·V, scaled by α_i, gives both parts; with several, the frozen part
 * accumulates apart. Frozen entries with value 0 cost nothing past their mask bit: the kernel
 * writes only the vectors of 16 queries that hold a nonzero frozen value. Each output element is the same however a head is split by query rows.
 * Scratch comes from the caller; nothing is allocated. Like the kernels of eam_kernels.h, the
 * scalar, AVX2+FMA, AVX-512 and NEON variants are chosen by eam_kernels_variant();
 * docs/ATTENTION.md has the tiling and measurements.
 */
#ifndef EAM_ATTENTION_H
#define EAM_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Query rows per word of the frozen mask (and the granularity of query tiles). */
#define EAM_ATTN_QBLOCK 16
/* Most keys per block by default (key_block 0): up to this many tokens a head is one key block. */
#define EAM_ATTN_MAX_KEY_BLOCK 2048

/* EAM frozen entries of one head in the fused kernel's layout ("attention layout"). A frozen
 * entry's value is code · code_scale, its code an integer 0..255 (the artifact's codes).
 *  mask:        ceil(T/64) × T words. Bit l of mask[g·T + j] is set when entry (query 64g + l,
 *               key j) is frozen: 64 queries are one word per key, as the kernel reads them
 *               across its vector lanes. Bits of queries ≥ T are ignored.
 *  dead:        ceil(T/64) × ceil(T/64) words. Bit j % 64 of dead[g·ceil(T/64) + j/64] is set when
 *               key j has no free entry and no nonzero frozen value among queries 64g .. 64g + 63
 *               (its P·V is skipped for a tile of those queries).
 *  entries:     the (query block b, key j) pairs where some frozen entry has a nonzero code,
 *               block by block, within a block by ascending key; block b's are
 *               [entry_start[b], entry_start[b + 1]) (ceil(T/16) + 1 starts). Frozen entries with
 *               code 0 are only in the mask: the kernel leaves them at 0.
 *  keys:        per entry, its key j.
 *  codes:       per entry, 16 codes of code_bits bits each (2·code_bits bytes): lane r, query
 *               16b + r's code (0 where free or past T), is bits [r·code_bits, (r + 1)·code_bits)
 *               of the entry's bytes read as a little-endian integer.
 *  code_bits:   1, 2, 4 or 8 (eam_attention_code_bits of the artifact's bits): 2-bit codes keep
 *               an entry's codes in 4 bytes instead of 16.
 *  free_mass:   per query, the mass its free entries share (1 − Σ frozen values, in [0, 1]).
 * eam_attention_pack_frozen builds it from the frozen bits and the codes of a head. */
typedef struct {
  const uint64_t *mask;
  const uint64_t *dead;
  const int32_t *entry_start;
  const int32_t *keys;
  const uint8_t *codes;
  int code_bits;
  float code_scale;
  const float *free_mass;
} eam_attention_frozen;

/* Floats of scratch eam_attention_fused needs for T tokens, head dim hd and key_block keys per
 * block (0: the default), for any variant: about 67·kb + 64·hd + 576 for kb keys per block (the
 * strip of scores is 64·kb), 128·hd more when the keys span several blocks. 96,500 floats (386
 * KB, within L2) for T = 1370, hd = 64; 22,000 for T = 257; 6,000 for a 49-token window of head
 * dim 32. 64-byte alignment preferred. */
size_t eam_attention_scratch(int T, int hd, int key_block);

/* O[i][0..hd) = Σ_j p_ij V[j][0..hd) for query rows i in [q_begin, q_end), p_i = softmax over j of
 * scale · Q[i]·K[j] (+ bias[i·ldb + j]); Q, K, V are [T][hd] with leading dimensions ldq, ldk,
 * ldv; O has leading dimension ldo; bias may be NULL. q_begin is a multiple of EAM_ATTN_QBLOCK
 * (threads split a head by query rows). With frozen (may be NULL), entries whose bit is set take
 * their frozen value and the free ones share free_mass; a row without free entries, or whose
 * free scores are all −inf, is its frozen values and zeros (without frozen entries: O row = 0).
 * Scores of frozen entries do not matter: Q·K skips the register tiles (6 keys × the query tile)
 * whose entries are all frozen, the exponentials the keys all frozen for the tile, and P·V the
 * keys whose probabilities for the tile are all zero; elsewhere frozen scores are dropped.
 * key_block: keys per block, 0 for min(T, EAM_ATTN_MAX_KEY_BLOCK); scratch:
 * eam_attention_scratch(T, hd, key_block) floats. hd ≥ 1 (the vector variants use the portable
 * path unless hd is a multiple of 8). */
void eam_attention_fused(int T, int hd, float scale, const float *Q, int ldq, const float *K, int ldk,
                         const float *V, int ldv, float *O, int ldo, const float *bias, int ldb,
                         const eam_attention_frozen *frozen, int q_begin, int q_end, int key_block,
                         float *scratch);

/* Words of an attention-layout frozen mask for T tokens: ceil(T/64) · T; of its dead keys:
 * ceil(T/64)². */
size_t eam_attention_mask_words(int T);
size_t eam_attention_dead_words(int T);

/* The width of a code in the attention layout for codes of `bits` bits (1..8): 1, 2, 4 or 8. */
int eam_attention_code_bits(int bits);

/* Entries of a head's attention layout (see eam_attention_frozen): the (16 queries, key) pairs
 * with a frozen entry (its bit set in row_bits, the row layout of eam_softmax_rows_frozen: T rows
 * of row_ld words) whose code (codes: T × T, row-major: query, key) is not 0. */
size_t eam_attention_frozen_entries(int T, const uint16_t *row_bits, int row_ld, const uint8_t *codes);

/* Builds a head's attention layout from its frozen bits and codes (as above; codes of free
 * entries are not read; frozen codes below 2^code_bits, code_bits 1, 2, 4 or 8 — other values
 * are taken as 8): mask (eam_attention_mask_words(T) words), dead (eam_attention_dead_words(T)),
 * entry_start (ceil(T/16) + 1), keys and entry_codes (eam_attention_frozen_entries entries, and
 * 2·code_bits bytes each). */
void eam_attention_pack_frozen(int T, const uint16_t *row_bits, int row_ld, const uint8_t *codes, int code_bits,
                               uint64_t *mask, uint64_t *dead, int32_t *entry_start, int32_t *keys,
                               uint8_t *entry_codes);

/* The row layout of a head's frozen bits (T rows of row_ld ≥ ceil(T/16) 16-bit words, bit j % 16
 * of word j / 16 of row i set where entry (i, j) is frozen; the words past are zeroed) from its
 * attention layout's mask: what eam_attention_pack_frozen was given, for the unfused path. */
void eam_attention_row_bits(int T, const uint64_t *mask, uint16_t *row_bits, int row_ld);

/* Writes a head's frozen values from its attention layout into a T × T map (leading dimension
 * ld): entry (16b + r, keys[e]) of each entry e of block b becomes its lane r code · code_scale
 * where that code is not 0; nothing else is written. After eam_softmax_rows_frozen without codes
 * (frozen values 0) this gives the map eam_softmax_rows_frozen gives with the codes. */
void eam_attention_put_frozen(int T, const eam_attention_frozen *frozen, float *map, int ld);

#ifdef __cplusplus
}
#endif
#endif
