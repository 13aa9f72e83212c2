// SPDX-License-Identifier: BSD-2-Clause
// The import driver: inputs, the nodes in order through their importers (import_ops.cpp), and
// every refusal collected so that one run lists them all.
#include "import_net.hpp"

#include <stdexcept>

#include "import_context.hpp"
#include "onnx_file.hpp"

namespace crema::onnx_io {

const onnx::TensorProto& ImportContext::constant(const onnx::NodeProto& n,
                                                 const std::string& v) const {
  auto it = constants.find(v);
  if (it == constants.end())
    throw std::runtime_error(node_label(n) + ": input '" + v + "' must be a constant");
  return *it->second;
}

const Shape& ImportContext::shape(const std::string& v) const {
  auto it = shapes.find(v);
  if (it == shapes.end()) throw std::runtime_error("value '" + v + "' has no known shape");
  return it->second;
}

std::string ImportContext::blob(const std::string& v) const {
  auto it = blob_of.find(v);
  if (it == blob_of.end())
    throw std::runtime_error("value '" + v + "' is computed by no imported layer");
  return it->second;
}

pb::LayerParameter* ImportContext::add_layer(const onnx::NodeProto& n, const std::string& type,
                                             const std::string& suffix) {
  std::string base = (n.name().empty() ? n.op_type() + "_" + n.output(0) : n.name()) + suffix;
  std::string name = base;
  for (int i = 2; layer_names.count(name); ++i) name = base + "_" + std::to_string(i);
  layer_names.insert(name);
  pb::LayerParameter* l = deploy->add_layer();
  l->set_name(name);
  l->set_type(type);
  return l;
}

void ImportContext::add_blob(const pb::LayerParameter& l, const Shape& dims,
                             const std::vector<float>& values) {
  pb::LayerParameter* w = nullptr;
  for (auto& existing : *weights->mutable_layer())
    if (existing.name() == l.name()) w = &existing;
  if (!w) {
    w = weights->add_layer();
    w->set_name(l.name());
    w->set_type(l.type());
  }
  pb::BlobProto* b = w->add_blobs();
  for (int64_t d : dims) b->mutable_shape()->add_dim(d);
  for (float v : values) b->add_data(v);
}

int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

float attr_float(const onnx::NodeProto& n, const std::string& name, float fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.f();
  return fallback;
}

std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return {a.ints().begin(), a.ints().end()};
  return {};
}

std::string attr_string(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.s();
  return "";
}

std::string node_label(const onnx::NodeProto& n) {
  return "node '" + (n.name().empty() ? n.output(0) : n.name()) + "' (" + n.op_type() + ")";
}

ImportResult import_onnx(const onnx::ModelProto& model, const ImportOptions& options) {
  const onnx::GraphProto& g = model.graph();
  ImportResult r;
  ImportContext c;
  c.deploy = &r.deploy;
  c.weights = &r.weights;
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") c.opset = static_cast<int>(o.version());
  r.deploy.set_name(g.name().empty() ? "imported" : g.name());
  r.weights.set_name(r.deploy.name());
  for (const auto& t : g.initializer()) c.constants[t.name()] = &t;

  // Every operator without an importer, before anything else: one list.
  std::vector<std::string> problems;
  for (const auto& n : g.node())
    if (n.op_type() != "Constant" && (!n.domain().empty() || !find_importer(n.op_type())))
      problems.push_back(node_label(n) + ": no Caffe form in crema import" +
                         (n.domain().empty() ? "" : " (operator domain " + n.domain() + ")"));
  if (!problems.empty()) {
    std::string m = std::to_string(problems.size()) + " node(s) use operators crema cannot import:";
    for (const auto& p : problems) m += "\n  " + p;
    throw std::runtime_error(m);
  }

  for (const auto& in : g.input()) {
    if (c.is_constant(in.name())) continue;
    const auto& tt = in.type().tensor_type();
    if (tt.elem_type() != onnx::TensorProto::FLOAT)
      throw std::runtime_error("input '" + in.name() + "' is not a float tensor");
    Shape s;
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto& d = tt.shape().dim(i);
      if (d.has_dim_value() && d.dim_value() > 0)
        s.push_back(d.dim_value());
      else if (i == 0)
        s.push_back(options.batch);  // the symbolic batch
      else
        throw std::runtime_error("input '" + in.name() + "': axis " + std::to_string(i) +
                                 " has no fixed size");
    }
    pb::LayerParameter* l = r.deploy.add_layer();
    l->set_name(in.name());
    l->set_type("Input");
    l->add_top(in.name());
    pb::BlobShape* shape = l->mutable_input_param()->add_shape();
    for (int64_t d : s) shape->add_dim(d);
    c.layer_names.insert(in.name());
    c.blob_of[in.name()] = in.name();
    c.shapes[in.name()] = s;
  }

  for (const auto& n : g.node()) {
    try {
      if (n.op_type() == "Constant") {
        for (const auto& a : n.attribute())
          if (a.name() == "value" && a.has_t()) c.constants[n.output(0)] = &a.t();
        if (!c.is_constant(n.output(0)))
          throw std::runtime_error(node_label(n) + ": only tensor-valued Constant nodes");
        continue;
      }
      find_importer(n.op_type())(n, c);
    } catch (const std::exception& e) {
      const std::string what = e.what();
      problems.push_back(what.rfind("node '", 0) == 0 ? what : node_label(n) + ": " + what);
    }
  }
  if (!problems.empty()) {
    std::string m = std::to_string(problems.size()) + " node(s) cannot be imported:";
    for (const auto& p : problems) m += "\n  " + p;
    throw std::runtime_error(m);
  }
  // An output that is another value under a new name (Identity at the end): say so.
  for (const auto& o : g.output())
    if (c.blob(o.name()) != o.name())
      r.notes.push_back("output '" + o.name() + "' is blob '" + c.blob(o.name()) + "'");
  return r;
}

}  // namespace crema::onnx_io
