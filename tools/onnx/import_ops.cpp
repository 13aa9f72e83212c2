// SPDX-License-Identifier: BSD-2-Clause
// One ONNX operator -> Caffe layers, with the output's shape:
//   Conv -> Convolution; BatchNormalization -> BatchNorm + Scale; Relu, LeakyRelu -> ReLU;
//   Sigmoid, Tanh; Add / Mul of two values -> Eltwise SUM / PROD, with a constant -> Bias /
//   Scale; MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool -> Pooling; Flatten; Gemm and
//   MatMul with constant weights -> InnerProduct; Softmax; Concat; Dropout; Identity -> nothing.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "import_context.hpp"
#include "onnx_file.hpp"

namespace crema::onnx_io {

namespace {

[[noreturn]] void refuse(const onnx::NodeProto& n, const std::string& why) {
  throw std::runtime_error(node_label(n) + ": " + why);
}

int64_t norm_axis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

void one_to_one(pb::LayerParameter* l, ImportContext& c, const onnx::NodeProto& n,
                const Shape& out_shape) {
  l->add_bottom(c.blob(n.input(0)));
  l->add_top(n.output(0));
  c.blob_of[n.output(0)] = n.output(0);
  c.shapes[n.output(0)] = out_shape;
}

// Spatial pads from the attributes, auto_pad included: {begins..., ends...}.
std::vector<int64_t> spatial_pads(const onnx::NodeProto& n, const Shape& x,
                                  const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                                  const std::vector<int64_t>& d) {
  const size_t sp = k.size();
  const std::string auto_pad = attr_string(n, "auto_pad");
  std::vector<int64_t> pads = attr_ints(n, "pads");
  if (pads.empty()) pads.assign(2 * sp, 0);
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < sp; ++i) {
      const int64_t in = x[2 + i], out = (in + s[i] - 1) / s[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - in);
      const int64_t small = total / 2, big = total - small;
      pads[i] = auto_pad == "SAME_UPPER" ? small : big;
      pads[sp + i] = total - pads[i];
    }
  } else if (auto_pad == "VALID") {
    pads.assign(2 * sp, 0);
  } else if (!auto_pad.empty() && auto_pad != "NOTSET") {
    refuse(n, "auto_pad " + auto_pad + " is not known");
  }
  if (pads.size() != 2 * sp) refuse(n, "pads has the wrong length");
  return pads;
}

std::vector<int64_t> or_ones(std::vector<int64_t> v, size_t n) {
  if (v.empty()) v.assign(n, 1);
  return v;
}

void import_conv(const onnx::NodeProto& n, ImportContext& c) {
  const Shape& x = c.shape(n.input(0));
  if (n.input_size() < 2 || !c.is_constant(n.input(1)))
    refuse(n, "the weights must be a constant (an initializer)");
  const onnx::TensorProto& wt = c.constant(n, n.input(1));
  const Shape w = tensor_shape(wt);
  if (x.size() != 4 || w.size() != 4) refuse(n, "crema imports 2-D convolutions");
  const std::vector<int64_t> k = {w[2], w[3]};
  const auto s = or_ones(attr_ints(n, "strides"), 2), d = or_ones(attr_ints(n, "dilations"), 2);
  const auto pads = spatial_pads(n, x, k, s, d);
  const int64_t group = attr_int(n, "group", 1);
  Shape y = {x[0], w[0], 0, 0};
  for (size_t i = 0; i < 2; ++i) {
    const int64_t extent = d[i] * (k[i] - 1) + 1;
    y[2 + i] = (x[2 + i] + pads[i] + pads[2 + i] - extent) / s[i] + 1;
    // Caffe pads both sides alike: same windows when the output count agrees.
    if ((x[2 + i] + 2 * pads[i] - extent) / s[i] + 1 != y[2 + i])
      refuse(n, "asymmetric padding that changes the output size has no Caffe form");
  }
  pb::LayerParameter* l = c.add_layer(n, "Convolution");
  pb::ConvolutionParameter* p = l->mutable_convolution_param();
  p->set_num_output(static_cast<uint32_t>(w[0]));
  p->set_kernel_h(static_cast<uint32_t>(k[0])), p->set_kernel_w(static_cast<uint32_t>(k[1]));
  p->set_stride_h(static_cast<uint32_t>(s[0])), p->set_stride_w(static_cast<uint32_t>(s[1]));
  p->set_pad_h(static_cast<uint32_t>(pads[0])), p->set_pad_w(static_cast<uint32_t>(pads[1]));
  if (d[0] != 1 || d[1] != 1) {
    if (d[0] != d[1]) refuse(n, "different dilations per axis");
    p->add_dilation(static_cast<uint32_t>(d[0]));
  }
  if (group != 1) p->set_group(static_cast<uint32_t>(group));
  const bool bias = n.input_size() > 2 && !n.input(2).empty();
  p->set_bias_term(bias);
  one_to_one(l, c, n, y);
  c.add_blob(*l, w, tensor_floats(wt));
  if (bias) {
    if (!c.is_constant(n.input(2))) refuse(n, "the bias must be a constant");
    c.add_blob(*l, {w[0]}, tensor_floats(c.constant(n, n.input(2))));
  }
}

