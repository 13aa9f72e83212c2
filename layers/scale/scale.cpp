// SPDX-License-Identifier: BSD-2-Clause
// Scale (Caffe's ScaleLayer): bottom 0 seen as (outer, D, inner) where D = the axes
// [axis, axis + k) of the scale s (k = its number of axes; a scalar s uses axis 0):
//   y[o,d,i] = x[o,d,i] * s[d] (+ b[d] with bias_term)
//   dE/dx[o,d,i] = dE/dy[o,d,i] * s[d]
//   dE/ds[d] = sum_{o,i} dE/dy[o,d,i] * x[o,d,i]      dE/db[d] = sum_{o,i} dE/dy[o,d,i]
// s is bottom 1 (the two-bottom form, e.g. SE blocks: axis 0, s (N,C) on x (N,C,H,W)) or a
// learned blob of shape x.shape[axis : axis + num_axes] (num_axes -1: to the end), filled from
// scale_param.filler (default constant 1). With bias_term a learned b of s's shape (filler
// scale_param.bias_filler, default 0) is param 1, or param 0 in the two-bottom form.
// In place: forward keeps a copy of x for dE/ds, as Caffe does. Backward is one pass: both
// sums and dE/dx; the sums go per plane (or per block of rows) in double, then over `outer`
// in a fixed order (crema/layers/channel_reduce.hpp), so results do not depend on the thread
// count.
// CUDA: scale.cu, the same passes; the sums run before dE/dx (which may overwrite dE/dy in place)
// and keep double partials. Bottoms and top fp32, fp16 or bf16 there (cuda_storage), the
// arithmetic fp32; an in-place forward keeps x widened to fp32. Reference: Caffe src/caffe/layers/scale_layer.cpp.
#include <type_traits>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/channel_reduce.hpp"
#include "crema/layers/channel_runs.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "scale_cuda.h"
#endif

namespace {
constexpr int64_t kWork = 1 << 14;

using crema::layers::Per;
using crema::layers::per;

// y = x * s (+ b when has_b); x also copied into keep when given (keep may not be y).
template <int St>
void scale_run(const float* x, float* y, float* keep, Per<St> s, Per<St> b, bool has_b, int64_t n) {
  if (keep) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      keep[i] = v;
      y[i] = has_b ? v * s[i] + b[i] : v * s[i];
    }
  } else if (has_b) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s[i] + b[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s[i];
  }
}
}  // namespace

