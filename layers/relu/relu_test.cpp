// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <algorithm>
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

TEST(ReLU, ForwardBackwardByHand) {
  LayerHarness h("type: 'ReLU'", {{1, 1, 1, 4}});
  const float x[] = {-2, 0, 0.5f, 3};
  std::copy(x, x + 4, h.bottom_data(0));
  h.forward();
  const float y[] = {0, 0, 0.5f, 3};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], y[i]) << i;
  for (int i = 0; i < 4; ++i) h.top_diff(0)[i] = 10.f + i;
  h.backward();
  const float dx[] = {0, 0, 12, 13};  // x = 0 takes the slope side, as in Caffe
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(h.bottom_diff(0)[i], dx[i]) << i;
}

TEST(ReLU, LeakyByHand) {
  LayerHarness h("type: 'ReLU' relu_param { negative_slope: 0.25 }", {{4}});
  const float x[] = {-2, -0.5f, 1, 4};
  std::copy(x, x + 4, h.bottom_data(0));
  h.forward();
  const float y[] = {-0.5f, -0.125f, 1, 4};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], y[i]) << i;
  for (int i = 0; i < 4; ++i) h.top_diff(0)[i] = 1.f;
  h.backward();
  const float dx[] = {0.25f, 0.25f, 1, 1};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(h.bottom_diff(0)[i], dx[i]) << i;
}

TEST(ReLU, GradientSeveralShapes) {
  const std::vector<std::vector<Shape>> shapes = {{{2, 3, 4, 5}}, {{1, 7, 3, 3}}, {{5, 13}}, {{3}}};
  for (const char* slope : {"0", "0.01", "0.3", "-0.2"})
    for (const auto& s : shapes) {
      LayerHarness h(std::string("type: 'ReLU' relu_param { negative_slope: ") + slope + " }", s);
      h.fill_gaussian(0, 1.0, 0.0, 5);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-3, 1e-3, 1701, 0.0, 0.01).check(h, &log), 0) << slope << "\n"
                                                                                << log;
    }
}

TEST(ReLU, InPlaceMatchesOutOfPlace) {
  for (const char* slope : {"0", "0.1", "-0.5"}) {
    std::string text = std::string("type: 'ReLU' relu_param { negative_slope: ") + slope + " }";
    LayerHarness a(text, {{2, 3, 5, 7}}), b(text, {{2, 3, 5, 7}}, in_place());
    a.fill_gaussian(0, 1.0, 0.0, 9);
    b.fill_gaussian(0, 1.0, 0.0, 9);
    a.forward();
    b.forward();
    const int64_t n = a.count(a.top_shape(0));
    for (int64_t i = 0; i < n; ++i) {
      a.top_diff(0)[i] = b.top_diff(0)[i] = 0.01f * (i % 37) - 0.2f;
    }
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(a.top_data(0)[i], b.top_data(0)[i]) << slope << " " << i;
    a.backward();
    b.backward();
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(a.bottom_diff(0)[i], b.bottom_diff(0)[i]) << slope << " " << i;
  }
}

TEST(ReLU, GradientInPlace) {
  for (const char* slope : {"0", "0.2", "-0.3"}) {
    LayerHarness h(std::string("type: 'ReLU' relu_param { negative_slope: ") + slope + " }",
                   {{2, 3, 3, 5}}, in_place());
    h.fill_gaussian(0, 1.0, 0.0, 3);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-3, 1e-3, 1701, 0.0, 0.01).check(h, &log), 0) << slope << "\n"
                                                                              << log;
  }
}

TEST(ReLU, LargeInputUsesAllChunks) {
  // Larger than one parallel chunk, odd size.
  LayerHarness h("type: 'ReLU' relu_param { negative_slope: 0.5 }", {{3, 5, 77, 91}});
  h.fill_gaussian(0, 1.0);
  std::vector<float> x(h.bottom_data(0), h.bottom_data(0) + h.count(h.bottom_shape(0)));
  h.forward();
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_FLOAT_EQ(h.top_data(0)[i], x[i] > 0 ? x[i] : 0.5f * x[i]) << i;
}

namespace {
HarnessOptions on_gpu(bool in_place = false) {
  HarnessOptions o;
  o.gpu = true;
  o.in_place = in_place;
  return o;
}
std::string relu(const char* slope, const char* extra = "") {
  return std::string("type: 'ReLU' relu_param { negative_slope: ") + slope + " " + extra + " }";
}
}  // namespace

TEST(ReLU, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* slope : {"0", "0.2", "-0.3"})
    for (bool ip : {false, true}) {
      LayerHarness h(relu(slope), {{2, 3, 3, 5}}, on_gpu(ip));
      ASSERT_TRUE(h.has_cuda_path());
      h.fill_gaussian(0, 1.0, 0.0, 3);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-3, 1e-3, 1701, 0.0, 0.01).check(h, &log), 0)
          << slope << " in_place " << ip << "\n"
          << log;
    }
}

TEST(ReLU, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // The engine is ignored on the GPU (one native kernel for both): both give the same numbers.
  for (const char* engine : {"", "engine: CAFFE", "engine: CUDNN"})
    for (const char* slope : {"0", "0.1", "-0.5"})
      for (bool ip : {false, true}) {
        HarnessOptions o;
        o.in_place = ip;
        double d = crema::testing::max_device_disagreement(relu(slope, engine), {{2, 3, 4, 5}}, o);
        EXPECT_LT(d, 1e-5) << slope << " " << engine << " in_place " << ip;
      }
}

TEST(ReLU, GpuLargeInput) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // More elements than one grid covers at once: the grid-stride loop takes the rest.
  HarnessOptions o;
  o.in_place = true;
  EXPECT_LT(crema::testing::max_device_disagreement(relu("-0.5"), {{64, 64, 64, 70}}, o), 1e-5);
}
