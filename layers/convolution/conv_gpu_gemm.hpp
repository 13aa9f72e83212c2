// SPDX-License-Identifier: BSD-2-Clause
// The native GPU path of the Convolution plugin (engine CAFFE, or DEFAULT without cuDNN): Caffe's
// im2col + GEMM formulation (BaseConvolutionLayer's forward/backward_gpu_gemm) on cuBLAS, for a
// chunk of images at a time with strided-batched GEMMs, and the column buffer in the net's
// workspace. In fp16 / bf16 the GEMMs take 2-byte copies of W, the columns and dE/dy (in the
// workspace too) and sum in fp32 into fp32 results (cublasGemmEx, reduced_cuda.hpp). Only
// compiled in a CUDA build.
#pragma once
#include <cstddef>
#include <cstdint>

#include "crema/layer.hpp"
#include "crema/layers/im2col.hpp"

namespace crema::layers {

class ConvGpuGemm {
 public:
  // The column buffer of one chunk of images stays within this (at least one image).
  size_t column_budget = size_t{128} << 20;

  // Sizes the chunk for `num` images computed in `math`; returns the workspace bytes (0 for a
  // pointwise convolution in fp32, whose input already is its column matrix).
  size_t plan(const ConvGeometry& g, int num_output, int64_t num, crema_dtype math = CREMA_FLOAT32);
  crema_dtype math() const { return math_; }

  // y = conv(x, w) (+ bias when set), on c's stream, cuBLAS handle and workspace.
  void forward(const Context& c, const float* x, const float* w, const float* bias, float* y) const;
  // dw += dE/dW and db += dE/db where set, dx = dE/dx where set.
  void backward(const Context& c, const float* x, const float* w, const float* dy, float* dw,
                float* db, float* dx) const;

 private:
  ConvGeometry g_;
  int m_ = 0;          // output channels
  int64_t num_ = 0;    // images
  int64_t chunk_ = 1;  // images per column buffer
  int64_t k_ = 0;      // column rows per image: C*KH*KW
  int64_t p_ = 0;      // output pixels per image: OH*OW
  bool pointwise_ = false;
  crema_dtype math_ = CREMA_FLOAT32;
  // Byte offsets in the workspace: the fp32 columns at 0, then (fp16/bf16) the 2-byte W, columns
  // and dE/dy of one chunk.
  size_t w_at_ = 0, col_at_ = 0, dy_at_ = 0;
};

}  // namespace crema::layers
