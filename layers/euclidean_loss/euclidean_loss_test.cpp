// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;
using crema::testing::Shape;

TEST(EuclideanLoss, ByHand) {
  LayerHarness h("type: 'EuclideanLoss'", {{2, 2}, {2, 2}});
  const float a[4] = {1, 2, 3, 4}, b[4] = {0, 2, 5, 3};
  std::copy(a, a + 4, h.bottom_data(0));
  std::copy(b, b + 4, h.bottom_data(1));
  h.forward();
  EXPECT_EQ(h.top_shape(0), Shape{});
  EXPECT_FLOAT_EQ(h.top_data(0)[0], (1 + 0 + 4 + 1) / 2.f / 2.f);
  h.top_diff(0)[0] = 3.f;  // loss weight
  h.backward();
  const float d[4] = {1, 0, -2, 1};
  for (int i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ(h.bottom_diff(0)[i], d[i] * 3 / 2);
    EXPECT_FLOAT_EQ(h.bottom_diff(1)[i], -d[i] * 3 / 2);
  }
}

TEST(EuclideanLoss, Gradient) {
  for (const auto& shapes : std::vector<std::vector<Shape>>{{{2, 3, 4}, {2, 3, 4}},
                                                            {{1, 7}, {1, 7}},
                                                            {{5, 3, 1}, {5, 3}},
                                                            {{3, 11, 2, 2}, {3, 11, 2, 2}}}) {
    LayerHarness h("type: 'EuclideanLoss'", shapes);
    h.fill_gaussian(0, 1.0, 0.0, 5);
    h.fill_gaussian(1, 1.0, 0.0, 6);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
  }
}

TEST(EuclideanLoss, LargeInputAcrossChunks) {
  LayerHarness h("type: 'EuclideanLoss'", {{4, 10000}, {4, 10000}});
  for (int i = 0; i < 40000; ++i) h.bottom_data(0)[i] = 1.f, h.bottom_data(1)[i] = 0.5f;
  h.forward();
  EXPECT_NEAR(h.top_data(0)[0], 40000 * 0.25 / 4 / 2, 1e-2);
}

TEST(EuclideanLoss, RefusesMismatchNamingShapes) {
  try {
    LayerHarness h("type: 'EuclideanLoss'", {{2, 3}, {2, 4}});
    FAIL() << "mismatch accepted";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("(2,3)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,4)"), std::string::npos) << m;
  }
}

namespace {
const std::vector<std::vector<Shape>> kShapes = {{{2, 3, 4}, {2, 3, 4}},
                                                 {{1, 7}, {1, 7}},
                                                 {{5, 3, 1}, {5, 3}},
                                                 {{3, 11, 2, 2}, {3, 11, 2, 2}}};
}  // namespace

TEST(EuclideanLoss, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  for (const auto& shapes : kShapes) {
    LayerHarness h("type: 'EuclideanLoss'", shapes, o);
    ASSERT_TRUE(h.has_cuda_path());
    h.fill_gaussian(0, 1.0, 0.0, 5);
    h.fill_gaussian(1, 1.0, 0.0, 6);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
  }
}

TEST(EuclideanLoss, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  std::vector<std::vector<Shape>> cases = kShapes;
  cases.push_back({{3, 5}, {3, 5}});
  cases.push_back({{4, 100000}, {4, 100000}});  // more blocks than partial sums: blocks loop
  for (size_t k = 0; k < cases.size(); ++k)
    EXPECT_LT(crema::testing::max_device_disagreement("type: 'EuclideanLoss'", cases[k], {}), 1e-5)
        << "case " << k;
}

TEST(EuclideanLoss, GpuLargeInputAcrossBlocks) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  LayerHarness h("type: 'EuclideanLoss'", {{4, 100000}, {4, 100000}}, o);
  for (int i = 0; i < 400000; ++i) h.bottom_data(0)[i] = 1.f, h.bottom_data(1)[i] = 0.5f;
  h.forward();
  EXPECT_NEAR(h.top_data(0)[0], 400000 * 0.25 / 4 / 2, 1e-2);
}
