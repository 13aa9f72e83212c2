// SPDX-License-Identifier: BSD-2-Clause
// LRN's GPU path. ACROSS_CHANNELS runs on cuDNN (engine DEFAULT with a cuDNN handle, or CUDNN)
// when its parameters are in cuDNN's range (local_size <= 16, k >= 1e-5, beta >= 0.01):
// cudnnLRNCrossChannel* computes Caffe's formula, alpha divided by n inside. Its backward needs
// y; a later in-place layer may have overwritten the top, so backward recomputes y into the
// workspace first (as the CPU recomputes from x and s). WITHIN_CHANNEL, engine CAFFE and
// parameters out of cuDNN's range: the native kernels of lrn.cu, with s kept for backward.
#pragma once
#if CREMA_WITH_CUDA
#include <climits>
#include <memory>
#include <string>

#include "crema/cuda.hpp"
#include "crema/layer.hpp"
#include "crema/layers/cudnn_util.hpp"
#include "lrn_cuda.h"

struct LrnSpec {
  int size;
  float alpha, beta, k;
  bool across;
  int64_t N, C, H, W;
};

class LrnGpu {
 public:
  explicit LrnGpu(const std::string& engine) : engine_(engine) {}

  // Scratch for backward: r (native) or the recomputed y (cuDNN), one float per element.
  static size_t workspace_bytes(const LrnSpec& p) { return sizeof(float) * p.N * p.C * p.H * p.W; }

  void forward(const crema::Context& c, const LrnSpec& p) {
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    cudnn_used_ = use_cudnn(c, p);
    if (cudnn_used_) {
      cudnn_forward(c, x, y);
      return;
    }
    float* s = scale_.get(size_t(p.N * p.C * p.H * p.W));
    const int pad = (p.size - 1) / 2;
    if (p.across)
      lrn_across_forward_cuda(c.cuda_stream(), x, s, y, p.N, p.C, p.H, p.W, pad, p.k,
                              p.alpha / p.size, p.beta);
    else
      lrn_within_forward_cuda(c.cuda_stream(), x, s, y, p.N, p.C, p.H, p.W, pad,
                              p.alpha / (p.size * p.size), p.beta);
  }

  void backward(const crema::Context& c, const LrnSpec& p) {
    const float* x = c.bottom(0).data();
    const float* dy = c.top(0).diff();
    float* dx = c.bottom(0).diff();
    float* scratch = c.workspace<float>();
    if (cudnn_used_) {
      cudnn_forward(c, x, scratch);
      crema::cudnn::check(
          cudnnLRNCrossChannelBackward(crema::cudnn::handle(c.cudnn_handle()), *lrn_,
                                       CUDNN_LRN_CROSS_CHANNEL_DIM1, crema::cudnn::Scalars::one(),
                                       *desc_, scratch, *desc_, dy, *desc_, x,
                                       crema::cudnn::Scalars::zero(), *desc_, dx),
          "cudnnLRNCrossChannelBackward");
      return;
    }
    const float ratio = 2.f * p.alpha * p.beta / (p.across ? p.size : p.size * p.size);
    lrn_backward_cuda(c.cuda_stream(), p.across, x, scale_.data(), dy, dx, scratch, p.N, p.C, p.H,
                      p.W, (p.size - 1) / 2, p.beta, ratio);
  }

 private:
  // Also sets the descriptors when cuDNN is chosen; CUDNN without a handle throws.
  bool use_cudnn(const crema::Context& c, const LrnSpec& p) {
    if (!p.across || engine_ == "CAFFE" || (engine_ == "DEFAULT" && !c.cudnn_handle()))
      return false;
    crema::cudnn::handle(c.cudnn_handle());
    if (p.size > CUDNN_LRN_MAX_N || p.k < CUDNN_LRN_MIN_K || p.beta < CUDNN_LRN_MIN_BETA ||
        p.N * p.C * p.H * p.W > INT_MAX)
      return false;
    if (!lrn_) {
      lrn_ = std::make_unique<crema::cudnn::LrnDesc>();
      desc_ = std::make_unique<crema::cudnn::TensorDesc>();
    }
    crema::cudnn::check(cudnnSetLRNDescriptor(*lrn_, unsigned(p.size), p.alpha, p.beta, p.k),
                        "cudnnSetLRNDescriptor");
    crema::cudnn::set_4d(*desc_, int(p.N), int(p.C), int(p.H), int(p.W));
    return true;
  }
  void cudnn_forward(const crema::Context& c, const float* x, float* y) {
    crema::cudnn::check(
        cudnnLRNCrossChannelForward(crema::cudnn::handle(c.cudnn_handle()), *lrn_,
                                    CUDNN_LRN_CROSS_CHANNEL_DIM1, crema::cudnn::Scalars::one(),
                                    *desc_, x, crema::cudnn::Scalars::zero(), *desc_, y),
        "cudnnLRNCrossChannelForward");
  }

  std::string engine_;
  bool cudnn_used_ = false;          // by the last forward; backward follows it
  crema::cuda::DeviceBuffer scale_;  // native: s per element, from forward to backward
  std::unique_ptr<crema::cudnn::LrnDesc> lrn_;  // made on first use
  std::unique_ptr<crema::cudnn::TensorDesc> desc_;
};
#endif  // CREMA_WITH_CUDA
