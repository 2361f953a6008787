/* Softmax over the free entries of attention rows whose other entries are frozen (EAM).
 * Portable C: the work is dominated by the Q·Kᵀ and P·V GEMMs around it. */
#include "eam_frozen.h"
#include <math.h>

void eam_softmax_rows_frozen(float *x, int ld, int rows, int cols, const uint8_t *frozen,
                             const float *values, const float *free_mass) {
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    const uint8_t *mask = frozen + (size_t)r * ld;
    const float *val = values + (size_t)r * ld;
    float max = -INFINITY;
    for (int j = 0; j < cols; j++)
      if (!mask[j] && row[j] > max) max = row[j];
    if (max == -INFINITY) { /* every entry frozen */
      for (int j = 0; j < cols; j++) row[j] = val[j];
      continue;
    }
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
      if (mask[j]) continue;
      float e = expf(row[j] - max);
      row[j] = e;
      sum += e;
    }
    const float scale = free_mass[r] / sum;
    for (int j = 0; j < cols; j++) row[j] = mask[j] ? val[j] : row[j] * scale;
  }
}
