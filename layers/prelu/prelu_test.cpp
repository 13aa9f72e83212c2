// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
HarnessOptions in_place() {
  HarnessOptions o;
  o.in_place = true;
  return o;
}
}  // namespace

TEST(PReLU, DefaultSlopeAndShapes) {
  LayerHarness h("type: 'PReLU'", {{2, 5, 3}});
  ASSERT_EQ(h.num_params(), 1);
  EXPECT_EQ(h.param_shape(0), Shape({5}));
  for (int c = 0; c < 5; ++c) EXPECT_FLOAT_EQ(h.param_data(0)[c], 0.25f);
  LayerHarness s("type: 'PReLU' prelu_param { channel_shared: true }", {{2, 5, 3}});
  EXPECT_EQ(s.param_shape(0), Shape({}));
  EXPECT_FLOAT_EQ(s.param_data(0)[0], 0.25f);
}

TEST(PReLU, ForwardBackwardByHand) {
  LayerHarness h("type: 'PReLU'", {{1, 2, 3}});
  const float x[] = {-2, 0, 3, -4, 1, -1};
  std::copy(x, x + 6, h.bottom_data(0));
  h.param_data(0)[0] = 0.5f;
  h.param_data(0)[1] = -1.f;
  h.forward();
  const float y[] = {-1, 0, 3, 4, 1, 1};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], y[i]) << i;
  const float dy[] = {1, 2, 3, 4, 5, 6};
  std::copy(dy, dy + 6, h.top_diff(0));
  h.zero_param_diffs();
  h.param_diff(0)[1] = 1.f;  // accumulates
  h.backward();
  const float dx[] = {0.5f, 1, 3, -4, 5, -6};  // x = 0 takes the slope, as in Caffe
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(h.bottom_diff(0)[i], dx[i]) << i;
  EXPECT_FLOAT_EQ(h.param_diff(0)[0], 1 * -2.f + 2 * 0.f);
  EXPECT_FLOAT_EQ(h.param_diff(0)[1], 1.f + 4 * -4.f + 6 * -1.f);
}

TEST(PReLU, ChannelSharedByHand) {
  LayerHarness h("type: 'PReLU' prelu_param { channel_shared: true }", {{2, 2}});
  const float x[] = {-2, 1, -3, -1};
  std::copy(x, x + 4, h.bottom_data(0));
  h.param_data(0)[0] = 0.1f;
  h.forward();
  EXPECT_FLOAT_EQ(h.top_data(0)[2], -0.3f);
  for (int i = 0; i < 4; ++i) h.top_diff(0)[i] = 1.f;
  h.zero_param_diffs();
  h.backward();
  EXPECT_FLOAT_EQ(h.param_diff(0)[0], -6.f);
}

TEST(PReLU, GradientSeveralShapes) {
  const std::vector<Shape> shapes = {{2, 3, 4, 5}, {1, 9, 3, 5}, {5, 11}, {3, 7, 1, 1}};
  for (const char* p : {"", "channel_shared: true", "filler { type: 'uniform' min: -1 max: 1 }"})
    for (const Shape& s : shapes)
      for (bool ip : {false, true}) {
        LayerHarness h(std::string("type: 'PReLU' prelu_param { ") + p + " }", {s},
                       ip ? in_place() : HarnessOptions{});
        h.fill_gaussian(0, 1.0, 0.0, 8);
        std::string log;
        EXPECT_EQ(GradientChecker(1e-3, 1e-3, 1701, 0.0, 0.01).check(h, &log), 0)
            << p << " in_place " << ip << "\n"
            << log;
      }
}

TEST(PReLU, InPlaceMatchesOutOfPlace) {
  for (const Shape& s : std::vector<Shape>{{3, 5, 7, 3}, {6, 9}}) {
    const char* t = "type: 'PReLU' prelu_param { filler { type: 'uniform' min: -1 max: 1 } }";
    LayerHarness a(t, {s}), b(t, {s}, in_place());
    a.fill_gaussian(0, 1.0, 0.0, 2);
    b.fill_gaussian(0, 1.0, 0.0, 2);
    a.forward();
    b.forward();
    const int64_t n = a.count(s);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.top_data(0)[i], b.top_data(0)[i]) << i;
    for (int64_t i = 0; i < n; ++i) a.top_diff(0)[i] = b.top_diff(0)[i] = std::sin(1.3f * i);
    a.zero_param_diffs();
    b.zero_param_diffs();
    a.backward();
    b.backward();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.bottom_diff(0)[i], b.bottom_diff(0)[i]) << i;
    for (int64_t i = 0; i < a.count(a.param_shape(0)); ++i)
      ASSERT_EQ(a.param_diff(0)[i], b.param_diff(0)[i]) << i;
  }
}

TEST(PReLU, RejectsOneAxisInput) {
  try {
    LayerHarness h("type: 'PReLU'", {{7}});
    FAIL() << "accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("(7)"), std::string::npos) << e.what();
  }
}

namespace {
const char* const kForms[] = {"", "channel_shared: true",
                              "filler { type: 'uniform' min: -1 max: 1 }"};
std::string prelu(const std::string& body) { return "type: 'PReLU' prelu_param { " + body + " }"; }
}  // namespace

TEST(PReLU, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::vector<Shape> shapes = {{2, 3, 4, 5}, {5, 11}, {3, 7, 1, 1}};
  for (const char* p : kForms)
    for (const Shape& s : shapes)
      for (bool ip : {false, true}) {
        HarnessOptions o;
        o.gpu = true;
        o.in_place = ip;
        LayerHarness h(prelu(p), {s}, o);
        ASSERT_TRUE(h.has_cuda_path());
        h.fill_gaussian(0, 1.0, 0.0, 8);
        std::string log;
        EXPECT_EQ(GradientChecker(1e-3, 1e-3, 1701, 0.0, 0.01).check(h, &log), 0)
            << p << " in_place " << ip << "\n"
            << log;
      }
}

TEST(PReLU, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // Plus sums cut into many parts: long planes, many rows (S == 1), many channels.
  const std::vector<Shape> shapes = {
      {2, 3, 4, 5}, {5, 11}, {3, 7, 1, 1}, {8, 3, 128, 128}, {20000, 7}, {4, 3000, 2, 2}};
  for (const char* p : kForms)
    for (const Shape& s : shapes)
      for (bool ip : {false, true}) {
        HarnessOptions o;
        o.in_place = ip;
        EXPECT_LT(crema::testing::max_device_disagreement(prelu(p), {s}, o), 1e-5)
            << p << " " << s.size() << "-d, in_place " << ip;
      }
}
