// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <exception>
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

// bf16 storage: the harness rounds the input and the top gradients into the layer's bf16 tensors
// and widens its results back. Forward copies bf16 values, so the tops are the rounded input
// exactly; backward sums the three rounded gradients in fp32 and rounds once, so the bottom
// gradient is within 2^-8 of the double sum's magnitude (one rounding, 8 significant bits) plus
// 1e-5 for the fp32 sum of O(10) values, and is itself a bf16 value.
TEST(Split, Bf16StorageThreeTops) {
  crema::testing::HarnessOptions o;
  o.storage = 1;  // CREMA_BFLOAT16, bottom and tops alike
  LayerHarness h("type: 'Split' top: 'a' top: 'b' top: 'c'", {{2, 3, 37, 41}}, o);
  ASSERT_TRUE(h.stores_in(1));
  const int n = 2 * 3 * 37 * 41;
  h.fill_gaussian(0, 1.0);
  h.forward();
  auto bf16 = [](double v) { return crema::testing::round_to_math(v, 1); };
  for (int t = 0; t < 3; ++t)
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(h.top_data(t)[i], bf16(h.bottom_data(0)[i])) << t << " " << i;
  for (int t = 0; t < 3; ++t)
    for (int i = 0; i < n; ++i) h.top_diff(t)[i] = 0.37f * float((i + 29 * t) % 101) - 17.3f;
  h.backward();
  for (int i = 0; i < n; ++i) {
    double sum = 0;
    for (int t = 0; t < 3; ++t) sum += bf16(0.37f * float((i + 29 * t) % 101) - 17.3f);
    const float got = h.bottom_diff(0)[i];
    ASSERT_EQ(got, bf16(got)) << i << ": not a bf16 value";
    ASSERT_NEAR(got, sum, std::abs(sum) / 256 + 1e-5) << i;
  }
}

TEST(Split, RefusesTopsOfAnotherTypeThanTheBottom) {
  crema::testing::HarnessOptions o;
  o.bottom_storage = {1};
  o.top_storage = {1, 0, 1};
  LayerHarness h("type: 'Split' top: 'a' top: 'b' top: 'c'", {{2, 3}}, o);
  h.fill_gaussian(0, 1.0);
  try {
    h.forward();
    FAIL() << "a bf16 bottom copied into an fp32 top";
  } catch (const std::exception& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("top 1 is stored as fp32 but its bottom as bf16"), std::string::npos) << m;
  }
}
