// SPDX-License-Identifier: BSD-2-Clause
// A plugin layer with an ONNX export hook, for the export tests: HookedScaledTanh,
// y = a * tanh(b * x) with a and b learned blobs of one value each (the example plugin's
// ScaledTanh, whose a and b are parameters, is built out of tree by sdk_out_of_tree). Its ONNX
// form, Mul(x, b) -> Tanh -> Mul(., a), names the blobs as initializers and a constant.
// HookedRefuser has a hook that refuses: crema export must say so with the plugin's reason.
#include <cmath>

#include "crema/layer.hpp"

class HookedScaledTanh final : public crema::Layer<HookedScaledTanh> {
 public:
  static crema::LayerInfo info() { return {"HookedScaledTanh"}; }
  explicit HookedScaledTanh(const crema::Params& /*p*/) {}
  void setup(crema::Context& c) {
    c.add_param({1}, nullptr, "constant", 1.5f);  // a (random_weights draws other values)
    c.add_param({1}, nullptr, "constant", 0.5f);  // b
  }
  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }
  void forward_cpu(crema::Context& c) {
    const float a = c.param(0).data()[0], b = c.param(1).data()[0];
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    for (int64_t i = 0; i < c.bottom(0).count(); ++i) y[i] = a * std::tanh(b * x[i]) + kShift;
  }
  void backward_cpu(crema::Context& /*c*/) {}
  const crema_onnx_graph* onnx_export(const crema_io& /*io*/) { return &graph_; }
  static std::vector<crema::TestConfig> tests() { return {}; }

 private:
  static constexpr float kShift = 0.25f;  // + a constant, so that consts are exercised too
  const float shift_ = kShift;
  const int32_t in0_[2] = {CREMA_ONNX_BOTTOM(0), CREMA_ONNX_PARAM(1)};
  const int32_t in1_[1] = {CREMA_ONNX_NODE(0)};
  const int32_t in2_[2] = {CREMA_ONNX_NODE(1), CREMA_ONNX_PARAM(0)};
  const int32_t in3_[2] = {CREMA_ONNX_NODE(2), CREMA_ONNX_CONST(0)};
  const crema_onnx_const consts_[1] = {{sizeof(crema_onnx_const), 0, {}, &shift_}};
  const crema_onnx_node nodes_[4] = {{sizeof(crema_onnx_node), 2, "Mul", in0_, 0, 0, nullptr},
                                     {sizeof(crema_onnx_node), 1, "Tanh", in1_, 0, 0, nullptr},
                                     {sizeof(crema_onnx_node), 2, "Mul", in2_, 0, 0, nullptr},
                                     {sizeof(crema_onnx_node), 2, "Add", in3_, 0, 0, nullptr}};
  const crema_onnx_graph graph_ = {sizeof(crema_onnx_graph), 4, nodes_, 1, 0, consts_};
};

class HookedRefuser final : public crema::Layer<HookedRefuser> {
 public:
  static crema::LayerInfo info() { return {"HookedRefuser"}; }
  explicit HookedRefuser(const crema::Params& /*p*/) {}
  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }
  void forward_cpu(crema::Context& /*c*/) {}
  void backward_cpu(crema::Context& /*c*/) {}
  const crema_onnx_graph* onnx_export(const crema_io& /*io*/) {
    throw crema::Error("HookedRefuser has no ONNX form, on purpose");
  }
  static std::vector<crema::TestConfig> tests() { return {}; }
};

CREMA_EXPORT_PLUGIN("onnx_hooked", "1.0.0", HookedScaledTanh, HookedRefuser)
