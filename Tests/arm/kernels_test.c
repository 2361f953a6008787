/* The NEON variant and the sdot int8 path against the portable ones, bit for bit, on seeded
 * inputs over many shapes and edges (scripts/arm_kernels_test.sh builds it for aarch64 and runs it
 * under qemu). Each case computes the same outputs under both (the variant switched on this
 * thread) and compares their bits. One line per kernel; exit status 1 on any difference. */
#include "eam_attention.h"
#include "eam_frozen.h"
#include "eam_kernels.h"
#include "eam_quant.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;
static void seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static uint32_t next32(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)((z ^ (z >> 31)) >> 32);
}
static float uniform(void) { return (float)(next32() >> 8) * (2.0f / 16777216.0f) - 1.0f; } /* [-1, 1) */

/* Ordinary values times `scale`, with large ones, subnormals and signed zeros mixed in (no NaN);
 * −inf too when `infinities`. */
static void hard_values(float *x, size_t n, float scale, int infinities) {
  for (size_t i = 0; i < n; i++) {
    const float u = uniform();
    uint32_t b;
    switch (next32() % 23) {
    case 3: x[i] = u * 1e-38f; break;
    case 7: b = (next32() % 1000) | (u < 0 ? 0x80000000u : 0); memcpy(&x[i], &b, 4); break;
    case 11: x[i] = next32() & 1 ? 0.0f : -0.0f; break;
    case 13: x[i] = u * 100.0f * scale; break;
    case 17: x[i] = infinities ? -INFINITY : u * scale; break;
    default: x[i] = u * scale;
    }
  }
}

static void *alloc(size_t bytes) {
  void *p = calloc(bytes ? bytes : 1, 1);
  if (!p) { fprintf(stderr, "kernels_test: out of memory (%zu bytes)\n", bytes); exit(2); }
  return p;
}

/* Per kernel: cases run, cases that differed, and the first difference. */
typedef struct { const char *name; long cases, failed; char first[200]; } tally;

static void compare(tally *t, const void *want, const void *got, size_t n, const char *what) {
  t->cases++;
  const uint32_t *a = want, *b = got;
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) {
      if (t->failed++ == 0) {
        float fa, fb;
        memcpy(&fa, &a[i], 4); memcpy(&fb, &b[i], 4);
        snprintf(t->first, sizeof t->first, "%s: element %zu: portable %a (0x%08x), other %a (0x%08x)", what, i, fa,
                 a[i], fb, b[i]);
      }
      return;
    }
}

static int failures = 0;
static void report(const tally *t, const char *against) {
  printf("%-22s %-28s %5ld cases  %s\n", t->name, against, t->cases, t->failed ? "DIFFER" : "bit-identical");
  if (t->failed) {
    printf("    %ld cases differ; first: %s\n", t->failed, t->first);
    failures++;
  }
}

static int V; /* the variant under test */

static void use(int v) {
  if (eam_kernels_set_thread_variant(v) != 0) { fprintf(stderr, "kernels_test: variant %d refused\n", v); exit(2); }
}

/* ---- f32 GEMMs ------------------------------------------------------------------------------- */

