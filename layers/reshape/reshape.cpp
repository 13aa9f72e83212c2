// SPDX-License-Identifier: BSD-2-Clause
// Reshape (Caffe's ReshapeLayer): the same numbers under a new shape. reshape_param.shape
// replaces the bottom axes [axis, axis + num_axes) (num_axes -1: to the end); in it
//   0  copies the bottom's dimension at that position (axis + i),
//   -1 (at most one) is inferred so that the counts match,
//   top shape = shape[0:axis] + new dims + shape[axis+num_axes:],  count(top) = count(bottom).
//   y = x, dE/dx = dE/dy.
// CREMA_LAYER_SHARES_DATA: the host lets the top use the bottom's data memory when that is safe;
// otherwise (and for the diff, which is never shared) the layer copies; on the GPU with a
// device-to-device copy on the call's stream (reshape.cu).
// Reference: Caffe, src/caffe/layers/reshape_layer.cpp.
#include <algorithm>
#include <cstring>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/copy.hpp"
#if CREMA_WITH_CUDA
#include "reshape_cuda.h"
#endif

using crema::layers::copy_floats;

class Reshape final : public crema::Layer<Reshape> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Reshape", "reshape_param"};
    i.flags = CREMA_LAYER_SHARES_DATA;
    return i;
  }
  explicit Reshape(const crema::Params& p)
      : axis_(p.get<int>("reshape_param.axis")), num_axes_(p.get<int>("reshape_param.num_axes")) {
    for (int i = 0; i < p.size("reshape_param.shape.dim"); ++i) {
      const int64_t d = p.get<int64_t>("reshape_param.shape.dim", i);
      CREMA_CHECK(d >= -1,
                  "reshape_param.shape dim " << i << " is " << d << ": use 0 to copy, -1 to infer");
      if (d == -1) {
        CREMA_CHECK(inferred_ < 0, "reshape_param.shape has -1 at dims "
                                       << inferred_ << " and " << i
                                       << ": at most one can be inferred");
        inferred_ = i;
      }
      dims_.push_back(d);
    }
    CREMA_CHECK(num_axes_ >= -1,
                "reshape_param.num_axes " << num_axes_ << ": use >= 0, or -1 for all");
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    const crema::Shape s = x.shape();
    const int nd = x.ndim();
    const int start = axis_ >= 0 ? axis_ : nd + axis_ + 1;
    CREMA_CHECK(start >= 0 && start <= nd, "reshape_param.axis " << axis_
                                                                 << " is out of range for bottom "
                                                                 << crema::shape_string(s));
    const int end = num_axes_ == -1 ? nd : start + num_axes_;
    CREMA_CHECK(end <= nd, "reshape_param axis " << start << " + num_axes " << num_axes_
                                                 << " goes past the last axis of bottom "
                                                 << crema::shape_string(s));
    crema::Shape out(s.begin(), s.begin() + start);
    int64_t known = x.count(0, start) * x.count(end);
    for (size_t i = 0; i < dims_.size(); ++i) {
      int64_t d = dims_[i];
      if (d == 0) {
        CREMA_CHECK(start + int(i) < nd, "reshape_param.shape dim "
                                             << i << " is 0 (copy) but bottom "
                                             << crema::shape_string(s) << " has no axis "
                                             << start + int(i));
        d = s[start + i];
      }
      if (d != -1) known *= d;
      out.push_back(d);
    }
    out.insert(out.end(), s.begin() + end, s.end());
    if (inferred_ >= 0) {
      CREMA_CHECK(known != 0 && x.count() % known == 0,
                  "cannot infer the -1 of " << crema::shape_string(out) << ": bottom "
                                            << crema::shape_string(s) << " has " << x.count()
                                            << " values, not a multiple of the " << known
                                            << " the other dims give");
      out[start + inferred_] = x.count() / known;
    }
    int64_t n = 1;
    for (int64_t d : out) n *= d;
    CREMA_CHECK(n == x.count(), "top shape " << crema::shape_string(out) << " holds " << n
                                             << " values but bottom " << crema::shape_string(s)
                                             << " holds " << x.count());
    c.top(0).set_shape(out);
  }
  void forward_cpu(crema::Context& c) {
    copy_floats(c.top(0).data(), c.bottom(0).data(), c.bottom(0).count());
  }
  void backward_cpu(crema::Context& c) {
    // dE/dx = dE/dy, element for element.
    if (c.propagate_down(0)) copy_floats(c.bottom(0).diff(), c.top(0).diff(), c.bottom(0).count());
  }
#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    reshape_copy_cuda(c.cuda_stream(), c.top(0).data(), c.bottom(0).data(), c.bottom(0).count());
  }
  void backward_cuda(crema::Context& c) {
    if (c.propagate_down(0))
      reshape_copy_cuda(c.cuda_stream(), c.bottom(0).diff(), c.top(0).diff(), c.bottom(0).count());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {
        {"type: 'Reshape' reshape_param { shape { dim: 0 dim: -1 } }", "2,3,4"},
        {"type: 'Reshape' reshape_param { shape { dim: -1 } }", "1,7,3"},
        {"type: 'Reshape' reshape_param { shape { dim: 3 dim: 1 } axis: 1 num_axes: 1 }", "2,3,5"}};
  }

 private:
  int axis_, num_axes_, inferred_ = -1;
  std::vector<int64_t> dims_;
};

CREMA_EXPORT_PLUGIN("reshape", "1.0.0", Reshape)
