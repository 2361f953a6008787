/* The wide GEMMs' portable parts: decoding panels to f32, the scalar variant, the dispatch.
 * The scalar variant performs eam_gemm_scalar's operations in its order (acc = fma(x, w, acc),
 * then its epilogue), on the decoded panels. */
#include "quant_internal.h"
#include "canonical.h"

void eam_wide_decode_portable(const eam_wide_src *w, int p, int k0, int kc, float *dst, int stride) {
  if (w->kind == EAM_WIDE_F16) {
    const uint16_t *src = w->f16 + ((size_t)p * w->K + k0) * EAM_PANEL;
    for (int k = 0; k < kc; k++)
      for (int j = 0; j < EAM_PANEL; j++) dst[(size_t)k * stride + j] = eam_half_to_float(src[k * EAM_PANEL + j]);
    return;
  }
  const int groups = (w->K + w->group - 1) / w->group;
  const uint8_t *src = w->codes + ((size_t)p * w->K + k0) * (EAM_PANEL / 2);
  for (int k = 0; k < kc; k++) {
    const uint16_t *s = w->scales + ((size_t)p * groups + (k0 + k) / w->group) * EAM_PANEL;
    float *d = dst + (size_t)k * stride;
    for (int j = 0; j < EAM_PANEL / 2; j++) {
      const unsigned b = src[k * (EAM_PANEL / 2) + j];
      d[j] = ((float)(b & 15u) - 8.0f) * eam_half_to_float(s[j]);
      d[j + EAM_PANEL / 2] = ((float)(b >> 4) - 8.0f) * eam_half_to_float(s[j + EAM_PANEL / 2]);
    }
  }
}

/* eam_gemm_scalar's epilogue. */
EAM_ALWAYS_INLINE float epilogue1(float acc, int n, const float *c, const eam_epilogue *e) {
  float v = e->alpha * acc;
  if (e->flags & EAM_EPI_BIAS) v += e->bias[n];
  if (e->flags & EAM_EPI_GELU) v = eam_gelu_canonical(v);
  if (e->flags & EAM_EPI_ACCUMULATE) v += *c;
  return v;
}

EAM_PORTABLE(, eam_gemm_wide_scalar, (int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc,
                                      int n0, int n1, const eam_epilogue *e), (M, A, lda, w, C, ldc, n0, n1, e)) {
  const int K = w->K;
  float buf[EAM_WIDE_KC * EAM_PANEL];
  float part[EAM_WIDE_MB * EAM_PANEL];
  for (int p = n0 / EAM_PANEL; p * EAM_PANEL < n1; p++) {
    const int col = p * EAM_PANEL;
    const int valid = n1 - col < EAM_PANEL ? n1 - col : EAM_PANEL;
    for (int m0 = 0; m0 < M; m0 += EAM_WIDE_MB) {
      const int mb = M - m0 < EAM_WIDE_MB ? M - m0 : EAM_WIDE_MB;
      for (int k0 = 0;; k0 += EAM_WIDE_KC) {
        const int kc = K - k0 < EAM_WIDE_KC ? K - k0 : EAM_WIDE_KC;
        const int last = k0 + kc >= K;
        eam_wide_decode_portable(w, p, k0, kc, buf, EAM_PANEL);
        for (int m = 0; m < mb; m++) {
          const float *a = A + (size_t)(m0 + m) * lda + k0;
          float acc[EAM_PANEL] = {0};
          if (k0 > 0)
            for (int j = 0; j < EAM_PANEL; j++) acc[j] = part[m * EAM_PANEL + j];
          for (int k = 0; k < kc; k++) {
            const float x = a[k];
            const float *b = buf + (size_t)k * EAM_PANEL;
            for (int j = 0; j < EAM_PANEL; j++) acc[j] = fmaf(x, b[j], acc[j]);
          }
          if (last) {
            float *c = C + (size_t)(m0 + m) * ldc + col;
            for (int j = 0; j < valid; j++) c[j] = epilogue1(acc[j], col + j, c + j, e);
          } else {
            for (int j = 0; j < EAM_PANEL; j++) part[m * EAM_PANEL + j] = acc[j];
          }
        }
        if (last) break;
      }
    }
  }
}

eam_wide_fn eam_wide_gemm(void) {
  switch (eam_kernels_variant()) {
#if defined(__x86_64__)
  case EAM_VARIANT_AVX512: return eam_gemm_wide_avx512;
  case EAM_VARIANT_AVX2: return eam_gemm_wide_avx2;
#endif
#if defined(__aarch64__)
  case EAM_VARIANT_NEON: return eam_gemm_wide_neon;
#endif
  default: return eam_gemm_wide_scalar;
  }
}
