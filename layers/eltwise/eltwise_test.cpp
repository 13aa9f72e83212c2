// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;

namespace {
void fill_inputs(LayerHarness& h) {
  for (int b = 0; b < h.num_bottoms(); ++b) h.fill_gaussian(b, 1.0, 0.0, 100 + b);
}
}  // namespace

TEST(Eltwise, SumWithCoefficientsByHand) {
  LayerHarness h("type: 'Eltwise' eltwise_param { operation: SUM coeff: 2 coeff: -1 }",
                 {{1, 1, 1, 3}, {1, 1, 1, 3}});
  float a[] = {1, 2, 3}, b[] = {0.5f, -1, 4};
  std::copy(a, a + 3, h.bottom_data(0));
  std::copy(b, b + 3, h.bottom_data(1));
  h.forward();
  EXPECT_FLOAT_EQ(h.top_data(0)[0], 1.5f);
  EXPECT_FLOAT_EQ(h.top_data(0)[1], 5.f);
  EXPECT_FLOAT_EQ(h.top_data(0)[2], 2.f);
}

// Ten thousand values against the formulas (the by-hand cases above have three).
TEST(Eltwise, SumAndMaxOverManyBlocks) {
  const std::vector<std::vector<int64_t>> shapes(3, std::vector<int64_t>{3, 5, 23, 29});
  const int n = 3 * 5 * 23 * 29;
  LayerHarness sum("type: 'Eltwise' eltwise_param { operation: SUM coeff: 2 coeff: -1 coeff: 0.5 }",
                   shapes);
  LayerHarness max("type: 'Eltwise' eltwise_param { operation: MAX }", shapes);
  for (LayerHarness* h : {&sum, &max}) {
    fill_inputs(*h);
    h->forward();
    for (int i = 0; i < n; ++i) h->top_diff(0)[i] = float(i % 89) - 40.f;
    h->backward();
  }
  for (int i = 0; i < n; ++i) {
    const float a = sum.bottom_data(0)[i], b = sum.bottom_data(1)[i], c = sum.bottom_data(2)[i];
    ASSERT_FLOAT_EQ(sum.top_data(0)[i], 2 * a - b + 0.5f * c) << i;
    const float dy = float(i % 89) - 40.f;
    ASSERT_FLOAT_EQ(sum.bottom_diff(0)[i], 2 * dy) << i;
    ASSERT_FLOAT_EQ(sum.bottom_diff(1)[i], -dy) << i;
    ASSERT_FLOAT_EQ(sum.bottom_diff(2)[i], 0.5f * dy) << i;
    const float x[3] = {max.bottom_data(0)[i], max.bottom_data(1)[i], max.bottom_data(2)[i]};
    const int arg = x[1] > x[0] ? (x[2] > x[1] ? 2 : 1) : (x[2] > x[0] ? 2 : 0);
    ASSERT_EQ(max.top_data(0)[i], x[arg]) << i;
    for (int k = 0; k < 3; ++k) ASSERT_EQ(max.bottom_diff(k)[i], k == arg ? dy : 0.f) << i;
  }
}

TEST(Eltwise, ProdAndMaxByHand) {
  LayerHarness prod("type: 'Eltwise' eltwise_param { operation: PROD }", {{2}, {2}, {2}});
  LayerHarness max("type: 'Eltwise' eltwise_param { operation: MAX }", {{2}, {2}, {2}});
  float v[3][2] = {{1, -2}, {3, 0.5f}, {-1, 4}};
  for (int b = 0; b < 3; ++b) {
    std::copy(v[b], v[b] + 2, prod.bottom_data(b));
    std::copy(v[b], v[b] + 2, max.bottom_data(b));
  }
  prod.forward();
  max.forward();
  EXPECT_FLOAT_EQ(prod.top_data(0)[0], -3.f);
  EXPECT_FLOAT_EQ(prod.top_data(0)[1], -4.f);
  EXPECT_FLOAT_EQ(max.top_data(0)[0], 3.f);
  EXPECT_FLOAT_EQ(max.top_data(0)[1], 4.f);
  // The gradient goes to the argmax only.
  max.top_diff(0)[0] = 1;
  max.top_diff(0)[1] = 2;
  max.backward();
  EXPECT_FLOAT_EQ(max.bottom_diff(0)[0], 0.f);
  EXPECT_FLOAT_EQ(max.bottom_diff(1)[0], 1.f);
  EXPECT_FLOAT_EQ(max.bottom_diff(2)[1], 2.f);
}

