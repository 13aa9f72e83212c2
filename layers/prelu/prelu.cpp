// SPDX-License-Identifier: BSD-2-Clause
// PReLU (Caffe's PReLULayer): learned negative slope a_c per channel (axis 1), or one a for all
// channels with prelu_param.channel_shared; filler prelu_param.filler (default constant 0.25):
//   y = max(x, 0) + a_c * min(x, 0)
//   dE/dx = dE/dy * ((x > 0) + a_c * (x <= 0))
//   dE/da_c = sum over n and space of dE/dy * x * (x <= 0)
// Runs in place; then forward keeps a copy of x (a_c may be negative or zero, so y does not
// give x back), as Caffe does. Backward is one pass: the slope sums (per plane or per block of
// rows, double, summed in a fixed order: crema/layers/channel_reduce.hpp) and dE/dx.
// CUDA: prelu.cu, the same passes; the slope sums run before dE/dx (which may overwrite dE/dy in
// place) and keep double partials; the in-place copy of x is a device buffer.
// Reference: Caffe src/caffe/layers/prelu_layer.cpp; He et al., "Delving Deep into
// Rectifiers", ICCV 2015.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/channel_reduce.hpp"
#include "crema/layers/channel_runs.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "prelu_cuda.h"
#endif

namespace {
constexpr int64_t kWork = 1 << 14;

using crema::layers::Per;
using crema::layers::per;

// y = max(x, 0) + a min(x, 0); x also copied into keep when given.
template <int St>
void prelu_run(const float* x, float* y, float* keep, Per<St> a, int64_t n) {
  if (keep) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      keep[i] = v;
      y[i] = std::max(v, 0.f) + a[i] * std::min(v, 0.f);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = std::max(x[i], 0.f) + a[i] * std::min(x[i], 0.f);
  }
}

// dx = dy where x > 0, a dy elsewhere.
template <int St>
void prelu_grad(const float* x, const float* dy, float* dx, Per<St> a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.f ? dy[i] : a[i] * dy[i];
}
}  // namespace

