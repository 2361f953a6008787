/* Softmax over the free entries of attention rows whose other entries are frozen (EAM): the
 * portable variant, canonical.h's exp and 16-lane reductions (frozen entries add 0).
 * Branch-free over the entries (frozen ones are scattered: branches on them mispredict); the
 * mask is read a 16-bit word per 16 entries. */
#include "internal.h"
#include "canonical.h"

EAM_PORTABLE(, eam_softmax_frozen_scalar, (float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                                          const uint8_t *codes, int codes_ld, float code_scale, const float *free_mass),
             (x, ld, rows, cols, frozen, frozen_ld, codes, codes_ld, code_scale, free_mass)) {
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    const uint16_t *bits = frozen + (size_t)r * frozen_ld;
    float part[EAM_LANES];
    for (int i = 0; i < EAM_LANES; i++) part[i] = -INFINITY;
    for (int j0 = 0; j0 < cols; j0 += 16) {
      const unsigned w = bits[j0 >> 4];
      const int n = cols - j0 < 16 ? cols - j0 : 16;
      for (int i = 0; i < n; i++) part[i] = eam_maxps(part[i], (w >> i) & 1 ? -INFINITY : row[j0 + i]);
    }
    const float max = eam_tree_max16(part);
    if (max == -INFINITY) { /* every entry frozen (or every free score −inf) */
      for (int j = 0; j < cols; j++) row[j] = 0.0f;
    } else {
      for (int i = 0; i < EAM_LANES; i++) part[i] = 0.0f;
      for (int j0 = 0; j0 < cols; j0 += 16) {
        const unsigned w = bits[j0 >> 4];
        const int n = cols - j0 < 16 ? cols - j0 : 16;
        for (int i = 0; i < n; i++) { /* a frozen entry's exponential (of whatever it holds) is dropped */
          const float e = eam_exp1(row[j0 + i] - max);
          row[j0 + i] = (w >> i) & 1 ? 0.0f : e;
          part[i] += row[j0 + i];
        }
      }
      const float scale = free_mass[r] / eam_tree_sum16(part);
      for (int j = 0; j < cols; j++) row[j] *= scale;
    }
    eam_put_frozen_codes(row, bits, cols, codes ? codes + (size_t)r * codes_ld : NULL, code_scale);
  }
}