static void test_gemm_packed(void) {
  tally t = {"gemm_packed", 0, 0, ""};
  const int Ms[] = {1, 2, 3, 4, 5, 7, 9, 13, 50};
  const int Ns[] = {1, 3, 15, 16, 17, 31, 33, 64, 100};
  const int Ks[] = {1, 2, 3, 4, 5, 7, 16, 17, 63, 64, 65, 385};
  for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
    for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
      for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
        const int M = Ms[mi], N = Ns[ni], K = Ks[ki], ld = K + 3, ldy = N + 5;
        const int epi = (int)((mi + ni + ki) % 8);
        seed(1000 + 100 * mi + 10 * ni + ki);
        float *X = alloc(sizeof(float) * M * ld), *W = alloc(sizeof(float) * N * K), *bias = alloc(sizeof(float) * N);
        float *P = alloc(sizeof(float) * eam_pack_size(N, K));
        float *Y0 = alloc(sizeof(float) * M * ldy), *Y1 = alloc(sizeof(float) * M * ldy);
        hard_values(X, (size_t)M * ld, 3.0f, 0);
        hard_values(W, (size_t)N * K, 0.5f, 0);
        hard_values(bias, N, 2.0f, 0);
        hard_values(Y0, (size_t)M * ldy, 1.0f, 0);
        memcpy(Y1, Y0, sizeof(float) * M * ldy);
        eam_pack_weight(W, K, N, K, P);
        /* all columns, then a sub-range starting at panel 1 */
        const int n0 = (ki % 2 && N > 16) ? 16 : 0, n1 = (ki % 3 == 1 && N - n0 > 1) ? N - 1 : N;
        use(EAM_VARIANT_SCALAR);
        eam_gemm_packed(M, N, K, X, ld, P, bias, Y0, ldy, n0, n1, epi);
        use(V);
        eam_gemm_packed(M, N, K, X, ld, P, bias, Y1, ldy, n0, n1, epi);
        char what[96];
        snprintf(what, sizeof what, "M %d N %d K %d cols [%d, %d) epilogue %d", M, N, K, n0, n1, epi);
        compare(&t, Y0, Y1, (size_t)M * ldy, what);
        free(X); free(W); free(bias); free(P); free(Y0); free(Y1);
      }
  report(&t, "vs scalar");
}

static void test_gemm_nt_nn(void) {
  tally t = {"gemm_nt / gemm_nn", 0, 0, ""};
  const int shapes[][3] = {{1, 1, 1}, {1, 17, 3}, {5, 50, 64}, {7, 65, 33}, {13, 197, 64}, {3, 70, 600}, {6, 33, 1030}};
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    seed(2000 + s);
    float *A = alloc(sizeof(float) * M * K), *B = alloc(sizeof(float) * N * K), *Bn = alloc(sizeof(float) * K * N);
    float *C0 = alloc(sizeof(float) * M * N), *C1 = alloc(sizeof(float) * M * N);
    hard_values(A, (size_t)M * K, 2.0f, 0);
    hard_values(B, (size_t)N * K, 2.0f, 0);
    hard_values(Bn, (size_t)K * N, 2.0f, 0);
    char what[64];
    use(EAM_VARIANT_SCALAR);
    eam_gemm_nt(M, N, K, 0.125f, A, K, B, K, C0, N);
    use(V);
    eam_gemm_nt(M, N, K, 0.125f, A, K, B, K, C1, N);
    snprintf(what, sizeof what, "nt M %d N %d K %d", M, N, K);
    compare(&t, C0, C1, (size_t)M * N, what);
    for (int acc = 0; acc < 2; acc++) {
      use(EAM_VARIANT_SCALAR);
      eam_gemm_nn(M, N, K, A, K, Bn, N, C0, N, acc);
      use(V);
      eam_gemm_nn(M, N, K, A, K, Bn, N, C1, N, acc);
      snprintf(what, sizeof what, "nn M %d N %d K %d accumulate %d", M, N, K, acc);
      compare(&t, C0, C1, (size_t)M * N, what);
    }
    free(A); free(B); free(Bn); free(C0); free(C1);
  }
  report(&t, "vs scalar");
}

/* f16 and int4 weights: decoded panels through the f32 tile, chunks of k carried (K > 256), row
 * blocks (M > 192). */
