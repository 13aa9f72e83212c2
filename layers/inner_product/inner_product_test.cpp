// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
std::string ip(const std::string& body) {
  return "type: 'InnerProduct' inner_product_param { " + body + " }";
}
}  // namespace

TEST(InnerProduct, ForwardByHandBothLayouts) {
  // X = [[1,2,3],[4,5,6]], W = [[1,0,-1],[2,1,0]] (N x K), b = [0.5,-1].
  const float x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 2, 1, 0}, b[2] = {0.5f, -1};
  const float want[4] = {1 - 3 + 0.5f, 2 + 2 - 1, 4 - 6 + 0.5f, 8 + 5 - 1};
  for (bool transpose : {false, true}) {
    LayerHarness h(ip(std::string("num_output: 2 transpose: ") + (transpose ? "true" : "false")),
                   {{2, 3}});
    ASSERT_EQ(h.param_shape(0), transpose ? (Shape{3, 2}) : (Shape{2, 3}));
    std::copy(x, x + 6, h.bottom_data(0));
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 3; ++k) h.param_data(0)[transpose ? k * 2 + n : n * 3 + k] = w[n * 3 + k];
    std::copy(b, b + 2, h.param_data(1));
    h.forward();
    ASSERT_EQ(h.top_shape(0), (Shape{2, 2}));
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], want[i]) << transpose << i;
    // dW = dY^T X with dY = 1: every row of dW is the column sums of X.
    for (int i = 0; i < 4; ++i) h.top_diff(0)[i] = 1.f;
    h.zero_param_diffs();
    h.backward();
    h.backward();  // parameter gradients accumulate
    EXPECT_FLOAT_EQ(h.param_diff(0)[0], 2 * 5.f);
    EXPECT_FLOAT_EQ(h.param_diff(1)[1], 2 * 2.f);
    EXPECT_FLOAT_EQ(h.bottom_diff(0)[0], 3.f);  // overwritten, not accumulated
  }
}

TEST(InnerProduct, AxisAndShapes) {
  LayerHarness flat(ip("num_output: 4"), {{2, 3, 2, 2}});
  EXPECT_EQ(flat.top_shape(0), (Shape{2, 4}));
  EXPECT_EQ(flat.param_shape(0), (Shape{4, 12}));
  LayerHarness ax(ip("num_output: 5 axis: 2 bias_term: false"), {{2, 3, 4}});
  EXPECT_EQ(ax.top_shape(0), (Shape{2, 3, 5}));
  EXPECT_EQ(ax.num_params(), 1);
  LayerHarness neg(ip("num_output: 5 axis: -1"), {{2, 3, 4}});
  EXPECT_EQ(neg.top_shape(0), (Shape{2, 3, 5}));
}

TEST(InnerProduct, FillersApply) {
  LayerHarness h(ip("num_output: 3 weight_filler { type: 'constant' value: 0.25 } "
                    "bias_filler { type: 'constant' value: 2 }"),
                 {{1, 4}});
  for (int i = 0; i < 4; ++i) h.bottom_data(0)[i] = 1.f;
  h.forward();
  for (int j = 0; j < 3; ++j) EXPECT_FLOAT_EQ(h.top_data(0)[j], 3.f);
}

TEST(InnerProduct, Gradient) {
  const std::pair<const char*, Shape> cases[] = {
      {"num_output: 5", {2, 3, 2, 2}},
      {"num_output: 3", {1, 7}},
      {"num_output: 13 transpose: true", {3, 11}},
      {"num_output: 4 axis: 2 transpose: true", {2, 3, 5}},
      {"num_output: 6 bias_term: false", {3, 5, 1, 3}}};
  for (const auto& [body, shape] : cases) {
    LayerHarness h(ip(body), {shape});
    h.fill_gaussian(0, 1.0);
    h.fill_params_gaussian(0.5);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << body << "\n" << log;
  }
}

TEST(InnerProduct, RefusesBadParameters) {
  try {
    LayerHarness h(ip("num_output: 0"), {{2, 3}});
    FAIL() << "num_output 0 accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("num_output"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LayerHarness(ip("num_output: 2 axis: 3"), {{2, 3}}), std::exception);
}

namespace {
HarnessOptions on_gpu() {
  HarnessOptions o;
  o.gpu = true;
  return o;
}
}  // namespace

TEST(InnerProduct, GpuForwardByHandAccumulatesParamDiffs) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const float x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 2, 1, 0}, b[2] = {0.5f, -1};
  const float want[4] = {1 - 3 + 0.5f, 2 + 2 - 1, 4 - 6 + 0.5f, 8 + 5 - 1};
  for (bool transpose : {false, true}) {
    LayerHarness h(ip(std::string("num_output: 2 transpose: ") + (transpose ? "true" : "false")),
                   {{2, 3}}, on_gpu());
    ASSERT_TRUE(h.has_cuda_path());
    std::copy(x, x + 6, h.bottom_data(0));
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 3; ++k) h.param_data(0)[transpose ? k * 2 + n : n * 3 + k] = w[n * 3 + k];
    std::copy(b, b + 2, h.param_data(1));
    h.forward();
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], want[i]) << transpose << i;
    for (int i = 0; i < 4; ++i) h.top_diff(0)[i] = 1.f;
    h.zero_param_diffs();
    h.backward();
    h.backward();
    EXPECT_FLOAT_EQ(h.param_diff(0)[0], 2 * 5.f);
    EXPECT_FLOAT_EQ(h.param_diff(1)[1], 2 * 2.f);
    EXPECT_FLOAT_EQ(h.bottom_diff(0)[0], 3.f);
  }
}

TEST(InnerProduct, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::pair<const char*, Shape> cases[] = {
      {"num_output: 5", {2, 3, 2, 2}},
      {"num_output: 13 transpose: true", {3, 11}},
      {"num_output: 4 axis: 2 transpose: true", {2, 3, 5}},
      {"num_output: 6 bias_term: false", {3, 5, 1, 3}}};
  for (const auto& [body, shape] : cases) {
    LayerHarness h(ip(body), {shape}, on_gpu());
    ASSERT_TRUE(h.has_cuda_path());
    h.fill_gaussian(0, 1.0);
    h.fill_params_gaussian(0.5);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << body << "\n" << log;
  }
}

TEST(InnerProduct, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::pair<const char*, Shape> cases[] = {
      {"num_output: 7 bias_filler { type: 'gaussian' }", {3, 5, 2, 2}},
      {"num_output: 7 transpose: true bias_filler { type: 'gaussian' }", {3, 5, 2, 2}},
      {"num_output: 5 axis: 2 bias_filler { type: 'gaussian' }", {2, 3, 4, 6}},
      {"num_output: 9 bias_term: false", {17, 33}},
      {"num_output: 300 bias_filler { type: 'gaussian' }", {64, 257}}};
  for (const auto& [body, shape] : cases) {
    double d = crema::testing::max_device_disagreement(
        ip(std::string(body) + " weight_filler { type: 'gaussian' std: 0.1 }"), {shape}, {});
    EXPECT_LT(d, 1e-4) << body;
  }
}
