// SPDX-License-Identifier: BSD-2-Clause
// A 1x1 convolution (one group, no padding, any stride) on N,H,W,C bf16 tensors (ABI 1.6
// channels-last blobs): there every image's pixels are rows of channels, so the whole batch is
// one GEMM per pass, on the host's bf16 GEMM (AMX where the CPU has it):
//   y[p][o] = sum_c x[p][c] W[o][c]
//   dE/dW[o][c] += sum_p dy[p][o] x[p][c]        dE/dx[p][c] = sum_o dy[p][o] W[o][c]
// over the output pixels p of every image; a strided layer gathers its sampled input pixels
// into a buffer first and scatters dE/dx back (zero at the pixels it skips). Measured on
// ResNet-50 (BENCHMARKS.md): oneDNN 2.6's dE/dW for these layers took 2-5x its forward.
// Products 64 or 128 columns wide (y with that many outputs, dE/dx with that many inputs) run on
// crema's own kernel where it measured faster (gemm64_bf16.hpp), the rest on the host's GEMM.
#pragma once
#include <cstddef>
#include <cstdint>

#include "crema/layers/im2col.hpp"
#include "gemm64_bf16.hpp"

namespace crema::layers {

class PointwiseChannelsLast {
 public:
  // Whether g is such a layer and the host has the GEMMs it needs.
  static bool applies(const ConvGeometry& g);
  // For `num` images into num_output channels; returns the workspace bytes backward needs.
  size_t plan(const ConvGeometry& g, int num_output, int64_t num);
  // y = conv(x, w): one GEMM y (pixels x o) = x (pixels x c) . W^T, rounded once into bf16 (a
  // strided layer's sampled pixels gathered first). x, y N,H,W,C bf16; w fp32; no bias.
  void forward(const uint16_t* x, const float* w, uint16_t* y, void* ws) const;
  // dw += dE/dW when dw is set; dx = dE/dx when dx is set. x, dy, dx N,H,W,C bf16; w, dw fp32.
  void backward(const uint16_t* x, const float* w, const uint16_t* dy, float* dw, uint16_t* dx,
                void* ws) const;

 private:
  bool strided() const { return g_.stride_h != 1 || g_.stride_w != 1; }
  // Between an image's input pixels and the sampled ones (rows of `channels` values).
  void gather(const uint16_t* x, uint16_t* rows) const;
  void scatter(const uint16_t* rows, uint16_t* dx) const;
  // rows x n results (ldc n) = a (rows x k, lda k) . B with B[kk][j] = w[kk * k_stride +
  // j * n_stride], rounded once into bf16; on gemm64_ where `own`.
  void product(bool own, const uint16_t* a, int rows, int k, int n, const float* w,
               int64_t k_stride, int64_t n_stride, uint16_t* c) const;
  bool own_forward_ = false, own_input_grad_ = false;  // on gemm64_ (plan)
  mutable Gemm64Bf16 gemm64_;                          // B packed per call
  ConvGeometry g_;
  int num_output_ = 0;
  int64_t num_ = 0;
};

}  // namespace crema::layers
