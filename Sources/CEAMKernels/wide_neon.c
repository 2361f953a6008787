/* The wide GEMMs (f16, int4 weights), NEON variant (aarch64): a chunk of one panel decoded to f32
 * (fcvtl for binary16, exact; nibbles widened, converted and scaled as the portable decoder does)
 * into a stack buffer and run by neon.c's 4×16 tile, accumulators carried over chunks: the f32
 * GEMM's operations in its order. */
/* aarch64 only: the whole file (other targets compile it empty). */
#if defined(__aarch64__)
#include "quant_internal.h"
#include <arm_neon.h>

#define KC EAM_WIDE_KC
#define MB EAM_WIDE_MB

static inline float32x4_t half4(const uint16_t *h) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h))); }

static void decode_f16(const uint16_t *src, int kc, float *dst) {
  for (int k = 0; k < kc; k++)
    for (int c = 0; c < 4; c++) vst1q_f32(dst + k * 16 + 4 * c, half4(src + k * 16 + 4 * c));
}

/* w = (nibble − 8) · s: the nibble − 8 is exact in float, one rounding for the product. */
static void decode_int4(const eam_wide_src *w, int p, int k0, int kc, float *dst) {
  const int G = w->group, groups = (w->K + G - 1) / G;
  const uint8_t *src = w->codes + ((size_t)p * w->K + k0) * (EAM_PANEL / 2);
  const float32x4_t eight = vdupq_n_f32(8.0f);
  for (int k = 0; k < kc;) {
    const int g = (k0 + k) / G, end = (g + 1) * G - k0 < kc ? (g + 1) * G - k0 : kc;
    const uint16_t *sp = w->scales + ((size_t)p * groups + g) * 16;
    const float32x4_t s0 = half4(sp), s1 = half4(sp + 4), s2 = half4(sp + 8), s3 = half4(sp + 12);
    for (; k < end; k++) {
      const uint8x8_t b = vld1_u8(src + k * 8);
      const uint16x8_t lo = vmovl_u8(vand_u8(b, vdup_n_u8(15))), hi = vmovl_u8(vshr_n_u8(b, 4));
      float *d = dst + k * 16;
      vst1q_f32(d, vmulq_f32(vsubq_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo))), eight), s0));
      vst1q_f32(d + 4, vmulq_f32(vsubq_f32(vcvtq_f32_u32(vmovl_u16(vget_high_u16(lo))), eight), s1));
      vst1q_f32(d + 8, vmulq_f32(vsubq_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi))), eight), s2));
      vst1q_f32(d + 12, vmulq_f32(vsubq_f32(vcvtq_f32_u32(vmovl_u16(vget_high_u16(hi))), eight), s3));
    }
  }
}

void eam_gemm_wide_neon(int M, const float *A, int lda, const eam_wide_src *w, float *C, int ldc, int n0, int n1,
                        const eam_epilogue *e) {
  const int K = w->K;
  float buf[KC * 16] __attribute__((aligned(16)));
  float part[MB * 16] __attribute__((aligned(16)));
  for (int p = n0 / EAM_PANEL; p * EAM_PANEL < n1; p++) {
    const int col = p * EAM_PANEL;
    const int valid = n1 - col < EAM_PANEL ? n1 - col : EAM_PANEL;
    for (int m0 = 0; m0 < M; m0 += MB) {
      const int mb = M - m0 < MB ? M - m0 : MB;
      for (int k0 = 0;; k0 += KC) {
        const int kc = K - k0 < KC ? K - k0 : KC;
        const int first = k0 == 0, last = k0 + kc >= K;
        if (w->kind == EAM_WIDE_F16) decode_f16(w->f16 + ((size_t)p * K + k0) * EAM_PANEL, kc, buf);
        else decode_int4(w, p, k0, kc, buf);
        for (int m = 0; m < mb; m += 4) {
          const int mr = mb - m < 4 ? mb - m : 4;
          eam_tile4x16_neon(mr, kc, A + (size_t)(m0 + m) * lda + k0, lda, buf, part + m * 16, first, last,
                            C + (size_t)(m0 + m) * ldc, ldc, col, valid, e);
        }
        if (last) break;
      }
    }
  }
}
#endif
