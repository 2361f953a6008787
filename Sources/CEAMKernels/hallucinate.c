/* Hallucinated attention maps (hMHSA, post-training): a head's map made from other heads' maps
 * of the same layer. One portable implementation (the same numbers on every CPU). */
#include "eam_kernels.h"

void eam_hallucinate_map(float *out, int tokens, const float *maps, const int32_t *sources, const float *weights,
                         int count, float intercept) {
  const int n = tokens;
  const long map = (long)n * n;
  for (int r = 0; r < n; r++) {
    float *row = out + (long)r * n;
    for (int c = 0; c < n; c++) row[c] = intercept;
    for (int s = 0; s < count; s++) {
      const float *src = maps + sources[s] * map + (long)r * n;
      const float w = weights[s];
      for (int c = 0; c < n; c++) row[c] += w * src[c];
    }
    float sum = 0.0f;
    for (int c = 0; c < n; c++) {
      if (!(row[c] > 0.0f)) row[c] = 0.0f; /* also NaN */
      sum += row[c];
    }
    if (sum > 0.0f) {
      const float inv = 1.0f / sum;
      for (int c = 0; c < n; c++) row[c] *= inv;
    } else {
      const float u = 1.0f / (float)n;
      for (int c = 0; c < n; c++) row[c] = u;
    }
  }
}
