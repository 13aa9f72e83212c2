// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
std::string swl(const std::string& body) { return "type: 'SoftmaxWithLoss' " + body; }

// (N=2, C=3, H=1, W=2): four positions; logits chosen so -log p is easy to state in doubles.
const float kLogits[12] = {1, 0, 2,    1,  0, 0,
                           3, 1, 0.5f, -1, 2, 2};  // n0: c0=(1,0) c1=(2,1) c2=(0,0)
const float kLabels[4] = {0, 2, 1, -1};

double neg_log_p(int n, int c, int w) {
  double z = 0;
  for (int k = 0; k < 3; ++k) z += std::exp(double(kLogits[(n * 3 + k) * 2 + w]));
  return -(kLogits[(n * 3 + c) * 2 + w] - std::log(z));
}

LayerHarness spatial(const std::string& body, const HarnessOptions& o = {}) {
  LayerHarness h(swl(body), {{2, 3, 1, 2}, {2, 1, 1, 2}}, o);
  std::copy(kLogits, kLogits + 12, h.bottom_data(0));
  std::copy(kLabels, kLabels + 4, h.bottom_data(1));
  return h;
}

// Labels cycling through 0..classes-1 and, when ignore >= 0, the ignored value.
void fill_labels(LayerHarness& h, int classes, int ignore, uint64_t seed) {
  int64_t n = h.count(h.bottom_shape(1));
  const int span = classes + (ignore >= 0 ? 1 : 0);
  for (int64_t i = 0; i < n; ++i) {
    int v = int((i * 7 + seed * 3) % span);
    h.bottom_data(1)[i] = float(v == classes ? ignore : v);
  }
}
}  // namespace

TEST(SoftmaxWithLoss, LossByHandEachNormalization) {
  // Positions (n,w): (0,0) label 0, (0,1) label 2, (1,0) label 1, (1,1) ignored.
  const double sum = neg_log_p(0, 0, 0) + neg_log_p(0, 2, 1) + neg_log_p(1, 1, 0);
  const std::pair<const char*, double> cases[] = {
      {"loss_param { ignore_label: -1 }", sum / 3},  // VALID is the default
      {"loss_param { ignore_label: -1 normalization: VALID }", sum / 3},
      {"loss_param { ignore_label: -1 normalization: FULL }", sum / 4},
      {"loss_param { ignore_label: -1 normalization: BATCH_SIZE }", sum / 2},
      {"loss_param { ignore_label: -1 normalization: NONE }", sum},
      {"loss_param { ignore_label: -1 normalize: true }", sum / 3},
      {"loss_param { ignore_label: -1 normalize: false }", sum / 2},
      {"loss_param { ignore_label: -1 normalize: false normalization: FULL }", sum / 4}};
  for (const auto& [body, want] : cases) {
    LayerHarness h = spatial(body);
    h.forward();
    EXPECT_EQ(h.top_shape(0), Shape{});
    EXPECT_NEAR(h.top_data(0)[0], want, 1e-5) << body;
  }
}

TEST(SoftmaxWithLoss, WithoutIgnoreEveryLabelCounts) {
  LayerHarness h(swl(""), {{2, 3}, {2}});
  const float x[6] = {1, 2, 3, -1, 0, 4}, l[2] = {2, 0};
  std::copy(x, x + 6, h.bottom_data(0));
  std::copy(l, l + 2, h.bottom_data(1));
  h.forward();
  const double z0 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const double z1 = std::exp(-1.0) + 1 + std::exp(4.0);
  EXPECT_NEAR(h.top_data(0)[0], ((std::log(z0) - 3) + (std::log(z1) + 1)) / 2, 1e-5);
}

TEST(SoftmaxWithLoss, AllIgnoredGivesZeroAndZeroGradient) {
  LayerHarness h(swl("loss_param { ignore_label: 4 }"), {{2, 3}, {2}});
  h.fill_gaussian(0, 1.0);
  h.bottom_data(1)[0] = h.bottom_data(1)[1] = 4;
  h.forward();
  EXPECT_EQ(h.top_data(0)[0], 0.f);
  h.top_diff(0)[0] = 1;
  h.backward();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(h.bottom_diff(0)[i], 0.f);
}

TEST(SoftmaxWithLoss, ProbabilityTopAndBackwardByHand) {
  LayerHarness h =
      spatial("loss_param { ignore_label: -1 normalization: BATCH_SIZE } top: 'loss' top: 'prob'");
  h.forward();
  ASSERT_EQ(h.top_shape(1), (Shape{2, 3, 1, 2}));
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int w = 0; w < 2; ++w)
        EXPECT_NEAR(h.top_data(1)[(n * 3 + c) * 2 + w], std::exp(-neg_log_p(n, c, w)), 1e-6);
  h.top_diff(0)[0] = 2.f;  // loss weight
  h.backward();
  const float* p = h.top_data(1);
  const float* d = h.bottom_diff(0);
  EXPECT_NEAR(d[(0 * 3 + 0) * 2 + 0], (p[0] - 1) * 2 / 2, 1e-6);            // label 0 at (0,0)
  EXPECT_NEAR(d[(0 * 3 + 1) * 2 + 0], p[2] * 2 / 2, 1e-6);                  // other class
  EXPECT_NEAR(d[(0 * 3 + 2) * 2 + 1], (p[5] - 1) * 2 / 2, 1e-6);            // label 2 at (0,1)
  for (int c = 0; c < 3; ++c) EXPECT_EQ(d[(1 * 3 + c) * 2 + 1], 0.f) << c;  // ignored (1,1)
}

