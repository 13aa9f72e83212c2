// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;
using crema::testing::Shape;

TEST(Axpy, ForwardBackwardByHand) {
  LayerHarness h("type: 'Axpy'", {{1, 2, 1, 1}, {1, 2, 1, 3}, {1, 2, 1, 3}});
  h.bottom_data(0)[0] = 2, h.bottom_data(0)[1] = -1;
  for (int i = 0; i < 6; ++i) h.bottom_data(1)[i] = float(i), h.bottom_data(2)[i] = 10.f * i;
  h.forward();
  const float top[] = {0, 12, 24, -3 + 30, -4 + 40, -5 + 50};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], top[i]) << i;
  for (int i = 0; i < 6; ++i) h.top_diff(0)[i] = 1.f + i;
  h.backward();
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[0], 0 * 1 + 1 * 2 + 2 * 3);
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[1], 3 * 4 + 4 * 5 + 5 * 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_FLOAT_EQ(h.bottom_diff(1)[i], (i < 3 ? 2.f : -1.f) * (1 + i)) << i;
    EXPECT_FLOAT_EQ(h.bottom_diff(2)[i], 1.f + i) << i;
  }
}

TEST(Axpy, GradientSeveralShapes) {
  const std::vector<std::vector<Shape>> cases = {
      {{2, 3, 1, 1}, {2, 3, 4, 5}, {2, 3, 4, 5}},
      {{1, 9, 1, 1}, {1, 9, 3, 5}, {1, 9, 3, 5}},
      {{3, 5}, {3, 5, 7}, {3, 5, 7}},
      {{4, 3}, {4, 3}, {4, 3}},
  };
  for (const auto& s : cases) {
    LayerHarness h("type: 'Axpy'", s);
    for (int b = 0; b < 3; ++b) h.fill_gaussian(b, 1.0, 0.0, 50 + b);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
  }
}

TEST(Axpy, RejectsMismatchedShapes) {
  try {
    LayerHarness h("type: 'Axpy'", {{2, 3, 2, 1}, {2, 3, 4, 5}, {2, 3, 4, 5}});
    FAIL() << "accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("(2,3,2,1)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LayerHarness("type: 'Axpy'", {{2, 3}, {2, 3, 4}, {2, 3, 5}}), std::exception);
  EXPECT_THROW(LayerHarness("type: 'Axpy'", {{2, 4}, {2, 3, 4}, {2, 3, 4}}), std::exception);
  EXPECT_THROW(LayerHarness("type: 'Axpy'", {{2, 3}, {2, 3, 4}}), std::exception);
}

namespace {
const std::vector<std::vector<Shape>> kGpuCases = {
    {{2, 3, 1, 1}, {2, 3, 4, 5}, {2, 3, 4, 5}},
    {{3, 5}, {3, 5, 7}, {3, 5, 7}},
    {{4, 3}, {4, 3}, {4, 3}},
    {{2, 16, 1, 1}, {2, 16, 56, 56}, {2, 16, 56, 56}},  // planes longer than a warp's stride
};
}  // namespace

TEST(Axpy, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  for (size_t k = 0; k + 1 < kGpuCases.size(); ++k) {
    LayerHarness h("type: 'Axpy'", kGpuCases[k], o);
    ASSERT_TRUE(h.has_cuda_path());
    for (int b = 0; b < 3; ++b) h.fill_gaussian(b, 1.0, 0.0, 50 + b);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << k << "\n" << log;
  }
}

TEST(Axpy, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (size_t k = 0; k < kGpuCases.size(); ++k)
    EXPECT_LT(crema::testing::max_device_disagreement("type: 'Axpy'", kGpuCases[k], {}), 1e-5)
        << "case " << k;
}
