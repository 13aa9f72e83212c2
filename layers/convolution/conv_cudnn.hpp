// SPDX-License-Identifier: BSD-2-Clause
// The cuDNN path of the Convolution plugin (engine DEFAULT or CUDNN on the GPU): one grouped
// convolution descriptor (cudnnSetConvolutionGroupCount) over the whole N,C,H,W batch, plain FP32
// math (CUDNN_FMA_MATH, no TF32) so that the GPU agrees with the CPU. Algorithms are measured
// with cudnnFind* when the shapes are planned (in reshape, on cuDNN's own scratch buffers;
// CREMA_CUDNN_BENCHMARK=0 takes the *_v7 heuristics instead) and kept until the shapes change.
// fp16 / bf16 (the layer's math): x, W and dE/dy are rounded into 2-byte copies in the workspace,
// the descriptors say CUDNN_DATA_HALF / CUDNN_DATA_BFLOAT16 with an fp32 compute type and
// CUDNN_TENSOR_OP_MATH (tensor cores), and cuDNN's 2-byte results are widened into the fp32
// tensors (dE/dW added to the gradient in fp32). Blobs stored in the math's 2-byte type (a net's
// fp16 / bf16 storage) go to cuDNN as they are, with no copies; blobs of another type are
// converted into the copies and back. In fp32 math the blobs must be fp32 (the layer widens
// others around the call). Only compiled in a CUDA build.
#pragma once
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crema/cuda.hpp"
#include "crema/layers/cudnn_util.hpp"
#include "crema/layers/im2col.hpp"
#include "crema/plugin_abi.h"

namespace crema::layers {

class ConvCudnn {
 public:
  // Algorithms whose workspace exceeds this are passed over (the workspace is the net's, shared).
  static constexpr size_t kWorkspaceCap = size_t{1} << 30;

  // Whether cuDNN's int32 tensor descriptors can describe this batch.
  static bool fits(const ConvGeometry& g, int num_output, int64_t num);
  // Describes the convolution of `num` images computed in `math` (fp32, fp16 or bf16) and chooses
  // the algorithms (again only when the shapes or the math changed); returns the workspace bytes
  // forward() and backward() need (cuDNN's, and in fp16/bf16 the 2-byte copies after them).
  // In fp16 / bf16 the copies of x and y are planned only where their blobs (x_type, y_type) are
  // stored in another type.
  size_t plan(cudnnHandle_t h, const ConvGeometry& g, int num_output, int64_t num,
              crema_dtype math = CREMA_FLOAT32, crema_dtype x_type = CREMA_FLOAT32,
              crema_dtype y_type = CREMA_FLOAT32);
  crema_dtype math() const { return math_; }

  // y = conv(x, w) (+ bias when set).
  void forward(cudnnHandle_t h, cuda::Values x, const float* w, const float* bias, cuda::Values y,
               void* ws) const;
  // dw += dE/dW and db += dE/db where set (params), dx = dE/dx where set.
  void backward(cudnnHandle_t h, cuda::Values x, const float* w, cuda::Values dy, float* dw,
                float* db, cuda::Values dx, void* ws) const;

 private:
  void describe(const ConvGeometry& g, int num_output, int64_t num);
  void choose_algorithms(cudnnHandle_t h);
  // The 2-byte copies of x, W, y (or dE/dy) and of cuDNN's dE/dx or dE/dW, after cuDNN's bytes.
  struct Scratch {
    void *x, *w, *y, *out;
  };
  Scratch scratch(void* ws) const;
  void forward_reduced(cudnnHandle_t h, cuda::Values x, const float* w, const float* bias,
                       cuda::Values y, void* ws) const;
  void backward_reduced(cudnnHandle_t h, cuda::Values x, const float* w, cuda::Values dy, float* dw,
                        float* db, cuda::Values dx, void* ws) const;
  // A blob for cuDNN: itself where it is stored in the math's type, else `copy` (filled from it
  // when `fill`).
  const void* as_math(void* stream, cuda::Values v, void* copy, int64_t n, bool fill) const;

  std::vector<int64_t> key_;  // the shapes and math planned for (empty: none yet)
  crema_dtype math_ = CREMA_FLOAT32;
  int64_t num_ = 0, channels_out_ = 0, out_plane_ = 0;  // y as (N, C, S), for the bias passes
  int64_t x_count_ = 0, w_count_ = 0, y_count_ = 0;     // elements of x, W and y
  size_t cudnn_bytes_ = 0;  // cuDNN's workspace, rounded up to 256 (the copies follow it)
  size_t x_bytes_ = 0, w_bytes_ = 0, y_bytes_ = 0;  // the copies' slices (0: not needed)
  // x_, y_ and w_ in the math's type; y32_ is y in fp32, for the bias (added in fp32).
  cudnn::TensorDesc x_, y_, y32_, bias_;
  cudnn::FilterDesc w_;
  cudnn::ConvDesc conv_;
  cudnnConvolutionFwdAlgo_t fwd_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnConvolutionBwdDataAlgo_t bwd_data_ = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_ = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0;
  size_t fwd_bytes_ = 0, bwd_data_bytes_ = 0, bwd_filter_bytes_ = 0;
};

}  // namespace crema::layers
