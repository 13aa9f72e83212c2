// SPDX-License-Identifier: BSD-2-Clause
// Clip: y = min(max(x, -1), 1), a well-formed layer with two kinks (at -1 and 1) whose declared
// test configuration needs both, and uniform inputs that reach them, for the checker's tests.
// No CUDA path, and its forward computes in the workspace: a GPU net runs it on the CPU with host
// scratch (tests/gpu/layer_plugins_gpu_test.cpp).
#include <algorithm>

#include "crema/layer.hpp"

class Clip final : public crema::Layer<Clip> {
 public:
  static crema::LayerInfo info() { return crema::LayerInfo{"Clip"}; }
  explicit Clip(const crema::Params&) {}
  void reshape(crema::Context& c) {
    c.top(0).set_shape(c.bottom(0).shape());
    c.request_workspace(static_cast<size_t>(c.bottom(0).count()) * sizeof(float));
  }
  void forward_cpu(crema::Context& c) {
    const int64_t n = c.bottom(0).count();
    const float* x = c.bottom(0).data();
    float* clipped = c.workspace<float>();
    for (int64_t i = 0; i < n; ++i) clipped[i] = std::min(std::max(x[i], -1.f), 1.f);
    std::copy(clipped, clipped + n, c.top(0).data());
  }
  // dy/dx = 1 inside (-1, 1), 0 outside.
  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const float *x = c.bottom(0).data(), *dy = c.top(0).diff();
    float* dx = c.bottom(0).diff();
    for (int64_t i = 0; i < c.bottom(0).count(); ++i)
      dx[i] = x[i] > -1.f && x[i] < 1.f ? dy[i] : 0.f;
  }
  static std::vector<crema::TestConfig> tests() {
    return {
        crema::TestConfig{"type: 'Clip'", "4,250"}.with_uniform_inputs(-2, 2).with_kinks({-1, 1})};
  }
};

CREMA_EXPORT_PLUGIN("clip", "1.0.0", Clip)
