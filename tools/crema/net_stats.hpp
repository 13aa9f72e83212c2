// SPDX-License-Identifier: BSD-2-Clause
// Describing a net: parameters, multiply-adds and activation memory per layer of a built net
// (crema summary, crema time), and measuring a train_val net without its data files.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crema/core/net.hpp"

namespace crema::tools {

struct LayerStats {
  std::string name, type;
  Shape top_shape;
  int64_t params = 0;    // learnable values (BatchNorm's running statistics are state, not counted)
  double macs = 0;       // multiply-adds of one forward: Convolution, InnerProduct only
  double other_ops = 0;  // element-wise work of one forward: BatchNorm, Scale, Bias, Eltwise,
                         // Pooling (one per window element), ReLU, Dropout (one per element)
  int64_t activations =
      0;  // values of the tops that own memory (not in place, not aliasing a bottom)
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

// The definition with every layer that has no bottoms (Input, Data, MNISTData, CIFARData,
// DummyData, ...) replaced by an Input layer of the same name, tops and include rules: the first
// top gets `shape`, the others (labels) `{shape[0]}`. Lets a train_val net be measured without
// its data files.
pb::NetParameter with_input_shape(const pb::NetParameter& def, const Shape& shape);
// "1,3,224,224" -> {1, 3, 224, 224}; throws on anything else.
Shape parse_shape(const std::string& text);

// Builds the net (crema time, crema summary). When a data layer cannot open its files the error
// goes on to say how to get the data or measure the net without it: -input_shape with the shape
// that layer would give, e.g. "-input_shape 128,3,32,32".
std::unique_ptr<Net> build_net(const pb::NetParameter& def, const NetOptions& opt);
// build()'s error, when a data layer cannot open its files, with that hint (rethrown as is
// otherwise).
[[noreturn]] void rethrow_with_data_hint(const std::exception& e, const pb::NetParameter& def,
                                         const NetOptions& opt);
// The same for whatever build() builds from def (crema time -update: a solver and its net).
template <class Build>
auto build_with_data_hint(const pb::NetParameter& def, const NetOptions& opt, const Build& build) {
  try {
    return build();
  } catch (const std::exception& e) {
    rethrow_with_data_hint(e, def, opt);
  }
}

}  // namespace crema::tools
