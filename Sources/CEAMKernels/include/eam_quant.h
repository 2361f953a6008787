/*
 * eam_quant.h — linear layers whose weights stay compressed in memory.
 *
 * Like eam_kernels.h: W is a PyTorch Linear weight [N][K], packed once (at compile or load time)
 * into panels of EAM_PANEL = 16 output columns; Y[M][N] = X · Wᵀ, output columns [n0, n1) (n0 a
 * multiple of EAM_PANEL), then the EAM_EPI_* epilogue. Single-threaded, allocation-free, variant
 * chosen at run time; the value of an output element never depends on how work was split.
 *
 * f16 weights: IEEE binary16 panels, the layout of eam_pack_weight with 2-byte elements:
 *   element (n, k) at [(n / 16) · K + k] · 16 + n % 16; padding columns 0.
 * Each variant's result is bit-identical to eam_gemm_packed of the same variant on the weights
 * widened to float: the panels are widened in registers (F16C / AVX-512F vcvtph2ps, portable bit
 * manipulation in the scalar variant) and fed to the f32 GEMM's accumulation, unchanged.
 */
#ifndef EAM_QUANT_H
#define EAM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- binary16 ------------------------------------------------------------------------------ */

/* Widening is exact; narrowing rounds to nearest, ties to even (IEEE), overflow gives ±inf. */
float eam_half_to_float(uint16_t h);
uint16_t eam_float_to_half(float f);

/* ---- f16 weights ----------------------------------------------------------------------------- */

/* Elements (uint16_t) of the packed f16 form of an [N][K] weight: eam_pack_size(N, K). */
size_t eam_pack_size_f16(int N, int K);
/* Packs W ([N][K] float, leading dimension ldw) rounded to binary16. Returns 0, or -1 if a weight
 * is not finite or rounds to infinity (|w| >= 65520); `packed` is then incomplete. */
int eam_pack_weight_f16(const float *W, int ldw, int N, int K, uint16_t *packed);

/* eam_gemm_packed with f16 panels; same arguments and epilogues. */
void eam_gemm_packed_f16(int M, int N, int K, const float *X, int ldx, const uint16_t *packed,
                         const float *bias, float *Y, int ldy, int n0, int n1, int epilogue);

#ifdef __cplusplus
}
#endif
#endif