void import_batch_norm(const onnx::NodeProto& n, ImportContext& c) {
  if (n.input_size() < 5) refuse(n, "needs scale, bias, mean and variance");
  for (int i = 1; i < 5; ++i)
    if (!c.is_constant(n.input(i))) refuse(n, "scale, bias, mean and variance must be constants");
  if (attr_int(n, "training_mode", 0) != 0) refuse(n, "training_mode 1 is not an inference graph");
  const Shape& x = c.shape(n.input(0));
  const std::vector<float> gamma = tensor_floats(c.constant(n, n.input(1))),
                           beta = tensor_floats(c.constant(n, n.input(2))),
                           mean = tensor_floats(c.constant(n, n.input(3))),
                           var = tensor_floats(c.constant(n, n.input(4)));
  const int64_t ch = static_cast<int64_t>(mean.size());
  pb::LayerParameter* bn = c.add_layer(n, "BatchNorm");
  bn->mutable_batch_norm_param()->set_eps(attr_float(n, "epsilon", 1e-5f));
  one_to_one(bn, c, n, x);
  c.add_blob(*bn, {ch}, mean);
  c.add_blob(*bn, {ch}, var);
  c.add_blob(*bn, {1}, {1.f});  // Caffe's moving-average factor: the statistics as they are
  pb::LayerParameter* sc = c.add_layer(n, "Scale", "/scale");
  sc->mutable_scale_param()->set_bias_term(true);
  sc->add_bottom(n.output(0));
  sc->add_top(n.output(0));  // in place, as Caffe's ResNets write it
  c.add_blob(*sc, {ch}, gamma);
  c.add_blob(*sc, {ch}, beta);
}

void import_relu(const onnx::NodeProto& n, ImportContext& c) {
  pb::LayerParameter* l = c.add_layer(n, "ReLU");
  if (n.op_type() == "LeakyRelu")
    l->mutable_relu_param()->set_negative_slope(attr_float(n, "alpha", 0.01f));
  one_to_one(l, c, n, c.shape(n.input(0)));
}

void import_sigmoid(const onnx::NodeProto& n, ImportContext& c) {
  one_to_one(c.add_layer(n, "Sigmoid"), c, n, c.shape(n.input(0)));
}

void import_tanh(const onnx::NodeProto& n, ImportContext& c) {
  one_to_one(c.add_layer(n, "TanH"), c, n, c.shape(n.input(0)));
}

