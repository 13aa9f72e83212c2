// SPDX-License-Identifier: BSD-2-Clause
// Split: one bottom to several tops, inserted by the net wherever a blob feeds several layers.
// Forward shares (or copies) the data; backward sums the tops' gradients:
//   dE/dx = sum_i dE/dy_i
// CUDA: device-to-device copies on the stream where memory is not shared; split.cu sums the
// gradients in one pass.
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/copy.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "split_cuda.h"
#endif

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

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    const float* x = c.bottom(0).data();
    const int64_t n = c.bottom(0).count();
    for (int t = 0; t < c.num_top(); ++t)
      if (c.top(t).data() != x && n > 0)
        crema::cuda::check(cudaMemcpyAsync(c.top(t).data(), x, sizeof(float) * n,
                                           cudaMemcpyDeviceToDevice,
                                           crema::cuda::stream(c.cuda_stream())),
                           "Split forward (copy)");
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    top_diffs_.resize(c.num_top());
    for (int t = 0; t < c.num_top(); ++t) top_diffs_[t] = c.top(t).diff();
    split_backward_cuda(c.cuda_stream(), c.bottom(0).count(), c.num_top(), top_diffs_.data(),
                        c.bottom(0).diff());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Split' top: 'a' top: 'b'", "2,3,4,5"},
            {"type: 'Split' top: 'a' top: 'b' top: 'c'", "3,7"}};
  }

 private:
#if CREMA_WITH_CUDA
  std::vector<const float*> top_diffs_;  // the tops' device gradients, for the launcher
#endif
};

CREMA_EXPORT_PLUGIN("split", "1.0.0", Split)
