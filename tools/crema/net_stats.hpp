// SPDX-License-Identifier: BSD-2-Clause
// Counting a built net: parameters and multiply-adds per layer, and the machine's sgemm rate to
// compare a training step against.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "crema/core/net.hpp"

namespace crema::tools {

struct LayerStats {
  std::string name, type;
  Shape top_shape;
  int64_t params = 0;  // learnable values
  double macs = 0;     // multiply-adds of one forward
  int64_t activations = 0;
};

struct NetStats {
  std::vector<LayerStats> layers;
  int64_t params = 0;
  double macs = 0;
  int64_t activations = 0;
};

NetStats net_stats(Net& net);
// GFLOP/s of a large square single-precision GEMM on `threads` threads.
double sgemm_gflops(int threads);

}  // namespace crema::tools
