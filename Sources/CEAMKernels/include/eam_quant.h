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

/* ---- int8 GEMM: u8 activations × s8 weights, exact int32 accumulation -------------------------
 *
 * Weights, symmetric per output column n: s_n = max_k |W[n][k]| / 127, codes
 * q[n][k] = clamp(rint(W[n][k] / s_n), -127, 127) (a zero column: s_n = 0, codes 0). Packed for
 * the dot-product instructions: K padded with zero codes to Kp = K rounded up to 4; panels of 16
 * columns; in a panel, per group of 4 k, 64 bytes holding column j's 4 codes at bytes 4j .. 4j+3
 * (in k order). Code (n, k) is at byte ((n / 16) · (Kp / 4) + k / 4) · 64 + (n % 16) · 4 + k % 4;
 * padding columns are zero. Alongside: col_scale[n] = s_n and col_sum[n] = Σ_k q[n][k], for
 * Np = N rounded up to 16 columns (padding 0).
 *
 * Activations, asymmetric per row r, quantized at run time to codes 0 .. qmax: lo = min(min_k x, 0),
 * hi = max(max_k x, 0), s_r = (hi − lo) / qmax, inv = qmax / (hi − lo) (0 if not finite),
 * z_r = clamp(rint(−lo · inv), 0, qmax), u[r][k] = clamp(rint(x · inv) + z_r, 0, qmax); rint
 * rounds half to even; x ≈ s_r · (u − z_r). Codes are stored [M][ldq] with ldq ≥ Kp; codes past K
 * are 0. qmax is 255 on every path (the AVX2 path widens codes to 16 bits and sums pairs of
 * products with vpmaddwd, which cannot saturate; vpmaddubsw's 16-bit sums could).
 *
 * The GEMM, per output element: d = Σ_k u[r][k] · q[n][k] − z_r · col_sum[n] (exact in int32 for
 * K ≤ EAM_INT8_MAX_K), then v = (float)d · (s_r · s_n), then + bias[n], then GELU, then + Y — each
 * step rounded to float, no FMA; GELU is the vector formula of the f32 variants (erf by Abramowitz
 * & Stegun 7.1.26), in portable C with fmaf on the portable path. Every path therefore gives
 * bit-identical outputs for the same codes. */

#define EAM_INT8_MAX_K 65536

/* Sub-paths of the int8 GEMM. */
typedef enum {
  EAM_INT8_PORTABLE = 0, /* plain C */
  EAM_INT8_AVX2 = 1,     /* codes widened to 16 bits, vpmaddwd, ymm */
  EAM_INT8_AVXVNNI = 2,  /* vpdpbusd ymm (AVX-VNNI) */
  EAM_INT8_VNNI512 = 3,  /* vpdpbusd zmm (AVX-512 VNNI) */
  EAM_INT8_SDOT = 4,     /* aarch64 sdot (dot-product extension; Linux: detected from HWCAP) */
  EAM_INT8_AMX = 5,      /* tdpbusd on tiles (AMX-INT8; Linux, which grants the tile state); K a
                            multiple of 64 in blocks of 32 rows × 32 columns, the rest VNNI-512 */
} eam_int8_path_id;

/* Whether this CPU can run path p. */
int eam_int8_supports(int p);
/* The fastest path this CPU supports among those the kernel variant v allows (scalar: portable;
 * avx2: AVX2 or AVX-VNNI; avx512: any x86 path, AMX first; neon: sdot). */
int eam_int8_best_path(int v);
/* The active path: the calling thread's override, else one forced with eam_int8_set_path or the
 * environment variable EAM_INT8=portable|avx2|avxvnni|vnni512|sdot|amx (if supported), else the best path
 * for the active kernel variant. */
int eam_int8_path(void);
/* Forces path p process-wide (-1: back to the default). Returns 0, or -1 if unsupported. */
int eam_int8_set_path(int p);
/* Forces path p for the calling thread only (-1 clears). Returns 0, or -1 if unsupported. */
int eam_int8_set_thread_path(int p);
/* "portable", "avx2", "avxvnni", "vnni512", "sdot", "amx"; NULL if unknown. */
const char *eam_int8_path_name(int p);
int eam_int8_parse_path(const char *name);
/* Largest activation code path p accepts: 255 on every path (kept for callers that ask). */
int eam_int8_code_max(int p);

