// SPDX-License-Identifier: BSD-2-Clause
// SoftmaxWithLoss: softmax over softmax_param.axis followed by the multinomial logistic loss
// (Caffe's SoftmaxWithLossLayer). The prediction x is viewed as (outer, C, inner); bottom 1
// holds one integer label l[o,j] per (outer, inner) position.
//   p = softmax_C(x)                                   (max-subtracted, see softmax_cpu.hpp)
//   E = -1/Z sum_{(o,j) : l[o,j] != ignore_label} log(max(p[o, l[o,j], j], FLT_MIN))
//   Z = VALID: #positions not ignored | BATCH_SIZE: outer | FULL: outer*inner | NONE: 1,
//       then Z = max(Z, 1). Legacy `normalize` (used only when `normalization` is unset):
//       true = VALID, false = BATCH_SIZE.
// Top 0 is E (a scalar); an optional top 1 receives p.
// GPU: the softmax of ../softmax/softmax_gpu.hpp (softmax_param.engine picks cuDNN or the native
// kernels), then the loss and gradient kernels of softmax_with_loss.cu; the loss, the count of
// valid labels and the normaliser stay on the device. A label out of range gives a NaN loss
// there instead of the CPU's error.
// Reference: Caffe, src/caffe/layers/softmax_loss_layer.cpp.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../softmax/softmax_cpu.hpp"
#if CREMA_WITH_CUDA
#include "../softmax/softmax_gpu.hpp"
#include "crema/cuda.hpp"
#include "softmax_with_loss_cuda.h"
#endif

class SoftmaxWithLoss final : public crema::Layer<SoftmaxWithLoss> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"SoftmaxWithLoss", "loss_param"};
    i.min_bottoms = i.max_bottoms = 2;
    i.max_tops = 2;
    i.flags = CREMA_LAYER_LOSS;
    i.no_grad_bottoms = 1u << 1;  // labels
    return i;
  }

  explicit SoftmaxWithLoss(const crema::Params& p)
      : axis_(p.get<int>("softmax_param.axis")),
        has_ignore_(p.has("loss_param.ignore_label")),
        ignore_(p.get<int>("loss_param.ignore_label")),
        engine_(p.get<std::string>("softmax_param.engine")) {
    if (!p.has("loss_param.normalization") && p.has("loss_param.normalize"))
      norm_ = p.get<bool>("loss_param.normalize") ? "VALID" : "BATCH_SIZE";
    else
      norm_ = p.get<std::string>("loss_param.normalization");
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0), label = c.bottom(1);
    const int axis = x.canonical_axis(axis_);
    outer_ = x.count(0, axis), channels_ = x.dim(axis), inner_ = x.count(axis + 1);
    CREMA_CHECK(label.count() == outer_ * inner_,
                "the label bottom " << crema::shape_string(label.shape()) << " has "
                                    << label.count() << " values but the prediction "
                                    << crema::shape_string(x.shape()) << " with softmax axis "
                                    << axis << " needs " << outer_ * inner_ << " (one label in [0, "
                                    << channels_ << ") per position)");
    c.top(0).set_shape({});
    if (c.num_top() > 1)
      c.top(1).set_shape(x.shape());
    else
      prob_.resize(x.count());
#if CREMA_WITH_CUDA
    if (c.on_gpu()) c.request_workspace(softmax_loss_workspace_bytes());
