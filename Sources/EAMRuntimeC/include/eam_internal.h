/* The C API's two halves (not installed): eam.c (arguments, files, messages) calls the Swift half
 * (CAPI.swift), which loads and runs through the runtime core. */
#ifndef EAM_INTERNAL_H
#define EAM_INTERNAL_H
#include "eam.h"

/* Sets the thread's last error (copied, truncated to one line of at most 511 bytes). */
void eam_internal_set_error(const char *message);
/* The same, as "path: message" (path NULL: the message alone). */
void eam_internal_set_error2(const char *path, const char *message);

/* The Swift half. `handle` is an opaque reference to the loaded model. */
eam_status eam_internal_load(const void *bytes, size_t length, const char *name, const eam_options *options,
                             void **handle);
void eam_internal_free(void *handle);
void eam_internal_info(void *handle, eam_info *info);
eam_status eam_internal_run(void *handle, const float *input, int batch, float *output, size_t output_count);
#endif