/* Bytes of the packed codes of an [N][K] weight; entries of col_scale and col_sum (Np). */
size_t eam_pack_size_s8(int N, int K);
size_t eam_int8_columns(int N);
/* Quantizes and packs W ([N][K] float, leading dimension ldw). Returns 0, or -1 if a weight is
 * not finite or K > EAM_INT8_MAX_K (outputs then incomplete). */
int eam_pack_weight_s8(const float *W, int ldw, int N, int K, int8_t *packed, float *col_scale, int32_t *col_sum);

/* Quantizes `rows` rows of x ([rows][K], ldx) to codes 0 .. qmax (1 ≤ qmax ≤ 255), as above:
 * q[r][0 .. Kp) (ldq ≥ Kp), scale[r], zero[r]. Same bits on every kernel variant. */
void eam_quantize_rows_u8(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                          int32_t *zero);
/* The same with one range [lo, hi] for every row (static activation quantization: lo ≤ 0 ≤ hi,
 * measured on calibration data): s, inv and z from the range as above, values outside it clamp
 * to codes 0 or qmax. Same bits on every variant. */
void eam_quantize_rows_u8_range(const float *x, int ldx, int rows, int K, int qmax, float lo, float hi, uint8_t *q,
                                int ldq, float *scale, int32_t *zero);

/* Y[0..M)[n0..n1) (ldy) = dequantized (codes q · packed weight) + epilogue, on path p (-1: the
 * active path). Codes must not exceed eam_int8_code_max(p). n0 a multiple of 16, n1 ≤ N. Returns
 * 0, or -1 (nothing written) if p is not supported or K > EAM_INT8_MAX_K. */
int eam_gemm_s8(int p, int M, int N, int K, const uint8_t *q, int ldq, const float *row_scale,
                const int32_t *row_zero, const int8_t *packed, const float *col_scale, const int32_t *col_sum,
                const float *bias, float *Y, int ldy, int n0, int n1, int epilogue);

/* ---- int4 weights, f32 activations (weight-only) ---------------------------------------------
 *
 * Symmetric, group-wise along k: for column n and group g (k in [g·G, g·G + G), G = `group`,
 * the last group possibly shorter), the scale s = binary16(max |W| over the group / 7) and codes
 * q = clamp(rint(W / s), −7, 7) (s = 0: codes 0); no zero point. Stored as nibbles q + 8, two per
 * byte: panels of 16 columns, 8 bytes per k, byte j of row k holding column j in its low nibble
 * and column j + 8 in its high one: code (n, k) is in byte ((n / 16) · K + k) · 8 + (n % 16) % 8,
 * high nibble if n % 16 ≥ 8. Scales: binary16 [N / 16 rounded up][groups][16] (groups = K / G
 * rounded up). Padding columns: nibble 8 (zero), scale 0.
 *
 * The GEMM decodes panels to f32 (w = (nibble − 8) · s, exact) and runs them like
 * eam_gemm_packed_f16: each variant's result is bit-identical to eam_gemm_packed of that variant
 * on the dequantized weight. */

/* Bytes of the codes and entries of the scales of an [N][K] int4 weight with groups of `group`. */
size_t eam_pack_size_int4(int N, int K);
size_t eam_int4_scale_count(int N, int K, int group);
/* Quantizes and packs W ([N][K], ldw). Returns 0, or -1 if group < 1, a weight is not finite or a
 * scale does not fit binary16 (outputs then incomplete). */
int eam_pack_weight_int4(const float *W, int ldw, int N, int K, int group, uint8_t *codes, uint16_t *scales);
/* The same with the scales given (binary16, [N][groups] row-major, each finite and ≥ 0): codes
 * q = clamp(rint(W / s), −7, 7). For rounding that chose its scales itself (error feedback).
 * Returns 0, or -1 if group < 1, a weight is not finite or a scale is not finite or negative. */
int eam_pack_weight_int4_scaled(const float *W, int ldw, int N, int K, int group, const uint16_t *given,
                                uint8_t *codes, uint16_t *scales);
/* Writes the dequantized weight ([N][K], ldw): what the GEMM computes with. */
void eam_unpack_weight_int4(const uint8_t *codes, const uint16_t *scales, int N, int K, int group, float *W, int ldw);

/* eam_gemm_packed with int4 weights; same arguments and epilogues. Returns 0, or -1 (nothing
 * written) if group < 1. */
int eam_gemm_int4(int M, int N, int K, int group, const float *X, int ldx, const uint8_t *codes,
                  const uint16_t *scales, const float *bias, float *Y, int ldy, int n0, int n1, int epilogue);

#ifdef __cplusplus
}
#endif
#endif
