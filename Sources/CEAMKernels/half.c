/* IEEE binary16: portable conversions, f16 weight panels and their GEMM's entry point. */
#include "quant_internal.h"
#include <string.h>

static inline uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static inline float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

float eam_half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0x1F) return float_of(sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0)); /* inf; NaN made quiet */
  if (e == 0) {
    if (m == 0) return float_of(sign);
    /* Subnormal m·2⁻²⁴: shift the leading bit to position 10, the exponent down by as much. */
    const int shift = __builtin_clz(m) - 21;
    m = (m << shift) & 0x3FFu;
    e = 1 - shift + 112;
    return float_of(sign | (e << 23) | (m << 13));
  }
  return float_of(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t eam_float_to_half(float f) {
  uint32_t x = bits_of(f);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  x &= 0x7FFFFFFFu;
  if (x > 0x7F800000u) return sign | 0x7E00u | (uint16_t)((x >> 13) & 0x3FFu); /* NaN, quiet */
  if (x >= 0x477FF000u) return sign | 0x7C00u; /* ≥ 65520 rounds to inf (and inf) */
  if (x < 0x38800000u) {                       /* below 2⁻¹⁴: a subnormal half or zero */
    if (x <= 0x33000000u) return sign;         /* ≤ 2⁻²⁵: ties to the even 0 */
    const uint32_t m = (x & 0x7FFFFFu) | 0x800000u;
    const int shift = 126 - (int)(x >> 23); /* value / 2⁻²⁴ = m >> shift; shift in [14, 24] */
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return sign | (uint16_t)q; /* q = 0x400 is the smallest normal: right encoding */
  }
  x += 0xFFFu + ((x >> 13) & 1); /* round the 13 dropped bits to nearest even; a carry bumps the exponent */
  return sign | (uint16_t)((x - (112u << 23)) >> 13);
}

size_t eam_pack_size_f16(int N, int K) { return eam_pack_size(N, K); }

int eam_pack_weight_f16(const float *W, int ldw, int N, int K, uint16_t *packed) {
  const int panels = (N + EAM_PANEL - 1) / EAM_PANEL;
  for (int p = 0; p < panels; p++)
    for (int k = 0; k < K; k++)
      for (int j = 0; j < EAM_PANEL; j++) {
        const int n = p * EAM_PANEL + j;
        uint16_t h = 0;
        if (n < N) {
          h = eam_float_to_half(W[(size_t)n * ldw + k]);
          if ((h & 0x7C00u) == 0x7C00u) return -1;
        }
        packed[((size_t)p * K + k) * EAM_PANEL + j] = h;
      }
  return 0;
}

void eam_gemm_packed_f16(int M, int N, int K, const float *X, int ldx, const uint16_t *packed, const float *bias,
                         float *Y, int ldy, int n0, int n1, int epilogue) {
  (void)N;
  if (M <= 0 || n1 <= n0) return;
  const eam_epilogue e = {1.0f, bias, epilogue};
  const eam_wide_src w = {EAM_WIDE_F16, K, packed, NULL, NULL, 0};
  eam_wide_gemm()(M, X, ldx, &w, Y, ldy, n0, n1, &e);
}
