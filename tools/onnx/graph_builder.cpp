// SPDX-License-Identifier: BSD-2-Clause
#include "graph_builder.hpp"

#include <cstring>
#include <stdexcept>

namespace crema::onnx_io {

const std::string& GraphBuilder::value(const std::string& blob) const {
  auto it = current_.find(blob);
  if (it == current_.end())
    throw std::runtime_error("blob '" + blob + "' is read before any exported layer writes it");
  return it->second;
}

std::string GraphBuilder::unique(const std::string& base) {
  std::string name = base;
  for (int i = 2; used_.count(name); ++i) name = base + "_" + std::to_string(i);
  used_.insert(name);
  return name;
}

std::string GraphBuilder::define(const std::string& blob, const std::string& layer) {
  std::string name = unique(used_.count(blob) ? blob + "/" + layer : blob);
  current_[blob] = name;
  return name;
}

std::string GraphBuilder::fresh(const std::string& hint) { return unique(hint); }

onnx::NodeProto& GraphBuilder::node(const std::string& op, const std::string& name,
                                    const std::vector<std::string>& inputs,
                                    const std::vector<std::string>& outputs) {
  onnx::NodeProto* n = graph_->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return *n;
}

std::string GraphBuilder::floats(const std::string& hint, const Shape& dims, const float* data) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  onnx::TensorProto* t = graph_->add_initializer();
  t->set_name(unique(hint));
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  // Little-endian raw bytes: what every runtime reads fastest, and the host's float layout.
  t->set_raw_data(
      std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(count) * sizeof(float)));
  return t->name();
}

std::string GraphBuilder::floats(const std::string& hint, const Shape& dims,
                                 const std::vector<float>& data) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  if (static_cast<int64_t>(data.size()) != count)
    throw std::logic_error("initializer " + hint + ": values and shape disagree");
  return floats(hint, dims, data.data());
}

std::string GraphBuilder::ints(const std::string& hint, const std::vector<int64_t>& data) {
  onnx::TensorProto* t = graph_->add_initializer();
  t->set_name(unique(hint));
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(data.size()));
  for (int64_t v : data) t->add_int64_data(v);
  return t->name();
}

void set_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, float v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void set_float_type(onnx::ValueInfoProto& v, const Shape& shape, bool dynamic_batch) {
  onnx::TypeProto_Tensor* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* s = t->mutable_shape();
  for (size_t i = 0; i < shape.size(); ++i) {
    onnx::TensorShapeProto_Dimension* d = s->add_dim();
    if (i == 0 && dynamic_batch)
      d->set_dim_param("N");
    else
      d->set_dim_value(shape[i]);
  }
}

}  // namespace crema::onnx_io
