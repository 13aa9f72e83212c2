// SPDX-License-Identifier: BSD-2-Clause
// What the importers per operator (import_ops.cpp) share: the graph's constants, each value's
// shape and the Caffe blob holding it, and the layers written so far.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crema.pb.h"
#include "crema/core/tensor.hpp"
#include "onnx/onnx.pb.h"

namespace crema::onnx_io {

struct ImportContext {
  std::map<std::string, const onnx::TensorProto*> constants;  // initializers, Constant nodes
  std::map<std::string, Shape> shapes;                        // per value
  std::map<std::string, std::string> blob_of;                 // value -> Caffe blob (aliases)
  pb::NetParameter* deploy = nullptr;
  pb::NetParameter* weights = nullptr;
  std::set<std::string> layer_names;
  int opset = 13;

  bool is_constant(const std::string& v) const { return constants.count(v) > 0; }
  const onnx::TensorProto& constant(const onnx::NodeProto& n, const std::string& v) const;
  const Shape& shape(const std::string& v) const;
  std::string blob(const std::string& v) const;
  // A new layer named after the node; its weights twin gets the same name.
  pb::LayerParameter* add_layer(const onnx::NodeProto& n, const std::string& type,
                                const std::string& suffix = "");
  // A blob for layer `l` (in the weights file), from values of shape `dims`.
  void add_blob(const pb::LayerParameter& l, const Shape& dims, const std::vector<float>& values);
};

// Attributes (default when absent).
int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t fallback);
float attr_float(const onnx::NodeProto& n, const std::string& name, float fallback);
std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name);
std::string attr_string(const onnx::NodeProto& n, const std::string& name);
// "node 'conv1' (Conv)", for messages.
std::string node_label(const onnx::NodeProto& n);

using ImportFn = void (*)(const onnx::NodeProto&, ImportContext&);
// The importer of an operator, or nullptr when crema has none.
ImportFn find_importer(const std::string& op_type);

}  // namespace crema::onnx_io
