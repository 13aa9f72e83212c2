// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "crema/testing/harness.hpp"
#include "crema/testing/stored_values.hpp"

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
    LayerHarness h(
        std::string("type: 'Eltwise' eltwise_param { operation: PROD stable_prod_grad: ") + stable +
            " }",
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

// bf16 storage (HarnessOptions::storage, bottom_storage, top_storage): the harness rounds the
// inputs and top gradients into the layer's bf16 tensors and widens its results back. The
// references below are computed in double from the values the layer sees (inputs rounded to bf16
// where their tensor is bf16). Tolerances: a result stored in bf16 is the fp32 result rounded
// once, so within 2^-8 of its magnitude (8 significant bits, nearest) and itself a bf16 value; a
// result stored in fp32 is off by fp32 arithmetic only (1e-6 relative); 1e-5 absolute covers the
// fp32 rounding of sums of O(1) terms that cancel.
namespace {
constexpr int kBf16 = 1;  // crema_dtype CREMA_BFLOAT16

double bf16(double v) { return crema::testing::round_to_math(v, kBf16); }

::testing::AssertionResult stored_as(bool is_bf16, float got, double ref) {
  return crema::testing::stored_as(is_bf16, got, ref, 1e-5);
}

// Eltwise `body` over three 2x3x37x41 bottoms (several chunks and a partial one) stored as
// `bottom_bf16` says, top as `top_bf16`, forward and backward against double references.
void check_storage(const std::string& body, const std::vector<bool>& bottom_bf16, bool top_bf16) {
  const int nb = static_cast<int>(bottom_bf16.size());
  crema::testing::HarnessOptions o;
  for (bool b : bottom_bf16) o.bottom_storage.push_back(b ? kBf16 : 0);
  o.top_storage = {top_bf16 ? kBf16 : 0};
  LayerHarness h(eltwise(body), std::vector<crema::testing::Shape>(nb, {2, 3, 37, 41}), o);
  ASSERT_TRUE(h.stores_in(kBf16));
  fill_inputs(h);
  const int64_t n = h.count(h.top_shape(0));
  std::vector<std::vector<double>> x(nb, std::vector<double>(n));
  for (int k = 0; k < nb; ++k)
    for (int64_t i = 0; i < n; ++i)
      x[k][i] = bottom_bf16[k] ? bf16(h.bottom_data(k)[i]) : h.bottom_data(k)[i];
  h.forward();
  std::vector<double> dy(n);
  for (int64_t i = 0; i < n; ++i) {
    const float g = 0.37f * static_cast<float>(i % 101) - 17.3f;
    h.top_diff(0)[i] = g;
    dy[i] = top_bf16 ? bf16(g) : g;
  }
  h.backward();
  const bool sum = body.find("SUM") != std::string::npos,
             max = body.find("MAX") != std::string::npos,
             divide = body.find("stable_prod_grad: false") != std::string::npos;
  const double coeff[3] = {2.0, -0.5, 0.75};  // SUM bodies below give these
  const std::string where = body + (top_bf16 ? ", bf16 top" : ", fp32 top");
  for (int64_t i = 0; i < n; ++i) {
    double y = sum ? 0.0 : 1.0;
    int arg = 0;
    for (int k = 0; k < nb; ++k) {
      if (sum) y += coeff[k] * x[k][i];
      if (max && (k == 0 || x[k][i] > y)) y = x[k][i], arg = k;
      if (!sum && !max) y *= x[k][i];
    }
    ASSERT_TRUE(stored_as(top_bf16, h.top_data(0)[i], y)) << where << " y[" << i << "]";
    for (int k = 0; k < nb; ++k) {
      double dx;
      if (sum) {
        dx = coeff[k] * dy[i];
      } else if (max) {
        dx = k == arg ? dy[i] : 0.0;
      } else if (divide) {
        dx = h.top_data(0)[i] / x[k][i] * dy[i];  // from the stored top, as the layer divides
      } else {
        dx = dy[i];
        for (int j = 0; j < nb; ++j)
          if (j != k) dx *= x[j][i];
      }
      ASSERT_TRUE(stored_as(bottom_bf16[k], h.bottom_diff(k)[i], dx))
          << where << " dE/dx" << k << "[" << i << "]";
    }
  }
}
}  // namespace

TEST(Eltwise, Bf16StorageAgainstDoubleReference) {
  for (const char* body : {"operation: SUM coeff: 2 coeff: -0.5 coeff: 0.75", "operation: PROD",
                           "operation: PROD stable_prod_grad: false", "operation: MAX"})
    for (bool top_bf16 : {true, false}) check_storage(body, {true, true, true}, top_bf16);
}

TEST(Eltwise, MixedFp32AndBf16Bottoms) {
  for (const char* body : {"operation: SUM coeff: 2 coeff: -0.5", "operation: PROD",
                           "operation: PROD stable_prod_grad: false", "operation: MAX"})
    for (bool top_bf16 : {true, false}) {
      check_storage(body, {false, true}, top_bf16);
      check_storage(body, {true, false}, top_bf16);
    }
}
