// SPDX-License-Identifier: BSD-2-Clause
// Pooling's GPU path. AVE runs on cuDNN (engine DEFAULT with a cuDNN handle, or CUDNN) when
// cuDNN computes exactly Caffe's numbers: when Caffe's output size equals cuDNN's floor formula
// every window ends inside the padded input, so Caffe's divisor is kh * kw, which is
// CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING's. Otherwise (ceil rounding that adds a partial
// window) and for engine CAFFE: the native kernels of pooling.cu.
// MAX always runs natively, as in Caffe's own layer factory: cuDNN's backward finds the maximum
// again from the top, which a later in-place layer may have changed, and does not promise
// Caffe's first-maximum rule for ties; the native kernels keep the argmax (mask) instead.
// fp16 / bf16 tensors (cuda_storage) go through the native kernels, which take each tensor in its
// own type (a global pooling's 2-byte bottom and the classifier's fp32 top); cuDNN only where
// every tensor is fp32.
#pragma once
#if CREMA_WITH_CUDA
#include <climits>
#include <memory>
#include <string>

#include "crema/cuda.hpp"
#include "crema/layer.hpp"
#include "crema/layers/cudnn_util.hpp"
#include "pooling_cuda.h"

class PoolingGpu {
 public:
  explicit PoolingGpu(const std::string& engine) : engine_(engine) {}

  void forward(const crema::Context& c, const PoolGeometry& g, bool ave) {
    using crema::cuda::data_of;
    const crema::cuda::Values x = data_of(c.bottom(0).raw()), y = data_of(c.top(0).raw());
    if (!ave) {
      const crema::cuda::Values mask_f = c.num_top() > 1 ? data_of(c.top(1).raw())
                                                         : crema::cuda::Values{};
      int32_t* mask = mask_f ? nullptr : mask_.get<int32_t>(g.planes * g.PH * g.PW);
      pooling_max_forward_cuda(c.cuda_stream(), g, x, y, mask, mask_f);
    } else if (use_cudnn(c, g)) {
      crema::cudnn::check(cudnnPoolingForward(crema::cudnn::handle(c.cudnn_handle()), pool_->get(),
                                              crema::cudnn::Scalars::one(), x_->get(), x.ptr,
                                              crema::cudnn::Scalars::zero(), y_->get(), y.ptr),
                          "cudnnPoolingForward");
    } else {
      pooling_ave_forward_cuda(c.cuda_stream(), g, x, y);
    }
  }

  void backward(const crema::Context& c, const PoolGeometry& g, bool ave) {
    using crema::cuda::data_of, crema::cuda::diff_of;
    const crema::cuda::Values dy = diff_of(c.top(0).raw()), dx = diff_of(c.bottom(0).raw());
    if (!ave) {
      const crema::cuda::Values mask_f = c.num_top() > 1 ? data_of(c.top(1).raw())
                                                         : crema::cuda::Values{};
      pooling_max_backward_cuda(c.cuda_stream(), g, dy, mask_f ? nullptr : mask_.data<int32_t>(),
                                mask_f, dx);
    } else if (use_cudnn(c, g)) {
      crema::cudnn::check(cudnnPoolingBackward(crema::cudnn::handle(c.cudnn_handle()), pool_->get(),
                                               crema::cudnn::Scalars::one(), y_->get(),
                                               c.top(0).data(), y_->get(), dy.ptr, x_->get(),
                                               c.bottom(0).data(), crema::cudnn::Scalars::zero(),
                                               x_->get(), dx.ptr),
                          "cudnnPoolingBackward");
    } else {
      pooling_ave_backward_cuda(c.cuda_stream(), g, dy, dx);
    }
  }

 private:
  // AVE only. Also sets the descriptors when cuDNN is chosen; CUDNN without a handle throws.
  bool use_cudnn(const crema::Context& c, const PoolGeometry& g) {
    if (engine_ == "CAFFE" || (engine_ == "DEFAULT" && !c.cudnn_handle())) return false;
    if (c.bottom(0).dtype() != CREMA_FLOAT32 || c.top(0).dtype() != CREMA_FLOAT32) return false;
    crema::cudnn::handle(c.cudnn_handle());
    const bool floor_size = (g.H + 2 * g.ph - g.kh) / g.sh + 1 == g.PH &&
                            (g.W + 2 * g.pw - g.kw) / g.sw + 1 == g.PW;
    if (!floor_size || g.planes * g.H * g.W > INT_MAX || g.planes * g.PH * g.PW > INT_MAX)
      return false;
    if (!pool_) {
      pool_ = std::make_unique<crema::cudnn::PoolDesc>();
      x_ = std::make_unique<crema::cudnn::TensorDesc>();
      y_ = std::make_unique<crema::cudnn::TensorDesc>();
    }
    // Planes as the batch: pooling never mixes channels.
    crema::cudnn::set_4d(*x_, int(g.planes), 1, int(g.H), int(g.W));
    crema::cudnn::set_4d(*y_, int(g.planes), 1, int(g.PH), int(g.PW));
    crema::cudnn::check(cudnnSetPooling2dDescriptor(*pool_,
                                                    CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING,
                                                    CUDNN_PROPAGATE_NAN, int(g.kh), int(g.kw),
                                                    int(g.ph), int(g.pw), int(g.sh), int(g.sw)),
                        "cudnnSetPooling2dDescriptor");
    return true;
  }

  std::string engine_;
  crema::cuda::DeviceBuffer mask_;                // MAX with one top: argmax per output
  std::unique_ptr<crema::cudnn::PoolDesc> pool_;  // made on first use
  std::unique_ptr<crema::cudnn::TensorDesc> x_, y_;
};
#endif  // CREMA_WITH_CUDA