// x + c or x * c with a constant c that broadcasts along some axes of x: Bias or Scale with a
// learned blob (c without its leading and trailing unit axes).
void with_constant(const onnx::NodeProto& n, ImportContext& c, const std::string& x_value,
                   const std::string& c_value, bool add) {
  const Shape& x = c.shape(x_value);
  const onnx::TensorProto& t = c.constant(n, c_value);
  Shape s = tensor_shape(t);
  const std::vector<float> v = tensor_floats(t);
  if (s.size() > x.size()) refuse(n, "the constant has more axes than the input");
  // numpy broadcasting aligns the trailing axes.
  size_t lead = 0;
  while (lead < s.size() && s[lead] == 1) ++lead;
  size_t end = s.size();
  while (end > lead && s[end - 1] == 1) --end;
  // A scalar (every axis 1) is Caffe's num_axes 0, axis 0.
  const int64_t axis = lead == end ? 0 : static_cast<int64_t>(x.size() - s.size() + lead);
  Shape core(s.begin() + static_cast<std::ptrdiff_t>(lead),
             s.begin() + static_cast<std::ptrdiff_t>(end));
  for (size_t i = 0; i < core.size(); ++i)
    if (core[i] != x[static_cast<size_t>(axis) + i])
      refuse(n, "the constant does not broadcast along whole axes of the input");
  pb::LayerParameter* l = c.add_layer(n, add ? "Bias" : "Scale");
  if (add) {
    l->mutable_bias_param()->set_axis(static_cast<int32_t>(axis));
    l->mutable_bias_param()->set_num_axes(static_cast<int32_t>(core.size()));
  } else {
    l->mutable_scale_param()->set_axis(static_cast<int32_t>(axis));
    l->mutable_scale_param()->set_num_axes(static_cast<int32_t>(core.size()));
  }
  l->add_bottom(c.blob(x_value));
  l->add_top(n.output(0));
  c.blob_of[n.output(0)] = n.output(0);
  c.shapes[n.output(0)] = x;
  c.add_blob(*l, core, v);
}

void import_add_mul(const onnx::NodeProto& n, ImportContext& c) {
  const bool add = n.op_type() == "Add";
  const bool c0 = c.is_constant(n.input(0)), c1 = c.is_constant(n.input(1));
  if (c0 && c1) refuse(n, "both inputs are constants");
  if (c0 || c1) {
    with_constant(n, c, n.input(c0 ? 1 : 0), n.input(c0 ? 0 : 1), add);
    return;
  }
  if (c.shape(n.input(0)) != c.shape(n.input(1)))
    refuse(n, "the inputs' shapes differ: Caffe's Eltwise does not broadcast");
  pb::LayerParameter* l = c.add_layer(n, "Eltwise");
  l->mutable_eltwise_param()->set_operation(add ? pb::EltwiseParameter::SUM
                                                : pb::EltwiseParameter::PROD);
  l->add_bottom(c.blob(n.input(0)));
  one_to_one(l, c, n, c.shape(n.input(0)));
  // one_to_one added bottom 0 again: keep input 0, input 1 in order.
  l->set_bottom(1, c.blob(n.input(1)));
}

void import_pool(const onnx::NodeProto& n, ImportContext& c) {
  const Shape& x = c.shape(n.input(0));
  if (x.size() != 4) refuse(n, "crema pools (N, C, H, W) inputs");
  const bool max = n.op_type() == "MaxPool" || n.op_type() == "GlobalMaxPool";
  pb::LayerParameter* l = c.add_layer(n, "Pooling");
  pb::PoolingParameter* p = l->mutable_pooling_param();
  p->set_pool(max ? pb::PoolingParameter::MAX : pb::PoolingParameter::AVE);
  if (n.op_type().rfind("Global", 0) == 0) {
    p->set_global_pooling(true);
    one_to_one(l, c, n, {x[0], x[1], 1, 1});
    return;
  }
  if (n.output_size() > 1) refuse(n, "the Indices output has no Caffe form");
  const std::vector<int64_t> k = attr_ints(n, "kernel_shape");
  if (k.size() != 2) refuse(n, "needs a 2-D kernel_shape");
  const auto s = or_ones(attr_ints(n, "strides"), 2), d = or_ones(attr_ints(n, "dilations"), 2);
  if (d[0] != 1 || d[1] != 1) refuse(n, "dilated pooling has no Caffe form");
  const auto pads = spatial_pads(n, x, k, s, d);
  const bool ceil = attr_int(n, "ceil_mode", 0) != 0;
  const bool include_pad = attr_int(n, "count_include_pad", 0) != 0;
  Shape y = {x[0], x[1], 0, 0};
  bool need_ceil = false, need_floor = false;
  for (size_t i = 0; i < 2; ++i) {
    const int64_t in = x[2 + i], span = in + pads[i] + pads[2 + i] - k[i];
    y[2 + i] = (ceil ? (span + s[i] - 1) / s[i] : span / s[i]) + 1;
    // Caffe's count with pad = the begin padding, each rounding.
    const int64_t cspan = in + 2 * pads[i] - k[i];
    int64_t up = (cspan + s[i] - 1) / s[i] + 1;
    if (pads[i] > 0 && (up - 1) * s[i] >= in + pads[i]) --up;
    const int64_t down = cspan / s[i] + 1;
    if (down != y[2 + i]) need_ceil = true;
    if (up != y[2 + i]) need_floor = true;
    if (need_ceil && need_floor)
      refuse(n, "its output size has no Caffe padding and rounding that gives it");
    if (!max && pads[i] > 0 && !include_pad)
      refuse(n, "count_include_pad 0 with padding: Caffe's AVE divisor counts the padding");
    // count_include_pad 1: ONNX divides by the whole window; Caffe clips it at in + pad.
    if (!max && (y[2 + i] - 1) * s[i] + k[i] > in + pads[i] && pads[i] > 0)
      refuse(n, "a window past the end padding: Caffe's AVE divisor would count it otherwise");
  }
  p->set_kernel_h(static_cast<uint32_t>(k[0])), p->set_kernel_w(static_cast<uint32_t>(k[1]));
  p->set_stride_h(static_cast<uint32_t>(s[0])), p->set_stride_w(static_cast<uint32_t>(s[1]));
  p->set_pad_h(static_cast<uint32_t>(pads[0])), p->set_pad_w(static_cast<uint32_t>(pads[1]));
  if (!need_ceil) p->set_round_mode(pb::PoolingParameter::FLOOR);
  one_to_one(l, c, n, y);
}

