// SPDX-License-Identifier: BSD-2-Clause
// Convolution and ConvolutionDepthwise -> Conv (groups, dilation, symmetric pads);
// InnerProduct -> Flatten + Gemm (Caffe flattens from `axis` implicitly), or Reshape + MatMul +
// Add for an axis other than 1, whose output keeps the leading axes.
#include <string>
#include <vector>

#include "export_layers.hpp"

namespace crema::onnx_io {

namespace {

// Per spatial axis: the repeated field's value (one for all, or one per axis), else the _h/_w
// pair, else the default.
std::vector<int64_t> per_axis(const LayerToExport& l,
                              const google::protobuf::RepeatedField<uint32_t>& values, bool has_h,
                              uint32_t h, bool has_w, uint32_t w, int64_t fallback, size_t spatial,
                              const char* field) {
  if (has_h || has_w) {
    if (spatial != 2) l.refuse(std::string(field) + "_h/_w are for 2-D convolutions only");
    return {has_h ? h : fallback, has_w ? w : fallback};
  }
  if (values.empty()) return std::vector<int64_t>(spatial, fallback);
  if (values.size() == 1) return std::vector<int64_t>(spatial, values.Get(0));
  if (static_cast<size_t>(values.size()) != spatial)
    l.refuse(std::string(field) + " has " + std::to_string(values.size()) + " values for " +
             std::to_string(spatial) + " spatial axes");
  return {values.begin(), values.end()};
}

}  // namespace

void export_convolution(const LayerToExport& l, GraphBuilder& g) {
  const pb::ConvolutionParameter& p = l.param.convolution_param();
  if (p.axis() != 1) l.refuse("convolution_param.axis other than 1 has no ONNX Conv form");
  const size_t rank = l.bottom.at(0).size();
  if (rank < 3) l.refuse("needs an input with spatial axes");
  const size_t spatial = rank - 2;
  const auto kernel = per_axis(l, p.kernel_size(), p.has_kernel_h(), p.kernel_h(), p.has_kernel_w(),
                               p.kernel_w(), 0, spatial, "kernel");
  const auto pad =
      per_axis(l, p.pad(), p.has_pad_h(), p.pad_h(), p.has_pad_w(), p.pad_w(), 0, spatial, "pad");
  const auto stride = per_axis(l, p.stride(), p.has_stride_h(), p.stride_h(), p.has_stride_w(),
                               p.stride_w(), 1, spatial, "stride");
  const auto dilation = per_axis(l, p.dilation(), false, 0, false, 0, 1, spatial, "dilation");
  const Shape& w = l.blobs.at(0)->shape();
  // ConvolutionDepthwise filters every channel alone: group = channels.
  const int64_t group = l.param.type() == "ConvolutionDepthwise" ? l.bottom[0][1] : p.group();
  std::vector<std::string> inputs = {g.value(l.param.bottom(0)),
                                     g.floats(l.param.name() + "/W", w, l.blob(0))};
  if (l.blobs.size() > 1)
    inputs.push_back(g.floats(l.param.name() + "/B", l.blobs[1]->shape(), l.blob(1)));
  std::vector<int64_t> pads = pad;
  pads.insert(pads.end(), pad.begin(), pad.end());  // begins, then ends
  onnx::NodeProto& n =
      g.node("Conv", l.param.name(), inputs, {g.define(l.param.top(0), l.param.name())});
  set_attr(n, "kernel_shape", std::vector<int64_t>(w.begin() + 2, w.end()));
  set_attr(n, "pads", pads);
  set_attr(n, "strides", stride);
  set_attr(n, "dilations", dilation);
  set_attr(n, "group", group);
  for (size_t i = 0; i < spatial; ++i)
    if (kernel[i] != 0 && kernel[i] != w[2 + i])
      l.refuse("kernel size and weight blob shape disagree");
}

void export_inner_product(const LayerToExport& l, GraphBuilder& g) {
  const pb::InnerProductParameter& p = l.param.inner_product_param();
  const std::string& name = l.param.name();
  const int64_t rank = static_cast<int64_t>(l.bottom.at(0).size());
  const int64_t axis = p.axis() < 0 ? p.axis() + rank : p.axis();
  const Shape& w = l.blobs.at(0)->shape();  // (N, K), or (K, N) with transpose
  const bool bias = l.blobs.size() > 1;
  const std::string in = g.value(l.param.bottom(0));  // before the top: it may be in place
  const std::string out = g.define(l.param.top(0), name);
  if (axis == 1) {
    const std::string flat = g.fresh(name + "/flat");
    onnx::NodeProto& f = g.node("Flatten", name + "/flatten", {in}, {flat});
    set_attr(f, "axis", int64_t{1});
    std::vector<std::string> gemm_in = {flat, g.floats(name + "/W", w, l.blob(0))};
    if (bias) gemm_in.push_back(g.floats(name + "/B", {l.blobs[1]->count()}, l.blob(1)));
    onnx::NodeProto& n = g.node("Gemm", name, gemm_in, {out});
    set_attr(n, "transB", int64_t{p.transpose() ? 0 : 1});
    return;
  }
  // Leading axes kept: (d0 .. d_{axis-1}, K) x (K, N).
  std::vector<int64_t> target(static_cast<size_t>(axis), 0);
  target.push_back(-1);
  const std::string flat = g.fresh(name + "/flat");
  g.node("Reshape", name + "/reshape", {in, g.ints(name + "/shape", target)}, {flat});
  std::vector<float> wt = l.blob(0);
  Shape kn = w;
  if (!p.transpose()) {  // stored (N, K): MatMul wants (K, N)
    kn = {w[1], w[0]};
    for (int64_t i = 0; i < w[0]; ++i)
      for (int64_t j = 0; j < w[1]; ++j) wt[j * w[0] + i] = l.blobs[0]->host_data()[i * w[1] + j];
  }
  const std::string mm = bias ? g.fresh(name + "/matmul") : out;
  g.node("MatMul", name, {flat, g.floats(name + "/W", kn, wt)}, {mm});
  if (bias)
    g.node("Add", name + "/bias", {mm, g.floats(name + "/B", {l.blobs[1]->count()}, l.blob(1))},
           {out});
}

}  // namespace crema::onnx_io
