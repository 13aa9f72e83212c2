// SPDX-License-Identifier: BSD-2-Clause
// GPU im2col / col2im in Caffe's layout (im2col.cu of BVLC Caffe), batched over a chunk of
// images, and the per-channel bias passes of convolution-like layers. Plain launchers on the
// call's stream (void* = cudaStream_t), so .cpp files compiled by the host compiler call them.
//
// Layout (N,C,H,W images; K = C*KH*KW rows per image, one column per output pixel p = oh*OW + ow):
//   col[n][(c*KH + i)*KW + j][p] = x[n][c][oh*SH - PH + i*DH][ow*SW - PW + j*DW]  (0 in padding)
// so group g's rows are the contiguous block [g*K/G, (g+1)*K/G) and y_g = W_g * col_g is one GEMM
// per image and group, as in Caffe's BaseConvolutionLayer. (The CPU path's im2col.hpp is
// pixel-major instead; the two are not interchangeable.)
#pragma once
#include <cstdint>

#include "crema/cuda.hpp"
#include "crema/layers/im2col.hpp"

namespace crema::layers::gpu {

// col (num * K * OH*OW floats) from `num` N,C,H,W images at x.
void im2col_nchw(void* stream, const float* x, int num, const ConvGeometry& g, float* col);
// The adjoint: OVERWRITES every element of the `num` images at x with the sum of the column
// entries im2col reads from it (one thread per image element over its covering windows, no
// atomics: deterministic).
void col2im_nchw(void* stream, const float* col, int num, const ConvGeometry& g, float* x);

// y[n][c][p] += bias[c] for num x channels x plane; y fp32 or a 2-byte blob (the sum in fp32,
// rounded once).
void add_channel_bias(void* stream, cuda::Values y, const float* bias, int64_t num,
                      int64_t channels, int64_t plane);
// sums[c] += sum_{n,p} dy[n][c][p] (dy of any storage type): one block per channel, a
// shared-memory reduction.
void add_channel_sums(void* stream, cuda::Values dy, int64_t num, int64_t channels, int64_t plane,
                      float* sums);

}  // namespace crema::layers::gpu