class PReLU final : public crema::Layer<PReLU> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"PReLU", "prelu_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    return i;
  }
  explicit PReLU(const crema::Params& p) : shared_(p.get<bool>("prelu_param.channel_shared")) {}

  void setup(crema::Context& c) {
    check_shape(c.bottom(0));
    channels_ = c.bottom(0).dim(1);
    c.add_param(shared_ ? crema::Shape{} : crema::Shape{channels_}, "prelu_param.filler",
                "constant", 0.25f);
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    check_shape(x);
    CREMA_CHECK(x.dim(1) == channels_, "PReLU was set up for " << channels_ << " channels, input "
                                                               << crema::shape_string(x.shape())
                                                               << " has " << x.dim(1));
    N_ = x.dim(0);
    S_ = x.count(2);
    slope_.resize(channels_);
    c.top(0).set_shape(x.shape());
#if CREMA_WITH_CUDA
    if (c.on_gpu()) c.request_workspace(prelu_slope_grad_workspace(N_, channels_, S_));
#endif
  }

  void forward_cpu(crema::Context& c) {
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    const float* a = expand_slopes(c);
    in_place_ = c.top(0).same_memory(c.bottom(0));
    if (in_place_) x_copy_.resize(c.bottom(0).count());
    float* keep = in_place_ ? x_copy_.data() : nullptr;
    for_runs([&](int64_t off, int64_t len, int64_t c0, auto st) {
      constexpr int St = decltype(st)::value;
      prelu_run<St>(x + off, y + off, keep ? keep + off : nullptr, per<St>(a + c0), len);
    });
  }

  void backward_cpu(crema::Context& c) {
    const float* dy = c.top(0).diff();
    const float* x = in_place_ ? x_copy_.data() : c.bottom(0).data();
    const float* a = expand_slopes(c);
    float* dx = c.propagate_down(0) ? c.bottom(0).diff() : nullptr;  // may be dy (in place)
    const int64_t C = channels_, S = S_;
    if (c.params_need_grad()) {
      // dE/da_c = sum dy * x * (x <= 0) = sum dy * min(x, 0), in a fixed order; each run is
      // summed before its dx overwrites dy (in place). dE/dx as below.
      sums_.assign(C, 0.0);
      crema::layers::channel_reduce<1>(
          N_, C, S,
          [dy, x](int64_t e, int64_t, auto& s) {
            using T = std::decay_t<decltype(s)>;
            s += T(dy[e]) * T(x[e] < 0.f ? x[e] : 0.f);  // min(x, 0), written as in prelu.cu
          },
          partial_, sums_.data(),
          [&](int64_t off, int64_t len, int64_t c0, auto st) {
            constexpr int St = decltype(st)::value;
            if (dx) prelu_grad<St>(x + off, dy + off, dx + off, per<St>(a + c0), len);
          });
      float* da = c.param(0).diff();
      double total = 0;
      for (int64_t j = 0; j < C; ++j) {
        if (shared_)
          total += sums_[j];
        else
          da[j] += static_cast<float>(sums_[j]);
      }
      if (shared_) da[0] += static_cast<float>(total);
      return;
    }
    if (!dx) return;
    // dy/dx = 1 where x > 0, a_c elsewhere.
    for_runs([&](int64_t off, int64_t len, int64_t c0, auto st) {
      constexpr int St = decltype(st)::value;
      prelu_grad<St>(x + off, dy + off, dx + off, per<St>(a + c0), len);
    });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    in_place_ = c.top(0).same_memory(c.bottom(0));
    float* keep = in_place_ ? x_copy_gpu_.get(c.bottom(0).count()) : nullptr;
    prelu_forward_cuda(c.cuda_stream(), N_, channels_, S_, shared_, c.param(0).data(),
                       c.bottom(0).data(), c.top(0).data(), keep);
  }

  void backward_cuda(crema::Context& c) {
    const float* dy = c.top(0).diff();
    const float* x = in_place_ ? x_copy_gpu_.data() : c.bottom(0).data();
    if (c.params_need_grad()) {
      CREMA_CHECK(c.workspace_size() >= prelu_slope_grad_workspace(N_, channels_, S_),
                  "PReLU: the workspace asked for in reshape is missing");
      // Before dE/dx, which in place overwrites dE/dy.
      prelu_slope_grad_cuda(c.cuda_stream(), N_, channels_, S_, shared_, x, dy, c.param(0).diff(),
                            c.workspace<void>());
    }
    if (c.propagate_down(0))
      prelu_backward_x_cuda(c.cuda_stream(), N_, channels_, S_, shared_, c.param(0).data(), x, dy,
                            c.bottom(0).diff());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    // The kink at 0, as ReLU's.
    return {
        crema::TestConfig{"type: 'PReLU'", "2,3,4,5"}.with_kinks({0}),
        crema::TestConfig{"type: 'PReLU' prelu_param { channel_shared: true }", "3,5"}.with_kinks(
            {0}),
        crema::TestConfig{"type: 'PReLU' prelu_param { filler { type: 'uniform' min: -1 max: 1 } }",
                          "1,9,3"}
            .with_kinks({0})};
  }

 private:
  static void check_shape(const crema::TensorView& x) {
    CREMA_CHECK(x.ndim() >= 2, "PReLU needs an input with at least 2 axes (N, C, ...), got "
                                   << crema::shape_string(x.shape()));
  }
  // Per-channel slopes (the one shared slope repeated), so the loops index a[c] either way.
  const float* expand_slopes(crema::Context& c) {
    const float* a = c.param(0).data();
    for (int64_t j = 0; j < channels_; ++j) slope_[j] = shared_ ? a[0] : a[j];
    return slope_.data();
  }
  // fn(offset, length, c0, stride): a plane of channel c0 (stride 0) when S > 1, else a row of
  // all C channels (stride 1, c0 = 0).
  template <class Fn>
  void for_runs(const Fn& fn) const {
    crema::layers::for_channel_runs(N_, channels_, S_, kWork, fn);
  }

  bool shared_, in_place_ = false;
  int64_t channels_ = 0, N_ = 0, S_ = 0;
  std::vector<float> slope_, x_copy_;
  std::vector<double> partial_, sums_;
#if CREMA_WITH_CUDA
  crema::cuda::DeviceBuffer x_copy_gpu_;  // x in place, from forward to backward
#endif
};

CREMA_EXPORT_PLUGIN("prelu", "1.0.0", PReLU)
