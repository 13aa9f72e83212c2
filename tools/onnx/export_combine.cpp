// SPDX-License-Identifier: BSD-2-Clause
// Layers over several blobs: Eltwise -> Add / Mul / Max (SUM's coefficients as Mul by a
// constant), Axpy -> Mul + Add, Concat -> Concat, Slice -> Split, Split -> nothing (ONNX values
// may be read many times).
#include <string>
#include <vector>

#include "export_layers.hpp"

namespace crema::onnx_io {

void export_eltwise(const LayerToExport& l, GraphBuilder& g) {
  const pb::EltwiseParameter& p = l.param.eltwise_param();
  const std::string& name = l.param.name();
  const int n = l.param.bottom_size();
  if (p.coeff_size() > 0 && p.coeff_size() != n)
    l.refuse("has " + std::to_string(p.coeff_size()) + " coefficients for " + std::to_string(n) +
             " bottoms");
  if (p.coeff_size() > 0 && p.operation() != pb::EltwiseParameter::SUM)
    l.refuse("coefficients are for SUM only");
  std::vector<std::string> in;
  for (int i = 0; i < n; ++i) {
    std::string v = g.value(l.param.bottom(i));
    if (p.coeff_size() > 0 && p.coeff(i) != 1.f) {
      const std::string scaled = g.fresh(name + "/scaled" + std::to_string(i));
      g.node("Mul", name + "/coeff" + std::to_string(i),
             {v, g.scalar(name + "/coeff" + std::to_string(i), p.coeff(i))}, {scaled});
      v = scaled;
    }
    in.push_back(v);
  }
  const std::string out = g.define(l.param.top(0), name);
  if (n == 1) {
    g.node("Identity", name, in, {out});
    return;
  }
  if (p.operation() == pb::EltwiseParameter::MAX) {
    g.node("Max", name, in, {out});
    return;
  }
  const std::string op = p.operation() == pb::EltwiseParameter::SUM ? "Add" : "Mul";
  // A chain of binary nodes, the last writing the top.
  std::string acc = in[0];
  for (int i = 1; i < n; ++i) {
    const std::string next = i + 1 == n ? out : g.fresh(name + "/partial" + std::to_string(i));
    g.node(op, i + 1 == n ? name : name + "/" + std::to_string(i), {acc, in[i]}, {next});
    acc = next;
  }
}

void export_axpy(const LayerToExport& l, GraphBuilder& g) {
  // top = a * x + y, a (N, C) or (N, C, 1, 1) against x (N, C, *): a gets x's rank.
  const std::string& name = l.param.name();
  std::string a = g.value(l.param.bottom(0));
  const std::string x = g.value(l.param.bottom(1)), y = g.value(l.param.bottom(2));
  std::vector<int64_t> axes;
  for (size_t i = l.bottom.at(0).size(); i < l.bottom.at(1).size(); ++i)
    axes.push_back(static_cast<int64_t>(i));
  if (!axes.empty()) {
    const std::string u = g.fresh(name + "/a");
    g.node("Unsqueeze", name + "/unsqueeze", {a, g.ints(name + "/axes", axes)}, {u});
    a = u;
  }
  const std::string ax = g.fresh(name + "/ax");
  g.node("Mul", name + "/mul", {a, x}, {ax});
  g.node("Add", name, {ax, y}, {g.define(l.param.top(0), name)});
}

void export_concat(const LayerToExport& l, GraphBuilder& g) {
  const pb::ConcatParameter& p = l.param.concat_param();
  std::vector<std::string> in;
  for (const auto& b : l.param.bottom()) in.push_back(g.value(b));
  onnx::NodeProto& n =
      g.node("Concat", l.param.name(), in, {g.define(l.param.top(0), l.param.name())});
  set_attr(n, "axis", static_cast<int64_t>(p.has_concat_dim() ? p.concat_dim() : p.axis()));
}

void export_slice(const LayerToExport& l, GraphBuilder& g) {
  const pb::SliceParameter& p = l.param.slice_param();
  const int64_t rank = static_cast<int64_t>(l.bottom.at(0).size());
  int64_t axis = p.has_slice_dim() ? p.slice_dim() : p.axis();
  if (axis < 0) axis += rank;
  // The sizes the built net gave each top along the axis.
  std::vector<int64_t> sizes;
  for (const Shape& t : l.top) sizes.push_back(t.at(static_cast<size_t>(axis)));
  const std::string in = g.value(l.param.bottom(0));
  std::vector<std::string> out;
  for (const auto& t : l.param.top()) out.push_back(g.define(t, l.param.name()));
  onnx::NodeProto& n =
      g.node("Split", l.param.name(), {in, g.ints(l.param.name() + "/split", sizes)}, out);
  set_attr(n, "axis", axis);
}

void export_split(const LayerToExport& l, GraphBuilder& g) {
  const std::string in = g.value(l.param.bottom(0));
  for (const auto& t : l.param.top()) g.alias(t, in);
}

}  // namespace crema::onnx_io
