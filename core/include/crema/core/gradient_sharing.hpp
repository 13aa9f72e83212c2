// SPDX-License-Identifier: BSD-2-Clause
// Which blobs may hold their gradient in another blob's diff memory: a bottom whose gradient its
// layer passes through unchanged (crema_layer_ext.passes_gradient: a sum's addends) can use the
// top's diff, and the layer then copies nothing in backward. Sharing must not let one reader see
// a gradient another has already overwritten, and in-place layers overwrite their blob's diff
// during backward. So a group of blobs sharing one diff is either a chain (each layer shares one
// bottom; in-place writers allowed: each runs before the next reader down the chain) or, once a
// layer shares two or more bottoms, grows only by blobs no layer writes in place.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace crema {

// One layer as the plan sees it: blob ids, the bottoms that pass the gradient (bit k), and which
// bottoms need a gradient at all.
struct GradientLayer {
  std::vector<int> bottoms, tops;
  uint32_t passes = 0;
  std::vector<int8_t> need;  // per bottom
};

// Bottom blob `bottom` takes the diff memory of blob `top`.
struct GradientShare {
  int bottom, top;
};

// The shares for a net's layers in forward order, in the order to apply them (a top's own share
// comes before its bottoms'). `compatible(bottom, top)`: same storage type, order and count.
std::vector<GradientShare> plan_gradient_sharing(const std::vector<GradientLayer>& layers,
                                                 int num_blobs,
                                                 const std::function<bool(int, int)>& compatible);

}  // namespace crema
