/* Variant selection and the public entry points: each forwards to the active variant. */
#include "internal.h"
#include "eam_quant.h"
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

static int active = -1;
static _Thread_local int thread_override = -1;

int eam_kernels_supports(int v) {
  switch (v) {
  case EAM_VARIANT_SCALAR: return 1;
#if defined(__x86_64__)
  case EAM_VARIANT_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case EAM_VARIANT_AVX512:
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#endif
#if defined(__aarch64__)
  case EAM_VARIANT_NEON: return 1; /* Advanced SIMD is part of the aarch64 base */
#endif
  default: return 0;
  }
}

int eam_kernels_best_variant(void) {
  if (eam_kernels_supports(EAM_VARIANT_NEON)) return EAM_VARIANT_NEON;
  if (eam_kernels_supports(EAM_VARIANT_AVX512)) return EAM_VARIANT_AVX512;
  if (eam_kernels_supports(EAM_VARIANT_AVX2)) return EAM_VARIANT_AVX2;
  return EAM_VARIANT_SCALAR;
}

const char *eam_kernels_variant_name(int v) {
  switch (v) {
  case EAM_VARIANT_SCALAR: return "scalar";
  case EAM_VARIANT_AVX2: return "avx2";
  case EAM_VARIANT_AVX512: return "avx512";
  case EAM_VARIANT_NEON: return "neon";
  default: return NULL;
  }
}

int eam_kernels_parse_variant(const char *name) {
  for (int v = 0; v <= EAM_VARIANT_NEON; v++)
    if (name && strcmp(name, eam_kernels_variant_name(v)) == 0) return v;
  return -1;
}

int eam_kernels_variant(void) {
  if (thread_override >= 0) return thread_override;
  int v = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
  if (v >= 0) return v;
  v = eam_kernels_best_variant();
  int forced = eam_kernels_parse_variant(getenv("EAM_KERNELS"));
  if (forced >= 0 && eam_kernels_supports(forced)) v = forced;
  __atomic_store_n(&active, v, __ATOMIC_RELEASE);
  return v;
}

int eam_kernels_set_variant(int v) {
  if (!eam_kernels_supports(v)) return -1;
  __atomic_store_n(&active, v, __ATOMIC_RELEASE);
  return 0;
}

int eam_kernels_set_thread_variant(int v) {
  if (v < 0) {
    thread_override = -1;
    return 0;
  }
  if (!eam_kernels_supports(v)) return -1;
  thread_override = v;
  return 0;
}

void eam_cpu_brand(char *buf, size_t len) {
  if (len == 0) return;
  buf[0] = 0;
#if defined(__x86_64__)
  unsigned int regs[12];
  if (__get_cpuid_max(0x80000000, NULL) < 0x80000004) return;
  for (unsigned int i = 0; i < 3; i++)
    __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
  size_t n = len - 1 < 48 ? len - 1 : 48;
  memcpy(buf, regs, n);
  buf[n] = 0;
#elif defined(__aarch64__)
  /* No brand register: the architecture and the features the kernels use. */
  const char *s = eam_int8_supports(EAM_INT8_SDOT) ? "aarch64 (neon, dotprod)" : "aarch64 (neon)";
  size_t n = strlen(s) < len - 1 ? strlen(s) : len - 1;
  memcpy(buf, s, n);
  buf[n] = 0;
#endif
}

/* ---- Packing ------------------------------------------------------------------------------ */

size_t eam_pack_size(int N, int K) { return (size_t)((N + EAM_PANEL - 1) / EAM_PANEL) * EAM_PANEL * (size_t)K; }

void eam_pack_weight(const float *W, int ldw, int N, int K, float *packed) {
  int panels = (N + EAM_PANEL - 1) / EAM_PANEL;
  for (int p = 0; p < panels; p++)
    for (int k = 0; k < K; k++)
      for (int j = 0; j < EAM_PANEL; j++) {
        int n = p * EAM_PANEL + j;
        packed[((size_t)p * K + k) * EAM_PANEL + j] = n < N ? W[(size_t)n * ldw + k] : 0.0f;
      }
}

