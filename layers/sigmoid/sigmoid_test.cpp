// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

TEST(Sigmoid, ForwardBackwardByHand) {
  LayerHarness h("type: 'Sigmoid'", {{1, 5}});
  const float x[] = {-100, -1, 0, 2, 100};
  std::copy(x, x + 5, h.bottom_data(0));
  h.forward();
  for (int i = 0; i < 5; ++i)
    EXPECT_NEAR(h.top_data(0)[i], 1.0 / (1.0 + std::exp(-double(x[i]))), 1e-7) << i;
  EXPECT_FLOAT_EQ(h.top_data(0)[2], 0.5f);
  for (int i = 0; i < 5; ++i) h.top_diff(0)[i] = 2.f;
  h.backward();
  for (int i = 0; i < 5; ++i) {
    double s = 1.0 / (1.0 + std::exp(-double(x[i])));
    EXPECT_NEAR(h.bottom_diff(0)[i], 2 * s * (1 - s), 1e-7) << i;
  }
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[2], 0.5f);
}

namespace {
int ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if ((ia < 0) != (ib < 0)) return a == b ? 0 : 1 << 30;
  return std::abs(ia - ib);
}

// The device path against the double-precision function, densely and at extremes.
void check_accuracy(const HarnessOptions& o) {
  std::vector<float> x;
  for (int i = 0; i <= 200000; ++i) x.push_back(-80.f + (80.f - (-80.f)) * i / 200000);
  for (float v = 1e-30f; v < 1.f; v *= 1.05f) x.push_back(v), x.push_back(-v);
  LayerHarness h("type: 'Sigmoid'", {{int64_t(x.size())}}, o);
  std::copy(x.begin(), x.end(), h.bottom_data(0));
  h.forward();
  int worst = 0;
  for (size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, ulps(h.top_data(0)[i], float(1.0 / (1.0 + std::exp(-double(x[i]))))));
  EXPECT_LE(worst, 4);
  LayerHarness e("type: 'Sigmoid'", {{6}}, o);
  const float special[] = {0.f, -0.f, INFINITY, -INFINITY, NAN, -200.f};
  std::copy(special, special + 6, e.bottom_data(0));
  e.forward();
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(e.top_data(0)[i], 1.0 / (1.0 + std::exp(-special[i])), 1e-30) << i;
  EXPECT_TRUE(std::isnan(e.top_data(0)[4]));
  EXPECT_NEAR(e.top_data(0)[5], 1.0 / (1.0 + std::exp(-double(special[5]))), 1e-30);
}
}  // namespace

TEST(Sigmoid, AccurateOverTheFloats) { check_accuracy({}); }

TEST(Sigmoid, GradientSeveralShapes) {
  for (const std::vector<Shape>& s :
       std::vector<std::vector<Shape>>{{{2, 3, 4, 5}}, {{1, 7, 3, 3}}, {{5, 13}}, {{1}}}) {
    LayerHarness h("type: 'Sigmoid'", s);
    h.fill_gaussian(0, 2.0, 0.0, 5);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
  }
}

TEST(Sigmoid, InPlace) {
  HarnessOptions ip;
  ip.in_place = true;
  LayerHarness a("type: 'Sigmoid'", {{2, 3, 5, 7}}), b("type: 'Sigmoid'", {{2, 3, 5, 7}}, ip);
  a.fill_gaussian(0, 1.0, 0.0, 9);
  b.fill_gaussian(0, 1.0, 0.0, 9);
  a.forward();
  b.forward();
  const int64_t n = a.count(a.top_shape(0));
  for (int64_t i = 0; i < n; ++i) a.top_diff(0)[i] = b.top_diff(0)[i] = 0.01f * (i % 37) - 0.2f;
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.top_data(0)[i], b.top_data(0)[i]) << i;
  a.backward();
  b.backward();
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.bottom_diff(0)[i], b.bottom_diff(0)[i]) << i;
  LayerHarness g("type: 'Sigmoid'", {{3, 4, 5}}, ip);
  g.fill_gaussian(0, 1.0);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(g, &log), 0) << log;
}

namespace {
HarnessOptions on_gpu(bool in_place = false) {
  HarnessOptions o;
  o.gpu = true;
  o.in_place = in_place;
  return o;
}
}  // namespace

TEST(Sigmoid, GpuAccurateOverTheFloats) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  check_accuracy(on_gpu());
}

TEST(Sigmoid, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::vector<std::vector<Shape>> shapes = {{{2, 3, 4, 5}}, {{5, 13}}, {{1}}};
  for (const std::vector<Shape>& s : shapes)
    for (bool ip : {false, true}) {
      LayerHarness h("type: 'Sigmoid'", s, on_gpu(ip));
      ASSERT_TRUE(h.has_cuda_path());
      h.fill_gaussian(0, 2.0, 0.0, 5);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << "in_place " << ip << "\n" << log;
    }
}

TEST(Sigmoid, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // The engine is ignored on the GPU (one native kernel): every spelling gives the same numbers.
  for (const char* engine :
       {"", "sigmoid_param { engine: CAFFE }", "sigmoid_param { engine: CUDNN }"})
    for (bool ip : {false, true}) {
      HarnessOptions o;
      o.in_place = ip;
      EXPECT_LT(crema::testing::max_device_disagreement(std::string("type: 'Sigmoid' ") + engine,
                                                        {{2, 3, 4, 5}}, o),
                1e-5)
          << engine << " in_place " << ip;
    }
}
