// Header-only helper around libjpeg(-turbo) for EAMImage.
//
// libjpeg reports fatal errors through `error_exit`, whose default calls exit(). The decode below
// installs an error manager that longjmps back into the single C function that owns the
// `setjmp`, so corrupt or truncated input becomes an error code plus a one-line message.
#ifndef EAM_CJPEG_SHIM_H
#define EAM_CJPEG_SHIM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/// Output of `eam_jpeg_decode`. `components` is 1 (grey), 3 (RGB) or 4 (CMYK as stored: for
/// Adobe files the values are inverted ink amounts). `pixels` is malloc'd; free with `free`.
typedef struct {
  int width;
  int height;
  int components;
  unsigned char *pixels;
  char message[JMSG_LENGTH_MAX + 64];
} eam_jpeg_result;

typedef struct {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  int premature_eof;
} eam_jpeg_error_mgr;

static inline void eam_jpeg_error_exit(j_common_ptr cinfo) {
  eam_jpeg_error_mgr *err = (eam_jpeg_error_mgr *)cinfo->err;
  longjmp(err->jump, 1);
}

static inline void eam_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
  eam_jpeg_error_mgr *err = (eam_jpeg_error_mgr *)cinfo->err;
  // Warnings are ignored (as PIL does), except running out of data: PIL refuses truncated files.
  if (msg_level < 0 && err->base.msg_code == JWRN_JPEG_EOF) err->premature_eof = 1;
}

static inline void eam_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/// Decodes a whole JPEG from memory with libjpeg defaults (ISLOW DCT, fancy upsampling).
/// Returns 0 on success; otherwise non-zero with `out->message` set. Images wider or taller than
/// `max_side` or with more than `max_pixels` pixels (status 2), or with more pixels than `size`
/// bytes can encode (status 5), are rejected before any pixel allocation.
static inline int eam_jpeg_decode(const unsigned char *data, unsigned long size, int max_side,
                                  unsigned long long max_pixels, eam_jpeg_result *out) {
  struct jpeg_decompress_struct cinfo;
  eam_jpeg_error_mgr err;
  unsigned char *volatile pixels = NULL;
  volatile int started = 0;
  memset(out, 0, sizeof(*out));
  memset(&cinfo, 0, sizeof(cinfo));
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = eam_jpeg_error_exit;
  err.base.emit_message = eam_jpeg_emit_message;
  err.base.output_message = eam_jpeg_output_message;
  err.premature_eof = 0;
  if (setjmp(err.jump)) {
    char text[JMSG_LENGTH_MAX];
    (*cinfo.err->format_message)((j_common_ptr)&cinfo, text);
    snprintf(out->message, sizeof(out->message), "%s", text);
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, size);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.image_width == 0 || cinfo.image_height == 0 ||
      (int)cinfo.image_width > max_side || (int)cinfo.image_height > max_side ||
      (unsigned long long)cinfo.image_width * cinfo.image_height > max_pixels) {
    out->width = (int)cinfo.image_width;
    out->height = (int)cinfo.image_height;
    snprintf(out->message, sizeof(out->message), "unsupported dimensions %ux%u",
             cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return 2;
  }
  // Every 8x8 block of the full-resolution component costs at least one bit of entropy-coded
  // data (no Huffman code is shorter), so a complete file of `size` bytes holds at most
  // 512 * size pixels. A header that declares more describes data that is not in the file;
  // libjpeg would make it up (zero fill after "premature end of data segment") at the full cost
  // in time and memory of the declared size. (Arithmetic-coded files, which are rare, can be
  // denser; they are held to the same limit.)
  if ((unsigned long long)cinfo.image_width * cinfo.image_height > 512ull * size) {
    snprintf(out->message, sizeof(out->message),
             "%ux%u pixels cannot be encoded in %lu bytes (damaged header or decompression bomb)",
             cinfo.image_width, cinfo.image_height, size);
    jpeg_destroy_decompress(&cinfo);
    return 5;
  }
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default: cinfo.out_color_space = JCS_RGB; break;
  }
  jpeg_start_decompress(&cinfo);
  started = 1;
  (void)started;
  {
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    pixels = (unsigned char *)malloc(stride * cinfo.output_height);
    if (!pixels) {
      snprintf(out->message, sizeof(out->message), "out of memory");
      jpeg_destroy_decompress(&cinfo);
      return 3;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW row = pixels + stride * cinfo.output_scanline;
      jpeg_read_scanlines(&cinfo, &row, 1);
      if (err.premature_eof) break;
    }
  }
  if (err.premature_eof) {
    snprintf(out->message, sizeof(out->message), "truncated file (premature end of JPEG data)");
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    return 4;
  }
  out->width = (int)cinfo.output_width;
  out->height = (int)cinfo.output_height;
  out->components = cinfo.output_components;
  out->pixels = pixels;
  // Trailing data after the last scan is not inspected (PIL does not either).
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return 0;
}

#endif
