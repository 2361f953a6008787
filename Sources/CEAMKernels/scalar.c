/* The portable variant: plain C, the canonical arithmetic of canonical.h (fmaf, the vector
 * formulas for exp and GELU, 16-lane reductions). Every other variant gives its bits. */
#include "internal.h"
#include "canonical.h"

float eam_gelu1(float x) { return eam_gelu_canonical(x); }

EAM_ALWAYS_INLINE float epilogue1(float acc, int n, const float *c, const eam_epilogue *e) {
  float v = e->alpha * acc;
  if (e->flags & EAM_EPI_BIAS) v += e->bias[n];
  if (e->flags & EAM_EPI_GELU) v = eam_gelu_canonical(v);
  if (e->flags & EAM_EPI_ACCUMULATE) v += *c;
  return v;
}

/* Each output element: one fused multiply-add per k, k ascending, from 0. */
EAM_PORTABLE(, eam_gemm_scalar, (int M, int K, const float *A, int lda, const float *panels, float *C, int ldc,
                                 int n0, int n1, const eam_epilogue *e), (M, K, A, lda, panels, C, ldc, n0, n1, e)) {
  for (int p = n0 / EAM_PANEL; p * EAM_PANEL < n1; p++) {
    const float *B = panels + (size_t)p * K * EAM_PANEL;
    int col = p * EAM_PANEL;
    int valid = n1 - col < EAM_PANEL ? n1 - col : EAM_PANEL;
    for (int m = 0; m < M; m++) {
      const float *a = A + (size_t)m * lda;
      float acc[EAM_PANEL] = {0};
      for (int k = 0; k < K; k++) {
        const float x = a[k];
        const float *b = B + (size_t)k * EAM_PANEL;
        for (int j = 0; j < EAM_PANEL; j++) acc[j] = fmaf(x, b[j], acc[j]);
      }
      float *c = C + (size_t)m * ldc + col;
      for (int j = 0; j < valid; j++) c[j] = epilogue1(acc[j], col + j, c + j, e);
    }
  }
}

EAM_PORTABLE(, eam_softmax_scalar, (float *x, int ld, int rows, int cols), (x, ld, rows, cols)) {
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    float part[EAM_LANES];
    for (int i = 0; i < EAM_LANES; i++) part[i] = -INFINITY;
    for (int j = 0; j < cols; j++) part[j % EAM_LANES] = eam_maxps(part[j % EAM_LANES], row[j]);
    const float max = eam_tree_max16(part);
    for (int i = 0; i < EAM_LANES; i++) part[i] = 0.0f;
    for (int j = 0; j < cols; j++) {
      row[j] = eam_exp1(row[j] - max);
      part[j % EAM_LANES] += row[j];
    }
    const float inv = 1.0f / eam_tree_sum16(part);
    for (int j = 0; j < cols; j++) row[j] *= inv;
  }
}

/* Mean, then the centred sum of squares (fused), each over 16 partials; y = fma(d·inv, g, b). */
EAM_PORTABLE(, eam_layernorm_scalar, (const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                                      const float *b, float eps), (x, ldx, y, ldy, rows, dim, g, b, eps)) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ldx;
    float *yr = y + (size_t)r * ldy;
    float part[EAM_LANES] = {0};
    for (int i = 0; i < dim; i++) part[i % EAM_LANES] += xr[i];
    const float mean = eam_tree_sum16(part) / (float)dim;
    for (int i = 0; i < EAM_LANES; i++) part[i] = 0.0f;
    for (int i = 0; i < dim; i++) {
      const float d = xr[i] - mean;
      part[i % EAM_LANES] = fmaf(d, d, part[i % EAM_LANES]);
    }
    const float inv = 1.0f / sqrtf(eam_tree_sum16(part) / (float)dim + eps);
    for (int i = 0; i < dim; i++) yr[i] = fmaf((xr[i] - mean) * inv, g[i], b[i]);
  }
}

EAM_PORTABLE(, eam_gelu_scalar, (float *x, size_t n), (x, n)) {
  for (size_t i = 0; i < n; i++) x[i] = eam_gelu_canonical(x[i]);
}
