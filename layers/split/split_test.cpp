// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <string>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;

TEST(Split, CopiesForwardAndSumsBackward) {
  // Nine thousand values, each top's gradient different.
  LayerHarness h("type: 'Split' top: 'a' top: 'b' top: 'c'", {{2, 3, 37, 41}});
  const int n = 2 * 3 * 37 * 41;
  h.fill_gaussian(0, 1.0);
  h.forward();
  for (int t = 0; t < 3; ++t)
    for (int i = 0; i < n; ++i) ASSERT_EQ(h.top_data(t)[i], h.bottom_data(0)[i]);
  for (int t = 0; t < 3; ++t)
    for (int i = 0; i < n; ++i) h.top_diff(t)[i] = float(t + 1) * (i % 97);
  h.backward();
  for (int i = 0; i < n; ++i) ASSERT_FLOAT_EQ(h.bottom_diff(0)[i], 6.f * (i % 97)) << i;
}

TEST(Split, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // 1, 2, 3 tops, and 10: more than one kernel launch sums (8), the second continues the first.
  for (int tops : {1, 2, 3, 10}) {
    std::string text = "type: 'Split'";
    for (int t = 0; t < tops; ++t) text += " top: 't" + std::to_string(t) + "'";
    EXPECT_LT(crema::testing::max_device_disagreement(text, {{2, 3, 4}}, {}), 1e-6) << tops;
  }
}
