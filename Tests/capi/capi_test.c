/* capi_test — checks the C API (eam.h) on one artifact, on any target the library builds for:
 *
 *   capi_test model.eam input.npy expected.npy [min-cosine]
 *
 * Without min-cosine the outputs must equal expected.npy bit for bit (the same runtime on the
 * same architecture); with it, each image's output must have at least that cosine to it and the
 * largest difference is printed (another architecture, or int8). Also: errors name the file and
 * give the right status; a run allocates nothing (malloc and friends are wrapped at link time:
 * -Wl,--wrap=malloc,...; on the default threads and on one); load_memory equals load_file;
 * one thread equals several.
 * One line per check; exit status 1 on any failure. */
#include "eam.h"
#include "npy.h"
#include <math.h>

/* ---- Allocation counting (the link wraps these symbols) ------------------------------------- */
static long allocations;
void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
int __real_posix_memalign(void **, size_t, size_t);
void *__real_aligned_alloc(size_t, size_t);
void *__wrap_malloc(size_t n) { allocations++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t s) { allocations++; return __real_calloc(n, s); }
void *__wrap_realloc(void *p, size_t n) { allocations++; return __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { allocations++; return __real_posix_memalign(p, a, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { allocations++; return __real_aligned_alloc(a, n); }

static int failures;
static void check(int ok, const char *what, const char *detail) {
  printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail && *detail ? ": " : "", detail ? detail : "");
  if (!ok) failures++;
}

static unsigned char *read_all(const char *path, size_t *length) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  /* 64-byte aligned, as a flash mapping or a linker section would be */
  unsigned char *p = NULL;
  if (n <= 0 || __real_posix_memalign((void **)&p, 64, (size_t)n) != 0 || fread(p, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(p);
    return NULL;
  }
  fclose(f);
  *length = (size_t)n;
  return p;
}

static int run_model(eam_model *m, const npy_array *x, int batch, float *y, size_t count) {
  return eam_run(m, x->values, batch, y, count);
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5) {
    fprintf(stderr, "usage: capi_test model.eam input.npy expected.npy [min-cosine]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IONBF, 0); /* every line out before a crash */
  const char *path = argv[1];
  double min_cosine = argc == 5 ? atof(argv[4]) : 0;
  char why[256], line[512];
  npy_array x, expected;
  if (npy_read(argv[2], &x, why) != 0 || npy_read(argv[3], &expected, why) != 0) {
    fprintf(stderr, "capi_test: %s\n", why);
    return 1;
  }
  int batch = x.rank == 4 ? (int)x.shape[0] : 1;
  check(eam_api_version() == EAM_API_VERSION, "api version", NULL);

  /* Errors: a status and one line naming what is wrong. */
  eam_model *m = (eam_model *)1;
  eam_status s = eam_load_file("/nonexistent/model.eam", NULL, &m);
  check(s == EAM_ERROR_IO && m == NULL && strstr(eam_last_error(), "/nonexistent/model.eam"), "missing file", eam_last_error());
  check(eam_load_file(path, NULL, NULL) == EAM_ERROR_ARGUMENT, "NULL model pointer", eam_last_error());
  eam_options bad;
  eam_options_default(&bad);
  bad.max_batch = 0;
  check(eam_load_file(path, &bad, &m) == EAM_ERROR_ARGUMENT, "max_batch 0", eam_last_error());

  size_t length = 0;
  unsigned char *bytes = read_all(path, &length);
  if (!bytes) {
    fprintf(stderr, "capi_test: %s: cannot read\n", path);
    return 1;
  }
  check(eam_load_memory(bytes, (size_t)-1, "huge.eam", NULL, &m) == EAM_ERROR_ARGUMENT, "length out of range", eam_last_error());
  check(eam_load_file("/", NULL, &m) == EAM_ERROR_IO && strstr(eam_last_error(), "not a regular file"), "a folder", eam_last_error());
  s = eam_load_memory(bytes, length / 2, "half.eam", NULL, &m);
  check(s == EAM_ERROR_INVALID && strstr(eam_last_error(), "half.eam"), "truncated artifact", eam_last_error());
  unsigned char *damaged = (unsigned char *)__real_malloc(length);
  memcpy(damaged, bytes, length);
  damaged[length - 1] ^= 0x40; /* the last section's last byte */
  s = eam_load_memory(damaged, length, "damaged.eam", NULL, &m);
  check(s == EAM_ERROR_INVALID && strstr(eam_last_error(), "damaged.eam"), "damaged section", eam_last_error());
  free(damaged);
  eam_options tight;
  eam_options_default(&tight);
  tight.memory_budget = 4096;
  s = eam_load_memory(bytes, length, "tight.eam", &tight, &m);
  check(s == EAM_ERROR_MEMORY && strstr(eam_last_error(), "memory budget"), "memory budget", eam_last_error());

  /* A model for the batch; a run allocates nothing. */
  eam_options options;
  eam_options_default(&options);
  options.max_batch = batch;
  s = eam_load_file(path, &options, &m);
  check(s == EAM_OK, "load_file", eam_last_error());
  if (s != EAM_OK) return 1;
  eam_info info;
  eam_get_info(m, &info);
  size_t count = (size_t)batch * info.outputs;
  snprintf(line, sizeof line, "%s, %d×%d×%d → %d, arena %llu bytes, planned %llu, copied %llu, %d thread(s), kernels %s, int8 %s",
           info.family, info.channels, info.height, info.width, info.outputs, (unsigned long long)info.arena_bytes,
           (unsigned long long)info.planned_bytes, (unsigned long long)info.copied_bytes, info.threads, info.kernels,
           info.int8_kernels);
  check(x.count == (size_t)batch * info.channels * info.height * info.width && expected.count == count, "shapes", line);
  float *y = (float *)__real_malloc(count * sizeof(float));
  float *y2 = (float *)__real_malloc(count * sizeof(float));
  long before = allocations;
  s = run_model(m, &x, batch, y, count);
  long first = allocations - before;
  before = allocations;
  run_model(m, &x, batch, y2, count);
  long second = allocations - before;
  snprintf(line, sizeof line, "%ld allocation(s) in the first run, %ld in the second (%d thread(s))", first, second, info.threads);
  check(s == EAM_OK && first == 0 && second == 0, "no allocation during a run", s == EAM_OK ? line : eam_last_error());
  check(memcmp(y, y2, count * sizeof(float)) == 0, "two runs agree bit for bit", NULL);
  check(eam_run(m, x.values, batch + 1, y, count + info.outputs) == EAM_ERROR_ARGUMENT, "batch over max_batch", eam_last_error());
  check(eam_run(m, x.values, batch, y, count - 1) == EAM_ERROR_ARGUMENT, "output too small", eam_last_error());

  /* Against the expected outputs. */
  int exact = memcmp(y, expected.values, count * sizeof(float)) == 0;
  double worst = 1, largest = 0;
  for (int b = 0; b < batch; b++) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < info.outputs; i++) {
      double a = y[(size_t)b * info.outputs + i], e = expected.values[(size_t)b * info.outputs + i];
      dot += a * e;
      na += a * a;
      nb += e * e;
      if (fabs(a - e) > largest) largest = fabs(a - e);
    }
    double c = dot / sqrt(na * nb);
    if (c < worst) worst = c;
  }
  snprintf(line, sizeof line, "cosine %.7f at worst, largest difference %.3g, %s", worst, largest,
           exact ? "bit-identical" : "not bit-identical");
  check(min_cosine > 0 ? worst >= min_cosine : exact, min_cosine > 0 ? "outputs within tolerance" : "outputs bit-identical", line);

  /* From memory, and on one thread: the same bits. */
  eam_model *mm;
  eam_options one;
  eam_options_default(&one);
  one.max_batch = batch;
  one.threads = 1;
  s = eam_load_memory(bytes, length, path, &one, &mm);
  check(s == EAM_OK, "load_memory (one thread)", eam_last_error());
  if (s == EAM_OK) {
    before = allocations;
    run_model(mm, &x, batch, y2, count);
    run_model(mm, &x, batch, y2, count);
    snprintf(line, sizeof line, "%ld allocation(s) in two runs", allocations - before);
    check(allocations == before, "no allocation during a run on one thread", line);
    check(memcmp(y, y2, count * sizeof(float)) == 0, "load_memory on one thread equals load_file", NULL);
    eam_free(mm);
  }
  eam_free(m);
  eam_free(NULL);
  free(bytes);
  printf("%s: %d failure(s)\n", path, failures);
  return failures ? 1 : 0;
}
