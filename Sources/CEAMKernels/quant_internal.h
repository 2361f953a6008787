/* Shared declarations of the kernels of eam_quant.h (not part of the public interface). */
#ifndef EAM_QUANT_INTERNAL_H
#define EAM_QUANT_INTERNAL_H
#include "internal.h"
#include "canonical.h"
#include "eam_quant.h"

/* CPU features beyond the variants' (cached cpuid): EAM_CPU_* bits. */
enum { EAM_CPU_AVX512_VNNI = 1, EAM_CPU_AVX_VNNI = 2, EAM_CPU_F16C = 4, EAM_CPU_AMX_INT8 = 8 };
int eam_cpu_extra_features(void);

/* ---- GEMMs over weights decoded to f32 panels ("wide" GEMMs: f16 and int4) -------------------
 * A chunk of k of one or two panels is decoded into an f32 buffer on the stack, then run by the
 * f32 GEMM's register tiles; accumulators of a tile carry over chunks through a second buffer,
 * so every output element sees exactly the f32 GEMM's operations in the f32 GEMM's order. */

enum { EAM_WIDE_F16 = 0, EAM_WIDE_INT4 = 1 };

typedef struct {
  int kind;               /* EAM_WIDE_* */
  int K;                  /* depth of the weight */
  const uint16_t *f16;    /* f16: panels [P][K][16] */
  const uint8_t *codes;   /* int4: [P][K][8] */
  const uint16_t *scales; /* int4: [P][groups][16] binary16 */
  int group;              /* int4: k per scale group */
} eam_wide_src;

/* Chunk of k per decode and rows per block of carried accumulators. */
#define EAM_WIDE_KC 256
#define EAM_WIDE_MB 192

/* Writes the f32 values of panel p, rows k0 .. k0+kc, into dst[k · stride + j] (portable C). */
void eam_wide_decode_portable(const eam_wide_src *w, int p, int k0, int kc, float *dst, int stride);

typedef void (*eam_wide_fn)(int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc,
                            int n0, int n1, const eam_epilogue *e);
void eam_gemm_wide_scalar(int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc, int n0,
                          int n1, const eam_epilogue *e);
void eam_gemm_wide_avx2(int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc, int n0,
                        int n1, const eam_epilogue *e);
void eam_gemm_wide_avx512(int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc, int n0,
                          int n1, const eam_epilogue *e);
void eam_gemm_wide_neon(int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc, int n0, int n1,
                        const eam_epilogue *e);

/* The active variant's wide GEMM. */
eam_wide_fn eam_wide_gemm(void);

/* ---- int8 ------------------------------------------------------------------------------------ */

/* One int8 GEMM call, as the paths receive it (rows and columns as in eam_gemm_s8). */
typedef struct {
  int M, groups; /* groups of 4 k: Kp / 4 */
  const uint8_t *q;
  int ldq;
  const float *row_scale;
  const int32_t *row_zero;
  const int8_t *packed; /* panel 0 */
  const float *col_scale;
  const int32_t *col_sum;
  const float *bias;
  int flags;
  float *Y;
  int ldy, n0, n1;
} eam_s8_gemm;

/* The dequantizing epilogue of row m, columns [col, col + valid), from their int32 dot products
 * acc[0 .. valid): the one copy every int8 path that finishes in C uses. */
EAM_ALWAYS_INLINE void eam_s8_epilogue(const eam_s8_gemm *g, int m, int col, int valid, const int32_t *acc) {
  float *c = g->Y + (size_t)m * g->ldy + col;
  for (int j = 0; j < valid; j++) {
    const int n = col + j;
    const int32_t d = (int32_t)((int64_t)acc[j] - (int64_t)g->row_zero[m] * g->col_sum[n]);
    float v = (float)d * (g->row_scale[m] * g->col_scale[n]);
    if (g->flags & EAM_EPI_BIAS) v += g->bias[n];
    if (g->flags & EAM_EPI_GELU) v = eam_gelu_canonical(v);
    if (g->flags & EAM_EPI_ACCUMULATE) v += c[j];
    c[j] = v;
  }
}

void eam_gemm_s8_portable(const eam_s8_gemm *g);
void eam_gemm_s8_avx2(const eam_s8_gemm *g);
void eam_gemm_s8_avxvnni(const eam_s8_gemm *g);
void eam_gemm_s8_vnni512(const eam_s8_gemm *g);
void eam_gemm_s8_sdot(const eam_s8_gemm *g);
void eam_gemm_s8_amx(const eam_s8_gemm *g);
/* Whether the kernel lets this process use the AMX tile data (asked once). */
int eam_amx_permitted(void);

/* The activation quantizer: one row's parameters (the same scalar code on every variant), then
 * the codes per variant. */
void eam_quant_row_params(float mn, float mx, int qmax, float *scale, float *inv, int32_t *zero);
/* `range` (lo, hi): static quantization, every row with that range; NULL: each row its own. */
void eam_quantize_rows_scalar(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                              int32_t *zero, const float *range);
void eam_quantize_rows_avx2(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                              int32_t *zero, const float *range);
void eam_quantize_rows_avx512(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                              int32_t *zero, const float *range);

/* rint(t) as cvtps2dq computes it: nearest, ties to even; INT32_MIN if out of range or NaN. */
static inline int32_t eam_cvt_rne(float t) {
  /* Below 2²², adding and removing 1.5·2²³ rounds to an integer, to nearest even (no libm call) */
  if (t > -4194304.0f && t < 4194304.0f) return (int32_t)((t + 12582912.0f) - 12582912.0f);
  if (!(t > -2147483648.0f && t < 2147483648.0f)) return INT32_MIN;
  return (int32_t)__builtin_nearbyintf(t);
}

/* The code of an activation before the zero point: rint(x · inv). |x · inv| ≤ qmax·(1 + 2⁻²²)
 * when inv = qmax / range is finite (|x| ≤ range); otherwise inv = 0 and x · inv is 0 or NaN;
 * NaN gives INT32_MIN, as cvtps2dq. So no range check is needed. */
static inline int32_t eam_activation_code(float t) {
  return t == t ? (int32_t)((t + 12582912.0f) - 12582912.0f) : INT32_MIN;
}

#endif
