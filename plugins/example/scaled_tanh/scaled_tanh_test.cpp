// SPDX-License-Identifier: BSD-2-Clause
// The example plugin, tested exactly as the built-in layers are.
#include <gtest/gtest.h>

#include <cmath>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;

TEST(ScaledTanh, ForwardByHand) {
  LayerHarness h("type: 'ScaledTanh' scaled_tanh_param { a: 2 b: 0.5 }", {{3}});
  float x[] = {-1.f, 0.f, 3.f};
  std::copy(x, x + 3, h.bottom_data(0));
  h.forward();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(h.top_data(0)[i], 2 * std::tanh(0.5f * x[i]), 1e-6);
}

TEST(ScaledTanh, DefaultsAreLeCuns) {
  LayerHarness h("type: 'ScaledTanh'", {{1}});
  h.bottom_data(0)[0] = 1.f;
  h.forward();
  EXPECT_NEAR(h.top_data(0)[0], 1.7159f * std::tanh(2.f / 3.f), 1e-5);
}

TEST(ScaledTanh, Gradient) {
  LayerHarness h("type: 'ScaledTanh' scaled_tanh_param { a: 1.5 b: 0.8 }", {{2, 3, 4, 5}});
  h.fill_gaussian(0, 1.0);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
}

TEST(ScaledTanh, GradientInPlace) {
  HarnessOptions opt;
  opt.in_place = true;
  LayerHarness h("type: 'ScaledTanh'", {{3, 5}}, opt);
  h.fill_gaussian(0, 1.0);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
}

TEST(ScaledTanh, RefusesZeroScale) {
  try {
    LayerHarness h("type: 'ScaledTanh' scaled_tanh_param { a: 0 }", {{2}});
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("must not be 0"), std::string::npos) << e.what();
  }
}

TEST(ScaledTanh, TypedBlockRejectsUnknownField) {
  EXPECT_THROW(LayerHarness("type: 'ScaledTanh' scaled_tanh_param { c: 1 }", {{2}}), std::exception);
}

TEST(ScaledTanh, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_LT(crema::testing::max_device_disagreement("type: 'ScaledTanh'", {{2, 3, 4, 5}}, {}), 1e-5);
}
