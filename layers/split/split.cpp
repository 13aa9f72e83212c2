// SPDX-License-Identifier: BSD-2-Clause
// Split: one bottom to several tops, inserted by the net wherever a blob feeds several layers.
// Forward shares (or copies) the data; backward sums the tops' gradients:
//   dE/dx = sum_i dE/dy_i
#include "crema/layer.hpp"
#include "crema/layers/copy.hpp"

class Split final : public crema::Layer<Split> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Split"};
    i.min_tops = 1;
    i.max_tops = -1;
    i.flags = CREMA_LAYER_SHARES_DATA;
    return i;
  }
  explicit Split(const crema::Params&) {}
  void reshape(crema::Context& c) {
    for (int t = 0; t < c.num_top(); ++t) c.top(t).set_shape(c.bottom(0).shape());
  }
  // The host shares memory unless a consumer writes its top in place; then copy.
  void forward_cpu(crema::Context& c) {
    for (int t = 0; t < c.num_top(); ++t)
      crema::layers::copy_floats(c.top(t).data(), c.bottom(0).data(), c.bottom(0).count());
  }
  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const int64_t n = c.bottom(0).count();
    float* dx = c.bottom(0).diff();
    const int tops = c.num_top();
    crema::parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
      const float* d0 = c.top(0).diff();
      for (int64_t i = b; i < e; ++i) dx[i] = d0[i];
      for (int t = 1; t < tops; ++t) {
        const float* dt = c.top(t).diff();
        for (int64_t i = b; i < e; ++i) dx[i] += dt[i];
      }
    });
  }
};

CREMA_EXPORT_PLUGIN("split", "1.0.0", Split)