class Scale final : public crema::Layer<Scale> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Scale", "scale_param"};
    i.max_bottoms = 2;
    i.flags = CREMA_LAYER_IN_PLACE;
    // fp16 / bf16 blobs on the GPU, where Scale runs on its own (on the CPU BatchNorm absorbs it).
    i.cuda_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16) | CREMA_DTYPE_BIT(CREMA_FLOAT16);
    return i;
  }
  explicit Scale(const crema::Params& p)
      : axis_(p.get<int>("scale_param.axis")),
        num_axes_(p.get<int>("scale_param.num_axes")),
        bias_term_(p.get<bool>("scale_param.bias_term")) {
    CREMA_CHECK(num_axes_ >= -1, "scale_param.num_axes must be >= -1, got " << num_axes_);
  }

  void setup(crema::Context& c) {
    two_ = c.num_bottom() == 2;
    crema::Shape shape;
    if (two_) {
      shape = c.bottom(1).shape();
    } else {
      const crema::TensorView x = c.bottom(0);
      const int a = x.canonical_axis(axis_);
      const int end = num_axes_ < 0 ? x.ndim() : a + num_axes_;
      CREMA_CHECK(end <= x.ndim(), "scale_param.num_axes " << num_axes_ << " from axis " << a
                                                           << " runs past bottom 0 of shape "
                                                           << crema::shape_string(x.shape()));
      const crema::Shape xs = x.shape();
      shape.assign(xs.begin() + a, xs.begin() + end);
      scale_param_ = c.add_param(shape, "scale_param.filler", "constant", 1.f);
    }
    if (bias_term_) bias_param_ = c.add_param(shape, "scale_param.bias_filler", "constant", 0.f);
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    const crema::TensorView s = two_ ? c.bottom(1) : c.param(scale_param_);
    const int a = s.ndim() == 0 ? 0 : x.canonical_axis(axis_);
    bool fits = x.ndim() >= a + s.ndim();
    for (int i = 0; fits && i < s.ndim(); ++i) fits = x.dim(a + i) == s.dim(i);
    CREMA_CHECK(fits, "scale of shape " << crema::shape_string(s.shape())
                                        << " does not match bottom 0 of shape "
                                        << crema::shape_string(x.shape()) << " from axis " << a);
    outer_ = x.count(0, a);
    dim_ = s.count();
    inner_ = x.count(a + s.ndim());
    c.top(0).set_shape(x.shape());
#if CREMA_WITH_CUDA
    if (c.on_gpu()) c.request_workspace(scale_param_grads_workspace(outer_, dim_, inner_));
#endif
  }

  void forward_cpu(crema::Context& c) {
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    const float* s = scale(c).data();
    const float* b = bias_term_ ? c.param(bias_param_).data() : nullptr;
    in_place_ = c.top(0).same_memory(c.bottom(0));
    if (in_place_) x_copy_.resize(c.bottom(0).count());
    float* keep = in_place_ ? x_copy_.data() : nullptr;
    // y = x * s[d] + b[d]; in place the copy of x is taken in the same pass.
    for_runs([&](int64_t off, int64_t len, int64_t d0, auto st) {
      constexpr int St = decltype(st)::value;
      scale_run<St>(x + off, y + off, keep ? keep + off : nullptr, per<St>(s + d0),
                    per<St>(b ? b + d0 : s + d0), b != nullptr, len);
    });
  }

  void backward_cpu(crema::Context& c) {
    const float* dy = c.top(0).diff();
    const float* x = in_place_ ? x_copy_.data() : c.bottom(0).data();
    const float* s = scale(c).data();
    float* dx = c.propagate_down(0) ? c.bottom(0).diff() : nullptr;  // may be dy (in place)
    const bool want_s = two_ ? c.propagate_down(1) : c.params_need_grad();
    const bool want_b = bias_term_ && c.params_need_grad();
    if (!want_s && !want_b) {
      // dE/dx = dE/dy * s[d]
      if (dx)
        for_runs([&](int64_t off, int64_t len, int64_t d0, auto st) {
          constexpr int St = decltype(st)::value;
          scale_run<St>(dy + off, dx + off, nullptr, per<St>(s + d0), per<St>(s + d0), false, len);
        });
      return;
    }
    // One pass: the sums of dy * x and dy per d (in a fixed order), and dE/dx = dE/dy * s[d] on
    // each run once it is summed (dx may be dy).
    const int64_t D = dim_;
    sums_.assign(2 * D, 0.0);
    crema::layers::channel_reduce<2>(
        outer_, D, inner_,
        [dy, x](int64_t e, int64_t, auto& s1, auto& s2) {
          using T = std::decay_t<decltype(s1)>;
          s1 += T(dy[e]) * T(x[e]);
          s2 += dy[e];
        },
        partial_, sums_.data(),
        [&](int64_t off, int64_t len, int64_t d0, auto st) {
          constexpr int St = decltype(st)::value;
          if (!dx) return;
          scale_run<St>(dy + off, dx + off, nullptr, per<St>(s + d0), per<St>(s + d0), false, len);
        });
    // Learned blobs accumulate; bottom 1 is overwritten.
    if (want_s) {
      float* ds = two_ ? c.bottom(1).diff() : c.param(scale_param_).diff();
      for (int64_t d = 0; d < D; ++d) ds[d] = static_cast<float>((two_ ? 0.0 : ds[d]) + sums_[d]);
    }
    if (want_b) {
      float* db = c.param(bias_param_).diff();
      for (int64_t d = 0; d < D; ++d) db[d] += static_cast<float>(sums_[D + d]);
    }
  }

