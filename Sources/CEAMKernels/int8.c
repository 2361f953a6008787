/* int8 GEMM: path selection, weight packing, the activation quantizer's dispatch and the
 * portable path (the reference every SIMD path must match bit for bit). */
#include "quant_internal.h"
#include "canonical.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20) /* Linux's bit for the dot-product instructions */
#endif
#endif

/* ---- Paths ----------------------------------------------------------------------------------- */

/* CPU features the kernel variants do not cover, read with cpuid once (cpuid traps to the
 * hypervisor in a VM: not on every call): bit 0 avx512_vnni (leaf 7.0 ECX 11), bit 1 avx_vnni
 * (leaf 7.1 EAX 4), bit 2 f16c (leaf 1 ECX 29). The OS state they need (ymm, zmm) is what
 * eam_kernels_supports checked for the variant they extend. */
static int features = -1;

int eam_cpu_extra_features(void) {
  int f = __atomic_load_n(&features, __ATOMIC_ACQUIRE);
  if (f >= 0) return f;
  f = 0;
#if defined(__x86_64__)
  unsigned int a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1u)) f |= EAM_CPU_F16C;
  if (__get_cpuid_max(0, NULL) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    if ((c >> 11) & 1u) f |= EAM_CPU_AVX512_VNNI;
    if (((d >> 24) & 1u) && ((d >> 25) & 1u)) f |= EAM_CPU_AMX_INT8; /* AMX-TILE and AMX-INT8 */
    __cpuid_count(7, 1, a, b, c, d);
    if ((a >> 4) & 1u) f |= EAM_CPU_AVX_VNNI;
  }
#endif
  __atomic_store_n(&features, f, __ATOMIC_RELEASE);
  return f;
}

int eam_int8_supports(int p) {
  switch (p) {
  case EAM_INT8_PORTABLE: return 1;
  case EAM_INT8_AVX2: return eam_kernels_supports(EAM_VARIANT_AVX2);
  case EAM_INT8_AVXVNNI: return eam_kernels_supports(EAM_VARIANT_AVX2) && (eam_cpu_extra_features() & EAM_CPU_AVX_VNNI);
  case EAM_INT8_VNNI512:
    return eam_kernels_supports(EAM_VARIANT_AVX512) && (eam_cpu_extra_features() & EAM_CPU_AVX512_VNNI);
#if defined(__x86_64__)
  case EAM_INT8_AMX:
    return eam_int8_supports(EAM_INT8_VNNI512) && (eam_cpu_extra_features() & EAM_CPU_AMX_INT8) && eam_amx_permitted();
#endif
#if defined(__aarch64__) && defined(__linux__)
  case EAM_INT8_SDOT: return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
  default: return 0;
  }
}

int eam_int8_best_path(int v) {
  const int x86 = v == EAM_VARIANT_AVX2 || v == EAM_VARIANT_AVX512;
  if (v == EAM_VARIANT_NEON && eam_int8_supports(EAM_INT8_SDOT)) return EAM_INT8_SDOT;
  if (v == EAM_VARIANT_AVX512 && eam_int8_supports(EAM_INT8_AMX)) return EAM_INT8_AMX;
  if (v == EAM_VARIANT_AVX512 && eam_int8_supports(EAM_INT8_VNNI512)) return EAM_INT8_VNNI512;
  if (x86 && eam_int8_supports(EAM_INT8_AVXVNNI)) return EAM_INT8_AVXVNNI;
  if (x86 && eam_int8_supports(EAM_INT8_AVX2)) return EAM_INT8_AVX2;
  return EAM_INT8_PORTABLE;
}

static const char *const path_names[] = {"portable", "avx2", "avxvnni", "vnni512", "sdot", "amx"};

const char *eam_int8_path_name(int p) { return p >= 0 && p <= EAM_INT8_AMX ? path_names[p] : NULL; }

int eam_int8_parse_path(const char *name) {
  for (int p = 0; p <= EAM_INT8_AMX; p++)
    if (name && strcmp(name, path_names[p]) == 0) return p;
  return -1;
}

/* -2: not read yet; -1: none forced. */
static int forced = -2;
static _Thread_local int thread_path = -1;

