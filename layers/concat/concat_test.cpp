// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
void fill_all(LayerHarness& h) {
  for (int b = 0; b < h.num_bottoms(); ++b) h.fill_gaussian(b, 1.0, 0.0, 40 + b);
}
}  // namespace

TEST(Concat, ChannelsByHand) {
  LayerHarness h("type: 'Concat'", {{2, 1, 2}, {2, 2, 2}});
  for (int i = 0; i < 4; ++i) h.bottom_data(0)[i] = float(i);       // n0: 0 1   n1: 2 3
  for (int i = 0; i < 8; ++i) h.bottom_data(1)[i] = float(10 + i);  // n0: 10..13 n1: 14..17
  h.forward();
  ASSERT_EQ(h.top_shape(0), (Shape{2, 3, 2}));
  const float want[12] = {0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(h.top_data(0)[i], want[i]) << i;
  for (int i = 0; i < 12; ++i) h.top_diff(0)[i] = want[i] * 2;
  h.backward();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.bottom_diff(0)[i], 2.f * i);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(h.bottom_diff(1)[i], 2.f * (10 + i));
}

TEST(Concat, AxesAndLegacyConcatDim) {
  LayerHarness a0("type: 'Concat' concat_param { axis: 0 }", {{1, 3}, {4, 3}});
  EXPECT_EQ(a0.top_shape(0), (Shape{5, 3}));
  LayerHarness last("type: 'Concat' concat_param { axis: -1 }", {{2, 3, 1}, {2, 3, 4}, {2, 3, 2}});
  EXPECT_EQ(last.top_shape(0), (Shape{2, 3, 7}));
  LayerHarness legacy("type: 'Concat' concat_param { concat_dim: 0 }", {{1, 3}, {2, 3}});
  EXPECT_EQ(legacy.top_shape(0), (Shape{3, 3}));
  LayerHarness one("type: 'Concat'", {{2, 3}});
  one.fill_gaussian(0, 1.0);
  one.forward();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(one.top_data(0)[i], one.bottom_data(0)[i]);
}

TEST(Concat, SliceRoundTrip) {
  LayerHarness cat("type: 'Concat' concat_param { axis: 2 }",
                   {{2, 3, 1, 2}, {2, 3, 3, 2}, {2, 3, 2, 2}});
  fill_all(cat);
  cat.forward();
  ASSERT_EQ(cat.top_shape(0), (Shape{2, 3, 6, 2}));
  LayerHarness sl(
      "type: 'Slice' slice_param { axis: 2 slice_point: 1 slice_point: 4 } top: 'a' top: 'b' top: "
      "'c'",
      {cat.top_shape(0)});
  std::copy(cat.top_data(0), cat.top_data(0) + 72, sl.bottom_data(0));
  sl.forward();
  for (int t = 0; t < 3; ++t) {
    ASSERT_EQ(sl.top_shape(t), cat.bottom_shape(t));
    for (int64_t i = 0; i < sl.count(sl.top_shape(t)); ++i)
      ASSERT_EQ(sl.top_data(t)[i], cat.bottom_data(t)[i]) << t << " " << i;
  }
}

TEST(Concat, Gradient) {
  const std::pair<std::string, std::vector<Shape>> cases[] = {
      {"", {{2, 3, 4}, {2, 5, 4}}},
      {"concat_param { axis: 0 }", {{1, 3, 2}, {2, 3, 2}, {3, 3, 2}}},
      {"concat_param { axis: -1 }", {{1, 13}, {1, 1}}},
      {"concat_param { axis: 2 }", {{2, 3, 1, 3}, {2, 3, 4, 3}}}};
  for (const auto& [body, shapes] : cases) {
    LayerHarness h("type: 'Concat' " + body, shapes);
    fill_all(h);
    std::string log;
    EXPECT_EQ(GradientChecker().check(h, &log), 0) << body << "\n" << log;
  }
}

TEST(Concat, ErrorsNameShapes) {
  try {
    LayerHarness h("type: 'Concat'", {{2, 3, 4}, {2, 5, 6}});
    FAIL() << "mismatched shapes accepted";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("(2,5,6)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,3,4)"), std::string::npos) << m;
  }
  EXPECT_THROW(LayerHarness("type: 'Concat'", {{2, 3, 4}, {2, 3}}), std::exception);
  EXPECT_THROW(
      LayerHarness("type: 'Concat' concat_param { axis: 1 concat_dim: 1 }", {{2, 3}, {2, 3}}),
      std::exception);
  EXPECT_THROW(LayerHarness("type: 'Concat' concat_param { concat_dim: 2 }", {{2, 3}, {2, 3}}),
               std::exception);
}

namespace {
const std::pair<std::string, std::vector<Shape>> kGpuCases[] = {
    {"", {{2, 3, 4}, {2, 5, 4}}},
    {"concat_param { axis: 0 }", {{1, 3, 2}, {2, 3, 2}, {3, 3, 2}}},
    {"concat_param { axis: -1 }", {{1, 13}, {1, 1}}},
    {"concat_param { axis: 2 }", {{2, 3, 1, 3}, {2, 3, 4, 3}}},
    {"concat_param { concat_dim: 1 }", {{3, 1, 2}, {3, 0, 2}, {3, 4, 2}}},  // an empty bottom
    {"", {{2, 3}}},                                                         // one bottom
};
}  // namespace

TEST(Concat, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  for (const auto& [body, shapes] : kGpuCases) {
    LayerHarness h("type: 'Concat' " + body, shapes, o);
    ASSERT_TRUE(h.has_cuda_path());
    fill_all(h);
    std::string log;
    EXPECT_EQ(GradientChecker().check(h, &log), 0) << body << "\n" << log;
  }
}

TEST(Concat, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // Copies only: the devices agree exactly. The last case is large enough to loop the grid.
  std::vector<std::pair<std::string, std::vector<Shape>>> cases(std::begin(kGpuCases),
                                                                 std::end(kGpuCases));
  cases.push_back({"", {{64, 3, 100}, {64, 5, 100}}});
  cases.push_back({"concat_param { axis: 3 }", {{16, 64, 64, 33}, {16, 64, 64, 31}}});
  for (const auto& [body, shapes] : cases)
    EXPECT_EQ(crema::testing::max_device_disagreement("type: 'Concat' " + body, shapes, {}), 0.0)
        << body;
}
