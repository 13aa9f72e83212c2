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
std::string error_of(const std::string& text, const Shape& s) {
  try {
    LayerHarness h(text, {s});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Slice, PointsByHand) {
  LayerHarness h("type: 'Slice' slice_param { slice_point: 1 } top: 'a' top: 'b'", {{2, 3, 2}});
  for (int i = 0; i < 12; ++i) h.bottom_data(0)[i] = float(i);
  h.forward();
  ASSERT_EQ(h.top_shape(0), (Shape{2, 1, 2}));
  ASSERT_EQ(h.top_shape(1), (Shape{2, 2, 2}));
  const float a[4] = {0, 1, 6, 7}, b[8] = {2, 3, 4, 5, 8, 9, 10, 11};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.top_data(0)[i], a[i]);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(h.top_data(1)[i], b[i]);
  for (int i = 0; i < 4; ++i) h.top_diff(0)[i] = -a[i];
  for (int i = 0; i < 8; ++i) h.top_diff(1)[i] = -b[i];
  h.backward();
  for (int i = 0; i < 12; ++i) EXPECT_EQ(h.bottom_diff(0)[i], -float(i));
}

TEST(Slice, EqualPartsAndLegacySliceDim) {
  LayerHarness h("type: 'Slice' slice_param { axis: 0 } top: 'a' top: 'b' top: 'c'", {{6, 2}});
  for (int t = 0; t < 3; ++t) EXPECT_EQ(h.top_shape(t), (Shape{2, 2}));
  LayerHarness legacy("type: 'Slice' slice_param { slice_dim: 2 } top: 'a' top: 'b'", {{1, 2, 4}});
  EXPECT_EQ(legacy.top_shape(1), (Shape{1, 2, 2}));
  LayerHarness last("type: 'Slice' slice_param { axis: -1 slice_point: 3 } top: 'a' top: 'b'",
                    {{2, 5}});
  EXPECT_EQ(last.top_shape(0), (Shape{2, 3}));
  EXPECT_EQ(last.top_shape(1), (Shape{2, 2}));
  LayerHarness one("type: 'Slice'", {{2, 3}});
  one.fill_gaussian(0, 1.0);
  one.forward();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(one.top_data(0)[i], one.bottom_data(0)[i]);
}

TEST(Slice, ConcatRoundTrip) {
  LayerHarness sl(
      "type: 'Slice' slice_param { axis: 1 slice_point: 2 slice_point: 3 } top: 'a' top: 'b' top: "
      "'c'",
      {{3, 7, 2}});
  sl.fill_gaussian(0, 1.0);
  sl.forward();
  LayerHarness cat("type: 'Concat'", {sl.top_shape(0), sl.top_shape(1), sl.top_shape(2)});
  for (int t = 0; t < 3; ++t)
    std::copy(sl.top_data(t), sl.top_data(t) + sl.count(sl.top_shape(t)), cat.bottom_data(t));
  cat.forward();
  ASSERT_EQ(cat.top_shape(0), (Shape{3, 7, 2}));
  for (int i = 0; i < 42; ++i) ASSERT_EQ(cat.top_data(0)[i], sl.bottom_data(0)[i]) << i;
}

TEST(Slice, Gradient) {
  const std::pair<std::string, Shape> cases[] = {
      {"top: 'a' top: 'b'", {2, 6, 3}},
      {"slice_param { axis: 0 slice_point: 1 slice_point: 3 } top: 'a' top: 'b' top: 'c'",
       {5, 3, 2}},
      {"slice_param { axis: -1 slice_point: 4 } top: 'a' top: 'b'", {1, 13}},
      {"slice_param { axis: 2 slice_point: 3 } top: 'a' top: 'b'", {2, 3, 5, 1}}};
  for (const auto& [body, s] : cases) {
    LayerHarness h("type: 'Slice' " + body, {s});
    h.fill_gaussian(0, 1.0);
    std::string log;
    EXPECT_EQ(GradientChecker().check(h, &log), 0) << body << "\n" << log;
  }
}

TEST(Slice, ErrorsNameSizes) {
  std::string m = error_of("type: 'Slice' top: 'a' top: 'b' top: 'c' top: 'd'", {2, 6});
  EXPECT_NE(m.find("4 tops do not divide axis 1 of size 6"), std::string::npos) << m;
  m = error_of("type: 'Slice' slice_param { slice_point: 7 } top: 'a' top: 'b'", {2, 6});
  EXPECT_NE(m.find("slice_point 7"), std::string::npos) << m;
  EXPECT_NE(m.find("size 6"), std::string::npos) << m;
  m = error_of(
      "type: 'Slice' slice_param { slice_point: 3 slice_point: 2 } top: 'a' top: 'b' top: 'c'",
      {2, 6});
  EXPECT_NE(m.find("slice_point 2"), std::string::npos) << m;
  m = error_of("type: 'Slice' slice_param { slice_point: 3 } top: 'a' top: 'b' top: 'c'", {2, 6});
  EXPECT_NE(m.find("give 2"), std::string::npos) << m;
  EXPECT_NE(
      error_of("type: 'Slice' slice_param { axis: 1 slice_dim: 1 } top: 'a' top: 'b'", {2, 6}), "");
}

namespace {
const std::pair<std::string, Shape> kGpuCases[] = {
    {"top: 'a' top: 'b'", {2, 6, 3}},
    {"slice_param { axis: 0 slice_point: 1 slice_point: 3 } top: 'a' top: 'b' top: 'c'", {5, 3, 2}},
    {"slice_param { axis: -1 slice_point: 4 } top: 'a' top: 'b'", {1, 13}},
    {"slice_param { axis: 2 slice_point: 3 } top: 'a' top: 'b'", {2, 3, 5, 1}},
    {"slice_param { slice_dim: 1 slice_point: 2 } top: 'a' top: 'b'", {2, 5, 3}},
    {"", {2, 3}},  // one top
};
}  // namespace

TEST(Slice, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  for (const auto& [body, s] : kGpuCases) {
    LayerHarness h("type: 'Slice' " + body, {s}, o);
    ASSERT_TRUE(h.has_cuda_path());
    h.fill_gaussian(0, 1.0);
    std::string log;
    EXPECT_EQ(GradientChecker().check(h, &log), 0) << body << "\n" << log;
  }
}

TEST(Slice, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // Copies only: the devices agree exactly. The last case is large enough to loop the grid.
  std::vector<std::pair<std::string, Shape>> cases(std::begin(kGpuCases), std::end(kGpuCases));
  cases.push_back({"slice_param { slice_point: 3 } top: 'a' top: 'b'", {64, 8, 100}});
  cases.push_back({"slice_param { axis: 3 slice_point: 33 } top: 'a' top: 'b'", {16, 64, 64, 64}});
  for (const auto& [body, s] : cases)
    EXPECT_EQ(crema::testing::max_device_disagreement("type: 'Slice' " + body, {s}, {}), 0.0)
        << body;
}
