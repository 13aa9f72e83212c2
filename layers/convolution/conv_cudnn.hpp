// SPDX-License-Identifier: BSD-2-Clause
// The cuDNN path of the Convolution plugin (engine DEFAULT or CUDNN on the GPU): one grouped
// convolution descriptor (cudnnSetConvolutionGroupCount) over the whole N,C,H,W batch, plain FP32
// math (CUDNN_FMA_MATH, no TF32) so that the GPU agrees with the CPU. Algorithms are measured
// with cudnnFind* when the shapes are planned (in reshape, on cuDNN's own scratch buffers;
// CREMA_CUDNN_BENCHMARK=0 takes the *_v7 heuristics instead) and kept until the shapes change.
// Only compiled in a CUDA build.
#pragma once
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crema/layers/cudnn_util.hpp"
#include "crema/layers/im2col.hpp"

namespace crema::layers {

class ConvCudnn {
 public:
  // Algorithms whose workspace exceeds this are passed over (the workspace is the net's, shared).
  static constexpr size_t kWorkspaceCap = size_t{1} << 30;

  // Whether cuDNN's int32 tensor descriptors can describe this batch.
  static bool fits(const ConvGeometry& g, int num_output, int64_t num);
  // Describes the convolution of `num` images and chooses the algorithms (again only when the
  // shapes changed); returns the workspace bytes forward() and backward() need.
  size_t plan(cudnnHandle_t h, const ConvGeometry& g, int num_output, int64_t num);

  // y = conv(x, w) (+ bias when set).
  void forward(cudnnHandle_t h, const float* x, const float* w, const float* bias, float* y,
               void* ws) const;
  // dw += dE/dW and db += dE/db where set (params), dx = dE/dx where set.
  void backward(cudnnHandle_t h, const float* x, const float* w, const float* dy, float* dw,
                float* db, float* dx, void* ws) const;

 private:
  void describe(const ConvGeometry& g, int num_output, int64_t num);
  void choose_algorithms(cudnnHandle_t h);

  std::vector<int64_t> key_;  // the shapes planned for (empty: none yet)
  cudnn::TensorDesc x_, y_, bias_;
  cudnn::FilterDesc w_;
  cudnn::ConvDesc conv_;
  cudnnConvolutionFwdAlgo_t fwd_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnConvolutionBwdDataAlgo_t bwd_data_ = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_ = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0;
  size_t fwd_bytes_ = 0, bwd_data_bytes_ = 0, bwd_filter_bytes_ = 0;
};

}  // namespace crema::layers
