// SPDX-License-Identifier: BSD-2-Clause
// Batched im2col / col2im for 2-D convolution, pixel-major ("im2row"), for many images per call
// so one GEMM can cover a chunk of a mini-batch.
//
// Layout: images are N,H,W,C (see nchw_to_nhwc); the column matrix has one row per output pixel
// and, with G groups of Cg = C/G channels, one column per (group, kernel tap, channel in group):
//   col[(n*OH + oh)*OW + ow][(g*KH*KW + i*KW + j)*Cg + cg]
//       = x[n][oh*SH - PH + i*DH][ow*SW - PW + j*DW][g*Cg + cg]      (0 in the padding)
// so that for group g, Y[pixels][M/G] = col_g * W_g^T is one GEMM whose long side is the pixel
// count (OpenBLAS runs this shape near peak even for 16 output channels, unlike Caffe's
// W[M][K] * col[K][pixels]). col2im is the adjoint: it OVERWRITES x with the sum of the column
// entries that im2col reads from each element.
#pragma once
#include <cstdint>

namespace crema::layers {

struct ConvGeometry {
  int channels = 0, height = 0, width = 0, groups = 1;
  int kernel_h = 1, kernel_w = 1;
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;

  int extent_h() const { return dilation_h * (kernel_h - 1) + 1; }
  int extent_w() const { return dilation_w * (kernel_w - 1) + 1; }
  // floor((in + 2p - (d(k-1)+1)) / s) + 1; callers check that the kernel fits first.
  int out_h() const { return (height + 2 * pad_h - extent_h()) / stride_h + 1; }
  int out_w() const { return (width + 2 * pad_w - extent_w()) / stride_w + 1; }
  int64_t in_plane() const { return int64_t{height} * width; }
  int64_t out_plane() const { return int64_t{out_h()} * out_w(); }
  // Columns of the column matrix: C*KH*KW.
  int64_t col_width() const { return int64_t{channels} * kernel_h * kernel_w; }
  // A 1x1, stride 1, pad 0 convolution: the image (N,C,H,W) is already its column matrix.
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 &&
           pad_w == 0;
  }
};

// xt[n][p][c] = x[n][c][p] for `num` images of `channels` x `plane`.
void nchw_to_nhwc(const float* x, int num, int channels, int64_t plane, float* xt);
// x[n][c][p] = xt[n][p][c] + (bias ? bias[c] : 0).
void nhwc_to_nchw(const float* xt, int num, int channels, int64_t plane, const float* bias,
                  float* x);
// xt: `num` N,H,W,C images -> col (num*OH*OW rows of C*KH*KW floats).
void im2col_nhwc(const float* xt, int num, const ConvGeometry& g, float* col);
// The same for bf16 images (uint16_t values copied as they are; padding 0).
void im2col_nhwc(const uint16_t* xt, int num, const ConvGeometry& g, uint16_t* col);
// The adjoint: writes every element of the `num` N,H,W,C images in xt.
void col2im_nhwc(const float* col, int num, const ConvGeometry& g, float* xt);

}  // namespace crema::layers
