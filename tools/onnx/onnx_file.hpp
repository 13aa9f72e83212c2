// SPDX-License-Identifier: BSD-2-Clause
// Reading and writing .onnx files (a serialized onnx.ModelProto), and reading its tensors.
#pragma once
#include <string>
#include <vector>

#include "crema/core/tensor.hpp"
#include "onnx/onnx.pb.h"

namespace crema::onnx_io {

// The model in `path`, checked far enough that the importer can trust it: it parses, has a graph,
// every node input is defined before use, and every initializer holds as many values as its
// shape says. Throws "PATH: ..." naming what is wrong (a truncated file, a tensor cut short).
onnx::ModelProto read_onnx(const std::string& path);
// Writes `model` to `path` through a temporary file and a rename (no half-written file).
void write_onnx(const std::string& path, const onnx::ModelProto& model);

// A float (or double, int32, int64) tensor's values as floats; throws naming the tensor when the
// type is another or the data is short.
std::vector<float> tensor_floats(const onnx::TensorProto& t);
// An integer tensor's values (shapes, axes, split sizes).
std::vector<int64_t> tensor_ints(const onnx::TensorProto& t);
Shape tensor_shape(const onnx::TensorProto& t);

}  // namespace crema::onnx_io
