/* int4 weight-only linear layers: group-wise symmetric quantization, packing, the GEMM's entry
 * point (the wide GEMMs decode the nibbles). */
#include "quant_internal.h"
#include <math.h>
#include <string.h>

static size_t panels(int N) { return ((size_t)N + EAM_PANEL - 1) / EAM_PANEL; }

size_t eam_pack_size_int4(int N, int K) { return panels(N) * (size_t)K * (EAM_PANEL / 2); }

size_t eam_int4_scale_count(int N, int K, int group) {
  return group < 1 ? 0 : panels(N) * (((size_t)K + group - 1) / group) * EAM_PANEL;
}

/* Byte and shift of code (n, k). */
static inline size_t code_byte(int n, int k, int K) {
  return ((size_t)(n / EAM_PANEL) * K + k) * (EAM_PANEL / 2) + (n % EAM_PANEL) % (EAM_PANEL / 2);
}
static inline int code_shift(int n) { return (n % EAM_PANEL) >= EAM_PANEL / 2 ? 4 : 0; }

/* Packs W with each group's scale `given` ([N][groups]) or, when NULL, binary16(max |W| / 7). */
static int pack_int4(const float *W, int ldw, int N, int K, int group, const uint16_t *given, uint8_t *codes,
                     uint16_t *scales) {
  if (group < 1) return -1;
  const int groups = (K + group - 1) / group;
  memset(codes, 0x88, eam_pack_size_int4(N, K));
  memset(scales, 0, eam_int4_scale_count(N, K, group) * sizeof(uint16_t));
  for (int n = 0; n < N; n++) {
    const float *w = W + (size_t)n * ldw;
    for (int g = 0; g < groups; g++) {
      const int k0 = g * group, k1 = K - k0 < group ? K : k0 + group;
      float amax = 0.0f;
      for (int k = k0; k < k1; k++) {
        if (!isfinite(w[k])) return -1;
        amax = fabsf(w[k]) > amax ? fabsf(w[k]) : amax;
      }
      const uint16_t h = given ? given[(size_t)n * groups + g] : eam_float_to_half(amax / 7.0f);
      if ((h & 0x7C00u) == 0x7C00u || (h & 0x8000u)) return -1;
      scales[((size_t)(n / EAM_PANEL) * groups + g) * EAM_PANEL + n % EAM_PANEL] = h;
      const float s = eam_half_to_float(h);
      for (int k = k0; k < k1; k++) {
        float q = s > 0.0f ? nearbyintf(w[k] / s) : 0.0f;
        q = q > 7.0f ? 7.0f : q < -7.0f ? -7.0f : q;
        uint8_t *b = codes + code_byte(n, k, K);
        const int shift = code_shift(n);
        *b = (uint8_t)((*b & ~(15u << shift)) | ((unsigned)((int)q + 8) << shift));
      }
    }
  }
  return 0;
}

int eam_pack_weight_int4(const float *W, int ldw, int N, int K, int group, uint8_t *codes, uint16_t *scales) {
  return pack_int4(W, ldw, N, K, group, NULL, codes, scales);
}

int eam_pack_weight_int4_scaled(const float *W, int ldw, int N, int K, int group, const uint16_t *given,
                                uint8_t *codes, uint16_t *scales) {
  return pack_int4(W, ldw, N, K, group, given, codes, scales);
}

void eam_unpack_weight_int4(const uint8_t *codes, const uint16_t *scales, int N, int K, int group, float *W, int ldw) {
  if (group < 1) return;
  const int groups = (K + group - 1) / group;
  for (int n = 0; n < N; n++)
    for (int k = 0; k < K; k++) {
      const unsigned q = (codes[code_byte(n, k, K)] >> code_shift(n)) & 15u;
      const float s = eam_half_to_float(scales[((size_t)(n / EAM_PANEL) * groups + k / group) * EAM_PANEL + n % EAM_PANEL]);
      W[(size_t)n * ldw + k] = ((float)q - 8.0f) * s;
    }
}

int eam_gemm_int4(int M, int N, int K, int group, const float *X, int ldx, const uint8_t *codes, const uint16_t *scales,
                  const float *bias, float *Y, int ldy, int n0, int n1, int epilogue) {
  (void)N;
  if (group < 1) return -1;
  if (M <= 0 || n1 <= n0) return 0;
  const eam_epilogue e = {1.0f, bias, epilogue};
  const eam_wide_src w = {EAM_WIDE_INT4, K, NULL, codes, scales, group};
  eam_wide_gemm()(M, X, ldx, &w, Y, ldy, n0, n1, &e);
  return 0;
}
