// SPDX-License-Identifier: BSD-2-Clause
// Flatten -> Flatten (axis 1 to the end) or Reshape; Reshape -> Reshape. The target shape is
// the one the built net inferred, with the batch axis left to the runtime (0: copy the input's)
// so that the exported model keeps a dynamic batch.
#include <string>
#include <vector>

#include "export_layers.hpp"

namespace crema::onnx_io {

namespace {
void reshape_to_top(const LayerToExport& l, GraphBuilder& g) {
  const Shape& x = l.bottom.at(0);
  const Shape& y = l.top.at(0);
  std::vector<int64_t> target(y.begin(), y.end());
  if (!x.empty() && !y.empty() && x[0] == y[0]) target[0] = 0;
  const std::string in = g.value(l.param.bottom(0));
  g.node("Reshape", l.param.name(), {in, g.ints(l.param.name() + "/shape", target)},
         {g.define(l.param.top(0), l.param.name())});
}
}  // namespace

void export_flatten(const LayerToExport& l, GraphBuilder& g) {
  const pb::FlattenParameter& p = l.param.flatten_param();
  const int64_t rank = static_cast<int64_t>(l.bottom.at(0).size());
  const int64_t axis = p.axis() < 0 ? p.axis() + rank : p.axis();
  const int64_t end = p.end_axis() < 0 ? p.end_axis() + rank : p.end_axis();
  if (axis == 1 && end == rank - 1) {
    const std::string in = g.value(l.param.bottom(0));
    set_attr(g.node("Flatten", l.param.name(), {in}, {g.define(l.param.top(0), l.param.name())}),
             "axis", int64_t{1});
    return;
  }
  reshape_to_top(l, g);
}

void export_reshape(const LayerToExport& l, GraphBuilder& g) { reshape_to_top(l, g); }

}  // namespace crema::onnx_io
