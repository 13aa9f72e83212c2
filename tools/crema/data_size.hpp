// SPDX-License-Identifier: BSD-2-Clause
// How many images an epoch of a net's data holds: epochs in `crema train`'s log, how much of the
// test set `crema test` scored, `crema test -iterations all`. A layer cannot say it through the
// plugin ABI, so this reads the files that the built-in data layers read, without loading them:
// the idx labels header (MNISTData), the size of the CIFAR files (CIFARData), the entry count of
// the LMDB (Data). Any other data layer's size is unknown.
#pragma once
#include <cstdint>
#include <string>

#include "crema/core/net.hpp"

namespace crema::tools {

struct DataSize {
  int layer = -1;           // the net's first layer without bottoms, or -1
  int64_t batch = 0;        // images one forward pass reads (its first top's first axis)
  int64_t images = 0;       // images in an epoch; 0: unknown
  std::string why_unknown;  // when images is 0
};

DataSize data_size(Net& net);

}  // namespace crema::tools