TEST(Eltwise, GradientSum) {
  LayerHarness h("type: 'Eltwise' eltwise_param { operation: SUM coeff: 1.5 coeff: -0.5 }",
                 {{2, 3, 4, 5}, {2, 3, 4, 5}});
  fill_inputs(h);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
}

TEST(Eltwise, GradientProdStableAndUnstable) {
  for (const char* stable : {"true", "false"}) {
    LayerHarness h(std::string("type: 'Eltwise' eltwise_param { operation: PROD stable_prod_grad: ") +
                       stable + " }",
                   {{1, 3, 5, 3}, {1, 3, 5, 3}, {1, 3, 5, 3}});
    for (int b = 0; b < 3; ++b) h.fill_uniform(b, 0.5, 1.5, 10 + b);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-2).check(h, &log), 0) << stable << "\n" << log;
  }
}

TEST(Eltwise, GradientMax) {
  LayerHarness h("type: 'Eltwise' eltwise_param { operation: MAX }", {{3, 1, 7}, {3, 1, 7}});
  fill_inputs(h);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-3, 1e-2).check(h, &log), 0) << log;
}

TEST(Eltwise, RefusesMismatchedShapesNamingThem) {
  try {
    LayerHarness h("type: 'Eltwise'", {{2, 3}, {2, 4}});
    FAIL() << "mismatched shapes accepted";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("(2,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,3)"), std::string::npos) << m;
    EXPECT_NE(m.find("Eltwise"), std::string::npos) << m;
  }
}

TEST(Eltwise, RefusesCoefficientsForProd) {
  EXPECT_THROW(LayerHarness("type: 'Eltwise' eltwise_param { operation: PROD coeff: 1 coeff: 2 }",
                            {{2}, {2}}),
               std::exception);
}

namespace {
crema::testing::HarnessOptions on_gpu() {
  crema::testing::HarnessOptions o;
  o.gpu = true;
  return o;
}
std::string eltwise(const std::string& body) {
  return "type: 'Eltwise' eltwise_param { " + body + " }";
}
}  // namespace

TEST(Eltwise, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::vector<crema::testing::Shape> two = {{2, 3, 4, 5}, {2, 3, 4, 5}};
  LayerHarness sum(eltwise("operation: SUM coeff: 1.5 coeff: -0.5"), two, on_gpu());
  ASSERT_TRUE(sum.has_cuda_path());
  fill_inputs(sum);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(sum, &log), 0) << log;
  for (const char* stable : {"true", "false"}) {
    LayerHarness prod(eltwise(std::string("operation: PROD stable_prod_grad: ") + stable),
                      {{1, 3, 5, 3}, {1, 3, 5, 3}, {1, 3, 5, 3}}, on_gpu());
    for (int b = 0; b < 3; ++b) prod.fill_uniform(b, 0.5, 1.5, 10 + b);
    EXPECT_EQ(GradientChecker(1e-2, 1e-2).check(prod, &log), 0) << stable << "\n" << log;
  }
  LayerHarness max(eltwise("operation: MAX"), {{3, 1, 7}, {3, 1, 7}}, on_gpu());
  fill_inputs(max);
  EXPECT_EQ(GradientChecker(1e-3, 1e-2).check(max, &log), 0) << log;
}

TEST(Eltwise, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // 2 bottoms, and 11: more than one kernel launch takes (8), so the second continues the first.
  std::string coeffs11;
  for (int k = 0; k < 11; ++k) coeffs11 += " coeff: " + std::to_string(0.25 * k - 1);
  const std::pair<std::string, int> cases[] = {{"operation: SUM coeff: 1 coeff: -2", 2},
                                                {"operation: SUM", 2},
                                                {"operation: SUM" + coeffs11, 11},
                                                {"operation: PROD", 2},
                                                {"operation: PROD stable_prod_grad: false", 2},
                                                {"operation: PROD", 11},
                                                {"operation: PROD stable_prod_grad: false", 11},
                                                {"operation: MAX", 2},
                                                {"operation: MAX", 11}};
  for (const auto& [body, nb] : cases) {
    const std::vector<crema::testing::Shape> shapes(nb, crema::testing::Shape{2, 3, 4, 5});
    EXPECT_LT(crema::testing::max_device_disagreement(eltwise(body), shapes, {}), 1e-5)
        << body << " (" << nb << " bottoms)";
  }
}
