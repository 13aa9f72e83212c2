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
void iota(float* x, int64_t n, float start, float step) {
  for (int64_t i = 0; i < n; ++i) x[i] = start + step * i;
}
void fill_all(LayerHarness& h, uint64_t seed = 30) {
  for (int b = 0; b < h.num_bottoms(); ++b) h.fill_gaussian(b, 1.0, 0.0, seed + b);
  h.fill_params_gaussian(1.0, seed + 10);
}
// Every form: one bottom or two, with and without bias, inner == 1, a scalar scale.
struct Case {
  const char* text;
  std::vector<Shape> shapes;
};
const std::vector<Case> kCases = {
    {"type: 'Scale'", {{2, 3, 4, 5}}},
    {"type: 'Scale' scale_param { bias_term: true }", {{1, 9, 3, 5}}},
    {"type: 'Scale' scale_param { bias_term: true }", {{5, 11}}},         // inner == 1
    {"type: 'Scale' scale_param { axis: 0 num_axes: -1 }", {{3, 2, 5}}},  // elementwise
    {"type: 'Scale' scale_param { axis: 2 num_axes: 2 bias_term: true }", {{2, 3, 4, 3}}},
    {"type: 'Scale' scale_param { num_axes: 0 bias_term: true }", {{2, 3, 3}}},
    {"type: 'Scale' scale_param { axis: 0 }", {{2, 3, 4, 5}, {2, 3}}},
    {"type: 'Scale' scale_param { axis: 0 bias_term: true }", {{1, 7, 3, 3}, {1, 7}}},
    {"type: 'Scale' scale_param { axis: 1 }", {{3, 5}, {5}}},
    {"type: 'Scale' scale_param { axis: -1 }", {{2, 3, 7}, {7}}},
};
}  // namespace

TEST(Scale, DefaultFillerIsOneAndShapeFollowsAxes) {
  LayerHarness h("type: 'Scale'", {{2, 3, 4}});
  ASSERT_EQ(h.num_params(), 1);
  EXPECT_EQ(h.param_shape(0), Shape({3}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.param_data(0)[i], 1.f);
  LayerHarness all("type: 'Scale' scale_param { axis: 1 num_axes: -1 bias_term: true }",
                   {{2, 3, 4}});
  EXPECT_EQ(all.param_shape(0), Shape({3, 4}));
  EXPECT_EQ(all.param_shape(1), Shape({3, 4}));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(all.param_data(1)[i], 0.f);
  LayerHarness scalar("type: 'Scale' scale_param { num_axes: 0 filler { value: 3 } }", {{2, 3}});
  EXPECT_EQ(scalar.param_shape(0), Shape({}));
  EXPECT_EQ(scalar.param_data(0)[0], 3.f);
}

TEST(Scale, ForwardBackwardByHandWithBias) {
  LayerHarness h("type: 'Scale' scale_param { bias_term: true }", {{2, 3, 2}});
  iota(h.bottom_data(0), 12, 1, 1);  // x[n,c,i] = 1 + 6n + 2c + i
  const float s[3] = {2, -1, 0.5f}, b[3] = {1, 0, -2};
  std::copy(s, s + 3, h.param_data(0));
  std::copy(b, b + 3, h.param_data(1));
  h.forward();
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 2; ++i) {
        int k = (n * 3 + c) * 2 + i;
        EXPECT_FLOAT_EQ(h.top_data(0)[k], (1.f + k) * s[c] + b[c]) << k;
      }
  for (int k = 0; k < 12; ++k) h.top_diff(0)[k] = 1.f;
  h.zero_param_diffs();
  h.param_diff(0)[0] = 100.f;  // learned blobs accumulate
  h.backward();
  // ds[c] = sum of x over channel c; db[c] = 6... count of elements = 4.
  EXPECT_FLOAT_EQ(h.param_diff(0)[0], 100.f + (1 + 2 + 7 + 8));
  EXPECT_FLOAT_EQ(h.param_diff(0)[1], 3 + 4 + 9 + 10);
  EXPECT_FLOAT_EQ(h.param_diff(0)[2], 5 + 6 + 11 + 12);
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(h.param_diff(1)[c], 4.f);
  for (int k = 0; k < 12; ++k) EXPECT_FLOAT_EQ(h.bottom_diff(0)[k], s[(k / 2) % 3]);
}

TEST(Scale, TwoBottomSqueezeExcitationForm) {
  // SE block: x (N,C,H,W) times s (N,C) from axis 0.
  LayerHarness h("type: 'Scale' scale_param { axis: 0 }", {{2, 3, 2, 2}, {2, 3}});
  EXPECT_EQ(h.num_params(), 0);
  iota(h.bottom_data(0), 24, 0, 1);
  iota(h.bottom_data(1), 6, 1, 1);
  h.forward();
  for (int k = 0; k < 24; ++k) EXPECT_FLOAT_EQ(h.top_data(0)[k], k * (1.f + k / 4)) << k;
  for (int k = 0; k < 24; ++k) h.top_diff(0)[k] = 1.f;
  h.bottom_diff(1)[0] = 1e6f;  // a bottom diff is overwritten, not accumulated
  h.backward();
  EXPECT_FLOAT_EQ(h.bottom_diff(1)[0], 0 + 1 + 2 + 3);
  EXPECT_FLOAT_EQ(h.bottom_diff(1)[5], 20 + 21 + 22 + 23);
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[23], 6.f);
}