int eam_int8_path(void) {
  if (thread_path >= 0) return thread_path;
  int p = __atomic_load_n(&forced, __ATOMIC_ACQUIRE);
  if (p == -2) {
    p = eam_int8_parse_path(getenv("EAM_INT8"));
    if (p >= 0 && !eam_int8_supports(p)) p = -1;
    int expected = -2;
    if (!__atomic_compare_exchange_n(&forced, &expected, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) p = expected;
  }
  return p >= 0 ? p : eam_int8_best_path(eam_kernels_variant());
}

int eam_int8_set_path(int p) {
  if (p >= 0 && !eam_int8_supports(p)) return -1;
  __atomic_store_n(&forced, p < 0 ? -1 : p, __ATOMIC_RELEASE);
  return 0;
}

int eam_int8_set_thread_path(int p) {
  if (p >= 0 && !eam_int8_supports(p)) return -1;
  thread_path = p < 0 ? -1 : p;
  return 0;
}

int eam_int8_code_max(int p) { (void)p; return 255; }

/* ---- Weights --------------------------------------------------------------------------------- */

static size_t padded_k(int K) { return ((size_t)K + 3) & ~(size_t)3; }

size_t eam_int8_columns(int N) { return ((size_t)N + EAM_PANEL - 1) / EAM_PANEL * EAM_PANEL; }

size_t eam_pack_size_s8(int N, int K) { return eam_int8_columns(N) * padded_k(K); }

int eam_pack_weight_s8(const float *W, int ldw, int N, int K, int8_t *packed, float *col_scale, int32_t *col_sum) {
  if (K > EAM_INT8_MAX_K) return -1;
  const size_t Kp = padded_k(K), Np = eam_int8_columns(N);
  memset(packed, 0, Np * Kp);
  for (size_t n = 0; n < Np; n++) {
    col_scale[n] = 0.0f;
    col_sum[n] = 0;
    if (n >= (size_t)N) continue;
    const float *w = W + n * (size_t)ldw;
    float amax = 0.0f;
    for (int k = 0; k < K; k++) {
      if (!isfinite(w[k])) return -1;
      amax = fabsf(w[k]) > amax ? fabsf(w[k]) : amax;
    }
    const float s = amax / 127.0f;
    int32_t sum = 0;
    int8_t *panel = packed + (n / EAM_PANEL) * Kp * EAM_PANEL + (n % EAM_PANEL) * 4;
    for (int k = 0; s > 0.0f && k < K; k++) {
      float r = nearbyintf(w[k] / s);
      r = r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r;
      panel[(size_t)(k / 4) * 64 + k % 4] = (int8_t)r;
      sum += (int32_t)r;
    }
    col_scale[n] = s;
    col_sum[n] = sum;
  }
  return 0;
}

/* ---- Activations ----------------------------------------------------------------------------- */

void eam_quant_row_params(float mn, float mx, int qmax, float *scale, float *inv, int32_t *zero) {
  const float lo = mn < 0.0f ? mn : 0.0f, hi = mx > 0.0f ? mx : 0.0f;
  const float range = hi - lo;
  *scale = range / (float)qmax;
  *inv = range > 0.0f ? (float)qmax / range : 0.0f;
  if (!(*inv < INFINITY)) *inv = 0.0f; /* a range below qmax / FLT_MAX: every code is the zero point */
  int32_t z = eam_cvt_rne(-lo * *inv);
  *zero = z < 0 ? 0 : z > qmax ? qmax : z;
}

void eam_quantize_rows_scalar(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                              int32_t *zero, const float *range) {
  const int Kp = (int)padded_k(K);
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * ldx;
    uint8_t *qr = q + (size_t)r * ldq;
    /* The range always holds 0. Eight running values (vectorizes): a minimum of values that
     * start at +0 is the same whatever the order (−0 is never taken, NaN never). */
    float lmn[8] = {0}, lmx[8] = {0}, mn = 0.0f, mx = 0.0f;
    int k = range ? K : 0;
    for (; k + 8 <= K; k += 8)
      for (int i = 0; i < 8; i++) {
        lmn[i] = xr[k + i] < lmn[i] ? xr[k + i] : lmn[i];
        lmx[i] = xr[k + i] > lmx[i] ? xr[k + i] : lmx[i];
      }
    for (; k < K; k++) {
      mn = xr[k] < mn ? xr[k] : mn;
      mx = xr[k] > mx ? xr[k] : mx;
    }
    for (int i = 0; i < 8; i++) {
      mn = lmn[i] < mn ? lmn[i] : mn;
      mx = lmx[i] > mx ? lmx[i] : mx;
    }
    if (range) mn = range[0], mx = range[1];
    float inv;
    eam_quant_row_params(mn, mx, qmax, &scale[r], &inv, &zero[r]);
    for (k = 0; k < K; k++) {
      const int32_t c = eam_activation_code(xr[k] * inv);
      /* as vpaddd: wraps (only INT32_MIN + z can come near the limits, and it does not wrap) */
      const int32_t u = (int32_t)((uint32_t)c + (uint32_t)zero[r]);
      qr[k] = (uint8_t)(u < 0 ? 0 : u > qmax ? qmax : u);
    }
    for (k = K; k < Kp; k++) qr[k] = 0;
  }
}

