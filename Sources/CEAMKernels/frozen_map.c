/* A frozen map as the artifact stores it (schemas/FORMAT.md, "Frozen maps"), decoded at load into
 * the row layout of eam_softmax_rows_frozen. Plain C on every target: it runs once per head, and
 * walking the mask's set bits (count-trailing-zeros) keeps it proportional to the frozen entries. */
#include "eam_frozen.h"
#include <string.h>

/* Up to 8 mask bytes from byte i (past the end: zeros), as one little-endian word. */
static uint64_t mask_word(const uint8_t *mask, size_t bytes, size_t i) {
  uint8_t b[8] = {0};
  if (i < bytes) memcpy(b, mask + i, bytes - i < 8 ? bytes - i : 8);
  uint64_t w = 0;
  for (int k = 7; k >= 0; k--) w = w << 8 | b[k];
  return w;
}

int64_t eam_frozen_map_count(int T, const uint8_t *mask) {
  const uint64_t n = (uint64_t)T * (uint64_t)T;
  int64_t count = 0;
  uint64_t i = 0;
  for (; i + 64 <= n; i += 64) count += __builtin_popcountll(mask_word(mask, (size_t)(n + 7) / 8, (size_t)(i / 8)));
  for (; i < n; i++) count += (mask[i >> 3] >> (i & 7)) & 1;
  return count;
}

int eam_frozen_map_decode(int T, int bits, float scale, const uint8_t *mask, const uint8_t *packed, size_t packed_bytes,
                          uint16_t *row_bits, int words, uint8_t *codes, int32_t *row_frozen, float *row_mass) {
  if (T < 1 || bits < 1 || bits > 8 || words < EAM_FROZEN_WORDS(T)) return -1;
  const size_t mask_bytes = ((size_t)T * (size_t)T + 7) / 8;
  const unsigned code_mask = (1u << bits) - 1;
  const uint64_t limit = (uint64_t)packed_bytes * 8;
  uint64_t at = 0; /* bit position of the next code */
  for (int r = 0; r < T; r++) {
    uint16_t *rb = row_bits + (size_t)r * words;
    uint8_t *cr = codes + (size_t)r * T;
    memset(rb, 0, sizeof(uint16_t) * (size_t)words);
    memset(cr, 0, (size_t)T);
    float mass = 1.0f;
    int32_t n = 0;
    const uint64_t base = (uint64_t)r * (uint64_t)T;
    for (int j0 = 0; j0 < T; j0 += 32) {
      const uint64_t i = base + (uint64_t)j0;
      uint32_t m = (uint32_t)(mask_word(mask, mask_bytes, (size_t)(i >> 3)) >> (i & 7));
      if (T - j0 < 32) m &= (1u << (T - j0)) - 1;
      rb[j0 >> 4] = (uint16_t)m;
      if ((j0 >> 4) + 1 < words) rb[(j0 >> 4) + 1] = (uint16_t)(m >> 16);
      for (; m; m &= m - 1) { /* codes in entry order, j ascending */
        const int j = j0 + __builtin_ctz(m);
        if (at + (uint64_t)bits > limit) return -1;
        const size_t byte = (size_t)(at >> 3);
        unsigned v = packed[byte];
        if (byte + 1 < packed_bytes) v |= (unsigned)packed[byte + 1] << 8;
        const unsigned c = (v >> (at & 7)) & code_mask;
        at += (uint64_t)bits;
        cr[j] = (uint8_t)c;
        mass -= (float)c * scale;
        n++;
      }
    }
    row_frozen[r] = n;
    row_mass[r] = mass;
  }
  return 0;
}