static void test_gemm_wide(void) {
  tally t = {"gemm f16 / int4", 0, 0, ""};
  const int shapes[][4] = {{1, 1, 1, 1}, {3, 17, 5, 2}, {5, 33, 300, 32}, {9, 16, 513, 64}, {200, 20, 260, 7}};
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], G = shapes[s][3];
    seed(3000 + s);
    float *X = alloc(sizeof(float) * M * K), *W = alloc(sizeof(float) * N * K), *bias = alloc(sizeof(float) * N);
    uint16_t *P = alloc(sizeof(uint16_t) * eam_pack_size_f16(N, K));
    uint8_t *codes = alloc(eam_pack_size_int4(N, K));
    uint16_t *scales = alloc(sizeof(uint16_t) * eam_int4_scale_count(N, K, G));
    float *Y0 = alloc(sizeof(float) * M * N), *Y1 = alloc(sizeof(float) * M * N);
    hard_values(X, (size_t)M * K, 2.0f, 0);
    for (int i = 0; i < N * K; i++) W[i] = uniform();
    hard_values(bias, N, 1.0f, 0);
    if (eam_pack_weight_f16(W, K, N, K, P) != 0 || eam_pack_weight_int4(W, K, N, K, G, codes, scales) != 0) {
      fprintf(stderr, "kernels_test: f16 or int4 pack refused\n");
      exit(2);
    }
    const int epi = (int)(s % 8);
    char what[64];
    use(EAM_VARIANT_SCALAR);
    eam_gemm_packed_f16(M, N, K, X, K, P, bias, Y0, N, 0, N, epi);
    use(V);
    eam_gemm_packed_f16(M, N, K, X, K, P, bias, Y1, N, 0, N, epi);
    snprintf(what, sizeof what, "f16 M %d N %d K %d epilogue %d", M, N, K, epi);
    compare(&t, Y0, Y1, (size_t)M * N, what);
    use(EAM_VARIANT_SCALAR);
    eam_gemm_int4(M, N, K, G, X, K, codes, scales, bias, Y0, N, 0, N, EAM_EPI_BIAS | EAM_EPI_GELU);
    use(V);
    eam_gemm_int4(M, N, K, G, X, K, codes, scales, bias, Y1, N, 0, N, EAM_EPI_BIAS | EAM_EPI_GELU);
    snprintf(what, sizeof what, "int4 M %d N %d K %d group %d", M, N, K, G);
    compare(&t, Y0, Y1, (size_t)M * N, what);
    free(X); free(W); free(bias); free(P); free(codes); free(scales); free(Y0); free(Y1);
  }
  report(&t, "vs scalar");
}

/* ---- Row-wise and element-wise --------------------------------------------------------------- */

static void test_softmax(void) {
  tally t = {"softmax_rows", 0, 0, ""};
  const int rows = 3;
  for (int cols = 1; cols <= 300; cols++) {
    const int ld = cols + 2;
    seed(4000 + cols);
    float *x0 = alloc(sizeof(float) * rows * ld), *x1 = alloc(sizeof(float) * rows * ld);
    /* row 0 moderate scores, row 1 large ones (exp clamps), row 2 with −inf masks and large negatives */
    hard_values(x0, ld, 4.0f, 0);
    hard_values(x0 + ld, ld, 200.0f, 0);
    hard_values(x0 + 2 * ld, ld, 60.0f, 1);
    if (cols % 7 == 0) for (int j = 0; j < cols; j++) x0[2 * ld + j] = -INFINITY; /* every entry −inf */
    memcpy(x1, x0, sizeof(float) * rows * ld);
    use(EAM_VARIANT_SCALAR);
    eam_softmax_rows(x0, ld, rows, cols);
    use(V);
    eam_softmax_rows(x1, ld, rows, cols);
    char what[32];
    snprintf(what, sizeof what, "cols %d", cols);
    compare(&t, x0, x1, (size_t)rows * ld, what);
    free(x0); free(x1);
  }
  report(&t, "vs scalar");
}

/* Frozen-mask patterns: 0 random, 1 none frozen, 2 all but one, 3 all, 4 every other, 5 dense. */
static int frozen_bit(int pattern, int r, int j, int keep) {
  switch (pattern) {
  case 0: return next32() % 3 == 0;
  case 1: return 0;
  case 2: return j != keep;
  case 3: return 1;
  case 4: return (j + r) % 2;
  default: return next32() % 8 != 0;
  }
}

