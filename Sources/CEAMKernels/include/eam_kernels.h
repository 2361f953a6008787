/*
 * eam_kernels.h — the hot loops of EAMRuntime, in plain C.
 *
 * Every kernel has a portable variant and, where it pays, AVX2+FMA and AVX-512 variants compiled
 * with per-function target attributes (x86-64) or a NEON variant (aarch64). One variant is
 * selected at run time from CPU detection (or forced with the environment variable
 * EAM_KERNELS=scalar|avx2|avx512|neon) and used for all kernels; a kernel a variant has no
 * version of runs the portable one. Every variant gives the same bits: the same fused multiply-adds in the same order, the
 * same 16-lane reductions and the same exp (canonical.h; docs/KERNELS.md, "Determinism"). Kernels are single-threaded and allocate nothing: the runtime splits work across its
 * own threads by row or column ranges, and the value of each output element never depends on
 * how the work was split.
 *
 * Layout conventions: row-major float32, leading dimensions in elements.
 */
#ifndef EAM_KERNELS_H
#define EAM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Variant selection ------------------------------------------------------------------ */

typedef enum {
  EAM_VARIANT_SCALAR = 0,
  EAM_VARIANT_AVX2 = 1,   /* AVX2 + FMA */
  EAM_VARIANT_AVX512 = 2, /* AVX-512 F (+ DQ/BW/VL where used) */
  EAM_VARIANT_NEON = 3,   /* aarch64 Advanced SIMD (always present there) */
} eam_variant;

/* Best variant this CPU supports. */
int eam_kernels_best_variant(void);
/* Whether this CPU can run variant v. */
int eam_kernels_supports(int v);
/* The active variant. Initialised on first use from EAM_KERNELS (if set and supported) or the
 * best variant. */
int eam_kernels_variant(void);
/* Forces variant v. Returns 0, or -1 if the CPU does not support it (nothing changes). */
int eam_kernels_set_variant(int v);
/* Forces variant v for the calling thread only (-1 clears the override); for tests that compare
 * variants while other threads keep running. Returns 0, or -1 if the CPU does not support it. */
int eam_kernels_set_thread_variant(int v);
/* "scalar", "avx2", "avx512" or "neon"; NULL for an unknown value. */
const char *eam_kernels_variant_name(int v);
/* Parses a variant name; -1 if unknown. */
int eam_kernels_parse_variant(const char *name);
/* CPU brand string, written NUL-terminated into buf: cpuid leaf 0x80000002..4 on x86-64;
 * "aarch64 (neon)" or "aarch64 (neon, dotprod)" on aarch64. */
void eam_cpu_brand(char *buf, size_t len);

/* ---- Packed SGEMM for linear layers: Y = X · Wᵀ (+ epilogue) ------------------------------
 * W is a PyTorch Linear weight, [N][K] row-major. It is packed once (at load) into panels of
 * EAM_PANEL columns; the packed layout is the same for every variant. */

#define EAM_PANEL 16

/* Number of floats of the packed form of an [N][K] weight (N rounded up to EAM_PANEL). */
size_t eam_pack_size(int N, int K);
/* Packs W ([N][K], leading dimension ldw) into `packed` (eam_pack_size floats, 64-byte aligned
 * preferred). Padding columns are zero. */
void eam_pack_weight(const float *W, int ldw, int N, int K, float *packed);

enum {
  EAM_EPI_BIAS = 1,       /* add bias[n] */
  EAM_EPI_GELU = 2,       /* then exact GELU: 0.5·x·(1 + erf(x/√2)) */
  EAM_EPI_ACCUMULATE = 4, /* then Y += result (residual), instead of Y = result */
};

/* Rows [0, M) of X ([M][K], ldx) times the packed weight, output columns [n0, n1) of Y ([M][N],
 * ldy). n0 must be a multiple of EAM_PANEL; n1 <= N. bias may be NULL unless EAM_EPI_BIAS. */
void eam_gemm_packed(int M, int N, int K, const float *X, int ldx, const float *packed,
                     const float *bias, float *Y, int ldy, int n0, int n1, int epilogue);

/* ---- Small unpacked GEMMs for attention ------------------------------------------------- */

/* C[M][N] = alpha · A[M][K] · B[N][K]ᵀ   (e.g. scores = scale · Q · Kᵀ). */
void eam_gemm_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                 int ldb, float *C, int ldc);
/* C[M][N] = A[M][K] · B[K][N]            (e.g. out = P · V); accumulate != 0: C += ... */
void eam_gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                 float *C, int ldc, int accumulate);

/* ---- Row-wise and element-wise kernels -------------------------------------------------- */

/* y[r] = LayerNorm(x[r]) · gamma + beta, for `rows` rows of length dim. Mean and variance in
 * float with a two-pass (mean, then centred sum of squares) computation. y may equal x. */
void eam_layernorm(const float *x, int ldx, float *y, int ldy, int rows, int dim,
                   const float *gamma, const float *beta, float eps);

/* In place, each of `rows` rows of length cols: x = softmax(x). (Scale folded into the GEMM.) */
void eam_softmax_rows(float *x, int ld, int rows, int cols);

/* In place exact GELU on n floats. */
void eam_gelu(float *x, size_t n);

/* y[i] += x[i] */
void eam_add(float *y, const float *x, size_t n);

/* A hallucinated head's map (tokens x tokens, row-major) from `count` other heads' maps of the
 * same layer (head h's map at maps + h * tokens^2): max(0, intercept + sum_s weights[s] *
 * map(sources[s])), each row divided by its sum (uniform 1/tokens where the sum is 0). Portable
 * only: the same numbers on every CPU. */
void eam_hallucinate_map(float *out, int tokens, const float *maps, const int32_t *sources, const float *weights,
                         int count, float intercept);

#ifdef __cplusplus
}
#endif
#endif
