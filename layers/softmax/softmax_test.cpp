// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
// Naive reference: softmax over `axis` with strided scalar loops, in double.
std::vector<double> reference(const float* x, const Shape& s, int axis) {
  int64_t outer = 1, inner = 1, c = s[axis];
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  std::vector<double> y(outer * c * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double m = -1e300, sum = 0;
      for (int64_t k = 0; k < c; ++k) m = std::max(m, double(x[(o * c + k) * inner + j]));
      for (int64_t k = 0; k < c; ++k) sum += std::exp(x[(o * c + k) * inner + j] - m);
      for (int64_t k = 0; k < c; ++k)
        y[(o * c + k) * inner + j] = std::exp(x[(o * c + k) * inner + j] - m) / sum;
    }
  return y;
}
}  // namespace

TEST(Softmax, ByHandAndStableForLargeInputs) {
  LayerHarness h("type: 'Softmax'", {{2, 3}});
  const float x[6] = {1, 2, 3, 1000, 1001, 1002};  // the second row would overflow exp()
  std::copy(x, x + 6, h.bottom_data(0));
  h.forward();
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 3; ++k)
      EXPECT_NEAR(h.top_data(0)[r * 3 + k], std::exp(double(k)) / z, 1e-6);
}

TEST(Softmax, MatchesReferenceOverEveryAxis) {
  const std::pair<Shape, int> cases[] = {{{2, 3, 4, 5}, 1},   {{2, 3, 4, 5}, 0}, {{2, 3, 4, 5}, 3},
                                         {{1, 5, 30, 21}, 1},  // inner 630 > one block of 512
                                         {{3, 1, 7}, 1},       // a single class
                                         {{4, 1000}, 1}};
  for (const auto& [shape, axis] : cases) {
    LayerHarness h("type: 'Softmax' softmax_param { axis: " + std::to_string(axis) + " }", {shape});
    h.fill_gaussian(0, 3.0);
    h.forward();
    std::vector<double> want = reference(h.bottom_data(0), shape, axis);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(h.top_data(0)[i], want[i], 1e-6) << "axis " << axis << " element " << i;
  }
}

TEST(Softmax, InPlaceMatchesOutOfPlace) {
  HarnessOptions in_place;
  in_place.in_place = true;
  LayerHarness a("type: 'Softmax'", {{2, 7, 3, 5}}), b("type: 'Softmax'", {{2, 7, 3, 5}}, in_place);
  a.fill_gaussian(0, 1.0);
  b.fill_gaussian(0, 1.0);
  a.forward();
  b.forward();
  const int64_t n = 2 * 7 * 3 * 5;
  for (int64_t i = 0; i < n; ++i) a.top_diff(0)[i] = b.top_diff(0)[i] = std::sin(float(i));
  a.backward();
  b.backward();
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_FLOAT_EQ(a.top_data(0)[i], b.top_data(0)[i]);
    ASSERT_NEAR(a.bottom_diff(0)[i], b.bottom_diff(0)[i], 1e-7);
  }
}

TEST(Softmax, Gradient) {
  const std::pair<Shape, int> cases[] = {
      {{2, 3, 4, 5}, 1}, {{1, 10}, 1}, {{3, 7}, -1}, {{5, 2, 3}, 0}, {{1, 13, 3, 3}, 1}};
  for (const auto& [shape, axis] : cases) {
    LayerHarness h("type: 'Softmax' softmax_param { axis: " + std::to_string(axis) + " }", {shape});
    h.fill_gaussian(0, 1.0);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << axis << "\n" << log;
  }
}

TEST(Softmax, RefusesAxisOutOfRange) {
  EXPECT_THROW(LayerHarness("type: 'Softmax' softmax_param { axis: 2 }", {{2, 3}}), std::exception);
}

namespace {
HarnessOptions on_gpu(bool in_place = false) {
  HarnessOptions o;
  o.gpu = true;
  o.in_place = in_place;
  return o;
}
std::string softmax(const char* engine, int axis) {
  return std::string("type: 'Softmax' softmax_param { engine: ") + engine +
         " axis: " + std::to_string(axis) + " }";
}
}  // namespace

// Both GPU implementations: cuDNN (DEFAULT; the native kernels where the host has no cuDNN)
// and the native kernels (CAFFE).
TEST(Softmax, GpuMatchesReferenceBothEngines) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::pair<Shape, int> cases[] = {{{2, 3, 4, 5}, 1}, {{2, 3, 4, 5}, 0}, {{2, 3, 4, 5}, 3},
                                         {{1, 5, 30, 21}, 1}, {{3, 1, 7}, 1},  {{4, 1000}, 1},
                                         {{2, 3}, 1}};
  for (const char* engine : {"DEFAULT", "CAFFE"})
    for (const auto& [shape, axis] : cases) {
      LayerHarness h(softmax(engine, axis), {shape}, on_gpu());
      ASSERT_TRUE(h.has_cuda_path());
      h.fill_gaussian(0, 3.0);
      if (shape == Shape{2, 3})  // large logits must not overflow exp()
        for (int i = 3; i < 6; ++i) h.bottom_data(0)[i] += 1000.f;
      h.forward();
      std::vector<double> want = reference(h.bottom_data(0), shape, axis);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(h.top_data(0)[i], want[i], 1e-6) << engine << " axis " << axis << " " << i;
    }
}

TEST(Softmax, GpuGradientBothEnginesAndInPlace) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::pair<Shape, int> cases[] = {
      {{2, 3, 4, 5}, 1}, {{1, 10}, 1}, {{3, 7}, -1}, {{5, 2, 3}, 0}, {{1, 13, 3, 3}, 1}};
  for (const char* engine : {"DEFAULT", "CAFFE"})
    for (bool in_place : {false, true})
      for (const auto& [shape, axis] : cases) {
        LayerHarness h(softmax(engine, axis), {shape}, on_gpu(in_place));
        ASSERT_TRUE(h.has_cuda_path());
        h.fill_gaussian(0, 1.0);
        std::string log;
        EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0)
            << engine << " in place " << in_place << " axis " << axis << "\n"
            << log;
      }
}

TEST(Softmax, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::pair<Shape, int> cases[] = {{{2, 11, 5, 3}, 1}, {{9, 100}, 1},   {{9, 100}, 0},
                                         {{3, 4, 700}, 1},   {{2, 3, 4}, -1}, {{64, 1000}, 1}};
  for (const char* engine : {"DEFAULT", "CAFFE", "CUDNN"})
    for (bool in_place : {false, true})
      for (const auto& [shape, axis] : cases) {
        HarnessOptions o;
        o.in_place = in_place;
        EXPECT_LT(crema::testing::max_device_disagreement(softmax(engine, axis), {shape}, o), 1e-5)
            << engine << " in place " << in_place << " axis " << axis;
      }
}
