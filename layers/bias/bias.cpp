// SPDX-License-Identifier: BSD-2-Clause
// Bias (Caffe's BiasLayer): bottom 0 seen as (outer, D, inner) where D = the axes
// [axis, axis + k) of the bias b (k = its number of axes; a scalar b uses axis 0):
//   y[o,d,i] = x[o,d,i] + b[d]
//   dE/dx = dE/dy            dE/db[d] = sum_{o,i} dE/dy[o,d,i]
// b is bottom 1 (two-bottom form) or a learned blob of shape x.shape[axis : axis + num_axes]
// (num_axes -1: to the end), filled from bias_param.filler (default constant 0). Runs in place.
// The sums go per plane (or per block of rows) in double, then over `outer` in a fixed order
// (crema/layers/channel_reduce.hpp).
// CUDA: bias.cu, the same passes (double partials, no atomics).
// Reference: Caffe src/caffe/layers/bias_layer.cpp.
#include <algorithm>
#include <cstring>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/channel_reduce.hpp"
#if CREMA_WITH_CUDA
#include "bias_cuda.h"
#include "crema/cuda.hpp"
#endif

namespace {
constexpr int64_t kWork = 1 << 14;

// y = x + b over one run: b one value (a plane) or a row of D values. Plain functions with
// everything by value, so stores into the run cannot alias what they read and the loops
// vectorise without runtime alias checks (which fail in place).
void add_plane(const float* x, float* y, float b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] + b;
}
void add_row(const float* x, float* y, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] + b[i];
}
}  // namespace

class Bias final : public crema::Layer<Bias> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Bias", "bias_param"};
    i.max_bottoms = 2;
    i.flags = CREMA_LAYER_IN_PLACE;
    return i;
  }
  explicit Bias(const crema::Params& p)
      : axis_(p.get<int>("bias_param.axis")), num_axes_(p.get<int>("bias_param.num_axes")) {
    CREMA_CHECK(num_axes_ >= -1, "bias_param.num_axes must be >= -1, got " << num_axes_);
  }

  void setup(crema::Context& c) {
    two_ = c.num_bottom() == 2;
    if (two_) return;
    const crema::TensorView x = c.bottom(0);
    const crema::Shape xs = x.shape();
    const int a = x.canonical_axis(axis_);
    const int end = num_axes_ < 0 ? x.ndim() : a + num_axes_;
    CREMA_CHECK(end <= x.ndim(), "bias_param.num_axes " << num_axes_ << " from axis " << a
                                                        << " runs past bottom 0 of shape "
                                                        << crema::shape_string(xs));
    c.add_param(crema::Shape(xs.begin() + a, xs.begin() + end), "bias_param.filler", "constant",
                0.f);
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    const crema::TensorView b = bias(c);
    const int a = b.ndim() == 0 ? 0 : x.canonical_axis(axis_);
    bool fits = x.ndim() >= a + b.ndim();
    for (int i = 0; fits && i < b.ndim(); ++i) fits = x.dim(a + i) == b.dim(i);
    CREMA_CHECK(fits, "bias of shape " << crema::shape_string(b.shape())
                                       << " does not match bottom 0 of shape "
                                       << crema::shape_string(x.shape()) << " from axis " << a);
    outer_ = x.count(0, a);
    dim_ = b.count();
    inner_ = x.count(a + b.ndim());
    c.top(0).set_shape(x.shape());
#if CREMA_WITH_CUDA
    if (c.on_gpu()) c.request_workspace(bias_grad_workspace(outer_, dim_, inner_));
#endif
  }

  void forward_cpu(crema::Context& c) {
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();  // may be x
    const float* b = bias(c).data();
    const int64_t D = dim_, I = inner_;
    if (I > 1) {
      crema::parallel_for(outer_ * D, std::max<int64_t>(1, kWork / I), [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) add_plane(x + p * I, y + p * I, b[p % D], I);
      });
    } else {
      crema::parallel_for(outer_, std::max<int64_t>(1, kWork / std::max<int64_t>(D, 1)),
                          [&](int64_t o0, int64_t o1) {
                            for (int64_t o = o0; o < o1; ++o) add_row(x + o * D, y + o * D, b, D);
                          });
    }
  }

  void backward_cpu(crema::Context& c) {
    const float* dy = c.top(0).diff();
    // dE/dx = dE/dy: nothing to do in place.
    if (c.propagate_down(0) && c.bottom(0).diff() != dy) {
      float* dx = c.bottom(0).diff();
      crema::parallel_for(c.bottom(0).count(), 1 << 15, [&](int64_t b, int64_t e) {
        std::memcpy(dx + b, dy + b, (e - b) * sizeof(float));
      });
    }
    const bool want_b = two_ ? c.propagate_down(1) : c.params_need_grad();
    if (!want_b) return;
    // dE/db[d] = sum over o, i of dE/dy, in a fixed order. A learned bias accumulates (its
    // gradient first in the sum); bottom 1 is overwritten.
    const int64_t D = dim_;
    float* db = two_ ? c.bottom(1).diff() : c.param(0).diff();
    sums_.resize(D);
    for (int64_t d = 0; d < D; ++d) sums_[d] = two_ ? 0.0 : db[d];
    crema::layers::channel_reduce<1>(
        outer_, D, inner_, [dy](int64_t e, int64_t, auto& s) { s += dy[e]; }, partial_,
        sums_.data());
    for (int64_t d = 0; d < D; ++d) db[d] = static_cast<float>(sums_[d]);
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    bias_forward_cuda(c.cuda_stream(), outer_, dim_, inner_, c.bottom(0).data(), bias(c).data(),
                      c.top(0).data());
  }

  void backward_cuda(crema::Context& c) {
    const float* dy = c.top(0).diff();
    const int64_t n = c.bottom(0).count();
    // dE/dx = dE/dy: nothing to do in place.
    if (c.propagate_down(0) && c.bottom(0).diff() != dy && n > 0)
      crema::cuda::check(cudaMemcpyAsync(c.bottom(0).diff(), dy, sizeof(float) * n,
                                         cudaMemcpyDeviceToDevice,
                                         crema::cuda::stream(c.cuda_stream())),
                         "Bias backward (copy)");
    const bool want_b = two_ ? c.propagate_down(1) : c.params_need_grad();
    if (!want_b) return;
    CREMA_CHECK(c.workspace_size() >= bias_grad_workspace(outer_, dim_, inner_),
                "Bias: the workspace asked for in reshape is missing");
    // A learned bias accumulates; bottom 1 is overwritten.
    bias_grad_cuda(c.cuda_stream(), outer_, dim_, inner_, dy,
                   two_ ? c.bottom(1).diff() : c.param(0).diff(), !two_, c.workspace<void>());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Bias' bias_param { filler { type: 'gaussian' } }", "2,3,4,5"},
            {"type: 'Bias' bias_param { num_axes: -1 }", "3,5"},
            {"type: 'Bias' bias_param { axis: 0 }", "2,3,4,5;2,3"}};
  }

 private:
  crema::TensorView bias(crema::Context& c) const { return two_ ? c.bottom(1) : c.param(0); }

  int axis_, num_axes_;
  bool two_ = false;
  int64_t outer_ = 0, dim_ = 0, inner_ = 0;
  std::vector<double> partial_, sums_;
};

CREMA_EXPORT_PLUGIN("bias", "1.0.0", Bias)