/* The variant's row quantizer; `range` NULL: each row its own. */
static void quantize_rows(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                          int32_t *zero, const float *range) {
  if (rows <= 0 || qmax < 1 || qmax > 255) return;
  switch (eam_kernels_variant()) {
#if defined(__x86_64__)
  case EAM_VARIANT_AVX512: eam_quantize_rows_avx512(x, ldx, rows, K, qmax, q, ldq, scale, zero, range); break;
  case EAM_VARIANT_AVX2: eam_quantize_rows_avx2(x, ldx, rows, K, qmax, q, ldq, scale, zero, range); break;
#endif
  default: eam_quantize_rows_scalar(x, ldx, rows, K, qmax, q, ldq, scale, zero, range);
  }
}

void eam_quantize_rows_u8(const float *x, int ldx, int rows, int K, int qmax, uint8_t *q, int ldq, float *scale,
                          int32_t *zero) {
  quantize_rows(x, ldx, rows, K, qmax, q, ldq, scale, zero, NULL);
}

void eam_quantize_rows_u8_range(const float *x, int ldx, int rows, int K, int qmax, float lo, float hi, uint8_t *q,
                                int ldq, float *scale, int32_t *zero) {
  const float range[2] = {lo, hi};
  quantize_rows(x, ldx, rows, K, qmax, q, ldq, scale, zero, range);
}

/* ---- The GEMM -------------------------------------------------------------------------------- */

void eam_gemm_s8_portable(const eam_s8_gemm *g) {
  for (int p = g->n0 / EAM_PANEL; p * EAM_PANEL < g->n1; p++) {
    const int col = p * EAM_PANEL;
    const int valid = g->n1 - col < EAM_PANEL ? g->n1 - col : EAM_PANEL;
    const int8_t *w = g->packed + (size_t)p * g->groups * 64;
    for (int m = 0; m < g->M; m++) {
      const uint8_t *u = g->q + (size_t)m * g->ldq;
      /* Per byte of the 64-byte groups (vectorizes on any SIMD), then the 4 bytes of a column. */
      int32_t lane[64] = {0}, acc[EAM_PANEL];
      for (int gi = 0; gi < g->groups; gi++) {
        const int8_t *wg = w + (size_t)gi * 64;
        const int32_t u0 = u[4 * gi], u1 = u[4 * gi + 1], u2 = u[4 * gi + 2], u3 = u[4 * gi + 3];
        for (int b = 0; b < 64; b += 4) {
          lane[b] += u0 * wg[b];
          lane[b + 1] += u1 * wg[b + 1];
          lane[b + 2] += u2 * wg[b + 2];
          lane[b + 3] += u3 * wg[b + 3];
        }
      }
      for (int j = 0; j < EAM_PANEL; j++) acc[j] = lane[4 * j] + lane[4 * j + 1] + lane[4 * j + 2] + lane[4 * j + 3];
      eam_s8_epilogue(g, m, col, valid, acc);
    }
  }
}

int eam_gemm_s8(int p, int M, int N, int K, const uint8_t *q, int ldq, const float *row_scale, const int32_t *row_zero,
                const int8_t *packed, const float *col_scale, const int32_t *col_sum, const float *bias, float *Y,
                int ldy, int n0, int n1, int epilogue) {
  (void)N;
  if (p < 0) p = eam_int8_path();
  if (!eam_int8_supports(p) || K > EAM_INT8_MAX_K) return -1;
  if (M <= 0 || n1 <= n0) return 0;
  const eam_s8_gemm g = {M, (int)(padded_k(K) / 4), q, ldq, row_scale, row_zero, packed, col_scale, col_sum,
                         bias, epilogue, Y, ldy, n0, n1};
  switch (p) {
#if defined(__x86_64__)
  case EAM_INT8_AMX: eam_gemm_s8_amx(&g); break;
  case EAM_INT8_VNNI512: eam_gemm_s8_vnni512(&g); break;
  case EAM_INT8_AVXVNNI: eam_gemm_s8_avxvnni(&g); break;
  case EAM_INT8_AVX2: eam_gemm_s8_avx2(&g); break;
#endif
#if defined(__aarch64__)
  case EAM_INT8_SDOT: eam_gemm_s8_sdot(&g); break;
#endif
  default: eam_gemm_s8_portable(&g);
  }
  return 0;
}
