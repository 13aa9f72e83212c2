// SPDX-License-Identifier: BSD-2-Clause
// Describing a net: parameters, multiply-adds and activation memory per layer of a built net, the
// machine's sgemm rate to compare a training step against, and the graph as Graphviz DOT.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "crema/core/net.hpp"

namespace crema::tools {

struct LayerStats {
  std::string name, type;
  Shape top_shape;
  int64_t params = 0;      // learnable values (BatchNorm's running statistics are state, not counted)
  double macs = 0;         // multiply-adds of one forward: Convolution, InnerProduct only
  double other_ops = 0;    // element-wise work of one forward: BatchNorm, Scale, Bias, Eltwise,
                           // Pooling (one per window element), ReLU, Dropout (one per element)
  int64_t activations = 0; // values of the tops that own memory (not in place, not aliasing a bottom)
};

struct NetStats {
  std::vector<LayerStats> layers;
  int64_t params = 0;
  double macs = 0;
  double other_ops = 0;
  int64_t activations = 0;
  int64_t batch = 0;  // first axis of the first layer's first top (0 when there is none)
};

NetStats net_stats(Net& net);
// GFLOP/s of a large square single-precision GEMM on `threads` threads.
double sgemm_gflops(int threads);

// The definition with every layer that has no bottoms (Input, Data, MNISTData, CIFARData,
// DummyData, ...) replaced by an Input layer of the same name, tops and include rules: the first
// top gets `shape`, the others (labels) `{shape[0]}`. Lets a train_val net be measured without
// its data files.
pb::NetParameter with_input_shape(const pb::NetParameter& def, const Shape& shape);
// "1,3,224,224" -> {1, 3, 224, 224}; throws on anything else.
Shape parse_shape(const std::string& text);

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