static void test_softmax_frozen(void) {
  tally t = {"softmax_rows_frozen", 0, 0, ""};
  const int rows = 6;
  for (int cols = 1; cols <= 300; cols++) {
    const int ld = cols + 1, words = EAM_FROZEN_WORDS(cols), fld = words + 1;
    seed(5000 + cols);
    float *x0 = alloc(sizeof(float) * rows * ld), *x1 = alloc(sizeof(float) * rows * ld);
    uint16_t *bits = alloc(sizeof(uint16_t) * rows * fld);
    uint8_t *codes = alloc((size_t)rows * ld); /* value = code · 1e-4 where frozen */
    float mass[6];
    for (int r = 0; r < rows; r++) {
      const int pattern = (r + cols) % 6, keep = (int)(next32() % (unsigned)cols);
      for (int j = 0; j < cols; j++) {
        codes[r * ld + j] = (uint8_t)(100 + next32() % 100); /* free entries' codes are ignored */
        if (frozen_bit(pattern, r, j, keep)) bits[r * fld + j / 16] |= (uint16_t)(1u << (j % 16));
      }
      /* bits past cols are ignored: set some */
      if (cols % 16) bits[r * fld + words - 1] |= (uint16_t)(0xFFFFu << (cols % 16)) & (uint16_t)next32();
      mass[r] = 0.5f + 0.5f * uniform();
    }
    hard_values(x0, (size_t)rows * ld, 8.0f, 1);
    hard_values(x0 + ld, ld, 300.0f, 0); /* large scores */
    memcpy(x1, x0, sizeof(float) * rows * ld);
    use(EAM_VARIANT_SCALAR);
    eam_softmax_rows_frozen(x0, ld, rows, cols, bits, fld, codes, ld, 1e-4f, mass);
    use(V);
    eam_softmax_rows_frozen(x1, ld, rows, cols, bits, fld, codes, ld, 1e-4f, mass);
    char what[32];
    snprintf(what, sizeof what, "cols %d", cols);
    compare(&t, x0, x1, (size_t)rows * ld, what);
    free(x0); free(x1); free(bits); free(codes);
  }
  report(&t, "vs scalar");
}

static void test_layernorm(void) {
  tally t = {"layernorm", 0, 0, ""};
  const int rows = 3;
  for (int dim = 1; dim <= 300 + 468; dim += dim < 300 ? 1 : 117) {
    const int ld = dim + 3;
    seed(6000 + dim);
    float *x = alloc(sizeof(float) * rows * ld), *g = alloc(sizeof(float) * dim), *b = alloc(sizeof(float) * dim);
    float *y0 = alloc(sizeof(float) * rows * ld), *y1 = alloc(sizeof(float) * rows * ld);
    hard_values(x, (size_t)rows * ld, 3.0f, 0);
    for (int j = 0; j < dim; j++) x[2 * ld + j] += 1000.0f; /* a large mean */
    hard_values(g, dim, 1.5f, 0);
    hard_values(b, dim, 0.5f, 0);
    use(EAM_VARIANT_SCALAR);
    eam_layernorm(x, ld, y0, ld, rows, dim, g, b, 1e-6f);
    use(V);
    eam_layernorm(x, ld, y1, ld, rows, dim, g, b, 1e-6f);
    char what[32];
    snprintf(what, sizeof what, "dim %d", dim);
    compare(&t, y0, y1, (size_t)rows * ld, what);
    /* in place */
    memcpy(y0, x, sizeof(float) * rows * ld);
    memcpy(y1, x, sizeof(float) * rows * ld);
    use(EAM_VARIANT_SCALAR);
    eam_layernorm(y0, ld, y0, ld, rows, dim, g, b, 1e-5f);
    use(V);
    eam_layernorm(y1, ld, y1, ld, rows, dim, g, b, 1e-5f);
    compare(&t, y0, y1, (size_t)rows * ld, what);
    free(x); free(g); free(b); free(y0); free(y1);
  }
  report(&t, "vs scalar");
}

static void test_gelu(void) {
  tally t = {"gelu", 0, 0, ""};
  for (int n = 1; n <= 1100; n += n < 300 ? 1 : 200) {
    seed(7000 + n);
    float *x0 = alloc(sizeof(float) * n), *x1 = alloc(sizeof(float) * n);
    hard_values(x0, n, n % 2 ? 6.0f : 40.0f, 0);
    memcpy(x1, x0, sizeof(float) * n);
    use(EAM_VARIANT_SCALAR);
    eam_gelu(x0, n);
    use(V);
    eam_gelu(x1, n);
    char what[32];
    snprintf(what, sizeof what, "n %d", n);
    compare(&t, x0, x1, n, what);
    free(x0); free(x1);
  }
  report(&t, "vs scalar");
}

