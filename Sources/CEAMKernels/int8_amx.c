/* int8 GEMM, AMX path (Intel AMX-INT8, Sapphire Rapids and later): tdpbusd multiplies a tile of
 * 16 rows × 64 activation codes (u8) by a tile of 16 groups of 4 k × 16 columns (s8) into 16 × 16
 * int32 sums: 16,384 products per instruction against vpdpbusd's 64. The packed int8 panel
 * ([Kp/4][16][4] per 16 columns) is exactly such a B tile, 64 k at a time. Blocks of 32 rows × 32
 * columns (four accumulator tiles, two A and two B tiles: the eight tile registers); the sums go
 * through a stack buffer to the AVX-512 epilogue. Rows past the last multiple of 32, a last odd
 * panel and depths that are not a multiple of 64 take the VNNI-512 path (same sums, same
 * epilogue: the same bits). Linux only: the kernel must grant the tile state (arch_prctl). */
/* x86-64 only: the whole file (other targets compile it empty). */
#if defined(__x86_64__)
#include "int8_epilogue_avx512.h"
#include "quant_internal.h"
#include <string.h>

#define TA __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,amx-tile,amx-int8")))

/* The tile configuration (palette 1): rows and bytes per row of each of the 16 tile registers. */
typedef struct {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} eam_tile_config;

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
int eam_amx_permitted(void) {
  static int state = -1; /* -1: not asked yet */
  int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
  if (s < 0) {
    /* ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18): the tile data state is off until asked. */
    s = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
    __atomic_store_n(&state, s, __ATOMIC_RELEASE);
  }
  return s;
}
#else
int eam_amx_permitted(void) { return 0; }
#endif

/* One block: rows [m, m + 32) × panels p, p + 1, all of k (`steps` of 64). */
TA static void block(const eam_s8_gemm *g, int m, int p, int steps) {
  const uint8_t *a = g->q + (size_t)m * g->ldq;
  const int8_t *b0 = g->packed + (size_t)p * g->groups * 64, *b1 = b0 + (size_t)g->groups * 64;
  const size_t lda = (size_t)g->ldq;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int s = 0; s < steps; s++) {
    _tile_loadd(4, a + 64 * s, lda);
    _tile_loadd(5, a + 16 * lda + 64 * s, lda);
    _tile_loadd(6, b0 + (size_t)s * 1024, 64);
    _tile_loadd(7, b1 + (size_t)s * 1024, 64);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  int32_t sums[4][16][16] __attribute__((aligned(64)));
  _tile_stored(0, sums[0], 64);
  _tile_stored(1, sums[1], 64);
  _tile_stored(2, sums[2], 64);
  _tile_stored(3, sums[3], 64);
  const int col = p * EAM_PANEL, valid = g->n1 - col;
  for (int half = 0; half < 2; half++) {
    for (int i = 0; i < 16; i++) {
      const int r = m + 16 * half + i;
      float *c = g->Y + (size_t)r * g->ldy + col;
      eam_s8_store16_avx512(_mm512_load_si512(sums[2 * half][i]), g->row_zero[r], g->row_scale[r], g, c, col, valid);
      eam_s8_store16_avx512(_mm512_load_si512(sums[2 * half + 1][i]), g->row_zero[r], g->row_scale[r], g, c + 16,
                            col + 16, valid - 16);
    }
  }
}

TA void eam_gemm_s8_amx(const eam_s8_gemm *g) {
  const int rows = g->M / 32 * 32, p0 = g->n0 / EAM_PANEL;
  /* Whole pairs of panels within [n0, n1): the last may be odd (or short: its columns still
   * lie inside the packed panels, whose padding is zero codes). */
  const int pairs = (g->n1 - p0 * EAM_PANEL) / (2 * EAM_PANEL);
  if (g->groups % 16 != 0 || rows == 0 || pairs == 0 || !eam_amx_permitted()) {
    eam_gemm_s8_vnni512(g);
    return;
  }
  eam_tile_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; t++) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
  const int steps = g->groups / 16;
  for (int q = 0; q < pairs; q++)
    for (int m = 0; m < rows; m += 32) block(g, m, p0 + 2 * q, steps);
  _tile_release();
  /* The rest: rows past the blocks for the blocks' columns, and every row of the columns past them. */
  const int done = (p0 + 2 * pairs) * EAM_PANEL;
  eam_s8_gemm rest = *g;
  if (rows < g->M) {
    rest.M = g->M - rows;
    rest.q = g->q + (size_t)rows * g->ldq;
    rest.row_scale = g->row_scale + rows;
    rest.row_zero = g->row_zero + rows;
    rest.Y = g->Y + (size_t)rows * g->ldy;
    rest.n1 = done < g->n1 ? done : g->n1;
    eam_gemm_s8_vnni512(&rest);
  }
  if (done < g->n1) {
    rest = *g;
    rest.n0 = done;
    eam_gemm_s8_vnni512(&rest);
  }
}
#endif
