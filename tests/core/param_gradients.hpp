// SPDX-License-Identifier: BSD-2-Clause
// Two nets of one definition after a forward_backward each: every parameter gradient of `other`
// within `bound` times the largest of `reference`'s (what a narrower blob storage or another
// memory order may move it by). GoogleTest expectations, for the storage tests.
#pragma once
#include <gtest/gtest.h>

#include "crema/core/net.hpp"
#include "largest_difference.hpp"

namespace crema {

inline void expect_param_gradients_agree(Net& reference, Net& other, double bound) {
  ASSERT_EQ(reference.learnable_params().size(), other.learnable_params().size());
  for (size_t k = 0; k < reference.learnable_params().size(); ++k) {
    const Tensor& a = *reference.learnable_params()[k].tensor;
    const Tensor& b = *other.learnable_params()[k].tensor;
    const LargestDifference d = largest_difference(b.host_diff(), a.host_diff(), a.count());
    EXPECT_GT(d.scale, 0) << reference.learnable_params()[k].label;
    EXPECT_LE(d.worst, bound * d.scale) << reference.learnable_params()[k].label;
  }
}

}  // namespace crema
