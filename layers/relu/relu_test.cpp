// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "crema/testing/harness.hpp"
#include "crema/testing/stored_values.hpp"

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

// bf16 storage (HarnessOptions bottom_storage / top_storage): the harness rounds the input and
// the top gradient into the layer's bf16 tensors and widens its results back. References in
// double from the values the layer sees (rounded to bf16 where their tensor is bf16).
// Tolerances: a result stored in bf16 is the fp32 result rounded once, so within 2^-8 of its
// magnitude and itself a bf16 value (for slope 0 it is exact: max(x, 0) of a bf16 x is one); a
// result stored in fp32 is off by one fp32 rounding (1e-6 relative).
namespace {
constexpr int kBf16 = 1;  // crema_dtype CREMA_BFLOAT16

double bf16(double v) { return crema::testing::round_to_math(v, kBf16); }

using crema::testing::stored_as;

// In place, bottom and top are one tensor: top_bf16 is bottom_bf16 then.
void check_storage(double slope, bool bottom_bf16, bool top_bf16, bool in_place) {
  HarnessOptions o;
  o.in_place = in_place;
  o.bottom_storage = {bottom_bf16 ? kBf16 : 0};
  o.top_storage = {top_bf16 ? kBf16 : 0};
  LayerHarness h(relu(std::to_string(slope).c_str()), {{2, 3, 37, 41}}, o);
  ASSERT_TRUE(h.stores_in(kBf16));
  h.fill_gaussian(0, 1.0, 0.0, 9);
  const int64_t n = h.count(h.bottom_shape(0));
  std::vector<double> x(n), dy(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = bottom_bf16 ? bf16(h.bottom_data(0)[i]) : h.bottom_data(0)[i];
  h.forward();
  std::ostringstream where;
  where << "slope " << slope << (bottom_bf16 ? ", bf16 bottom" : ", fp32 bottom")
        << (top_bf16 ? ", bf16 top" : ", fp32 top") << (in_place ? ", in place" : "");
  for (int64_t i = 0; i < n; ++i) {
    const double y = x[i] > 0 ? x[i] : slope * x[i];
    ASSERT_TRUE(stored_as(top_bf16, h.top_data(0)[i], y)) << where.str() << " y[" << i << "]";
    if (slope == 0 && bottom_bf16 && top_bf16) {
      ASSERT_EQ(h.top_data(0)[i], y) << where.str() << " " << i;
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const float g = 0.37f * static_cast<float>(i % 101) - 17.3f;
    h.top_diff(0)[i] = g;
    dy[i] = top_bf16 ? bf16(g) : g;
  }
  h.backward();
  for (int64_t i = 0; i < n; ++i)
    ASSERT_TRUE(stored_as(bottom_bf16, h.bottom_diff(0)[i], x[i] > 0 ? dy[i] : slope * dy[i]))
        << where.str() << " dE/dx[" << i << "]";
}
}  // namespace

TEST(ReLU, Bf16StorageAgainstDoubleReference) {
  for (double slope : {0.0, 0.1, -0.3}) {
    check_storage(slope, true, true, false);
    check_storage(slope, true, false, false);
    check_storage(slope, false, true, false);
  }
}

TEST(ReLU, Bf16StorageInPlace) {
  // s < 0 loses the sign in place: backward then takes it from the mask kept by forward.
  for (double slope : {0.0, 0.1, -0.3}) check_storage(slope, true, true, true);
}

TEST(ReLU, Bf16InPlaceOnEveryValue) {
  // Slope 0 on bf16 in place works on the bits: every bf16 value but the subnormals (the harness
  // stores those as zeros of their sign) against std::max(x, 0.f), signs of zeros included:
  // -0 stays -0, negative numbers and -inf become +0, NaN stays NaN.
  std::vector<float> values;
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint32_t bits = h << 16;
    float v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::fpclassify(v) != FP_SUBNORMAL) values.push_back(v);
  }
  HarnessOptions o = in_place();
  o.storage = kBf16;
  LayerHarness h(relu("0"), {{static_cast<int64_t>(values.size())}}, o);
  ASSERT_TRUE(h.stores_in(kBf16));
  std::copy(values.begin(), values.end(), h.bottom_data(0));
  h.forward();
  for (size_t i = 0; i < values.size(); ++i) {
    const float want = std::max(values[i], 0.f), got = h.top_data(0)[i];
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << values[i];
    } else {
      ASSERT_EQ(got, want) << values[i];
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << values[i];
    }
  }
}
