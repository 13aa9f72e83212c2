// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm (+ Scale) -> BatchNormalization; Scale -> Mul (+ Add); Bias -> Add; LRN -> LRN.
// Caffe's BatchNorm keeps running sums and a third blob, the moving-average factor f: the
// statistics are mean = M / f and var = V / f (both 0 when f = 0), which is what the exported
// BatchNormalization gets. The Scale after it (gamma, beta) becomes its scale and bias; alone,
// BatchNorm gets unit scale and zero bias.
#include <string>
#include <vector>

#include "export_layers.hpp"

namespace crema::onnx_io {

namespace {

int64_t normalized_axis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

// The Scale's gamma and beta when it can fold into a BatchNormalization: per channel (axis 1,
// one axis, one bottom).
bool foldable_scale(const LayerToExport& s, size_t rank) {
  const pb::ScaleParameter& p = s.param.scale_param();
  return s.param.bottom_size() == 1 && normalized_axis(p.axis(), rank) == 1 && p.num_axes() == 1 &&
         !s.blobs.empty() && s.blobs[0]->count() == s.bottom[0].at(1);
}

}  // namespace

void export_batch_norm(const LayerToExport& bn, const LayerToExport* scale, GraphBuilder& g) {
  const pb::BatchNormParameter& p = bn.param.batch_norm_param();
  if (p.has_use_global_stats() && !p.use_global_stats())
    bn.refuse("use_global_stats: false normalises with each batch's own statistics at "
              "inference; ONNX BatchNormalization uses stored statistics");
  if (bn.blobs.size() < 3) bn.refuse("expects Caffe's three blobs (mean, variance, factor)");
  const Shape& in = bn.bottom.at(0);
  const int64_t c = in.size() > 1 ? in[1] : 1;
  const std::vector<float> m = bn.blob(0), v = bn.blob(1), f = bn.blob(2);
  if (static_cast<int64_t>(m.size()) != c || static_cast<int64_t>(v.size()) != c || f.empty())
    bn.refuse("blob shapes do not match the input's channels");
  const float k = f[0] == 0.f ? 0.f : 1.f / f[0];
  std::vector<float> mean(m), var(v), gamma(c, 1.f), beta(c, 0.f);
  for (int64_t i = 0; i < c; ++i) mean[i] *= k, var[i] *= k;
  if (scale && foldable_scale(*scale, in.size())) {
    gamma = scale->blob(0);
    if (scale->blobs.size() > 1) beta = scale->blob(1);
  } else {
    scale = nullptr;
  }
  const std::string& name = bn.param.name();
  const std::string x = g.value(bn.param.bottom(0));
  const LayerToExport& last = scale ? *scale : bn;
  const std::string y = g.define(last.param.top(0), last.param.name());
  onnx::NodeProto& n =
      g.node("BatchNormalization", scale ? name + "+" + scale->param.name() : name,
             {x, g.floats(name + "/scale", {c}, gamma), g.floats(name + "/bias", {c}, beta),
              g.floats(name + "/mean", {c}, mean), g.floats(name + "/var", {c}, var)},
             {y});
  set_attr(n, "epsilon", p.eps());
}

void export_batch_norm_alone(const LayerToExport& l, GraphBuilder& g) {
  export_batch_norm(l, nullptr, g);
}

Shape broadcast_shape(const Shape& param_shape, int64_t axis, size_t rank) {
  Shape s = param_shape;
  const int64_t trailing = static_cast<int64_t>(rank) - axis -
                           static_cast<int64_t>(param_shape.size());
  for (int64_t i = 0; i < trailing; ++i) s.push_back(1);
  return s;
}

namespace {

// x * s (+ b) or x + b, s and b of shape x.shape[axis : axis + k]: learned blobs, or bottom 1
// (unsqueezed to broadcast against x).
void scale_or_bias(const LayerToExport& l, GraphBuilder& g, int64_t axis_field, bool multiply,
                   bool bias_term) {
  const std::string& name = l.param.name();
  const Shape& x = l.bottom.at(0);
  const std::string in = g.value(l.param.bottom(0));
  std::string factor;
  size_t next_blob = 0;
  if (l.param.bottom_size() == 2) {
    const Shape& s = l.bottom.at(1);
    const int64_t axis = s.empty() ? 0 : normalized_axis(axis_field, x.size());
    factor = g.value(l.param.bottom(1));
    std::vector<int64_t> axes;
    for (int64_t a = axis + static_cast<int64_t>(s.size()); a < static_cast<int64_t>(x.size()); ++a)
      axes.push_back(a);
    if (!axes.empty()) {
      const std::string u = g.fresh(name + "/unsqueezed");
      g.node("Unsqueeze", name + "/unsqueeze", {factor, g.ints(name + "/axes", axes)}, {u});
      factor = u;
    }
  } else {
    if (l.blobs.empty()) l.refuse("has neither a second bottom nor a learned blob");
    const Shape& s = l.blobs[0]->shape();
    const int64_t axis = s.empty() ? 0 : normalized_axis(axis_field, x.size());
    factor = g.floats(name + (multiply ? "/scale" : "/bias"), broadcast_shape(s, axis, x.size()),
                      l.blob(0));
    next_blob = 1;
  }
  const std::string out = g.define(l.param.top(0), name);
  if (!multiply) {
    g.node("Add", name, {in, factor}, {out});
    return;
  }
  if (!bias_term) {
    g.node("Mul", name, {in, factor}, {out});
    return;
  }
  if (l.blobs.size() <= next_blob) l.refuse("bias_term is set but the bias blob is missing");
  const Shape& b = l.blobs[next_blob]->shape();
  const int64_t axis = b.empty() ? 0 : normalized_axis(axis_field, x.size());
  const std::string product = g.fresh(name + "/product");
  g.node("Mul", name, {in, factor}, {product});
  g.node("Add", name + "/bias",
         {product, g.floats(name + "/bias", broadcast_shape(b, axis, x.size()), l.blob(next_blob))},
         {out});
}

}  // namespace

void export_scale(const LayerToExport& l, GraphBuilder& g) {
  const pb::ScaleParameter& p = l.param.scale_param();
  scale_or_bias(l, g, p.axis(), true, p.bias_term());
}

void export_bias(const LayerToExport& l, GraphBuilder& g) {
  scale_or_bias(l, g, l.param.bias_param().axis(), false, false);
}

void export_lrn(const LayerToExport& l, GraphBuilder& g) {
  const pb::LRNParameter& p = l.param.lrn_param();
  if (p.norm_region() != pb::LRNParameter::ACROSS_CHANNELS)
    l.refuse("norm_region WITHIN_CHANNEL has no ONNX operator (ONNX LRN is across channels)");
  // Both divide alpha by the window size: x / (k + alpha / n * sum x^2)^beta.
  const std::string in = g.value(l.param.bottom(0));
  onnx::NodeProto& n =
      g.node("LRN", l.param.name(), {in}, {g.define(l.param.top(0), l.param.name())});
  set_attr(n, "size", static_cast<int64_t>(p.local_size()));
  set_attr(n, "alpha", p.alpha());
  set_attr(n, "beta", p.beta());
  set_attr(n, "bias", p.k());
}

}  // namespace crema::onnx_io
