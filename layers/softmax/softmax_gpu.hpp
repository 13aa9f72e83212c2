// SPDX-License-Identifier: BSD-2-Clause
// The GPU softmax shared by the Softmax and SoftmaxWithLoss plugins (header-only, like
// softmax_cpu.hpp): cuDNN for engine DEFAULT (when the host has cuDNN) and CUDNN, with the tensor
// described as (outer, C, inner, 1) and CUDNN_SOFTMAX_MODE_CHANNEL, CUDNN_SOFTMAX_ACCURATE (max
// subtracted, Caffe's formula); the native kernels of softmax.cu for engine CAFFE, for tensors
// beyond cuDNN's int dimensions, and in place (cuDNN does not document in-place softmax).
#pragma once
#if CREMA_WITH_CUDA
#include <climits>
#include <cstdint>
#include <memory>
#include <string>

#include "crema/layer.hpp"
#include "crema/layers/cudnn_util.hpp"
#include "softmax_cuda.h"

namespace crema_softmax {

class GpuSoftmax {
 public:
  // engine: softmax_param.engine by name (DEFAULT, CAFFE, CUDNN).
  explicit GpuSoftmax(const std::string& engine) : engine_(engine) {}

  void forward(const crema::Context& c, const float* x, float* y, int64_t outer, int64_t channels,
               int64_t inner) {
    if (outer == 0 || channels == 0 || inner == 0) return;
    if (use_cudnn(c, x == y, outer, channels, inner)) {
      crema::cudnn::check(cudnnSoftmaxForward(crema::cudnn::handle(c.cudnn_handle()),
                                              CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL,
                                              crema::cudnn::Scalars::one(), *desc_, x,
                                              crema::cudnn::Scalars::zero(), *desc_, y),
                          "cudnnSoftmaxForward");
    } else {
      softmax_forward_cuda(c.cuda_stream(), x, y, outer, channels, inner);
    }
  }

  // dx = y (dy - sum_c dy_c y_c); dx may be dy.
  void backward(const crema::Context& c, const float* y, const float* dy, float* dx, int64_t outer,
                int64_t channels, int64_t inner) {
    if (outer == 0 || channels == 0 || inner == 0) return;
    if (use_cudnn(c, dy == dx, outer, channels, inner)) {
      crema::cudnn::check(cudnnSoftmaxBackward(crema::cudnn::handle(c.cudnn_handle()),
                                               CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL,
                                               crema::cudnn::Scalars::one(), *desc_, y, *desc_, dy,
                                               crema::cudnn::Scalars::zero(), *desc_, dx),
                          "cudnnSoftmaxBackward");
    } else {
      softmax_backward_cuda(c.cuda_stream(), y, dy, dx, outer, channels, inner);
    }
  }

 private:
  // Also describes the tensor when cuDNN is chosen. CUDNN without a handle throws (in
  // cudnn::handle) rather than quietly running the native kernels.
  bool use_cudnn(const crema::Context& c, bool in_place, int64_t outer, int64_t channels,
                 int64_t inner) {
    if (engine_ == "CAFFE" || (engine_ == "DEFAULT" && !c.cudnn_handle())) return false;
    crema::cudnn::handle(c.cudnn_handle());
    if (in_place || outer > INT_MAX || channels > INT_MAX || inner > INT_MAX ||
        outer * channels * inner > INT_MAX)
      return false;
    if (!desc_) desc_ = std::make_unique<crema::cudnn::TensorDesc>();
    crema::cudnn::set_4d(*desc_, int(outer), int(channels), int(inner), 1);
    return true;
  }

  std::string engine_;
  std::unique_ptr<crema::cudnn::TensorDesc> desc_;  // made on first use
};

}  // namespace crema_softmax
#endif  // CREMA_WITH_CUDA
