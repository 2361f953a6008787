/* The portable variant: plain C, libm's expf/erff. The reference the others are tested against. */
#include "internal.h"
#include <math.h>

float eam_gelu1(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

static inline float epilogue1(float acc, int n, const float *c, const eam_epilogue *e) {
  float v = e->alpha * acc;
  if (e->flags & EAM_EPI_BIAS) v += e->bias[n];
  if (e->flags & EAM_EPI_GELU) v = eam_gelu1(v);
  if (e->flags & EAM_EPI_ACCUMULATE) v += *c;
  return v;
}

void eam_gemm_scalar(int M, int K, const float *A, int lda, const float *panels, float *C, int ldc, int n0,
                     int n1, const eam_epilogue *e) {
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
        for (int j = 0; j < EAM_PANEL; j++) acc[j] += x * b[j];
      }
      float *c = C + (size_t)m * ldc + col;
      for (int j = 0; j < valid; j++) c[j] = epilogue1(acc[j], col + j, c + j, e);
    }
  }
}

void eam_softmax_scalar(float *x, int ld, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    float max = row[0];
    for (int j = 1; j < cols; j++) max = row[j] > max ? row[j] : max;
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
      row[j] = expf(row[j] - max);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < cols; j++) row[j] *= inv;
  }
}

void eam_layernorm_scalar(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *g,
                          const float *b, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ldx;
    float *yr = y + (size_t)r * ldy;
    double sum = 0.0;
    for (int i = 0; i < dim; i++) sum += xr[i];
    const float mean = (float)(sum / dim);
    double sq = 0.0;
    for (int i = 0; i < dim; i++) {
      const double d = (double)xr[i] - mean;
      sq += d * d;
    }
    const float inv = 1.0f / sqrtf((float)(sq / dim) + eps);
    for (int i = 0; i < dim; i++) yr[i] = (xr[i] - mean) * inv * g[i] + b[i];
  }
}

void eam_gelu_scalar(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = eam_gelu1(x[i]);
}