TEST(Scale, ScalarScaleUsesAnyAxis) {
  LayerHarness h("type: 'Scale' scale_param { axis: 1 }", {{2, 3}, {}});
  iota(h.bottom_data(0), 6, 1, 1);
  h.bottom_data(1)[0] = -2.f;
  h.forward();
  for (int k = 0; k < 6; ++k) EXPECT_FLOAT_EQ(h.top_data(0)[k], -2.f * (1 + k));
}

TEST(Scale, GradientSeveralForms) {
  for (const Case& k : kCases) {
    LayerHarness h(k.text, k.shapes);
    fill_all(h);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << k.text << "\n" << log;
  }
}

TEST(Scale, InPlaceMatchesOutOfPlace) {
  for (const char* text : {"type: 'Scale' scale_param { bias_term: true }",
                           "type: 'Scale' scale_param { axis: 0 num_axes: -1 }"}) {
    for (const Shape& s : std::vector<Shape>{{3, 5, 7, 3}, {6, 9}}) {
      LayerHarness a(text, {s}), b(text, {s}, in_place());
      fill_all(a);
      fill_all(b);
      a.forward();
      b.forward();
      const int64_t n = a.count(s);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.top_data(0)[i], b.top_data(0)[i]) << i;
      for (int64_t i = 0; i < n; ++i) a.top_diff(0)[i] = b.top_diff(0)[i] = std::cos(0.7f * i);
      for (int64_t i = 0; i < n; ++i) b.top_data(0)[i] = -1.f;  // a later in-place layer
      a.zero_param_diffs();
      b.zero_param_diffs();
      a.backward();
      b.backward();
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.bottom_diff(0)[i], b.bottom_diff(0)[i]) << i;
      for (int p = 0; p < a.num_params(); ++p)
        for (int64_t i = 0; i < a.count(a.param_shape(p)); ++i)
          ASSERT_EQ(a.param_diff(p)[i], b.param_diff(p)[i]) << text << " param " << p;
    }
  }
  LayerHarness g("type: 'Scale' scale_param { bias_term: true }", {{2, 3, 4, 5}}, in_place());
  fill_all(g);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(g, &log), 0) << log;
  LayerHarness se("type: 'Scale' scale_param { axis: 0 }", {{2, 3, 4, 5}, {2, 3}}, in_place());
  fill_all(se);
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(se, &log), 0) << log;
}

TEST(Scale, ShapeMismatchNamesTheShapes) {
  try {
    LayerHarness h("type: 'Scale' scale_param { axis: 0 }", {{2, 3, 4, 5}, {2, 4}});
    FAIL() << "accepted";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("(2,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,3,4,5)"), std::string::npos) << m;
  }
  try {
    LayerHarness h("type: 'Scale' scale_param { axis: 2 num_axes: 3 }", {{2, 3, 4, 5}});
    FAIL() << "accepted";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("num_axes"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,3,4,5)"), std::string::npos) << m;
  }
  EXPECT_THROW(LayerHarness("type: 'Scale' scale_param { num_axes: -2 }", {{2, 3}}),
               std::exception);
  EXPECT_THROW(LayerHarness("type: 'Scale' scale_param { axis: 4 }", {{2, 3}}), std::exception);
}

namespace {
HarnessOptions on_gpu(bool in_place = false) {
  HarnessOptions o;
  o.gpu = true;
  o.in_place = in_place;
  return o;
}
}  // namespace

TEST(Scale, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const Case& k : kCases)
    for (bool ip : {false, true}) {
      LayerHarness h(k.text, k.shapes, on_gpu(ip));
      ASSERT_TRUE(h.has_cuda_path());
      fill_all(h);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0)
          << k.text << " in_place " << ip << "\n"
          << log;
    }
}

TEST(Scale, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  std::vector<Case> all = kCases;
  // Sums cut into many parts: long planes (inner > 1), many rows (inner == 1), many channels.
  all.push_back({"type: 'Scale' scale_param { bias_term: true }", {{8, 3, 128, 128}}});
  all.push_back({"type: 'Scale' scale_param { bias_term: true }", {{20000, 7}}});
  all.push_back({"type: 'Scale' scale_param { bias_term: true }", {{4, 3000, 2, 2}}});
  all.push_back(
      {"type: 'Scale' scale_param { axis: 0 bias_term: true }", {{64, 32, 9, 9}, {64, 32}}});
  for (const Case& k : all)
    for (bool ip : {false, true}) {
      HarnessOptions o;
      o.in_place = ip;
      EXPECT_LT(crema::testing::max_device_disagreement(k.text, k.shapes, o), 1e-5)
          << k.text << " in_place " << ip;
    }
}