#endif
  }

  void forward_cpu(crema::Context& c) {
    float* prob = probabilities(c);
    crema_softmax::forward(c.bottom(0).data(), prob, outer_, channels_, inner_);
    const float* label = c.bottom(1).data();
    double loss = 0;
    int64_t valid = 0;
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t j = 0; j < inner_; ++j) {
        const int l = static_cast<int>(label[o * inner_ + j]);
        if (has_ignore_ && l == ignore_) continue;
        CREMA_CHECK(l >= 0 && l < channels_, "label " << l << " at position " << o * inner_ + j
                                                      << " is outside [0, " << channels_
                                                      << ") (the prediction has " << channels_
                                                      << " classes along the softmax axis)");
        loss -= std::log(std::max(prob[(o * channels_ + l) * inner_ + j], FLT_MIN));
        ++valid;
      }
    valid_ = valid;
    c.top(0).data()[0] = static_cast<float>(loss / normalizer(valid));
  }

  void backward_cpu(crema::Context& c) {
    // dE/dx[o,c,j] = (p[o,c,j] - [c == l[o,j]]) * dE/dE_top / Z, and 0 at ignored positions.
    if (!c.propagate_down(0)) return;
    const float* prob = probabilities(c);
    const float* label = c.bottom(1).data();
    float* dx = c.bottom(0).diff();
    const int64_t n = c.bottom(0).count();
    std::memcpy(dx, prob, sizeof(float) * n);
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t j = 0; j < inner_; ++j) {
        const int l = static_cast<int>(label[o * inner_ + j]);
        float* d = dx + o * channels_ * inner_ + j;
        if (has_ignore_ && l == ignore_) {
          for (int64_t k = 0; k < channels_; ++k) d[k * inner_] = 0.f;
        } else if (l >= 0 && l < channels_) {
          d[l * inner_] -= 1.f;
        }
      }
    const float scale = static_cast<float>(c.top(0).diff()[0] / normalizer(valid_));
    crema::parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dx[i] *= scale;
    });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    float* prob = gpu_probabilities(c);
    gpu_softmax_.forward(c, c.bottom(0).data(), prob, outer_, channels_, inner_);
    softmax_loss_forward_cuda(c.cuda_stream(), prob, c.bottom(1).data(), outer_, channels_, inner_,
                              has_ignore_, ignore_, loss_norm(), c.workspace<void>(),
                              c.top(0).data(), norm_gpu_.get<double>(1));
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    softmax_loss_backward_cuda(c.cuda_stream(), gpu_probabilities(c), c.bottom(1).data(), outer_,
                               channels_, inner_, has_ignore_, ignore_, c.top(0).diff(),
                               norm_gpu_.data<double>(), c.bottom(0).diff());
  }
#endif

  // check-plugin fills every bottom with N(0, 1) (seeded): labels then truncate to -2..2, so
  // these use 5 classes, ignore -1, and few labels (valid for the checker's fixed seed).
  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'SoftmaxWithLoss' loss_param { ignore_label: -1 }", "2,5;2"},
            {"type: 'SoftmaxWithLoss' loss_param { ignore_label: -1 normalization: FULL }",
             "1,5,1,2;1,1,1,2"},
            {"type: 'SoftmaxWithLoss' softmax_param { engine: CAFFE } "
             "loss_param { ignore_label: -1 normalization: BATCH_SIZE }",
             "2,5;2"}};
  }

 private:
  float* probabilities(crema::Context& c) {
    return c.num_top() > 1 ? c.top(1).data() : prob_.data();
  }
  double normalizer(int64_t valid) const {
    double z = 1;
    if (norm_ == "FULL")
      z = double(outer_ * inner_);
    else if (norm_ == "VALID")
      z = double(valid);
    else if (norm_ == "BATCH_SIZE")
      z = double(outer_);
    return std::max(1.0, z);
  }

#if CREMA_WITH_CUDA
  float* gpu_probabilities(crema::Context& c) {
    return c.num_top() > 1 ? c.top(1).data() : prob_gpu_.get(c.bottom(0).count());
  }
  LossNorm loss_norm() const {
    if (norm_ == "FULL") return LossNorm::kFull;
    if (norm_ == "VALID") return LossNorm::kValid;
    if (norm_ == "BATCH_SIZE") return LossNorm::kBatchSize;
    return LossNorm::kNone;
  }
#endif

  int axis_;
  bool has_ignore_;
  int ignore_;
  std::string engine_;  // softmax_param.engine: the GPU softmax's implementation
  std::string norm_;
  int64_t outer_ = 0, channels_ = 0, inner_ = 0, valid_ = 0;
  std::vector<float> prob_;
#if CREMA_WITH_CUDA
  crema_softmax::GpuSoftmax gpu_softmax_{engine_};
  crema::cuda::DeviceBuffer prob_gpu_;  // p without a second top
  crema::cuda::DeviceBuffer norm_gpu_;  // the normaliser Z of the last forward (one double)
#endif
};

CREMA_EXPORT_PLUGIN("softmax_with_loss", "1.0.0", SoftmaxWithLoss)
