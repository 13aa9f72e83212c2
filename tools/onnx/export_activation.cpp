// SPDX-License-Identifier: BSD-2-Clause
// Element-wise layers and Softmax: ReLU -> Relu (LeakyRelu with a negative slope), PReLU ->
// PRelu, Sigmoid, TanH -> Tanh, Softmax -> Softmax (opset 13 on: along one axis, as Caffe),
// Dropout -> nothing (identity at inference; with scale_train: false, a Mul by 1 - ratio).
#include <string>
#include <vector>

#include "export_layers.hpp"

namespace crema::onnx_io {

namespace {
onnx::NodeProto& unary(const LayerToExport& l, GraphBuilder& g, const std::string& op) {
  const std::string in = g.value(l.param.bottom(0));
  return g.node(op, l.param.name(), {in}, {g.define(l.param.top(0), l.param.name())});
}
}  // namespace

void export_relu(const LayerToExport& l, GraphBuilder& g) {
  const float slope = l.param.relu_param().negative_slope();
  if (slope == 0.f) {
    unary(l, g, "Relu");
    return;
  }
  set_attr(unary(l, g, "LeakyRelu"), "alpha", slope);
}

void export_prelu(const LayerToExport& l, GraphBuilder& g) {
  const std::string in = g.value(l.param.bottom(0));
  const Shape& x = l.bottom.at(0);
  // Slopes per channel (axis 1), or one shared: shaped to broadcast against x from axis 1.
  const Shape slope =
      l.blobs.at(0)->count() == 1 ? Shape{1} : broadcast_shape({l.blobs[0]->count()}, 1, x.size());
  g.node("PRelu", l.param.name(), {in, g.floats(l.param.name() + "/slope", slope, l.blob(0))},
         {g.define(l.param.top(0), l.param.name())});
}

void export_sigmoid(const LayerToExport& l, GraphBuilder& g) { unary(l, g, "Sigmoid"); }
void export_tanh(const LayerToExport& l, GraphBuilder& g) { unary(l, g, "Tanh"); }

void export_softmax(const LayerToExport& l, GraphBuilder& g) {
  set_attr(unary(l, g, "Softmax"), "axis", static_cast<int64_t>(l.param.softmax_param().axis()));
}

void export_dropout(const LayerToExport& l, GraphBuilder& g) {
  const pb::DropoutParameter& p = l.param.dropout_param();
  const std::string in = g.value(l.param.bottom(0));
  if (p.scale_train()) {  // Caffe's default: the inference pass is the identity
    g.alias(l.param.top(0), in);
    return;
  }
  g.node("Mul", l.param.name(), {in, g.scalar(l.param.name() + "/keep", 1.f - p.dropout_ratio())},
         {g.define(l.param.top(0), l.param.name())});
}

}  // namespace crema::onnx_io
