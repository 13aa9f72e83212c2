// SPDX-License-Identifier: BSD-2-Clause
// Sigmoid (Caffe's SigmoidLayer):
//   y = 1 / (1 + exp(-x))
//   dE/dx = dE/dy * y * (1 - y)
// Backward needs only the top data, so the layer runs in place.
// exp without libm calls, so the loop vectorises (libm's expf/tanhf are scalar): exp(t) =
// 2^n exp(r), n = nearbyint(t / ln 2), r = t - n ln 2 (ln 2 in two parts), exp(r) by Cephes'
// expf polynomial, t clamped to [-87, 88]. The 1/(1 + e^-x) form keeps tiny outputs (x << 0)
// accurate, as Caffe's 0.5 tanh(0.5 x) + 0.5 does by evaluating in double; within 2 ulp.
// CUDA: sigmoid.cu, the same math with CUDA's libm. sigmoid_param.engine is ignored: a native
// elementwise kernel is as fast as cuDNN's activation and runs in place the same way.
// Reference: Caffe src/caffe/layers/sigmoid_layer.cpp; S. Moshier, Cephes Math Library (expf).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/fast_math.hpp"
#if CREMA_WITH_CUDA
#include "sigmoid_cuda.h"
#endif

namespace {
using crema::layers::exp_poly;
constexpr int64_t kGrain = 1 << 14;


void sigmoid_forward(const float* x, float* y, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    const float s = 1.f / (1.f + exp_poly(-x[i]));
    y[i] = x[i] != x[i] ? x[i] : s;  // NaN stays NaN
  }
}
// dy/dx = sigma(x) (1 - sigma(x)) = y (1 - y)
void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]);
}
}  // namespace

class Sigmoid final : public crema::Layer<Sigmoid> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Sigmoid", "sigmoid_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    return i;
  }
  explicit Sigmoid(const crema::Params&) {}

  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }

  void forward_cpu(crema::Context& c) {
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    crema::parallel_for(c.bottom(0).count(), kGrain,
                        [=](int64_t b, int64_t e) { sigmoid_forward(x, y, b, e); });
  }

  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const float* y = c.top(0).data();
    const float* dy = c.top(0).diff();
    float* dx = c.bottom(0).diff();
    crema::parallel_for(c.bottom(0).count(), kGrain,
                        [=](int64_t b, int64_t e) { sigmoid_backward(y, dy, dx, b, e); });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    sigmoid_forward_cuda(c.cuda_stream(), c.bottom(0).count(), c.bottom(0).data(), c.top(0).data());
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    sigmoid_backward_cuda(c.cuda_stream(), c.bottom(0).count(), c.top(0).data(), c.top(0).diff(),
                          c.bottom(0).diff());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Sigmoid'", "2,3,4,5"}, {"type: 'Sigmoid'", "7,3"}};
  }
};

CREMA_EXPORT_PLUGIN("sigmoid", "1.0.0", Sigmoid)
