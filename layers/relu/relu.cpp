// SPDX-License-Identifier: BSD-2-Clause
// ReLU (Caffe's ReLULayer), optionally leaky:
//   y = max(x, 0) + s * min(x, 0)            s = relu_param.negative_slope (default 0)
//   dE/dx = dE/dy * ((x > 0) + s * (x <= 0))
// Runs in place. Backward reads the bottom data as Caffe does; in place that is the top, and
// for s >= 0 sign(y) = sign(x), so the test x > 0 is the same as y > 0. For s < 0 the sign is
// lost in place; forward then keeps a byte mask of x > 0 for backward.
// CUDA: the same formulas in relu.cu. relu_param.engine is ignored: one fused elementwise
// kernel is as fast as cuDNN's activation and keeps the leaky slope and the in-place mask.
// Reference: Caffe src/caffe/layers/relu_layer.cpp; Maas et al. 2013 (leaky ReLU).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "relu_cuda.h"
#endif

namespace {
constexpr int64_t kGrain = 1 << 15;

// Plain functions with everything by value, so the compiler sees no aliasing it must guard
// against (a lambda reading captured values would reload them after every store).
void relu_forward(const float* x, float* y, uint8_t* mask, float s, int64_t b, int64_t e) {
  if (mask)
    for (int64_t i = b; i < e; ++i) mask[i] = x[i] > 0.f;
  if (s == 0.f) {
    for (int64_t i = b; i < e; ++i) y[i] = std::max(x[i], 0.f);
  } else {
    for (int64_t i = b; i < e; ++i) y[i] = std::max(x[i], 0.f) + s * std::min(x[i], 0.f);
  }
}

// dy/dx = 1 where x > 0, s elsewhere (Caffe's convention at x = 0: slope s).
void relu_backward(const float* x, const uint8_t* mask, const float* dy, float* dx, float s,
                   int64_t b, int64_t e) {
  if (mask) {
    for (int64_t i = b; i < e; ++i) dx[i] = mask[i] ? dy[i] : s * dy[i];
  } else {
    for (int64_t i = b; i < e; ++i) dx[i] = x[i] > 0.f ? dy[i] : s * dy[i];
  }
}
}  // namespace

class ReLU final : public crema::Layer<ReLU> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"ReLU", "relu_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    return i;
  }
  explicit ReLU(const crema::Params& p) : slope_(p.get<float>("relu_param.negative_slope")) {}

  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }

  void forward_cpu(crema::Context& c) {
    const int64_t n = c.bottom(0).count();
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    use_mask_ = slope_ < 0.f && c.top(0).same_memory(c.bottom(0));
    if (use_mask_) mask_.resize(n);
    uint8_t* m = use_mask_ ? mask_.data() : nullptr;
    const float s = slope_;
    crema::parallel_for(n, kGrain, [=](int64_t b, int64_t e) { relu_forward(x, y, m, s, b, e); });
  }

  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const int64_t n = c.bottom(0).count();
    const float* x = c.bottom(0).data();  // == top data in place (sign kept for s >= 0)
    const float* dy = c.top(0).diff();
    float* dx = c.bottom(0).diff();
    const uint8_t* m = use_mask_ ? mask_.data() : nullptr;
    const float s = slope_;
    crema::parallel_for(n, kGrain,
                        [=](int64_t b, int64_t e) { relu_backward(x, m, dy, dx, s, b, e); });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    const int64_t n = c.bottom(0).count();
    use_mask_ = slope_ < 0.f && c.top(0).same_memory(c.bottom(0));
    uint8_t* m = use_mask_ ? mask_gpu_.get<uint8_t>(n) : nullptr;
    relu_forward_cuda(c.cuda_stream(), n, slope_, c.bottom(0).data(), c.top(0).data(), m);
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const uint8_t* m = use_mask_ ? mask_gpu_.data<uint8_t>() : nullptr;
    relu_backward_cuda(c.cuda_stream(), c.bottom(0).count(), slope_, c.bottom(0).data(), m,
                       c.top(0).diff(), c.bottom(0).diff());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    // The kink at 0: elements within a step of it are skipped, as in Caffe's checker.
    return {
        crema::TestConfig{"type: 'ReLU'", "2,3,4,5"}.with_kinks({0}),
        crema::TestConfig{"type: 'ReLU' relu_param { negative_slope: 0.1 }", "3,7,5"}.with_kinks(
            {0}),
        crema::TestConfig{"type: 'ReLU' relu_param { negative_slope: -0.3 }", "1,9"}.with_kinks(
            {0})};
  }

 private:
  float slope_;
  bool use_mask_ = false;
  std::vector<uint8_t> mask_;
#if CREMA_WITH_CUDA
  crema::cuda::DeviceBuffer mask_gpu_;
#endif
};

CREMA_EXPORT_PLUGIN("relu", "1.0.0", ReLU)
