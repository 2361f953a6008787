/* The C API's C half: argument checks, file mapping, the per-thread message; loading and running
 * are the Swift half's (CAPI.swift). */
#include "eam_internal.h"
#include "eam_kernels.h"
#include "eam_quant.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#define EAM_HAS_FILES 1
static _Thread_local char last_error[512];
#else
#define EAM_HAS_FILES 0
static char last_error[512];
#endif

struct eam_model {
  void *handle;          /* the Swift half's model */
  const void *mapping;   /* eam_load_file's mapping, or NULL */
  size_t mapping_length;
};

int eam_api_version(void) { return EAM_API_VERSION; }

const char *eam_status_name(eam_status status) {
  switch (status) {
  case EAM_OK: return "ok";
  case EAM_ERROR_ARGUMENT: return "invalid argument";
  case EAM_ERROR_IO: return "cannot read the file";
  case EAM_ERROR_INVALID: return "invalid artifact";
  case EAM_ERROR_MEMORY: return "over the memory budget";
  case EAM_ERROR_UNSUPPORTED: return "not supported by this build";
  }
  return "unknown status";
}

const char *eam_last_error(void) { return last_error; }

void eam_internal_set_error(const char *message) {
  size_t n = 0;
  if (message)
    while (message[n] && message[n] != '\n' && n < sizeof last_error - 1) n++;
  if (n) memcpy(last_error, message, n);
  last_error[n] = 0;
}

void eam_internal_set_error2(const char *path, const char *message) {
  if (!path) {
    eam_internal_set_error(message);
    return;
  }
  char line[sizeof last_error];
  size_t n = strlen(path);
  if (n > sizeof line - 3) n = sizeof line - 3;
  memcpy(line, path, n);
  line[n++] = ':';
  line[n++] = ' ';
  size_t m = message ? strlen(message) : 0;
  if (m > sizeof line - 1 - n) m = sizeof line - 1 - n;
  if (m) memcpy(line + n, message, m);
  line[n + m] = 0;
  eam_internal_set_error(line);
}

static eam_status fail(eam_status status, const char *message) {
  eam_internal_set_error(message);
  return status;
}

void eam_options_default(eam_options *options) {
  if (!options) return;
  options->threads = 0;
  options->max_batch = 1;
  options->memory_budget = 0;
  options->verify = 1;
}

static eam_status check_options(const eam_options *o) {
  if (o->threads < 0 || o->threads > 1024) return fail(EAM_ERROR_ARGUMENT, "options.threads: 0 (every core) or 1…1024");
  if (o->max_batch < 1 || o->max_batch > 65536) return fail(EAM_ERROR_ARGUMENT, "options.max_batch: 1…65536");
  if (o->verify != 0 && o->verify != 1) return fail(EAM_ERROR_ARGUMENT, "options.verify: 0 or 1");
  return EAM_OK;
}

static eam_status load(const void *bytes, size_t length, const char *name, const eam_options *options,
                       const void *mapping, eam_model **model) {
  eam_options defaults;
  eam_options_default(&defaults);
  if (!options) options = &defaults;
  eam_status s = check_options(options);
  if (s != EAM_OK) return s;
  eam_model *m = (eam_model *)malloc(sizeof *m);
  if (!m) return fail(EAM_ERROR_MEMORY, "out of memory");
  m->mapping = mapping;
  m->mapping_length = length;
  s = eam_internal_load(bytes, length, name, options, &m->handle);
  if (s != EAM_OK) {
    free(m);
    return s;
  }
  *model = m;
  last_error[0] = 0;
  return EAM_OK;
}

eam_status eam_load_memory(const void *bytes, size_t length, const char *name, const eam_options *options,
                           eam_model **model) {
  if (!model) return fail(EAM_ERROR_ARGUMENT, "eam_load_memory: model is NULL");
  *model = NULL;
  if (!bytes && length) return fail(EAM_ERROR_ARGUMENT, "eam_load_memory: bytes is NULL");
  if (length > (size_t)PTRDIFF_MAX) return fail(EAM_ERROR_ARGUMENT, "eam_load_memory: length out of range");
  return load(bytes, length, name ? name : "memory", options, NULL, model);
}

eam_status eam_load_file(const char *path, const eam_options *options, eam_model **model) {
  if (!model) return fail(EAM_ERROR_ARGUMENT, "eam_load_file: model is NULL");
  *model = NULL;
  if (!path) return fail(EAM_ERROR_ARGUMENT, "eam_load_file: path is NULL");
#if EAM_HAS_FILES
  char message[512];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  const char *why = NULL;
  int code = 0;
  if (fd < 0) why = "cannot open", code = errno;
  else if (fstat(fd, &st) != 0) why = "cannot stat", code = errno;
  else if ((st.st_mode & S_IFMT) != S_IFREG) why = "not a regular file";
  if (why) {
    snprintf(message, sizeof message, "%s: %s%s%s", path, why, code ? ": " : "", code ? strerror(code) : "");
    if (fd >= 0) close(fd);
    return fail(EAM_ERROR_IO, message);
  }
  if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)PTRDIFF_MAX) {
    snprintf(message, sizeof message, "%s: file size out of range", path);
    close(fd);
    return fail(EAM_ERROR_IO, message);
  }
  size_t length = (size_t)st.st_size;
  const void *p = NULL;
  if (length > 0) {
    p = mmap(NULL, length, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      snprintf(message, sizeof message, "%s: cannot map: %s", path, strerror(errno));
      close(fd);
      return fail(EAM_ERROR_IO, message);
    }
  }
  close(fd);
  eam_status s = load(p, length, path, options, p, model);
  if (s != EAM_OK && p) munmap((void *)p, length);
  return s;
#else
  (void)options;
  return fail(EAM_ERROR_UNSUPPORTED, "no file system on this target: use eam_load_memory");
#endif
}

void eam_free(eam_model *model) {
  if (!model) return;
  eam_internal_free(model->handle);
#if EAM_HAS_FILES
  if (model->mapping) munmap((void *)model->mapping, model->mapping_length);
#endif
  free(model);
}

eam_status eam_get_info(const eam_model *model, eam_info *info) {
  if (!model || !info) return fail(EAM_ERROR_ARGUMENT, "eam_get_info: model or info is NULL");
  memset(info, 0, sizeof *info);
  eam_internal_info(model->handle, info);
  info->kernels = eam_kernels_variant_name(eam_kernels_variant());
  info->int8_kernels = eam_int8_path_name(eam_int8_path());
  return EAM_OK;
}

eam_status eam_run(eam_model *model, const float *input, int batch, float *output, size_t output_count) {
  if (!model || !input || !output) return fail(EAM_ERROR_ARGUMENT, "eam_run: model, input or output is NULL");
  return eam_internal_run(model->handle, input, batch, output, output_count);
}