/* ---- GEMMs -------------------------------------------------------------------------------- */

static eam_gemm_fn gemm_fn(void) {
  switch (eam_kernels_variant()) {
#if defined(__x86_64__)
  case EAM_VARIANT_AVX512: return eam_gemm_avx512;
  case EAM_VARIANT_AVX2: return eam_gemm_avx2;
#endif
#if defined(__aarch64__)
  case EAM_VARIANT_NEON: return eam_gemm_neon;
#endif
  default: return eam_gemm_scalar;
  }
}

void eam_gemm_packed(int M, int N, int K, const float *X, int ldx, const float *packed, const float *bias,
                     float *Y, int ldy, int n0, int n1, int epilogue) {
  (void)N;
  if (M <= 0 || n1 <= n0) return;
  eam_epilogue e = {1.0f, bias, epilogue};
  gemm_fn()(M, K, X, ldx, packed, Y, ldy, n0, n1, &e);
}

/* Attention GEMMs pack their right operand on the fly, one panel group at a time, into a
 * buffer on the stack; K is processed in chunks so the buffer stays small. */
#define KC 512
#define GROUP 4 /* panels per packed group */

/* Each column group of B is packed once for all runs of rows. */
void eam_gemm_nt_rows(int nruns, const int32_t *runs, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float *C, int ldc) {
  if (nruns <= 0 || N <= 0) return;
  eam_gemm_fn gemm = gemm_fn();
  float buf[GROUP * EAM_PANEL * KC] __attribute__((aligned(64)));
  for (int c0 = 0; c0 < N; c0 += GROUP * EAM_PANEL) {
    int c1 = c0 + GROUP * EAM_PANEL < N ? c0 + GROUP * EAM_PANEL : N;
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = K - k0 < KC ? K - k0 : KC;
      int panels = (c1 - c0 + EAM_PANEL - 1) / EAM_PANEL;
      for (int p = 0; p < panels; p++) {
        /* The panel written in order, k by k, from its 16 rows of B (columns past c1: zeros). */
        const int n0 = c0 + p * EAM_PANEL, valid = c1 - n0 < EAM_PANEL ? c1 - n0 : EAM_PANEL;
        const float *src[EAM_PANEL];
        for (int j = 0; j < EAM_PANEL; j++) src[j] = B + (size_t)(j < valid ? n0 + j : n0) * ldb + k0;
        float *dst = buf + (size_t)p * kc * EAM_PANEL;
        for (int k = 0; k < kc; k++)
          for (int j = 0; j < EAM_PANEL; j++) dst[k * EAM_PANEL + j] = j < valid ? src[j][k] : 0.0f;
      }
      eam_epilogue e = {alpha, NULL, k0 > 0 ? EAM_EPI_ACCUMULATE : 0};
      /* Columns are relative to c0: pass C offset to c0 and the range [0, c1 - c0). */
      for (int i = 0; i < nruns; i++) {
        const size_t r0 = (size_t)runs[2 * i];
        if (runs[2 * i + 1] > 0)
          gemm(runs[2 * i + 1], kc, A + r0 * lda + k0, lda, buf, C + r0 * ldc + c0, ldc, 0, c1 - c0, &e);
      }
    }
  }
}

void eam_gemm_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                 float *C, int ldc) {
  if (M <= 0) return;
  const int32_t all[2] = {0, M};
  eam_gemm_nt_rows(1, all, N, K, alpha, A, lda, B, ldb, C, ldc);
}

