// SPDX-License-Identifier: BSD-2-Clause
// A net definition as a Graphviz DOT graph (crema draw).
#pragma once
#include <string>

#include "crema.pb.h"

namespace crema::tools {

// Graphviz DOT of a (phase-filtered) definition. Layers that run in place (every top is one of
// their bottoms: BatchNorm, Scale, ReLU, Dropout) are folded into the node of the layer that
// produced the blob; edges follow the blobs. With `cluster`, layers whose names share a prefix
// (before the last '/', else before the first '_') are grouped, with the layer named exactly
// like the prefix (Caffe's "res2a" sum), when two or more nodes share it: one box per block.
struct DrawOptions {
  bool cluster = true;
  bool blob_labels = false;  // label edges with the blob names
  std::string rankdir = "TB";
};
std::string net_to_dot(const pb::NetParameter& def, const DrawOptions& options = {});

}  // namespace crema::tools
