/* Softmax over the free entries of attention rows whose other entries are frozen (EAM): the
 * portable variant, with libm's expf. The reference the vector variants are tested against.
 * Branch-free over the entries (frozen ones are scattered: branches on them mispredict); the
 * mask is read a 16-bit word per 16 entries. */
#include "internal.h"
#include <math.h>

void eam_softmax_frozen_scalar(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                               const float *values, const int32_t *value_start, const float *free_mass) {
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    const uint16_t *bits = frozen + (size_t)r * frozen_ld;
    float max = -INFINITY;
    for (int j0 = 0; j0 < cols; j0 += 16) {
      const unsigned w = bits[j0 >> 4];
      const int n = cols - j0 < 16 ? cols - j0 : 16;
      for (int i = 0; i < n; i++) {
        const float v = (w >> i) & 1 ? -INFINITY : row[j0 + i];
        max = v > max ? v : max;
      }
    }
    if (max == -INFINITY) { /* every entry frozen (or every free score −inf) */
      for (int j = 0; j < cols; j++) row[j] = 0.0f;
    } else {
      float sum = 0.0f;
      for (int j0 = 0; j0 < cols; j0 += 16) {
        const unsigned w = bits[j0 >> 4];
        const int n = cols - j0 < 16 ? cols - j0 : 16;
        for (int i = 0; i < n; i++) { /* a frozen entry's exponential (of whatever it holds) is dropped */
          const float e = expf(row[j0 + i] - max);
          row[j0 + i] = (w >> i) & 1 ? 0.0f : e;
          sum += row[j0 + i];
        }
      }
      const float scale = free_mass[r] / sum;
      for (int j = 0; j < cols; j++) row[j] *= scale;
    }
    eam_put_frozen_values(row, bits, cols, values + value_start[r]);
  }
}
