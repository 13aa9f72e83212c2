// SPDX-License-Identifier: BSD-2-Clause
// Writing an ONNX graph from Caffe layers. Caffe reuses a blob name for in-place layers (ReLU
// writing "conv1" over "conv1"); ONNX values are written once. The builder keeps, per Caffe blob,
// the ONNX value that holds it now, and names each new value after the blob (then "blob/layer"
// when the blob was written before).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crema/core/tensor.hpp"
#include "onnx/onnx.pb.h"

namespace crema::onnx_io {

class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* graph) : graph_(graph) {}

  // The ONNX value holding Caffe blob `blob` now; throws when no layer has written it.
  const std::string& value(const std::string& blob) const;
  bool has_value(const std::string& blob) const { return current_.count(blob) > 0; }
  // A new value for blob `blob`, written by layer `layer`, which holds the blob from now on.
  std::string define(const std::string& blob, const std::string& layer);
  // Blob `blob` is now the existing value `value` (Split, Dropout at inference).
  void alias(const std::string& blob, const std::string& value) { current_[blob] = value; }
  // A helper value no blob names ("conv1/flat").
  std::string fresh(const std::string& hint);

  onnx::NodeProto& node(const std::string& op, const std::string& name,
                        const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs);
  // Initializers (named after `hint`, made unique); return their value names.
  std::string floats(const std::string& hint, const Shape& dims, const float* data);
  std::string floats(const std::string& hint, const Shape& dims, const std::vector<float>& data);
  std::string ints(const std::string& hint, const std::vector<int64_t>& data);
  std::string scalar(const std::string& hint, float v) { return floats(hint, {}, &v); }

  onnx::GraphProto& graph() { return *graph_; }

 private:
  std::string unique(const std::string& base);
  onnx::GraphProto* graph_;
  std::map<std::string, std::string> current_;
  std::set<std::string> used_;
};

// Attributes.
void set_attr(onnx::NodeProto& n, const std::string& name, int64_t v);
void set_attr(onnx::NodeProto& n, const std::string& name, float v);
void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);

// A value's type for graph inputs and outputs: float, the first axis the symbolic batch "N"
// when `dynamic_batch`, the others as given.
void set_float_type(onnx::ValueInfoProto& v, const Shape& shape, bool dynamic_batch);

}  // namespace crema::onnx_io
