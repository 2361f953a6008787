// Header-only helper around libpng for EAMImage.
//
// libpng reports fatal errors by longjmp-ing to `png_jmpbuf`; the `setjmp` lives in the single C
// function that drives the whole decode, so corrupt or truncated input becomes an error code and
// a one-line message. Transformations are kept minimal so that the Swift side can reproduce
// PIL's mode conversions exactly.
#ifndef EAM_CPNG_SHIM_H
#define EAM_CPNG_SHIM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <png.h>

/// Output of `eam_png_decode`.
///
/// `samples` holds `channels` samples per pixel, row-major, each `bit_depth / 8` bytes
/// (big-endian for 16-bit). Sub-byte grey is expanded (scaled) to 8 bits; sub-byte palette
/// indices are unpacked to one byte without scaling. `color_type` is the PNG colour type
/// (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA). For palette images `palette` has
/// `palette_size` RGB triples. `samples` is malloc'd; free with `free`.
typedef struct {
  int width;
  int height;
  int color_type;
  int bit_depth;
  int channels;
  int palette_size;
  unsigned char palette[256 * 3];
  unsigned char *samples;
  char message[256];
} eam_png_result;

typedef struct {
  const unsigned char *data;
  size_t size;
  size_t offset;
  eam_png_result *out;
} eam_png_reader;

static inline void eam_png_error(png_structp png, png_const_charp msg) {
  eam_png_reader *reader = (eam_png_reader *)png_get_error_ptr(png);
  snprintf(reader->out->message, sizeof(reader->out->message), "%s", msg);
  png_longjmp(png, 1);
}

static inline void eam_png_warning(png_structp png, png_const_charp msg) {
  (void)png; (void)msg;
}

static inline void eam_png_read(png_structp png, png_bytep dst, size_t length) {
  eam_png_reader *reader = (eam_png_reader *)png_get_io_ptr(png);
  if (reader->size - reader->offset < length) png_error(png, "truncated file (premature end of PNG data)");
  memcpy(dst, reader->data + reader->offset, length);
  reader->offset += length;
}

/// Decodes the first image of a PNG from memory. Returns 0 on success; otherwise non-zero with
/// `out->message` set. Images wider or taller than `max_side` or with more than `max_pixels`
/// pixels (status 2), or with more image data than the rest of the file can hold (status 5), are
/// rejected before any pixel allocation.
static inline int eam_png_decode(const unsigned char *data, size_t size, int max_side,
                                 unsigned long long max_pixels, eam_png_result *out) {
  eam_png_reader reader;
  png_structp png;
  png_infop info = NULL;
  unsigned char *volatile samples = NULL;
  png_bytep *volatile rows = NULL;
  memset(out, 0, sizeof(*out));
  reader.data = data; reader.size = size; reader.offset = 0; reader.out = out;
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    snprintf(out->message, sizeof(out->message), "not a PNG signature");
    return 1;
  }
  png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, eam_png_error, eam_png_warning);
  if (!png) { snprintf(out->message, sizeof(out->message), "out of memory"); return 3; }
  info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    snprintf(out->message, sizeof(out->message), "out of memory");
    return 3;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    free(samples);
    free(rows);
    return 1;
  }
  png_set_read_fn(png, &reader, eam_png_read);
  png_set_user_limits(png, (png_uint_32)max_side, (png_uint_32)max_side);
  png_read_info(png, info);
  {
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    size_t rowbytes;
    png_uint_32 y;
    if ((unsigned long long)width * height > max_pixels) {
      out->width = (int)width;
      out->height = (int)height;
      snprintf(out->message, sizeof(out->message), "unsupported dimensions %ux%u", width, height);
      png_destroy_read_struct(&png, &info, NULL);
      return 2;
    }
    // The image data is deflate-compressed, which expands at most 1032:1, and all of it is
    // still to come: dimensions that need more than 1032 times the bytes left describe data
    // that is not in the file. Checked before the sample buffer (up to 2 GB) is allocated.
    if ((unsigned long long)height * (png_get_rowbytes(png, info) + 1) > 1032ull * (size - reader.offset)) {
      snprintf(out->message, sizeof(out->message),
               "%ux%u pixels cannot be encoded in %zu bytes (damaged header or decompression bomb)",
               width, height, size);
      png_destroy_read_struct(&png, &info, NULL);
      return 5;
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
      png_colorp plte = NULL;
      int n = 0;
      if (png_get_PLTE(png, info, &plte, &n) & PNG_INFO_PLTE) {
        int i;
        if (n > 256) n = 256;
        for (i = 0; i < n; i++) {
          out->palette[3 * i] = plte[i].red;
          out->palette[3 * i + 1] = plte[i].green;
          out->palette[3 * i + 2] = plte[i].blue;
        }
        out->palette_size = n;
      }
      if (bit_depth < 8) png_set_packing(png);
    } else if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
      png_set_expand_gray_1_2_4_to_8(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    rowbytes = png_get_rowbytes(png, info);
    samples = (unsigned char *)malloc(rowbytes * height);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!samples || !rows) png_error(png, "out of memory");
    for (y = 0; y < height; y++) rows[y] = samples + rowbytes * y;
    png_read_image(png, rows);
    out->width = (int)width;
    out->height = (int)height;
    out->color_type = color_type;
    out->bit_depth = png_get_bit_depth(png, info);
    out->channels = png_get_channels(png, info);
    out->samples = samples;
  }
  free(rows);
  png_destroy_read_struct(&png, &info, NULL);
  return 0;
}

#endif