void import_flatten(const onnx::NodeProto& n, ImportContext& c) {
  const Shape& x = c.shape(n.input(0));
  const int64_t axis = norm_axis(attr_int(n, "axis", 1), x.size());
  if (axis != 1) refuse(n, "Flatten with an axis other than 1 has no Caffe form");
  int64_t rest = 1;
  for (size_t i = 1; i < x.size(); ++i) rest *= x[i];
  one_to_one(c.add_layer(n, "Flatten"), c, n, {x[0], rest});
}

// x (M, K) times a constant: an InnerProduct over x's last axis with weights (N, K).
void inner_product(const onnx::NodeProto& n, ImportContext& c, const std::vector<float>& w_nk,
                   int64_t n_out, const std::vector<float>* bias) {
  const Shape& x = c.shape(n.input(0));
  pb::LayerParameter* l = c.add_layer(n, "InnerProduct");
  pb::InnerProductParameter* p = l->mutable_inner_product_param();
  p->set_num_output(static_cast<uint32_t>(n_out));
  p->set_bias_term(bias != nullptr);
  const int64_t axis = static_cast<int64_t>(x.size()) - 1;
  if (axis != 1) p->set_axis(static_cast<int32_t>(axis));
  Shape y(x.begin(), x.end() - 1);
  y.push_back(n_out);
  one_to_one(l, c, n, y);
  c.add_blob(*l, {n_out, x.back()}, w_nk);
  if (bias) c.add_blob(*l, {n_out}, *bias);
}