/* ---- Fused attention ------------------------------------------------------------------------- */

/* Frozen entries (EAM) of a T-token head in the row layout, converted to the attention layout:
 * patterns by row as in the frozen softmax test (random, none, all but one, all, alternate, dense),
 * codes of w bits (1, 2, 4 or 8). */
typedef struct {
  uint64_t *mask, *dead;
  int32_t *start, *keys;
  uint8_t *codes;
  int w;
  float *mass, scale;
} frozen_head;

static frozen_head make_frozen(int T, int w) {
  const int words = EAM_FROZEN_WORDS(T);
  uint16_t *bits = alloc(sizeof(uint16_t) * T * words);
  uint8_t *codes = alloc((size_t)T * T);
  frozen_head h = {alloc(sizeof(uint64_t) * eam_attention_mask_words(T)), alloc(sizeof(uint64_t) * eam_attention_dead_words(T)),
                   alloc(sizeof(int32_t) * ((T + 15) / 16 + 1)),
                   NULL, NULL, w, alloc(sizeof(float) * T), 0.5f / (float)(1 << (w - 1)) / (float)T};
  for (int r = 0; r < T; r++) {
    const int pattern = r % 6, keep = (int)(next32() % (unsigned)T);
    float total = 0.0f;
    for (int j = 0; j < T; j++)
      if (frozen_bit(pattern, r, j, keep)) {
        bits[r * words + j / 16] |= (uint16_t)(1u << (j % 16));
        const unsigned top = 1u << (w - 1); /* codes in [top, 2·top): some frozen at 0 */
        codes[r * T + j] = (uint8_t)(next32() % 4 ? top + next32() % top : 0);
        total += (float)codes[r * T + j] * h.scale;
      }
    h.mass[r] = total < 1.0f ? 1.0f - total : 0.0f;
  }
  const size_t n = eam_attention_frozen_entries(T, bits, words, codes);
  h.keys = alloc(sizeof(int32_t) * (n + 1));
  h.codes = alloc((size_t)(2 * w) * (n + 1));
  eam_attention_pack_frozen(T, bits, words, codes, w, h.mask, h.dead, h.start, h.keys, h.codes);
  free(bits); free(codes);
  return h;
}

static void test_attention(void) {
  tally t = {"attention_fused", 0, 0, ""};
  /* T, hd, key block (0: one block); hd 12 runs the portable pieces on every variant */
  const int shapes[][3] = {{1, 8, 0}, {17, 16, 0}, {50, 32, 0}, {65, 64, 16}, {197, 64, 0}, {40, 12, 0}, {70, 40, 24}};
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    const int T = shapes[s][0], hd = shapes[s][1], kb = shapes[s][2];
    seed(8000 + s);
    float *Q = alloc(sizeof(float) * T * hd), *K = alloc(sizeof(float) * T * hd), *Vv = alloc(sizeof(float) * T * hd);
    float *bias = alloc(sizeof(float) * T * T);
    float *O0 = alloc(sizeof(float) * T * hd), *O1 = alloc(sizeof(float) * T * hd);
    float *scratch = alloc(sizeof(float) * eam_attention_scratch(T, hd, kb));
    hard_values(Q, (size_t)T * hd, 1.0f, 0);
    hard_values(K, (size_t)T * hd, 1.0f, 0);
    hard_values(Vv, (size_t)T * hd, 1.0f, 0);
    hard_values(bias, (size_t)T * T, 2.0f, 1);
    frozen_head h = make_frozen(T, (int[]){8, 2, 1, 4, 8, 2, 4}[s]);
    const eam_attention_frozen fr = {h.mask, h.dead, h.start, h.keys, h.codes, h.w, h.scale, h.mass};
    for (int c = 0; c < 4; c++) { /* bias or not, frozen or not */
      const float *bp = c & 1 ? bias : NULL;
      const eam_attention_frozen *fp = c & 2 ? &fr : NULL;
      /* the whole head, then from the second query block on (threads split heads so) */
      for (int q0 = 0; q0 < T && q0 <= 16; q0 += 16) {
        use(EAM_VARIANT_SCALAR);
        eam_attention_fused(T, hd, 0.125f, Q, hd, K, hd, Vv, hd, O0, hd, bp, T, fp, q0, T, kb, scratch);
        use(V);
        eam_attention_fused(T, hd, 0.125f, Q, hd, K, hd, Vv, hd, O1, hd, bp, T, fp, q0, T, kb, scratch);
        char what[96];
        snprintf(what, sizeof what, "T %d hd %d key block %d bias %d frozen %d (%d-bit codes) from %d", T, hd, kb, c & 1,
                 c >> 1, h.w, q0);
        compare(&t, O0 + (size_t)q0 * hd, O1 + (size_t)q0 * hd, (size_t)(T - q0) * hd, what);
      }
    }
    free(Q); free(K); free(Vv); free(bias); free(O0); free(O1); free(scratch);
    free(h.mask); free(h.dead); free(h.start); free(h.keys); free(h.codes); free(h.mass);
  }
  report(&t, "vs scalar");
}

