// SPDX-License-Identifier: BSD-2-Clause
// A layer's result against a double reference, where the result may be stored in bf16 (ABI 1.5
// storage types): a bf16 result is the fp32 result rounded once, so it must itself be a bf16
// value and lie within 2^-8 of the reference's magnitude (8 significant bits, nearest); an fp32
// one within 1e-6 (fp32 arithmetic). `absolute` adds room for sums that cancel.
//   EXPECT_TRUE(crema::testing::stored_as(top_is_bf16, h.top_data(0)[i], ref[i], 1e-5));
#pragma once
#include <gtest/gtest.h>

#include <cmath>

#include "crema/testing/harness.hpp"

namespace crema::testing {

inline ::testing::AssertionResult stored_as(bool is_bf16, float got, double ref,
                                            double absolute = 0) {
  constexpr int kBf16 = 1;  // crema_dtype CREMA_BFLOAT16
  if (is_bf16 && round_to_math(got, kBf16) != got)
    return ::testing::AssertionFailure() << got << " is not a bf16 value";
  const double tol = (is_bf16 ? 1.0 / 256 : 1e-6) * std::abs(ref) + absolute;
  if (std::abs(got - ref) > tol)
    return ::testing::AssertionFailure()
           << got << " vs reference " << ref << " (tolerance " << tol << ")";
  return ::testing::AssertionSuccess();
}

}  // namespace crema::testing
