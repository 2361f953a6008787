/*
 * eam_frozen.h — attention rows with frozen entries (EAM).
 *
 * A frozen entry keeps a constant value calibrated at compile time; the free entries of the row
 * share the probability mass the frozen ones leave: p_j = free_mass · softmax over free j.
 *
 * Which entries are frozen is a bitmask: per row, EAM_FROZEN_WORDS(cols) 16-bit words; bit
 * (j mod 16) of word j/16 is set when entry j is frozen. Bits at or past cols are ignored.
 * Like the kernels of eam_kernels.h, these have scalar, AVX2+FMA, AVX-512 and NEON variants chosen
 * at run time; each output element is computed by one call in a fixed order.
 */
#ifndef EAM_FROZEN_H
#define EAM_FROZEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 16-bit mask words per row of `cols` entries. */
#define EAM_FROZEN_WORDS(cols) (((cols) + 15) / 16)

/* In place, for each of `rows` rows of length cols (leading dimension ld): entries whose bit is
 * set in `frozen` (leading dimension frozen_ld words) take their frozen value, code · code_scale
 * with the entry's code at codes[r · codes_ld + j] (an integer 0..255, the artifact's; read only
 * where frozen; codes NULL: every frozen value is 0); the others become free_mass[r] · exp(x_j − max) / Σ exp(x_k − max), max and sum
 * over the free entries only. A row without free entries (or whose free scores are all −inf)
 * becomes its frozen values and zeros. Scores of frozen entries need not be computed: whatever
 * they hold does not change the result. */
void eam_softmax_rows_frozen(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                             const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass);

/* C = alpha · A · Bᵀ like eam_gemm_nt (N columns, K deep), for the rows of `runs` runs only:
 * run i covers rows [runs[2i], runs[2i] + runs[2i+1]) of A and C. B is packed once for all runs;
 * each element equals what eam_gemm_nt computes for it. Other rows of C are left alone. */
void eam_gemm_nt_rows(int nruns, const int32_t *runs, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float *C, int ldc);

/* A frozen map as stored: mask bit i (least significant first) set where entry i = r·T + j is
 * frozen, and the frozen entries' codes, `bits` (1..8) each, least significant bit first, packed
 * in entry order. eam_frozen_map_count: the set bits of the T·T mask. eam_frozen_map_decode: per
 * row r, the row layout's mask words (row_bits + r·words, words ≥ EAM_FROZEN_WORDS(T)), the codes
 * (codes + r·T, 0 where free), the frozen count and 1 − Σ code · scale over the row's frozen
 * entries (subtracted in order of j, each product rounded to float). Returns 0, or −1 if the
 * arguments are out of range or the codes run past packed_bytes. */
int64_t eam_frozen_map_count(int T, const uint8_t *mask);
int eam_frozen_map_decode(int T, int bits, float scale, const uint8_t *mask, const uint8_t *packed, size_t packed_bytes,
                          uint16_t *row_bits, int words, uint8_t *codes, int32_t *row_frozen, float *row_mass);

#ifdef __cplusplus
}
#endif
#endif
