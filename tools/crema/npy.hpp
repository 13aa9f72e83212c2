// SPDX-License-Identifier: BSD-2-Clause
// NumPy's .npy files (format 1.0/2.0, little-endian float32 or float64, C order): how `crema test
// -input` takes a net's input and `-save_outputs` gives its outputs to other tools (an ONNX
// runtime's outputs are compared with crema's this way: tests/onnx/).
#pragma once
#include <string>
#include <vector>

#include "crema/core/net.hpp"

namespace crema::tools {

struct NpyArray {
  Shape shape;
  std::vector<float> data;
};

// Throws "PATH: ..." for a file that is not such an array (another dtype, Fortran order, short).
NpyArray read_npy(const std::string& path);
void write_npy(const std::string& path, const Shape& shape, const float* data);

// -input BLOB=FILE.npy: reshapes the net's input blob to the array's shape and copies it in
// (then reshapes the net). Throws naming the blob when the net has none of that name.
void load_input(Net& net, const std::string& spec);
// -save_outputs DIR: every output blob of the net, and the blobs named in `extra` (-save_blob), as
// DIR/<blob>.npy ('/' in a name becomes '_'); returns the files written.
std::vector<std::string> save_outputs(const Net& net, const std::string& dir,
                                      const std::vector<std::string>& extra = {});

}  // namespace crema::tools
