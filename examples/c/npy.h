/* npy.h — reading and writing float32 .npy arrays (C order, little-endian), for the examples.
 * Every header value is checked: the magic, the dtype, the order, the shape (at most 8 dims,
 * each ≥ 1, the product overflow-checked) and the file length. */
#ifndef EAM_EXAMPLES_NPY_H
#define EAM_EXAMPLES_NPY_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int rank;
  size_t shape[8];
  size_t count;  /* product of the shape */
  float *values; /* malloc'd */
} npy_array;

/* 0 on success; otherwise writes one line to `why` (capacity 256). */
static int npy_read(const char *path, npy_array *a, char *why) {
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f) { snprintf(why, 256, "%s: cannot open", path); return -1; }
  unsigned char head[10];
  char header[4096];
  if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) != 0 || head[6] != 1) {
    snprintf(why, 256, "%s: not a version 1 .npy file", path);
    fclose(f);
    return -1;
  }
  size_t hlen = (size_t)head[8] | (size_t)head[9] << 8;
  if (hlen >= sizeof header || fread(header, 1, hlen, f) != hlen) {
    snprintf(why, 256, "%s: .npy header too long or cut short", path);
    fclose(f);
    return -1;
  }
  header[hlen] = 0;
  const char *shape = strstr(header, "'shape': (");
  if (!strstr(header, "'descr': '<f4'") || !strstr(header, "'fortran_order': False") || !shape) {
    snprintf(why, 256, "%s: only little-endian float32 arrays in C order are read here", path);
    fclose(f);
    return -1;
  }
  shape += strlen("'shape': (");
  a->count = 1;
  while (*shape != ')') {
    char *end;
    unsigned long long d = strtoull(shape, &end, 10);
    if (end == shape || d < 1 || d > (1ull << 31) || a->rank == 8 || a->count > SIZE_MAX / 4 / d) {
      snprintf(why, 256, "%s: shape out of range", path);
      fclose(f);
      return -1;
    }
    a->shape[a->rank++] = (size_t)d;
    a->count *= (size_t)d;
    shape = end;
    while (*shape == ',' || *shape == ' ') shape++;
  }
  long start = ftell(f);
  fseek(f, 0, SEEK_END);
  long end = ftell(f);
  if (a->rank == 0 || start < 0 || end < start || (size_t)(end - start) != a->count * 4) {
    snprintf(why, 256, "%s: holds %ld bytes of data; its shape needs %zu", path, end - start, a->count * 4);
    fclose(f);
    return -1;
  }
  fseek(f, start, SEEK_SET);
  a->values = (float *)malloc(a->count * 4);
  if (!a->values || fread(a->values, 4, a->count, f) != a->count) {
    snprintf(why, 256, "%s: cannot read its data", path);
    free(a->values);
    a->values = NULL;
    fclose(f);
    return -1;
  }
  fclose(f);
  return 0;
}

/* Writes a version 1 .npy header padded to 64 bytes, as eamc does; 0 on success. */
static int npy_write(const char *path, const size_t *shape, int rank, const float *values) {
  char header[256];
  int n = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  size_t count = 1;
  for (int i = 0; i < rank; i++) {
    n += snprintf(header + n, sizeof header - n, i ? ", %zu" : "%zu", shape[i]);
    count *= shape[i];
  }
  n += snprintf(header + n, sizeof header - n, "%s), }", rank == 1 ? "," : "");
  while ((10 + n + 1) % 64 != 0) header[n++] = ' ';
  header[n++] = '\n';
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xff), (unsigned char)(n >> 8)};
  int ok = fwrite(head, 1, 10, f) == 10 && fwrite(header, 1, (size_t)n, f) == (size_t)n &&
           fwrite(values, 4, count, f) == count;
  return fclose(f) == 0 && ok ? 0 : -1;
}
#endif
