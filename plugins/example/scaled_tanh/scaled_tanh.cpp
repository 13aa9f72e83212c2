// SPDX-License-Identifier: BSD-2-Clause
// ScaledTanh: y = a * tanh(b * x)   (LeCun, Bottou, Orr & Mueller, 1998, "Efficient BackProp").
// An example of a layer built outside crema's tree, with a parameter block of its own and an
// ONNX form for crema export.
#include <cmath>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "scaled_tanh_cuda.h"
#endif

class ScaledTanh final : public crema::Layer<ScaledTanh> {
 public:
  static crema::LayerInfo info() {
    //       type          block                field no  message in scaled_tanh.proto
    crema::LayerInfo i{"ScaledTanh", "scaled_tanh_param", 10001,
                       "crema.example.ScaledTanhParameter"};
    i.flags = CREMA_LAYER_IN_PLACE;  // backward needs only y
    return i;
  }
  explicit ScaledTanh(const crema::Params& p)
      : a_(p.get<float>("scaled_tanh_param.a")), b_(p.get<float>("scaled_tanh_param.b")) {
    CREMA_CHECK(a_ != 0.f, "scaled_tanh_param.a must not be 0");
  }
  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }

  void forward_cpu(crema::Context& c) {
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    crema::parallel_for(c.bottom(0).count(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) y[i] = a_ * std::tanh(b_ * x[i]);
    });
  }
  // dy/dx = a b (1 - tanh^2(b x)) = b (a - y^2 / a)
  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const float *y = c.top(0).data(), *dy = c.top(0).diff();
    float* dx = c.bottom(0).diff();
    crema::parallel_for(c.bottom(0).count(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) dx[i] = dy[i] * b_ * (a_ - y[i] * y[i] / a_);
    });
  }
#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    scaled_tanh_forward_cuda(c.cuda_stream(), c.bottom(0).count(), a_, b_, c.bottom(0).data(),
                             c.top(0).data());
  }
  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    scaled_tanh_backward_cuda(c.cuda_stream(), c.bottom(0).count(), a_, b_, c.top(0).data(),
                              c.top(0).diff(), c.bottom(0).diff());
  }
#endif

  // Its ONNX form for `crema export` (optional; ABI minor 3): Mul(x, b) -> Tanh -> Mul(., a).
  // The description lives in the layer, valid until the next call.
  const crema_onnx_graph* onnx_export(const crema_io& /*io*/) {
    onnx_consts_[0] = {sizeof(crema_onnx_const), 0, {}, &b_};  // scalars
    onnx_consts_[1] = {sizeof(crema_onnx_const), 0, {}, &a_};
    onnx_nodes_[0] = {sizeof(crema_onnx_node), 2, "Mul", onnx_inputs_[0], 0, 0, nullptr};
    onnx_nodes_[1] = {sizeof(crema_onnx_node), 1, "Tanh", onnx_inputs_[1], 0, 0, nullptr};
    onnx_nodes_[2] = {sizeof(crema_onnx_node), 2, "Mul", onnx_inputs_[2], 0, 0, nullptr};
    onnx_graph_ = {sizeof(crema_onnx_graph), 3, onnx_nodes_, 2, 0, onnx_consts_};
    return &onnx_graph_;
  }

  // Run by `crema check-plugin scaled_tanh.so`.
  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'ScaledTanh' scaled_tanh_param { a: 2 b: 0.5 }", "2,3,4,5"},
            {"type: 'ScaledTanh'", "1,7"}};
  }

 private:
  float a_, b_;
  // onnx_export's description: x * b, tanh of it, that times a.
  const int32_t onnx_inputs_[3][2] = {{CREMA_ONNX_BOTTOM(0), CREMA_ONNX_CONST(0)},
                                      {CREMA_ONNX_NODE(0), 0},
                                      {CREMA_ONNX_NODE(1), CREMA_ONNX_CONST(1)}};
  crema_onnx_const onnx_consts_[2] = {};
  crema_onnx_node onnx_nodes_[3] = {};
  crema_onnx_graph onnx_graph_ = {};
};

CREMA_EXPORT_PLUGIN("scaled_tanh", "1.0.0", ScaledTanh)