/* ---- int8 ------------------------------------------------------------------------------------ */

static void test_quantize(void) {
  tally t = {"quantize_rows_u8", 0, 0, ""};
  for (int K = 1; K <= 300; K += K < 40 ? 1 : 37) {
    const int rows = 3, Kp = (K + 3) & ~3;
    seed(9000 + K);
    float *x = alloc(sizeof(float) * rows * K), s0[3], s1[3];
    uint8_t *q0 = alloc((size_t)rows * Kp), *q1 = alloc((size_t)rows * Kp);
    int32_t z0[3], z1[3];
    hard_values(x, (size_t)rows * K, 5.0f, 0);
    use(EAM_VARIANT_SCALAR);
    eam_quantize_rows_u8(x, K, rows, K, 255, q0, Kp, s0, z0);
    use(V);
    eam_quantize_rows_u8(x, K, rows, K, 255, q1, Kp, s1, z1);
    char what[32];
    snprintf(what, sizeof what, "K %d", K);
    t.cases++;
    if (memcmp(q0, q1, (size_t)rows * Kp) || memcmp(s0, s1, sizeof s0) || memcmp(z0, z1, sizeof z0)) {
      if (t.failed++ == 0) snprintf(t.first, sizeof t.first, "%s: codes, scales or zero points differ", what);
    }
    free(x); free(q0); free(q1);
  }
  report(&t, "vs scalar (portable here)");
}