TEST(SoftmaxWithLoss, StableForLargeLogits) {
  LayerHarness h(swl(""), {{1, 3}, {1}});
  const float x[3] = {1000, 0, -1000};
  std::copy(x, x + 3, h.bottom_data(0));
  h.bottom_data(1)[0] = 0;
  h.forward();
  EXPECT_NEAR(h.top_data(0)[0], 0.0, 1e-6);
  h.bottom_data(1)[0] = 2;  // p underflows to 0: Caffe's clamp at FLT_MIN keeps it finite
  h.forward();
  EXPECT_TRUE(std::isfinite(h.top_data(0)[0]));
  EXPECT_NEAR(h.top_data(0)[0], -std::log(1.17549435e-38), 1e-2);
}

TEST(SoftmaxWithLoss, Gradient) {
  struct Case {
    std::string body;
    Shape x, label;
    int classes, ignore;
  };
  const Case cases[] = {
      {"", {2, 3}, {2}, 3, -1},  // no ignore_label: fill_labels never writes -1 for 3 classes
      {"loss_param { ignore_label: 5 }", {2, 5, 2, 3}, {2, 1, 2, 3}, 5, 5},
      {"loss_param { ignore_label: 5 normalization: FULL }", {2, 5, 3, 1}, {2, 3, 1}, 5, 5},
      {"loss_param { ignore_label: 5 normalization: BATCH_SIZE }", {1, 13, 3}, {1, 3}, 5, 5},
      {"loss_param { ignore_label: 5 normalization: NONE }", {3, 11}, {3}, 5, 5},
      {"softmax_param { axis: 2 } loss_param { ignore_label: 5 }", {2, 3, 7}, {2, 3}, 5, 5}};
  uint64_t seed = 0;
  for (const Case& k : cases) {
    LayerHarness h(swl(k.body), {k.x, k.label});
    h.fill_gaussian(0, 1.0);
    fill_labels(h, k.classes, k.ignore, seed++);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << k.body << "\n" << log;
  }
}

TEST(SoftmaxWithLoss, ErrorsNameSizes) {
  try {
    LayerHarness h(swl(""), {{2, 3, 4}, {2, 3}});
    FAIL() << "label count mismatch accepted";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("(2,3)"), std::string::npos) << m;
    EXPECT_NE(m.find("8"), std::string::npos) << m;
  }
  LayerHarness h(swl(""), {{2, 3}, {2}});
  h.bottom_data(1)[0] = 1;
  h.bottom_data(1)[1] = 3;
  try {
    h.forward();
    FAIL() << "label 3 of 3 classes accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("label 3"), std::string::npos) << e.what();
  }
}

namespace {
HarnessOptions on_gpu() {
  HarnessOptions o;
  o.gpu = true;
  return o;
}

// CPU and GPU from the same logits and labels (the generic agreement helper would draw labels
// from N(0, 1)): the largest difference of the loss, the probabilities and the gradient, each
// relative to the largest CPU magnitude.
double cpu_gpu_difference(const std::string& body, const Shape& x, const Shape& label,
                          int classes, int ignore, uint64_t seed) {
  const std::string text = swl(body) + " top: 'loss' top: 'prob'";
  LayerHarness cpu(text, {x, label}), gpu(text, {x, label}, on_gpu());
  if (!gpu.has_cuda_path()) throw std::runtime_error("SoftmaxWithLoss has no CUDA path");
  for (LayerHarness* h : {&cpu, &gpu}) {
    h->fill_gaussian(0, 2.0, 0.0, seed);
    fill_labels(*h, classes, ignore, seed);
    h->forward();
    h->top_diff(0)[0] = 0.7f;  // a loss weight
    h->backward();
  }
  double worst = 0;
  auto diff = [&](const float* a, const float* b, int64_t n) {
    double num = 0, den = 1e-6;
    for (int64_t i = 0; i < n; ++i) {
      num = std::max(num, double(std::fabs(a[i] - b[i])));
      den = std::max(den, double(std::fabs(a[i])));
    }
    worst = std::max(worst, num / den);
  };
  diff(cpu.top_data(0), gpu.top_data(0), 1);
  diff(cpu.top_data(1), gpu.top_data(1), cpu.count(x));
  diff(cpu.bottom_diff(0), gpu.bottom_diff(0), cpu.count(x));
  return worst;
}
}  // namespace