void eam_gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                 int accumulate) {
  if (M <= 0 || N <= 0) return;
  eam_gemm_fn gemm = gemm_fn();
  float buf[GROUP * EAM_PANEL * KC] __attribute__((aligned(64)));
  for (int c0 = 0; c0 < N; c0 += GROUP * EAM_PANEL) {
    int c1 = c0 + GROUP * EAM_PANEL < N ? c0 + GROUP * EAM_PANEL : N;
    int panels = (c1 - c0 + EAM_PANEL - 1) / EAM_PANEL;
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = K - k0 < KC ? K - k0 : KC;
      for (int p = 0; p < panels; p++)
        for (int k = 0; k < kc; k++) {
          float *dst = buf + ((size_t)p * kc + k) * EAM_PANEL;
          const float *src = B + (size_t)(k0 + k) * ldb + c0 + p * EAM_PANEL;
          int valid = c1 - (c0 + p * EAM_PANEL);
          if (valid >= EAM_PANEL) {
            memcpy(dst, src, EAM_PANEL * sizeof(float));
          } else {
            for (int j = 0; j < EAM_PANEL; j++) dst[j] = j < valid ? src[j] : 0.0f;
          }
        }
      eam_epilogue e = {1.0f, NULL, (k0 > 0 || accumulate) ? EAM_EPI_ACCUMULATE : 0};
      gemm(M, kc, A + k0, lda, buf, C + c0, ldc, 0, c1 - c0, &e);
    }
  }
}

/* ---- Row-wise and element-wise ------------------------------------------------------------ */

void eam_layernorm(const float *x, int ldx, float *y, int ldy, int rows, int dim, const float *gamma,
                   const float *beta, float eps) {
  switch (eam_kernels_variant()) {
#if defined(__x86_64__)
  case EAM_VARIANT_AVX512: eam_layernorm_avx512(x, ldx, y, ldy, rows, dim, gamma, beta, eps); break;
  case EAM_VARIANT_AVX2: eam_layernorm_avx2(x, ldx, y, ldy, rows, dim, gamma, beta, eps); break;
#endif
#if defined(__aarch64__)
  case EAM_VARIANT_NEON: eam_layernorm_neon(x, ldx, y, ldy, rows, dim, gamma, beta, eps); break;
#endif
  default: eam_layernorm_scalar(x, ldx, y, ldy, rows, dim, gamma, beta, eps);
  }
}

void eam_softmax_rows(float *x, int ld, int rows, int cols) {
  switch (eam_kernels_variant()) {
#if defined(__x86_64__)
  case EAM_VARIANT_AVX512: eam_softmax_avx512(x, ld, rows, cols); break;
  case EAM_VARIANT_AVX2: eam_softmax_avx2(x, ld, rows, cols); break;
#endif
#if defined(__aarch64__)
  case EAM_VARIANT_NEON: eam_softmax_neon(x, ld, rows, cols); break;
#endif
  default: eam_softmax_scalar(x, ld, rows, cols);
  }
}

void eam_softmax_rows_frozen(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                             const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass) {
  switch (eam_kernels_variant()) {
#if defined(__x86_64__)
  case EAM_VARIANT_AVX512:
    eam_softmax_frozen_avx512(x, ld, rows, cols, frozen, frozen_ld, codes, codes_ld, code_scale, free_mass);
    break;
  case EAM_VARIANT_AVX2:
    eam_softmax_frozen_avx2(x, ld, rows, cols, frozen, frozen_ld, codes, codes_ld, code_scale, free_mass);
    break;
#endif
#if defined(__aarch64__)
  case EAM_VARIANT_NEON:
    eam_softmax_frozen_neon(x, ld, rows, cols, frozen, frozen_ld, codes, codes_ld, code_scale, free_mass);
    break;
#endif
  default: eam_softmax_frozen_scalar(x, ld, rows, cols, frozen, frozen_ld, codes, codes_ld, code_scale, free_mass);
  }
}

void eam_gelu(float *x, size_t n) {
  switch (eam_kernels_variant()) {
#if defined(__x86_64__)
  case EAM_VARIANT_AVX512: eam_gelu_avx512(x, n); break;
  case EAM_VARIANT_AVX2: eam_gelu_avx2(x, n); break;
#endif
#if defined(__aarch64__)
  case EAM_VARIANT_NEON: eam_gelu_neon(x, n); break;
#endif
  default: eam_gelu_scalar(x, n);
  }
}

void eam_add(float *y, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}
