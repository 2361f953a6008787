/* Shared declarations of the kernels of eam_quant.h (not part of the public interface). */
#ifndef EAM_QUANT_INTERNAL_H
#define EAM_QUANT_INTERNAL_H
#include "internal.h"
#include "eam_quant.h"

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
#define EAM_WIDE_MB 96

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

/* The active variant's wide GEMM. */
eam_wide_fn eam_wide_gemm(void);

#endif
