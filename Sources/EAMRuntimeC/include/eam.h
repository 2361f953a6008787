/*
 * eam.h — the C interface of the eamc runtime (EAMRuntime): load a .eam artifact, ask what it
 * takes and gives, run preprocessed images into your buffer.
 *
 *   eam_options options;
 *   eam_options_default(&options);
 *   eam_model *model;
 *   if (eam_load_file("model.eam", &options, &model) != EAM_OK) { puts(eam_last_error()); return 1; }
 *   eam_info info;
 *   eam_get_info(model, &info);              // input C×H×W, outputs per image, preprocessing
 *   eam_run(model, image, 1, out, info.outputs);
 *   eam_free(model);
 *
 * Everything a run needs (activation arena, attention scratch, frozen maps, weights that are
 * converted at load) is allocated by eam_load_*, planned from the artifact's manifest and
 * checked against a memory budget first; eam_run allocates nothing. A model runs one batch at a
 * time: calls on one model must not overlap; different models are independent.
 *
 * Every value an artifact holds is checked before use; a bad artifact gives a status and one
 * line from eam_last_error() naming it, never a crash.
 */
#ifndef EAM_H
#define EAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This header's version: eam_api_version() returns the library's; they must be equal. */
#define EAM_API_VERSION 1
int eam_api_version(void);

typedef enum eam_status {
  EAM_OK = 0,
  EAM_ERROR_ARGUMENT = 1,    /* a NULL pointer, a batch outside 1…max_batch, an output too small */
  EAM_ERROR_IO = 2,          /* the file cannot be opened, read or mapped */
  EAM_ERROR_INVALID = 3,     /* not a valid artifact: damaged, out of domain, unsupported version */
  EAM_ERROR_MEMORY = 4,      /* the model needs more than its memory budget, or memory ran out */
  EAM_ERROR_UNSUPPORTED = 5  /* valid, but this build cannot run it (for example zstd-compressed
                                sections in a build without zstd: compile with --device-layout) */
} eam_status;

/* A short name of a status ("ok", "invalid artifact", ...). */
const char *eam_status_name(eam_status status);

/* The message of the last failed call on this thread (one line, naming the artifact), "" if none. */
const char *eam_last_error(void);

typedef struct eam_options {
  int threads;            /* threads of a run, the caller's included; 0: every core (1 without an OS) */
  int max_batch;          /* the largest batch eam_run takes; memory is planned for it at load */
  uint64_t memory_budget; /* bytes the model may allocate; 0: half the physical memory, at most
                             8 GiB (256 MiB where the platform cannot tell) */
  int verify;             /* 1: check every section's checksum at load */
} eam_options;

/* threads 0, max_batch 1, memory_budget 0, verify 1. */
void eam_options_default(eam_options *options);

typedef struct eam_model eam_model;

/* Maps the artifact at `path` (read-only) and loads it. EAM_ERROR_UNSUPPORTED on a target
 * without a file system: use eam_load_memory. */
eam_status eam_load_file(const char *path, const eam_options *options, eam_model **model);

/* Loads an artifact held in memory (flash-mapped bytes on a device), used in place: the bytes
 * must stay valid and unchanged until eam_free. 16-byte alignment lets weights be used where
 * they are; otherwise they are copied (counted in copied_bytes). `name` is for messages (NULL:
 * "memory"). */
eam_status eam_load_memory(const void *bytes, size_t length, const char *name, const eam_options *options,
                           eam_model **model);

/* Frees a model (NULL is allowed). */
void eam_free(eam_model *model);

enum { EAM_INTERPOLATION_BICUBIC = 1, EAM_INTERPOLATION_BILINEAR = 2 };

typedef struct eam_info {
  /* One image of input: float32, channels × height × width (NCHW), preprocessed as below. */
  int channels, height, width;
  /* Values per image of output: class logits (is_classifier) or the feature vector. */
  int outputs;
  int is_classifier;
  /* Preprocessing the artifact was compiled with: resize the shorter side to resize_shorter_side
   * (interpolation), centre-crop crop_size, scale to [0, 1], subtract mean, divide by std. */
  int resize_shorter_side, crop_size, interpolation;
  float mean[3], std[3];
  /* "vit", "deit", "deit-distilled", "dinov2" or "swin". */
  const char *family;
  /* Blocks and the fraction of attention-map entries that EAM froze. */
  int blocks;
  double frozen_fraction;
  /* What the load planned and allocated. */
  int threads, max_batch;
  uint64_t arena_bytes;    /* activation arena */
  uint64_t planned_bytes;  /* everything the model allocates (arena, scratch, maps, copies) */
  uint64_t copied_bytes;   /* weights converted or copied at load instead of used in place */
  uint64_t artifact_bytes; /* the artifact, mapped or borrowed */
  /* The kernels that run: "scalar", "avx2", "avx512", "neon"; int8 path "portable", "vnni512", ... */
  const char *kernels, *int8_kernels;
} eam_info;

eam_status eam_get_info(const eam_model *model, eam_info *info);

/* Runs `batch` images (batch × channels × height × width floats) into `output`, which holds
 * `output_count` floats (at least batch × outputs). Allocates nothing. */
eam_status eam_run(eam_model *model, const float *input, int batch, float *output, size_t output_count);

#ifdef __cplusplus
}
#endif

#endif
