// SPDX-License-Identifier: BSD-2-Clause
// crema export: a Caffe net (deploy or train/test prototxt) and its weights as an ONNX model.
#pragma once
#include <string>
#include <vector>

#include "crema/core/tensor.hpp"
#include "onnx/onnx.pb.h"

namespace crema::onnx_io {

// The opsets written: 13 is the first with Split's sizes as an input and Softmax along one
// axis; 17 is the newest that ONNX 1.12 (Debian's) checks.
constexpr int kMinOpset = 13;
constexpr int kMaxOpset = 17;

struct ExportOptions {
  std::string model;    // net definition
  std::string weights;  // .caffemodel; empty: the fillers' values
  Shape input_shape;    // replaces every data/Input layer (train/test nets); may be empty
  int opset = kMaxOpset;
  std::string producer_version;  // crema's version
};

struct ExportResult {
  onnx::ModelProto model;
  std::vector<std::string> notes;  // what the export dropped or folded, for the log
};

// Builds the net in its TEST phase and writes every layer as ONNX nodes, the parameters as
// initializers, the inputs with a symbolic batch axis "N". Data layers (after input_shape) and
// their labels become inputs; Accuracy and loss layers are dropped, SoftmaxWithLoss becomes a
// Softmax output "prob". Throws listing every layer that has no mapping, by name and type.
ExportResult export_onnx(const ExportOptions& options);

}  // namespace crema::onnx_io
