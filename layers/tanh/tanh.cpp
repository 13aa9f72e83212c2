// SPDX-License-Identifier: BSD-2-Clause
// TanH (Caffe's TanHLayer):
//   y = tanh(x)
//   dE/dx = dE/dy * (1 - y^2)
// Backward needs only the top data, so the layer runs in place.
// tanh without libm calls, so the loop vectorises (libm's tanhf is scalar, ~20x slower here):
//   |x| < 0.625:  Cephes' tanhf polynomial  x + x^3 P(x^2)
//   otherwise:    sign(x) (1 - 2 / (exp(2|x|) + 1)),  |x| clamped to 10 (tanh = 1 in float beyond)
//   exp(t) = 2^n exp(r), n = nearbyint(t / ln 2), r = t - n ln 2 (ln 2 in two parts), exp(r) by
//   Cephes' expf polynomial. Within 1 ulp of tanh over the floats (checked in the test).
// CUDA: tanh.cu, the same math with CUDA's libm. tanh_param.engine is ignored: a native
// elementwise kernel is as fast as cuDNN's activation and runs in place the same way.
// Reference: Caffe src/caffe/layers/tanh_layer.cpp; S. Moshier, Cephes Math Library (tanhf, expf).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/fast_math.hpp"
#if CREMA_WITH_CUDA
#include "tanh_cuda.h"
#endif

namespace {
using crema::layers::exp_poly;
constexpr int64_t kGrain = 1 << 14;


inline float tanh_poly(float x) {
  const float ax = std::fabs(x), z = x * x;
  const float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                        1.33314422036e-1f) *
                           z -
                       3.33332819422e-1f) *
                          z * x +
                      x;
  const float big = std::copysign(1.f - 2.f / (exp_poly(2.f * std::min(ax, 10.f)) + 1.f), x);
  const float t = ax < 0.625f ? small : big;
  return x != x ? x : t;  // NaN stays NaN
}

void tanh_forward(const float* x, float* y, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) y[i] = tanh_poly(x[i]);
}
// d tanh(x)/dx = 1 - tanh(x)^2 = 1 - y^2
void tanh_backward(const float* y, const float* dy, float* dx, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * (1.f - y[i] * y[i]);
}
}  // namespace

class TanH final : public crema::Layer<TanH> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"TanH", "tanh_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    return i;
  }
  explicit TanH(const crema::Params&) {}

  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }

  void forward_cpu(crema::Context& c) {
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    crema::parallel_for(c.bottom(0).count(), kGrain,
                        [=](int64_t b, int64_t e) { tanh_forward(x, y, b, e); });
  }

  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const float* y = c.top(0).data();
    const float* dy = c.top(0).diff();
    float* dx = c.bottom(0).diff();
    crema::parallel_for(c.bottom(0).count(), kGrain,
                        [=](int64_t b, int64_t e) { tanh_backward(y, dy, dx, b, e); });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    tanh_forward_cuda(c.cuda_stream(), c.bottom(0).count(), c.bottom(0).data(), c.top(0).data());
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    tanh_backward_cuda(c.cuda_stream(), c.bottom(0).count(), c.top(0).data(), c.top(0).diff(),
                       c.bottom(0).diff());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'TanH'", "2,3,4,5"}, {"type: 'TanH'", "7,3"}};
  }
};

CREMA_EXPORT_PLUGIN("tanh", "1.0.0", TanH)
