/* classify — runs an .eam artifact through the C API (eam.h) on a preprocessed batch.
 *
 *   classify model.eam images.npy [outputs.npy]
 *
 * images.npy: float32 N×C×H×W (or C×H×W), preprocessed as `eam_get_info` says. Prints the
 * top-5 classes of each image (or, for a feature model, a summary of each feature vector) and
 * writes every output to outputs.npy when given. */
#include "eam.h"
#include "npy.h"
#include <math.h>

static void top5(const float *logits, int n) {
  int best[5] = {-1, -1, -1, -1, -1};
  for (int i = 0; i < n; i++)
    for (int r = 0; r < 5; r++)
      if (best[r] < 0 || logits[i] > logits[best[r]]) {
        for (int s = 4; s > r; s--) best[s] = best[s - 1];
        best[r] = i;
        break;
      }
  for (int r = 0; r < 5 && best[r] >= 0; r++) printf("  %d. class %d  logit %.4f\n", r + 1, best[r], logits[best[r]]);
}

static void summary(const float *v, int n) {
  double sum = 0, sq = 0;
  int arg = 0;
  for (int i = 0; i < n; i++) {
    sum += v[i];
    sq += (double)v[i] * v[i];
    if (v[i] > v[arg]) arg = i;
  }
  printf("  %d features: mean %.6f, norm %.6f, largest %.6f at %d\n", n, sum / n, sqrt(sq), v[arg], arg);
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: classify model.eam images.npy [outputs.npy]\n");
    return 2;
  }
  char why[256];
  npy_array x;
  if (npy_read(argv[2], &x, why) != 0) {
    fprintf(stderr, "classify: error: %s\n", why);
    return 1;
  }
  int batch = x.rank == 4 ? (int)x.shape[0] : 1;

  eam_options options;
  eam_options_default(&options);
  options.max_batch = batch;
  eam_model *model;
  if (eam_load_file(argv[1], &options, &model) != EAM_OK) {
    fprintf(stderr, "classify: error: %s\n", eam_last_error());
    return 1;
  }
  eam_info info;
  eam_get_info(model, &info);
  size_t per_image = (size_t)info.channels * info.height * info.width;
  if ((x.rank != 3 && x.rank != 4) || x.count != (size_t)batch * per_image) {
    fprintf(stderr, "classify: error: %s: the model takes N×%d×%d×%d floats\n", argv[2], info.channels, info.height,
            info.width);
    return 1;
  }
  printf("%s: %s, %d blocks, input %d×%d×%d, %d %s; %.1f%% of attention entries frozen\n", argv[1], info.family,
         info.blocks, info.channels, info.height, info.width, info.outputs, info.is_classifier ? "classes" : "features",
         100 * info.frozen_fraction);
  printf("memory: arena %.2f MiB, planned %.2f MiB in all, copied weights %.2f MiB, artifact %.2f MiB (mapped); "
         "%d thread(s), kernels %s, int8 %s\n",
         info.arena_bytes / 1048576.0, info.planned_bytes / 1048576.0, info.copied_bytes / 1048576.0,
         info.artifact_bytes / 1048576.0, info.threads, info.kernels, info.int8_kernels);

  float *y = (float *)malloc((size_t)batch * info.outputs * sizeof(float));
  if (!y || eam_run(model, x.values, batch, y, (size_t)batch * info.outputs) != EAM_OK) {
    fprintf(stderr, "classify: error: %s\n", y ? eam_last_error() : "out of memory");
    return 1;
  }
  for (int b = 0; b < batch; b++) {
    printf("image %d:\n", b);
    if (info.is_classifier) top5(y + (size_t)b * info.outputs, info.outputs);
    else summary(y + (size_t)b * info.outputs, info.outputs);
  }
  if (argc == 4) {
    size_t shape[2] = {(size_t)batch, (size_t)info.outputs};
    if (npy_write(argv[3], shape, 2, y) != 0) {
      fprintf(stderr, "classify: error: %s: cannot write\n", argv[3]);
      return 1;
    }
    printf("wrote %s\n", argv[3]);
  }
  eam_free(model);
  free(y);
  free(x.values);
  return 0;
}
