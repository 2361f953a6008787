/* Shared declarations of the kernel variants (not part of the public interface). */
#ifndef EAM_KERNELS_INTERNAL_H
#define EAM_KERNELS_INTERNAL_H
#include "eam_kernels.h"
#include "eam_frozen.h"

/* What the GEMM tiles do after the dot products, per output element (row r, column n):
 * v = alpha·acc (+ bias[n]) (then GELU) (then + C[r][n]). */
typedef struct {
  float alpha;
  const float *bias; /* indexed by absolute column */
  int flags;         /* EAM_EPI_* */
} eam_epilogue;

/* One variant's GEMM over packed panels: rows [0, M) of A, panels covering columns [n0, n1).
 * `panels` points at the panel holding column 0. */
typedef void (*eam_gemm_fn)(int M, int K, const float *A, int lda, const float *panels, float *C,
                            int ldc, int n0, int n1, const eam_epilogue *e);

void eam_gemm_scalar(int M, int K, const float *A, int lda, const float *panels, float *C, int ldc,
                     int n0, int n1, const eam_epilogue *e);
void eam_gemm_avx2(int M, int K, const float *A, int lda, const float *panels, float *C, int ldc,
                   int n0, int n1, const eam_epilogue *e);
void eam_gemm_avx512(int M, int K, const float *A, int lda, const float *panels, float *C, int ldc,
                     int n0, int n1, const eam_epilogue *e);
void eam_gemm_neon(int M, int K, const float *A, int lda, const float *panels, float *C, int ldc, int n0, int n1,
                   const eam_epilogue *e);
/* The NEON GEMM's register tile, also run by the wide GEMMs on decoded chunks (neon.c). */
void eam_tile4x16_neon(int mr, int K, const float *A, int lda, const float *B, float *part, int first, int last,
                       float *C, int ldc, int col, int valid, const eam_epilogue *e);

void eam_softmax_scalar(float *x, int ld, int rows, int cols);
void eam_softmax_avx2(float *x, int ld, int rows, int cols);
void eam_softmax_avx512(float *x, int ld, int rows, int cols);
void eam_softmax_neon(float *x, int ld, int rows, int cols);

/* Writes a row's frozen values (code · code_scale; 0 when codes is NULL) into their entries (the
 * set bits of its frozen mask), set bit by set bit: as many branches as frozen entries, none
 * mispredicted per entry. */
static inline void eam_put_frozen_codes(float *row, const uint16_t *bits, int cols, const uint8_t *codes,
                                        float code_scale) {
  for (int j0 = 0; j0 < cols; j0 += 16) {
    unsigned w = bits[j0 >> 4] & (cols - j0 < 16 ? (1u << (cols - j0)) - 1 : 0xFFFFu);
    for (; w; w &= w - 1) {
      const int j = j0 + __builtin_ctz(w);
      row[j] = codes ? (float)codes[j] * code_scale : 0.0f;
    }
  }
}

/* eam_softmax_rows_frozen, per variant. */
void eam_softmax_frozen_scalar(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                               const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass);
void eam_softmax_frozen_avx2(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                             const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass);
void eam_softmax_frozen_avx512(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                               const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass);
void eam_softmax_frozen_neon(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                             const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass);

void eam_layernorm_scalar(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                          const float *b, float eps);
void eam_layernorm_avx2(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                        const float *b, float eps);
void eam_layernorm_avx512(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                          const float *b, float eps);
void eam_layernorm_neon(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                        const float *b, float eps);

void eam_gelu_scalar(float *x, size_t n);
void eam_gelu_avx2(float *x, size_t n);
void eam_gelu_avx512(float *x, size_t n);
void eam_gelu_neon(float *x, size_t n);

/* Exact GELU of one value, as the scalar variant computes it. */
float eam_gelu1(float x);

#endif
