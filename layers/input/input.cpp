// SPDX-License-Identifier: BSD-2-Clause
// Input: tops whose shapes come from input_param and whose data the user (or a solver, or a data
// reader outside the net) writes. Caffe's legacy `input:`/`input_dim` net inputs become this layer.
#include "crema/layer.hpp"

class Input final : public crema::Layer<Input> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Input", "input_param"};
    i.min_bottoms = i.max_bottoms = 0;
    i.min_tops = 1;
    i.max_tops = -1;
    i.flags = CREMA_LAYER_NO_BACKWARD;
    return i;
  }
  explicit Input(const crema::Params& p) {
    int n = p.size("input_param.shape");
    for (int s = 0; s < n; ++s) {
      std::string base = "input_param.shape[" + std::to_string(s) + "].dim";
      crema::Shape shape;
      for (int d = 0; d < p.size(base); ++d) shape.push_back(p.get<int64_t>(base, d));
      shapes_.push_back(shape);
    }
  }
  // Shapes come from input_param once; afterwards the user may reshape the tops (as in Caffe).
  void reshape(crema::Context& c) {
    if (shaped_) {
      for (int t = 0; t < c.num_top(); ++t) c.top(t).set_shape(c.top(t).previous_shape());
      return;
    }
    shaped_ = true;
    int n = static_cast<int>(shapes_.size());
    CREMA_CHECK(n == 1 || n == c.num_top(), "input_param gives "
                                                << n << " shapes for " << c.num_top()
                                                << " tops: give one shape, or one per top");
    for (int t = 0; t < c.num_top(); ++t) c.top(t).set_shape(shapes_[n == 1 ? 0 : t]);
  }
  void forward_cpu(crema::Context&) {}  // the data is written from outside
  void forward_cuda(crema::Context&) {}

 private:
  std::vector<crema::Shape> shapes_;
  bool shaped_ = false;
};

CREMA_EXPORT_PLUGIN("input", "1.0.0", Input)
