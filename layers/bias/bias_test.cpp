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
void fill_all(LayerHarness& h, uint64_t seed = 40) {
  for (int b = 0; b < h.num_bottoms(); ++b) h.fill_gaussian(b, 1.0, 0.0, seed + b);
  h.fill_params_gaussian(1.0, seed + 10);
}
// Every form: a learned bias over any axes, a scalar, the two-bottom form.
struct Case {
  const char* text;
  std::vector<Shape> shapes;
};
const std::vector<Case> kCases = {
    {"type: 'Bias'", {{2, 3, 4, 5}}},
    {"type: 'Bias'", {{1, 9, 3, 5}}},
    {"type: 'Bias'", {{5, 11}}},
    {"type: 'Bias' bias_param { axis: 0 num_axes: -1 }", {{3, 2, 5}}},
    {"type: 'Bias' bias_param { axis: 2 num_axes: 2 }", {{2, 3, 4, 3}}},
    {"type: 'Bias' bias_param { num_axes: 0 }", {{2, 3, 3}}},
    {"type: 'Bias' bias_param { axis: 0 }", {{2, 3, 4, 5}, {2, 3}}},
    {"type: 'Bias' bias_param { axis: 1 }", {{3, 5}, {5}}},
    {"type: 'Bias'", {{2, 3, 7}, {}}},
};
}  // namespace

TEST(Bias, ForwardBackwardByHand) {
  LayerHarness h("type: 'Bias'", {{2, 3, 2}});
  ASSERT_EQ(h.num_params(), 1);
  EXPECT_EQ(h.param_shape(0), Shape({3}));
  for (int c = 0; c < 3; ++c) EXPECT_EQ(h.param_data(0)[c], 0.f);  // default filler
  for (int k = 0; k < 12; ++k) h.bottom_data(0)[k] = float(k);
  const float b[3] = {1, -2, 0.5f};
  std::copy(b, b + 3, h.param_data(0));
  h.forward();
  for (int k = 0; k < 12; ++k) EXPECT_FLOAT_EQ(h.top_data(0)[k], k + b[(k / 2) % 3]) << k;
  for (int k = 0; k < 12; ++k) h.top_diff(0)[k] = float(k);
  h.zero_param_diffs();
  h.param_diff(0)[1] = 10.f;  // accumulates
  h.backward();
  EXPECT_FLOAT_EQ(h.param_diff(0)[0], 0 + 1 + 6 + 7);
  EXPECT_FLOAT_EQ(h.param_diff(0)[1], 10 + 2 + 3 + 8 + 9);
  EXPECT_FLOAT_EQ(h.param_diff(0)[2], 4 + 5 + 10 + 11);
  for (int k = 0; k < 12; ++k) EXPECT_FLOAT_EQ(h.bottom_diff(0)[k], float(k));
}

TEST(Bias, TwoBottomForm) {
  LayerHarness h("type: 'Bias' bias_param { axis: 0 }", {{2, 3, 2}, {2, 3}});
  EXPECT_EQ(h.num_params(), 0);
  for (int k = 0; k < 12; ++k) h.bottom_data(0)[k] = float(k);
  for (int k = 0; k < 6; ++k) h.bottom_data(1)[k] = 100.f * k;
  h.forward();
  for (int k = 0; k < 12; ++k) EXPECT_FLOAT_EQ(h.top_data(0)[k], k + 100.f * (k / 2)) << k;
  for (int k = 0; k < 12; ++k) h.top_diff(0)[k] = 1.f;
  h.bottom_diff(1)[0] = 1e6f;  // overwritten
  h.backward();
  for (int k = 0; k < 6; ++k) EXPECT_FLOAT_EQ(h.bottom_diff(1)[k], 2.f);
}

TEST(Bias, GradientSeveralForms) {
  for (const Case& k : kCases) {
    LayerHarness h(k.text, k.shapes);
    fill_all(h);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << k.text << "\n" << log;
  }
}

TEST(Bias, InPlace) {
  for (const Shape& s : std::vector<Shape>{{3, 5, 7, 3}, {6, 9}}) {
    LayerHarness a("type: 'Bias'", {s}), b("type: 'Bias'", {s}, in_place());
    fill_all(a);
    fill_all(b);
    a.forward();
    b.forward();
    const int64_t n = a.count(s);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.top_data(0)[i], b.top_data(0)[i]) << i;
    for (int64_t i = 0; i < n; ++i) a.top_diff(0)[i] = b.top_diff(0)[i] = std::cos(0.7f * i);
    a.zero_param_diffs();
    b.zero_param_diffs();
    a.backward();
    b.backward();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.bottom_diff(0)[i], b.bottom_diff(0)[i]) << i;
    for (int64_t i = 0; i < a.count(a.param_shape(0)); ++i)
      ASSERT_EQ(a.param_diff(0)[i], b.param_diff(0)[i]) << i;
  }
  LayerHarness g("type: 'Bias'", {{2, 3, 4, 5}}, in_place());
  fill_all(g);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(g, &log), 0) << log;
}

TEST(Bias, ShapeMismatchNamesTheShapes) {
  try {
    LayerHarness h("type: 'Bias' bias_param { axis: 1 }", {{2, 3, 4, 5}, {4, 4}});
    FAIL() << "accepted";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("(4,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,3,4,5)"), std::string::npos) << m;
  }
  EXPECT_THROW(LayerHarness("type: 'Bias' bias_param { axis: 3 num_axes: 2 }", {{2, 3, 4, 5}}),
               std::exception);
  EXPECT_THROW(LayerHarness("type: 'Bias' bias_param { num_axes: -3 }", {{2, 3}}), std::exception);
}

namespace {
HarnessOptions on_gpu(bool in_place = false) {
  HarnessOptions o;
  o.gpu = true;
  o.in_place = in_place;
  return o;
}
}  // namespace

TEST(Bias, GpuGradient) {
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

TEST(Bias, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  std::vector<Case> all = kCases;
  // Sums cut into many parts: long planes (inner > 1), many rows (inner == 1), many channels.
  all.push_back({"type: 'Bias'", {{8, 3, 128, 128}}});
  all.push_back({"type: 'Bias'", {{20000, 7}}});
  all.push_back({"type: 'Bias'", {{4, 3000, 2, 2}}});
  all.push_back({"type: 'Bias' bias_param { axis: 0 }", {{64, 32, 9, 9}, {64, 32}}});
  for (const Case& k : all)
    for (bool ip : {false, true}) {
      HarnessOptions o;
      o.in_place = ip;
      EXPECT_LT(crema::testing::max_device_disagreement(k.text, k.shapes, o), 1e-5)
          << k.text << " in_place " << ip;
    }
}
