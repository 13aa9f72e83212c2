// SPDX-License-Identifier: BSD-2-Clause
// Flatten (Caffe's FlattenLayer): merges the axes [axis, end_axis] into one,
//   top shape = shape[0:axis] + (prod shape[axis..end_axis]) + shape[end_axis+1:]
//   y = x, dE/dx = dE/dy  (the same numbers in the same order).
// CREMA_LAYER_SHARES_DATA: the host lets the top use the bottom's data memory when that is safe;
// otherwise (and for the diff, which is never shared) the layer copies; on the GPU with a
// device-to-device copy on the call's stream (flatten.cu).
// Reference: Caffe, src/caffe/layers/flatten_layer.cpp.
#include <algorithm>
#include <cstring>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/copy.hpp"
#if CREMA_WITH_CUDA
#include "flatten_cuda.h"
#endif

using crema::layers::copy_floats;

class Flatten final : public crema::Layer<Flatten> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Flatten", "flatten_param"};
    i.flags = CREMA_LAYER_SHARES_DATA;
    return i;
  }
  explicit Flatten(const crema::Params& p)
      : axis_(p.get<int>("flatten_param.axis")), end_axis_(p.get<int>("flatten_param.end_axis")) {}

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    const int start = x.canonical_axis(axis_), end = x.canonical_axis(end_axis_);
    CREMA_CHECK(start <= end, "flatten_param axis " << axis_ << " (" << start
                                                    << ") comes after end_axis " << end_axis_
                                                    << " (" << end << ") for bottom "
                                                    << crema::shape_string(x.shape()));
    const crema::Shape s = x.shape();
    crema::Shape out(s.begin(), s.begin() + start);
    out.push_back(x.count(start, end + 1));
    out.insert(out.end(), s.begin() + end + 1, s.end());
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
    flatten_copy_cuda(c.cuda_stream(), c.top(0).data(), c.bottom(0).data(), c.bottom(0).count());
  }
  void backward_cuda(crema::Context& c) {
    if (c.propagate_down(0))
      flatten_copy_cuda(c.cuda_stream(), c.bottom(0).diff(), c.top(0).diff(), c.bottom(0).count());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Flatten'", "2,3,4,5"},
            {"type: 'Flatten'", "1,7,3"},
            {"type: 'Flatten'", "3,1"},
            {"type: 'Flatten' flatten_param { axis: 0 end_axis: 1 }", "2,3,5"},
            {"type: 'Flatten' flatten_param { axis: 2 }", "2,3,4,5"}};
  }

 private:
  int axis_, end_axis_;
};

CREMA_EXPORT_PLUGIN("flatten", "1.0.0", Flatten)