TEST(SoftmaxWithLoss, GpuLossByHandEachNormalization) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const double sum = neg_log_p(0, 0, 0) + neg_log_p(0, 2, 1) + neg_log_p(1, 1, 0);
  const std::pair<const char*, double> cases[] = {
      {"loss_param { ignore_label: -1 }", sum / 3},
      {"loss_param { ignore_label: -1 normalization: FULL }", sum / 4},
      {"loss_param { ignore_label: -1 normalization: BATCH_SIZE }", sum / 2},
      {"loss_param { ignore_label: -1 normalization: NONE }", sum},
      {"loss_param { ignore_label: -1 normalize: false }", sum / 2},
      {"softmax_param { engine: CAFFE } loss_param { ignore_label: -1 }", sum / 3}};
  for (const auto& [body, want] : cases) {
    LayerHarness h = spatial(body, on_gpu());
    ASSERT_TRUE(h.has_cuda_path());
    h.forward();
    EXPECT_NEAR(h.top_data(0)[0], want, 1e-5) << body;
  }
}

TEST(SoftmaxWithLoss, GpuAllIgnoredAndInvalidLabel) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  LayerHarness h(swl("loss_param { ignore_label: 4 }"), {{2, 3}, {2}}, on_gpu());
  h.fill_gaussian(0, 1.0);
  h.bottom_data(1)[0] = h.bottom_data(1)[1] = 4;
  h.forward();
  EXPECT_EQ(h.top_data(0)[0], 0.f);
  h.top_diff(0)[0] = 1;
  h.backward();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(h.bottom_diff(0)[i], 0.f);
  // The GPU cannot throw without synchronising: a label out of range makes the loss NaN.
  h.bottom_data(1)[0] = 3;
  h.forward();
  EXPECT_TRUE(std::isnan(h.top_data(0)[0]));
}

TEST(SoftmaxWithLoss, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  struct Case {
    std::string body;
    Shape x, label;
    int classes, ignore;
  };
  const Case cases[] = {
      {"", {2, 3}, {2}, 3, -1},
      {"loss_param { ignore_label: 5 }", {2, 5, 2, 3}, {2, 1, 2, 3}, 5, 5},
      {"softmax_param { engine: CAFFE } loss_param { ignore_label: 5 }", {2, 5, 2, 3},
       {2, 1, 2, 3}, 5, 5},
      {"loss_param { ignore_label: 5 normalization: FULL }", {2, 5, 3, 1}, {2, 3, 1}, 5, 5},
      {"loss_param { ignore_label: 5 normalization: BATCH_SIZE }", {1, 13, 3}, {1, 3}, 5, 5},
      {"softmax_param { engine: CAFFE } loss_param { ignore_label: 5 normalization: NONE }",
       {3, 11}, {3}, 5, 5},
      {"softmax_param { axis: 2 } loss_param { ignore_label: 5 }", {2, 3, 7}, {2, 3}, 5, 5}};
  uint64_t seed = 0;
  for (const Case& k : cases) {
    LayerHarness h(swl(k.body), {k.x, k.label}, on_gpu());
    ASSERT_TRUE(h.has_cuda_path());
    h.fill_gaussian(0, 1.0);
    fill_labels(h, k.classes, k.ignore, seed++);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << k.body << "\n" << log;
  }
}

TEST(SoftmaxWithLoss, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // The generic helper fills every bottom with N(0,1); with its seed the two labels truncate
  // to 0 and 1 (valid for 5 classes).
  EXPECT_LT(crema::testing::max_device_disagreement(swl("loss_param { ignore_label: -1 }"),
                                                    {{2, 5}, {2}}, {}),
            1e-5);
  struct Case {
    const char* body;
    Shape x, label;
    int classes, ignore;
  };
  const Case cases[] = {
      {"loss_param { ignore_label: 7 }", {4, 7, 9, 11}, {4, 1, 9, 11}, 7, 7},
      {"loss_param { ignore_label: 7 normalization: FULL }", {4, 7, 9, 11}, {4, 9, 11}, 7, 7},
      {"loss_param { ignore_label: 7 normalization: BATCH_SIZE }", {3, 7, 50}, {3, 50}, 7, 7},
      {"loss_param { ignore_label: 7 normalization: NONE }", {3, 7, 50}, {3, 50}, 7, 7},
      {"loss_param { normalize: false }", {300, 10}, {300}, 10, -1},
      {"", {128, 1000}, {128}, 1000, -1},
      {"softmax_param { axis: 2 } loss_param { ignore_label: 2 }", {2, 3, 6, 5}, {2, 3, 5}, 6, 2},
      {"softmax_param { engine: CAFFE } loss_param { ignore_label: 7 }", {4, 7, 9, 11},
       {4, 9, 11}, 7, 7},
      {"softmax_param { engine: CAFFE }", {128, 1000}, {128}, 1000, -1}};
  uint64_t seed = 1;
  for (const Case& k : cases)
    EXPECT_LT(cpu_gpu_difference(k.body, k.x, k.label, k.classes, k.ignore, seed++), 1e-5)
        << k.body;
}
