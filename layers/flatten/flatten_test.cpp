// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <string>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;
using crema::testing::Shape;

TEST(Flatten, Shapes) {
  const std::pair<std::string, Shape> cases[] = {
      {"", {2, 60}},
      {"flatten_param { axis: 0 }", {120}},
      {"flatten_param { axis: 1 end_axis: 2 }", {2, 12, 5}},
      {"flatten_param { axis: 2 }", {2, 3, 20}},
      {"flatten_param { axis: -2 end_axis: -1 }", {2, 3, 20}},
      {"flatten_param { axis: 3 end_axis: 3 }", {2, 3, 4, 5}}};
  for (const auto& [body, want] : cases) {
    LayerHarness h("type: 'Flatten' " + body, {{2, 3, 4, 5}});
    EXPECT_EQ(h.top_shape(0), want) << body;
  }
}

TEST(Flatten, CopiesDataAndDiff) {
  LayerHarness h("type: 'Flatten'", {{2, 3, 2, 1}});
  h.fill_gaussian(0, 1.0);
  h.forward();
  for (int i = 0; i < 12; ++i) EXPECT_EQ(h.top_data(0)[i], h.bottom_data(0)[i]);
  for (int i = 0; i < 12; ++i) h.top_diff(0)[i] = float(i);
  h.backward();
  for (int i = 0; i < 12; ++i) EXPECT_EQ(h.bottom_diff(0)[i], float(i));
}

TEST(Flatten, RefusesReversedAxes) {
  try {
    LayerHarness h("type: 'Flatten' flatten_param { axis: 2 end_axis: 1 }", {{2, 3, 4}});
    FAIL() << "end_axis before axis accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("(2,3,4)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LayerHarness("type: 'Flatten' flatten_param { axis: 4 }", {{2, 3, 4}}),
               std::exception);
}

// The declared configurations' gradients run in the CPU and GPU sweeps; a copy layer's GPU
// result must equal the CPU's exactly.
TEST(Flatten, GpuAgreesExactly) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* body :
       {"", "flatten_param { axis: 0 end_axis: 1 }", "flatten_param { axis: 2 }"})
    EXPECT_EQ(crema::testing::max_device_disagreement(std::string("type: 'Flatten' ") + body,
                                                      {{2, 3, 4, 5}}, {}),
              0.0)
        << body;
}
