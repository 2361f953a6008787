/* Softmax over the free entries of attention rows whose other entries are frozen (EAM): the
 * portable variant, with libm's expf. The reference the vector variants are tested against. */
#include "internal.h"
#include <math.h>

void eam_softmax_frozen_scalar(float *x, int ld, int rows, int cols, const uint16_t *frozen, int frozen_ld,
                               const float *values, const int32_t *value_start, const float *free_mass) {
  for (int r = 0; r < rows; r++) {
    float *row = x + (size_t)r * ld;
    const uint16_t *bits = frozen + (size_t)r * frozen_ld;
    const float *val = values + value_start[r];
#define FROZEN(j) ((bits[(j) >> 4] >> ((j) & 15)) & 1)
    float max = -INFINITY;
    for (int j = 0; j < cols; j++)
      if (!FROZEN(j) && row[j] > max) max = row[j];
    if (max == -INFINITY) { /* every entry frozen (or every free score −inf) */
      for (int j = 0, k = 0; j < cols; j++) row[j] = FROZEN(j) ? val[k++] : 0.0f;
      continue;
    }
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
      if (FROZEN(j)) continue;
      float e = expf(row[j] - max);
      row[j] = e;
      sum += e;
    }
    const float scale = free_mass[r] / sum;
    for (int j = 0, k = 0; j < cols; j++) row[j] = FROZEN(j) ? val[k++] : row[j] * scale;
#undef FROZEN
  }
}