#if CREMA_WITH_CUDA
  // Each tensor in its own storage type (cuda_storage); an in-place forward keeps x widened.
  void forward_cuda(crema::Context& c) {
    using crema::cuda::data_of;
    in_place_ = c.top(0).same_memory(c.bottom(0));
    const crema::cuda::Values x = data_of(c.bottom(0).raw());
    // The copy in x's own type: exact, and half the bytes of fp32 for a 2-byte blob.
    const crema::cuda::Values keep{
        in_place_ ? x_copy_gpu_.get<char>(c.bottom(0).count() * x.element_bytes()) : nullptr,
        x.type};
    scale_forward_cuda(c.cuda_stream(), outer_, dim_, inner_, x, data_of(scale(c).raw()),
                       bias_term_ ? c.param(bias_param_).data() : nullptr, data_of(c.top(0).raw()),
                       keep);
  }

  void backward_cuda(crema::Context& c) {
    using crema::cuda::data_of, crema::cuda::diff_of;
    const crema::cuda::Values dy = diff_of(c.top(0).raw());
    // In place the copy has the blob's type, the bottom's.
    const crema::cuda::Values x = data_of(c.bottom(0).raw());
    const crema::cuda::Values kept_x = in_place_ ? crema::cuda::Values{x_copy_gpu_.data(), x.type}
                                                 : x;
    const bool want_s = two_ ? c.propagate_down(1) : c.params_need_grad();
    const bool want_b = bias_term_ && c.params_need_grad();
    if (want_s || want_b) {
      CREMA_CHECK(c.workspace_size() >= scale_param_grads_workspace(outer_, dim_, inner_),
                  "Scale: the workspace asked for in reshape is missing");
      // A learned scale accumulates, bottom 1 is overwritten; the bias accumulates. Before dE/dx,
      // which in place overwrites dE/dy.
      const crema::cuda::Values ds = !want_s ? crema::cuda::Values{} : diff_of(scale(c).raw());
      scale_param_grads_cuda(c.cuda_stream(), outer_, dim_, inner_, dy, kept_x, ds, !two_,
                             want_b ? c.param(bias_param_).diff() : nullptr, c.workspace<void>());
    }
    if (c.propagate_down(0))
      scale_backward_x_cuda(c.cuda_stream(), outer_, dim_, inner_, dy, data_of(scale(c).raw()),
                            diff_of(c.bottom(0).raw()));
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Scale' scale_param { filler { type: 'gaussian' } }", "2,3,4,5"},
            {"type: 'Scale' scale_param { bias_term: true filler { type: 'gaussian' } "
             "bias_filler { type: 'gaussian' } }",
             "3,5"},
            {"type: 'Scale' scale_param { axis: 0 }", "2,3,4,5;2,3"},
            {"type: 'Scale' scale_param { axis: 0 bias_term: true }", "2,3,4,5;2,3"},
            {"type: 'Scale' scale_param { num_axes: -1 filler { type: 'gaussian' } }", "2,3,5"}};
  }

 private:
  crema::TensorView scale(crema::Context& c) const {
    return two_ ? c.bottom(1) : c.param(scale_param_);
  }

  // fn(offset, length, d0, stride): contiguous runs sharing one s[d] (stride 0, one plane of
  // `inner` values) when inner > 1, else rows of D values (stride 1, d0 = 0).
  template <class Fn>
  void for_runs(const Fn& fn) const {
    crema::layers::for_channel_runs(outer_, dim_, inner_, kWork, fn);
  }

  int axis_, num_axes_;
  bool bias_term_, two_ = false, in_place_ = false;
  int scale_param_ = -1, bias_param_ = -1;
  int64_t outer_ = 0, dim_ = 0, inner_ = 0;
  std::vector<float> x_copy_;
  std::vector<double> partial_, sums_;
#if CREMA_WITH_CUDA
  crema::cuda::DeviceBuffer x_copy_gpu_;  // x in place, from forward to backward
#endif
};

CREMA_EXPORT_PLUGIN("scale", "1.0.0", Scale)