std::vector<float> transposed(const std::vector<float>& m, int64_t rows, int64_t cols) {
  std::vector<float> t(m.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t[j * rows + i] = m[i * cols + j];
  return t;
}

void import_gemm(const onnx::NodeProto& n, ImportContext& c) {
  if (attr_int(n, "transA", 0) != 0) refuse(n, "transA 1 has no Caffe form");
  if (!c.is_constant(n.input(1))) refuse(n, "B must be a constant (the weights)");
  if (c.shape(n.input(0)).size() != 2) refuse(n, "A must have two axes");
  const onnx::TensorProto& bt = c.constant(n, n.input(1));
  const Shape b = tensor_shape(bt);
  if (b.size() != 2) refuse(n, "B must have two axes");
  const bool trans_b = attr_int(n, "transB", 0) != 0;
  const int64_t n_out = trans_b ? b[0] : b[1], k = trans_b ? b[1] : b[0];
  if (k != c.shape(n.input(0))[1]) refuse(n, "A and B do not fit");
  std::vector<float> w = tensor_floats(bt);
  if (!trans_b) w = transposed(w, k, n_out);
  const float alpha = attr_float(n, "alpha", 1.f), beta = attr_float(n, "beta", 1.f);
  for (float& v : w) v *= alpha;
  if (n.input_size() < 3 || n.input(2).empty()) {
    inner_product(n, c, w, n_out, nullptr);
    return;
  }
  if (!c.is_constant(n.input(2))) refuse(n, "C must be a constant (the bias)");
  std::vector<float> bias = tensor_floats(c.constant(n, n.input(2)));
  if (bias.size() == 1) bias.assign(static_cast<size_t>(n_out), bias[0]);
  if (static_cast<int64_t>(bias.size()) != n_out) refuse(n, "C must be one value per output");
  for (float& v : bias) v *= beta;
  inner_product(n, c, w, n_out, &bias);
}

void import_matmul(const onnx::NodeProto& n, ImportContext& c) {
  if (!c.is_constant(n.input(1))) refuse(n, "crema imports MatMul with constant weights only");
  const onnx::TensorProto& bt = c.constant(n, n.input(1));
  const Shape b = tensor_shape(bt);
  const Shape& x = c.shape(n.input(0));
  if (b.size() != 2 || x.size() < 2 || x.back() != b[0])
    refuse(n, "needs an input (..., K) and weights (K, N)");
  inner_product(n, c, transposed(tensor_floats(bt), b[0], b[1]), b[1], nullptr);
}

void import_softmax(const onnx::NodeProto& n, ImportContext& c) {
  const Shape& x = c.shape(n.input(0));
  // Opset 13 made Softmax one axis (default the last); before, it flattened from `axis` (1).
  const int64_t axis = norm_axis(attr_int(n, "axis", c.opset >= 13 ? -1 : 1), x.size());
  if (c.opset < 13 && axis != static_cast<int64_t>(x.size()) - 1)
    refuse(n, "Softmax before opset 13 over several axes has no Caffe form");
  pb::LayerParameter* l = c.add_layer(n, "Softmax");
  if (axis != 1) l->mutable_softmax_param()->set_axis(static_cast<int32_t>(axis));
  one_to_one(l, c, n, x);
}

void import_concat(const onnx::NodeProto& n, ImportContext& c) {
  const Shape& x = c.shape(n.input(0));
  const int64_t axis = norm_axis(attr_int(n, "axis", 1), x.size());
  pb::LayerParameter* l = c.add_layer(n, "Concat");
  if (axis != 1) l->mutable_concat_param()->set_axis(static_cast<int32_t>(axis));
  Shape y = x;
  y[static_cast<size_t>(axis)] = 0;
  for (const std::string& in : n.input()) {
    l->add_bottom(c.blob(in));
    y[static_cast<size_t>(axis)] += c.shape(in).at(static_cast<size_t>(axis));
  }
  l->add_top(n.output(0));
  c.blob_of[n.output(0)] = n.output(0);
  c.shapes[n.output(0)] = y;
}

void import_dropout(const onnx::NodeProto& n, ImportContext& c) {
  float ratio = attr_float(n, "ratio", 0.5f);
  if (n.input_size() > 1 && !n.input(1).empty() && c.is_constant(n.input(1)))
    ratio = tensor_floats(c.constant(n, n.input(1))).at(0);
  pb::LayerParameter* l = c.add_layer(n, "Dropout");
  l->mutable_dropout_param()->set_dropout_ratio(ratio);  // fine-tuning keeps it; TEST: identity
  one_to_one(l, c, n, c.shape(n.input(0)));
}

void import_identity(const onnx::NodeProto& n, ImportContext& c) {
  c.blob_of[n.output(0)] = c.blob(n.input(0));
  c.shapes[n.output(0)] = c.shape(n.input(0));
}

}  // namespace

ImportFn find_importer(const std::string& op) {
  if (op == "Conv") return import_conv;
  if (op == "BatchNormalization") return import_batch_norm;
  if (op == "Relu" || op == "LeakyRelu") return import_relu;
  if (op == "Sigmoid") return import_sigmoid;
  if (op == "Tanh") return import_tanh;
  if (op == "Add" || op == "Mul") return import_add_mul;
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalMaxPool" || op == "GlobalAveragePool")
    return import_pool;
  if (op == "Flatten") return import_flatten;
  if (op == "Gemm") return import_gemm;
  if (op == "MatMul") return import_matmul;
  if (op == "Softmax") return import_softmax;
  if (op == "Concat") return import_concat;
  if (op == "Dropout") return import_dropout;
  if (op == "Identity") return import_identity;
  return nullptr;
}

}  // namespace crema::onnx_io