/* Codes: random, all 255, all 0, alternating extremes; weights with ±127 codes. */
static void test_gemm_s8(int path) {
  tally t = {"gemm_s8", 0, 0, ""};
  const int Ms[] = {1, 2, 3, 4, 5, 8, 9, 33};
  const int Ns[] = {1, 15, 16, 17, 40};
  const int Ks[] = {1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 300};
  for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
    for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
      for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
        const int M = Ms[mi], N = Ns[ni], K = Ks[ki], Kp = (K + 3) & ~3, ldq = Kp + 4, ldy = N + 1;
        const int epi = (int)((mi + 2 * ni + ki) % 8), codes = (int)((mi + ni + ki) % 4);
        seed(10000 + 100 * mi + 10 * ni + ki);
        float *W = alloc(sizeof(float) * N * K), *bias = alloc(sizeof(float) * N);
        const size_t Np = eam_int8_columns(N);
        int8_t *P = alloc(eam_pack_size_s8(N, K));
        float *cs = alloc(sizeof(float) * Np), *rs = alloc(sizeof(float) * M);
        int32_t *csum = alloc(sizeof(int32_t) * Np), *rz = alloc(sizeof(int32_t) * M);
        uint8_t *q = alloc((size_t)M * ldq);
        float *Y0 = alloc(sizeof(float) * M * ldy), *Y1 = alloc(sizeof(float) * M * ldy);
        for (int i = 0; i < N * K; i++) W[i] = (next32() % 5 == 0) ? (uniform() < 0 ? -1.0f : 1.0f) : uniform();
        hard_values(bias, N, 1.0f, 0);
        if (eam_pack_weight_s8(W, K, N, K, P, cs, csum) != 0) { fprintf(stderr, "kernels_test: s8 pack refused\n"); exit(2); }
        for (int m = 0; m < M; m++) {
          for (int k = 0; k < K; k++)
            q[m * ldq + k] = codes == 0 ? (uint8_t)next32() : codes == 1 ? 255 : codes == 2 ? 0 : (k % 2 ? 255 : 0);
          rs[m] = 0.001f + 0.01f * (1.0f + uniform());
          rz[m] = (int32_t)(next32() % 256);
        }
        hard_values(Y0, (size_t)M * ldy, 1.0f, 0);
        memcpy(Y1, Y0, sizeof(float) * M * ldy);
        const int n0 = N > 16 && ki % 2 ? 16 : 0;
        int r0 = eam_gemm_s8(EAM_INT8_PORTABLE, M, N, K, q, ldq, rs, rz, P, cs, csum, bias, Y0, ldy, n0, N, epi);
        int r1 = eam_gemm_s8(path, M, N, K, q, ldq, rs, rz, P, cs, csum, bias, Y1, ldy, n0, N, epi);
        char what[96];
        snprintf(what, sizeof what, "M %d N %d K %d cols [%d, %d) epilogue %d codes %d", M, N, K, n0, N, epi, codes);
        if (r0 || r1) {
          t.cases++;
          if (t.failed++ == 0) snprintf(t.first, sizeof t.first, "%s: refused (%d, %d)", what, r0, r1);
        } else {
          compare(&t, Y0, Y1, (size_t)M * ldy, what);
        }
        free(W); free(bias); free(P); free(cs); free(rs); free(csum); free(rz); free(q); free(Y0); free(Y1);
      }
  char against[64];
  snprintf(against, sizeof against, "%s vs portable", eam_int8_path_name(path));
  report(&t, against);
}

int main(void) {
  char brand[64];
  eam_cpu_brand(brand, sizeof brand);
  V = eam_kernels_best_variant();
  printf("cpu: %s; best variant %s; int8 path for it: %s\n", brand, eam_kernels_variant_name(V),
         eam_int8_path_name(eam_int8_best_path(V)));
#if defined(__aarch64__)
  if (V != EAM_VARIANT_NEON || eam_kernels_parse_variant("neon") != EAM_VARIANT_NEON) {
    printf("neon is not the best variant on aarch64\n");
    return 1;
  }
#endif
  test_gemm_packed();
  test_gemm_nt_nn();
  test_gemm_wide();
  test_softmax();
  test_softmax_frozen();
  test_layernorm();
  test_gelu();
  test_attention();
  test_quantize();
  use(V);
  if (eam_int8_supports(EAM_INT8_SDOT)) {
    if (eam_int8_best_path(EAM_VARIANT_NEON) != EAM_INT8_SDOT || eam_int8_parse_path("sdot") != EAM_INT8_SDOT) {
      printf("sdot is supported but not chosen\n");
      failures++;
    }
    test_gemm_s8(EAM_INT8_SDOT);
    /* the path selector: a thread override runs it through eam_gemm_s8(-1, ...) too */
    eam_int8_set_thread_path(EAM_INT8_SDOT);
    if (eam_int8_path() != EAM_INT8_SDOT) { printf("thread path not applied\n"); failures++; }
    eam_int8_set_thread_path(-1);
  } else {
    printf("%-22s %-28s not supported on this CPU: portable path only (best path %s)\n", "gemm_s8", "sdot",
           eam_int8_path_name(eam_int8_best_path(V)));
    if (eam_int8_set_thread_path(EAM_INT8_SDOT) != -1 || eam_int8_best_path(V) != EAM_INT8_PORTABLE) {
      printf("sdot accepted on a CPU without it\n");
      failures++;
    }
  }
  eam_kernels_set_thread_variant(-1);
  printf(failures ? "FAILED: %d kernels differ\n" : "all kernels bit-identical\n", failures);
  return failures ? 1 : 0;
}
