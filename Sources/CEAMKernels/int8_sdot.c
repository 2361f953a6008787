/* int8 GEMM, aarch64 sdot path (dot-product extension: 4 columns × 4 k per instruction), tiles of
 * 4 rows × 16 columns. sdot multiplies signed by signed bytes; the activation codes are unsigned
 * (0 .. 255), so each code u enters as s = u − 128 (u XOR 0x80 read as int8, exact) and
 *   Σ_k u·w = Σ_k s·w + 128 · Σ_k w
 * with Σ_k w the panel's column sums, computed here from the packed codes (by sdot with ones), not
 * taken from col_sum. Every term is an integer below 2³¹ in magnitude for K ≤ EAM_INT8_MAX_K
 * (|Σ u·w| ≤ 255·127·65536 < 2³¹), and int32 addition is exact below that, so the dot products
 * equal the portable path's; the epilogue is the portable one (eam_s8_epilogue). Padding k (code
 * 0 against weight 0) adds 0 either way. Compiled with target("dotprod"): the file builds for
 * plain armv8-a; eam_int8_supports checks the CPU (HWCAP_ASIMDDP) before anything here runs. */
/* aarch64 only: the whole file (other targets compile it empty). */
#if defined(__aarch64__)
#include "quant_internal.h"
#include <arm_neon.h>
#include <string.h>

#define TD __attribute__((target("dotprod")))
#define R 4 /* rows per tile: 4R accumulators */

/* The four codes of group gi of a row, shifted to int8, in every 32-bit lane. */
TD static inline int8x16_t group_codes(const uint8_t *u, int gi) {
  uint32_t v;
  memcpy(&v, u + 4 * (size_t)gi, 4);
  return vreinterpretq_s8_u32(vdupq_n_u32(v ^ 0x80808080u));
}

TD static void tile(const eam_s8_gemm *g, int m, int mr, const int8_t *w, const int32x4_t wsum128[4], int col,
                    int valid) {
  const uint8_t *u[R];
  for (int i = 0; i < R; i++) u[i] = g->q + (size_t)(m + (i < mr ? i : 0)) * g->ldq;
  int32x4_t acc[R][4];
  for (int i = 0; i < R; i++)
    for (int c = 0; c < 4; c++) acc[i][c] = wsum128[c];
  const int8x16_t flip = vdupq_n_s8((int8_t)0x80);
  int gi = 0;
  for (; gi + 4 <= g->groups; gi += 4) { /* 16 codes per row: group gi + L in 32-bit lane L */
    int8x16_t s[R];
    for (int i = 0; i < R; i++) s[i] = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(u[i] + 4 * (size_t)gi)), flip);
#define GROUP(L)                                                                                     \
  do {                                                                                               \
    const int8_t *wg = w + (size_t)(gi + L) * 64;                                                    \
    for (int c = 0; c < 4; c++) {                                                                    \
      const int8x16_t wc = vld1q_s8(wg + 16 * c);                                                    \
      for (int i = 0; i < R; i++) acc[i][c] = vdotq_laneq_s32(acc[i][c], wc, s[i], L);               \
    }                                                                                                \
  } while (0)
    GROUP(0);
    GROUP(1);
    GROUP(2);
    GROUP(3);
#undef GROUP
  }
  for (; gi < g->groups; gi++) {
    int8x16_t s[R];
    for (int i = 0; i < R; i++) s[i] = group_codes(u[i], gi);
    const int8_t *wg = w + (size_t)gi * 64;
    for (int c = 0; c < 4; c++) {
      const int8x16_t wc = vld1q_s8(wg + 16 * c);
      for (int i = 0; i < R; i++) acc[i][c] = vdotq_s32(acc[i][c], wc, s[i]);
    }
  }
  for (int i = 0; i < mr; i++) {
    int32_t d[EAM_PANEL];
    for (int c = 0; c < 4; c++) vst1q_s32(d + 4 * c, acc[i][c]);
    eam_s8_epilogue(g, m + i, col, valid, d);
  }
}

TD void eam_gemm_s8_sdot(const eam_s8_gemm *g) {
  const int8x16_t ones = vdupq_n_s8(1);
  for (int p = g->n0 / EAM_PANEL; p * EAM_PANEL < g->n1; p++) {
    const int col = p * EAM_PANEL;
    const int valid = g->n1 - col < EAM_PANEL ? g->n1 - col : EAM_PANEL;
    const int8_t *w = g->packed + (size_t)p * g->groups * 64;
    /* 128 · Σ_k w per column: lane j of vector c is column 4c + j. */
    int32x4_t wsum128[4];
    for (int c = 0; c < 4; c++) wsum128[c] = vdupq_n_s32(0);
    for (int gi = 0; gi < g->groups; gi++)
      for (int c = 0; c < 4; c++) wsum128[c] = vdotq_s32(wsum128[c], vld1q_s8(w + (size_t)gi * 64 + 16 * c), ones);
    for (int c = 0; c < 4; c++) wsum128[c] = vshlq_n_s32(wsum128[c], 7);
    for (int m = 0; m < g->M; m += R) tile(g, m, g->M - m < R ? g->M - m : R, w, wsum128, col, valid);
  }
}
#endif
