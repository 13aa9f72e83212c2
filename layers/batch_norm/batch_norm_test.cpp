// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "crema/core/host.hpp"
#include "crema/core/layer_instance.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/core/tensor.hpp"
#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
HarnessOptions opts(bool train, bool in_place = false, bool gpu = false) {
  HarnessOptions o;
  o.train = train;
  o.in_place = in_place;
  o.gpu = gpu;
  return o;
}
void set(LayerHarness& h, const std::vector<float>& x) {
  std::copy(x.begin(), x.end(), h.bottom_data(0));
}

// Input (N=2, C=2, S=2): channel 0 holds {1, 3, 5, 7}, channel 1 holds {-2, 0, 2, 8}.
const std::vector<float> kX = {1, 3, -2, 0, 5, 7, 2, 8};
// Channel 0: mean 4, biased var 5; channel 1: mean 2, biased var 14.
}  // namespace

TEST(BatchNorm, DeclaresThreeStateBlobs) {
  LayerHarness h("type: 'BatchNorm'", {{2, 5, 3, 3}});
  ASSERT_EQ(h.num_params(), 3);
  EXPECT_EQ(h.param_shape(0), Shape({5}));
  EXPECT_EQ(h.param_shape(1), Shape({5}));
  EXPECT_EQ(h.param_shape(2), Shape({1}));
  for (int p = 0; p < 3; ++p) {
    EXPECT_TRUE(h.param_is_state(p));
    for (int64_t i = 0; i < h.count(h.param_shape(p)); ++i) EXPECT_EQ(h.param_data(p)[i], 0.f);
  }
}

TEST(BatchNorm, TrainForwardByHandAndRunningAverages) {
  LayerHarness h("type: 'BatchNorm' batch_norm_param { moving_average_fraction: 0.9 eps: 0 }",
                 {{2, 2, 2}}, opts(true));
  set(h, kX);
  h.forward();
  const float mean[2] = {4, 2}, var[2] = {5, 14};
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c)
      for (int s = 0; s < 2; ++s) {
        int i = (n * 2 + c) * 2 + s;
        EXPECT_NEAR(h.top_data(0)[i], (kX[i] - mean[c]) / std::sqrt(var[c]), 1e-6) << i;
      }
  // After one forward: f = 1, M = mean, V = m/(m-1) var with m = 4.
  EXPECT_FLOAT_EQ(h.param_data(2)[0], 1.f);
  EXPECT_FLOAT_EQ(h.param_data(0)[0], 4.f);
  EXPECT_FLOAT_EQ(h.param_data(0)[1], 2.f);
  EXPECT_FLOAT_EQ(h.param_data(1)[0], 5.f * 4 / 3);
  EXPECT_FLOAT_EQ(h.param_data(1)[1], 14.f * 4 / 3);
  // Second forward on x + 1 (channel 0) and 2x (channel 1): mean {5, 4}, var {5, 56}.
  std::vector<float> x2 = kX;
  for (int n = 0; n < 2; ++n)
    for (int s = 0; s < 2; ++s) {
      x2[(n * 2 + 0) * 2 + s] += 1;
      x2[(n * 2 + 1) * 2 + s] *= 2;
    }
  set(h, x2);
  h.forward();
  EXPECT_FLOAT_EQ(h.param_data(2)[0], 0.9f * 1 + 1);
  EXPECT_FLOAT_EQ(h.param_data(0)[0], 0.9f * 4 + 5);
  EXPECT_FLOAT_EQ(h.param_data(0)[1], 0.9f * 2 + 4);
  EXPECT_FLOAT_EQ(h.param_data(1)[0], 0.9f * (5.f * 4 / 3) + 5.f * 4 / 3);
  EXPECT_FLOAT_EQ(h.param_data(1)[1], 0.9f * (14.f * 4 / 3) + 56.f * 4 / 3);
}

TEST(BatchNorm, TestPhaseUsesGlobalStatsByDefault) {
  LayerHarness h("type: 'BatchNorm' batch_norm_param { eps: 0.5 }", {{2, 2, 2}}, opts(false));
  set(h, kX);
  // Accumulated sums with factor 2: mean = M / 2, var = V / 2.
  h.param_data(0)[0] = 2, h.param_data(0)[1] = -4;
  h.param_data(1)[0] = 7, h.param_data(1)[1] = 1;
  h.param_data(2)[0] = 2;
  h.forward();
  for (int n = 0; n < 2; ++n)
    for (int s = 0; s < 2; ++s) {
      int i0 = (n * 2 + 0) * 2 + s, i1 = (n * 2 + 1) * 2 + s;
      EXPECT_NEAR(h.top_data(0)[i0], (kX[i0] - 1) / std::sqrt(3.5 + 0.5), 1e-6);
      EXPECT_NEAR(h.top_data(0)[i1], (kX[i1] + 2) / std::sqrt(0.5 + 0.5), 1e-6);
    }
  // The running statistics are left alone.
  EXPECT_EQ(h.param_data(2)[0], 2.f);
  EXPECT_EQ(h.param_data(0)[0], 2.f);
  // Backward with constant statistics: dx = dy / sqrt(var + eps).
  for (int i = 0; i < 8; ++i) h.top_diff(0)[i] = 1.f + i;
  h.backward();
  EXPECT_NEAR(h.bottom_diff(0)[0], 1.0 / 2.0, 1e-6);
  EXPECT_NEAR(h.bottom_diff(0)[2], 3.0 / 1.0, 1e-6);
}

TEST(BatchNorm, ZeroFactorMeansZeroStatistics) {
  LayerHarness h("type: 'BatchNorm' batch_norm_param { eps: 0.25 }", {{2, 2, 2}}, opts(false));
  set(h, kX);
  h.param_data(0)[0] = 100;  // ignored: factor 0 scales everything to 0
  h.forward();
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], kX[i] * 2.f) << i;
}

TEST(BatchNorm, ExplicitUseGlobalStatsWins) {
  // TRAIN with use_global_stats: true uses the stored statistics and does not update them.
  LayerHarness t("type: 'BatchNorm' batch_norm_param { use_global_stats: true eps: 0 }",
                 {{2, 2, 2}}, opts(true));
  set(t, kX);
  t.param_data(0)[0] = 1, t.param_data(0)[1] = 1;
  t.param_data(1)[0] = 4, t.param_data(1)[1] = 16;
  t.param_data(2)[0] = 1;
  t.forward();
  EXPECT_FLOAT_EQ(t.top_data(0)[0], (1.f - 1) / 2);
  EXPECT_FLOAT_EQ(t.top_data(0)[2], (-2.f - 1) / 4);
  EXPECT_EQ(t.param_data(2)[0], 1.f);
  // TEST with use_global_stats: false normalises with the batch and updates the averages.
  LayerHarness e("type: 'BatchNorm' batch_norm_param { use_global_stats: false eps: 0 }",
                 {{2, 2, 2}}, opts(false));
  set(e, kX);
  e.forward();
  EXPECT_NEAR(e.top_data(0)[0], (1 - 4) / std::sqrt(5.0), 1e-6);
  EXPECT_FLOAT_EQ(e.param_data(2)[0], 1.f);
  EXPECT_FLOAT_EQ(e.param_data(0)[1], 2.f);
}

TEST(BatchNorm, TwoDimensionalInput) {
  LayerHarness h("type: 'BatchNorm' batch_norm_param { eps: 0 }", {{4, 3}}, opts(true));
  const std::vector<float> x = {1, 10, -1, 2, 20, -1, 3, 30, 1, 6, 40, 1};
  set(h, x);
  h.forward();
  // Channel 0: {1,2,3,6} mean 3 var 3.5; channel 1: {10..40} mean 25 var 125; channel 2: var 1.
  EXPECT_NEAR(h.top_data(0)[0], (1 - 3) / std::sqrt(3.5), 1e-6);
  EXPECT_NEAR(h.top_data(0)[10], (40 - 25) / std::sqrt(125.0), 1e-6);
  EXPECT_NEAR(h.top_data(0)[11], 1.0, 1e-6);
  EXPECT_FLOAT_EQ(h.param_data(1)[2], 4.f / 3);
}

TEST(BatchNorm, LargeMeanStaysAccurate) {
  LayerHarness h("type: 'BatchNorm' batch_norm_param { eps: 0 }", {{16, 3, 40, 40}}, opts(true));
  h.fill_gaussian(0, 1.0, 1e4);  // mean 1e4, std 1: float E[x^2]-E[x]^2 would cancel
  h.forward();
  const int64_t S = 1600;
  for (int c = 0; c < 3; ++c) {
    double s1 = 0, s2 = 0;
    for (int n = 0; n < 16; ++n)
      for (int64_t i = 0; i < S; ++i) {
        double y = h.top_data(0)[(n * 3 + c) * S + i];
        s1 += y, s2 += y * y;
      }
    EXPECT_NEAR(s1 / (16 * S), 0.0, 1e-3) << c;
    EXPECT_NEAR(s2 / (16 * S), 1.0, 2e-3) << c;
  }
}

TEST(BatchNorm, LargeMeanBackwardMatchesDoubleReference) {
  // x = 1e4 + N(0, 1): out of place (y recomputed from x) and in place (kept y) both match a
  // double-precision evaluation of Caffe's formula.
  const Shape s = {8, 3, 12, 10};
  const int64_t N = 8, C = 3, S = 120, n = N * C * S;
  for (bool ip : {false, true}) {
    LayerHarness h("type: 'BatchNorm' batch_norm_param { eps: 0.001 }", {s}, opts(true, ip));
    h.fill_gaussian(0, 1.0, 1e4, 77);
    std::vector<double> x(h.bottom_data(0), h.bottom_data(0) + n), dy(n);
    h.forward();
    for (int64_t i = 0; i < n; ++i)
      h.top_diff(0)[i] = static_cast<float>(dy[i] = std::sin(0.1 * i));
    h.backward();
    for (int64_t c = 0; c < C; ++c) {
      double mu = 0, var = 0, mdy = 0, mdyy = 0;
      auto at = [&](int64_t k, int64_t j) { return (k * C + c) * S + j; };
      for (int64_t k = 0; k < N; ++k)
        for (int64_t j = 0; j < S; ++j) mu += x[at(k, j)] / (N * S);
      for (int64_t k = 0; k < N; ++k)
        for (int64_t j = 0; j < S; ++j) var += (x[at(k, j)] - mu) * (x[at(k, j)] - mu) / (N * S);
      const double is = 1 / std::sqrt(var + 0.001);
      for (int64_t k = 0; k < N; ++k)
        for (int64_t j = 0; j < S; ++j) {
          mdy += dy[at(k, j)] / (N * S);
          mdyy += dy[at(k, j)] * (x[at(k, j)] - mu) * is / (N * S);
        }
      for (int64_t k = 0; k < N; ++k)
        for (int64_t j = 0; j < S; ++j) {
          const int64_t i = at(k, j);
          const double ref = (dy[i] - mdy - (x[i] - mu) * is * mdyy) * is;
          ASSERT_NEAR(h.bottom_diff(0)[i], ref, 1e-4) << "in place " << ip << " at " << i;
        }
    }
  }
}

TEST(BatchNorm, GradientTrainSeveralShapes) {
  const std::vector<Shape> shapes = {{2, 3, 4, 5}, {1, 9, 3, 5},  {5, 7}, {7, 32},
                                     {4, 11, 3},   {3, 10, 1, 1}, {6}};
  for (const Shape& s : shapes) {
    LayerHarness h("type: 'BatchNorm'", {s}, opts(true));
    h.fill_gaussian(0, 1.0, 0.5, 21);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 2e-3).check(h, &log), 0)
        << crema::testing::Shape(s).size() << "-d\n"
        << log;
  }
}

TEST(BatchNorm, GradientWithGlobalStats) {
  for (bool train : {true, false}) {
    LayerHarness h("type: 'BatchNorm' batch_norm_param { use_global_stats: true }", {{2, 5, 3, 3}},
                   opts(train));
    h.fill_gaussian(0, 1.0);
    for (int c = 0; c < 5; ++c) h.param_data(0)[c] = 0.1f * c, h.param_data(1)[c] = 1.f + c;
    h.param_data(2)[0] = 1.5f;
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
  }
}

TEST(BatchNorm, InPlaceMatchesOutOfPlace) {
  for (const Shape& s : std::vector<Shape>{{3, 5, 7, 3}, {6, 9}}) {
    LayerHarness a("type: 'BatchNorm'", {s}, opts(true)),
        b("type: 'BatchNorm'", {s}, opts(true, true));
    a.fill_gaussian(0, 2.0, 1.0, 4);
    b.fill_gaussian(0, 2.0, 1.0, 4);
    a.forward();
    b.forward();
    const int64_t n = a.count(s);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.top_data(0)[i], b.top_data(0)[i]) << i;
    for (int p = 0; p < 3; ++p) EXPECT_EQ(a.param_data(p)[0], b.param_data(p)[0]);
    for (int64_t i = 0; i < n; ++i) a.top_diff(0)[i] = b.top_diff(0)[i] = std::sin(0.3f * i);
    // A later in-place layer may overwrite the top: backward must not depend on it.
    for (int64_t i = 0; i < n; ++i) a.top_data(0)[i] = b.top_data(0)[i] = 0.f;
    a.backward();
    b.backward();
    // (out of place recomputes y from x, in place reads the kept y: rounding differs slightly)
    for (int64_t i = 0; i < n; ++i)
      ASSERT_NEAR(a.bottom_diff(0)[i], b.bottom_diff(0)[i], 1e-5) << i;
  }
  LayerHarness g("type: 'BatchNorm'", {{2, 3, 4, 5}}, opts(true, true));
  g.fill_gaussian(0, 1.0);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 2e-3).check(g, &log), 0) << log;
}

TEST(BatchNorm, RejectsNegativeEps) {
  try {
    LayerHarness h("type: 'BatchNorm' batch_norm_param { eps: -1 }", {{2, 3}});
    FAIL() << "accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("eps"), std::string::npos) << e.what();
  }
}

TEST(BatchNorm, GpuTrainForwardByHandAndRunningAverages) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (bool ip : {false, true}) {
    LayerHarness h("type: 'BatchNorm' batch_norm_param { moving_average_fraction: 0.9 eps: 0 }",
                   {{2, 2, 2}}, opts(true, ip, true));
    ASSERT_TRUE(h.has_cuda_path());
    set(h, kX);
    h.forward();
    const float mean[2] = {4, 2}, var[2] = {5, 14};
    for (int i = 0; i < 8; ++i) {
      const int c = (i / 2) % 2;
      EXPECT_NEAR(h.top_data(0)[i], (kX[i] - mean[c]) / std::sqrt(var[c]), 1e-6) << i;
    }
    EXPECT_FLOAT_EQ(h.param_data(2)[0], 1.f);
    EXPECT_FLOAT_EQ(h.param_data(0)[0], 4.f);
    EXPECT_FLOAT_EQ(h.param_data(1)[1], 14.f * 4 / 3);
    set(h, kX);
    h.forward();
    EXPECT_FLOAT_EQ(h.param_data(2)[0], 0.9f * 1 + 1);
    EXPECT_FLOAT_EQ(h.param_data(0)[1], 0.9f * 2 + 2);
    EXPECT_FLOAT_EQ(h.param_data(1)[0], 0.9f * (5.f * 4 / 3) + 5.f * 4 / 3);
  }
}

TEST(BatchNorm, GpuGlobalStatsAndZeroFactor) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  LayerHarness h("type: 'BatchNorm' batch_norm_param { eps: 0.5 }", {{2, 2, 2}},
                 opts(false, false, true));
  set(h, kX);
  h.param_data(0)[0] = 2, h.param_data(0)[1] = -4;
  h.param_data(1)[0] = 7, h.param_data(1)[1] = 1;
  h.param_data(2)[0] = 2;
  h.forward();
  EXPECT_NEAR(h.top_data(0)[0], (kX[0] - 1) / std::sqrt(4.0), 1e-6);
  EXPECT_NEAR(h.top_data(0)[2], (kX[2] + 2) / std::sqrt(1.0), 1e-6);
  EXPECT_EQ(h.param_data(2)[0], 2.f);
  for (int i = 0; i < 8; ++i) h.top_diff(0)[i] = 1.f + i;
  h.backward();
  EXPECT_NEAR(h.bottom_diff(0)[0], 1.0 / 2.0, 1e-6);
  EXPECT_NEAR(h.bottom_diff(0)[2], 3.0 / 1.0, 1e-6);
  h.param_data(2)[0] = 0;  // factor 0: statistics 0
  h.forward();
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], kX[i] / std::sqrt(0.5f)) << i;
}

TEST(BatchNorm, GpuLargeMeanBackwardMatchesCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const Shape s = {8, 3, 12, 10};
  const int64_t n = int64_t{8} * 3 * 12 * 10;
  for (bool ip : {false, true}) {
    LayerHarness cpu("type: 'BatchNorm' batch_norm_param { eps: 0.001 }", {s}, opts(true, ip)),
        gpu("type: 'BatchNorm' batch_norm_param { eps: 0.001 }", {s}, opts(true, ip, true));
    for (LayerHarness* h : {&cpu, &gpu}) {
      h->fill_gaussian(0, 1.0, 1e4, 77);
      h->forward();
      for (int64_t i = 0; i < n; ++i) h->top_diff(0)[i] = static_cast<float>(std::sin(0.1 * i));
      h->backward();
    }
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(gpu.top_data(0)[i], cpu.top_data(0)[i], 1e-4) << ip << " " << i;
      ASSERT_NEAR(gpu.bottom_diff(0)[i], cpu.bottom_diff(0)[i], 1e-4) << ip << " " << i;
    }
  }
}

TEST(BatchNorm, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::vector<Shape> shapes = {{2, 3, 4, 5}, {1, 9, 3, 5}, {5, 7}, {4, 11, 3}, {6}};
  for (bool ip : {false, true})
    for (const Shape& s : shapes) {
      LayerHarness h("type: 'BatchNorm'", {s}, opts(true, ip, true));
      ASSERT_TRUE(h.has_cuda_path());
      h.fill_gaussian(0, 1.0, 0.5, 21);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 2e-3).check(h, &log), 0)
          << s.size() << "-d, in place " << ip << "\n"
          << log;
    }
  for (bool train : {true, false}) {
    LayerHarness h("type: 'BatchNorm' batch_norm_param { use_global_stats: true }", {{2, 5, 3, 3}},
                   opts(train, false, true));
    h.fill_gaussian(0, 1.0);
    for (int c = 0; c < 5; ++c) h.param_data(0)[c] = 0.1f * c, h.param_data(1)[c] = 1.f + c;
    h.param_data(2)[0] = 1.5f;
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
  }
}

TEST(BatchNorm, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (bool train : {true, false})
    for (bool ip : {false, true})
      for (const Shape& s : std::vector<Shape>{{2, 3, 4, 5}, {5, 7}, {16, 8, 33, 31}, {300, 64}})
        EXPECT_LT(
            crema::testing::max_device_disagreement("type: 'BatchNorm'", {s}, opts(train, ip)),
            1e-4)
            << train << ip;
  EXPECT_LT(crema::testing::max_device_disagreement(
                "type: 'BatchNorm' batch_norm_param { use_global_stats: false eps: 0.01 }",
                {{4, 6, 7, 7}}, opts(false)),
            1e-4);
}

TEST(BatchNorm, GpuRunningStatisticsAgreeWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::string text = "type: 'BatchNorm' batch_norm_param { moving_average_fraction: 0.8 }";
  const Shape s = {6, 5, 9, 7};
  LayerHarness cpu(text, {s}, opts(true)), gpu(text, {s}, opts(true, false, true));
  for (uint64_t step = 0; step < 3; ++step)
    for (LayerHarness* h : {&cpu, &gpu}) {
      h->fill_gaussian(0, 1.0 + step, 2.0 * step, 40 + step);
      h->forward();
    }
  for (int p = 0; p < 3; ++p)
    for (int64_t i = 0; i < cpu.count(cpu.param_shape(p)); ++i)
      EXPECT_NEAR(gpu.param_data(p)[i], cpu.param_data(p)[i],
                  1e-5 * (1 + std::fabs(cpu.param_data(p)[i])))
          << "blob " << p << " element " << i;
}

// bf16 storage (HarnessOptions::storage / bottom_storage / top_storage): the harness rounds the
// inputs and top gradients into the layer's bf16 tensors and widens its outputs back.
namespace {
constexpr int kBf16 = 1;                     // CREMA_BFLOAT16
constexpr double kBf16Rounding = 1.0 / 256;  // one rounding to bf16: at most 2^-8 relative

// x rounded to bf16 (nearest even; finite values), as the harness stores a bf16 input.
double round_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}

// Whether v is a bf16 value (its fp32 pattern's lower half zero): what a bf16 tensor holds.
bool is_bf16_value(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0xffffu) == 0;
}

// Whether this machine stores BatchNorm's blobs in bf16 (a net does so only on CPUs with
// AVX512_BF16, LayerHarness::stores_in).
bool bf16_storage_here() { return LayerHarness("type: 'BatchNorm'", {{2, 3}}).stores_in(kBf16); }

struct StorageCase {
  bool bottom_bf16, top_bf16, in_place, global;
  std::string describe() const {
    return std::string("bottom ") + (bottom_bf16 ? "bf16" : "fp32") + ", top " +
           (top_bf16 ? "bf16" : "fp32") + (in_place ? ", in place" : ", out of place") +
           (global ? ", global statistics" : ", batch statistics");
  }
};

// Forward and backward of one (N, C, S) input against a double evaluation of Caffe's formulas
// from the values the layer sees: x and dy rounded to bf16 where their tensor is bf16. The
// tolerances: y and dx each rounded once where stored in bf16 (2^-8 of the value); in place with
// batch statistics backward reads the kept y, itself rounded once, which moves y * mean(dy . y)
// by at most 2^-8 of |y| (|mean(dy . y)| + mean|dy . y|); 2e-5 absolute for the float arithmetic.
void check_storage(const StorageCase& k, const Shape& s) {
  SCOPED_TRACE(k.describe());
  const int64_t N = s[0], C = s[1], S = s.size() > 2 ? s[2] : 1, n = N * C * S, m = N * S;
  const double eps = 1e-3;
  HarnessOptions o = opts(true, k.in_place);
  o.bottom_storage = {k.bottom_bf16 ? kBf16 : 0};
  o.top_storage = {k.top_bf16 ? kBf16 : 0};
  LayerHarness h(std::string("type: 'BatchNorm' batch_norm_param { eps: 0.001 use_global_stats: ") +
                     (k.global ? "true" : "false") + " }",
                 {s}, o);
  h.fill_gaussian(0, 2.0, 3.0, 31);  // a mean of 3: the statistics' shift matters
  std::vector<double> mu(C), var(C);
  h.param_data(2)[0] = 2.f;  // global statistics: mu = M / f and var = V / f, f = 2
  for (int64_t c = 0; c < C; ++c) {
    h.param_data(0)[c] = 2.f * (0.5f * c - 1.f);
    h.param_data(1)[c] = 2.f * (0.5f + c);
    mu[c] = 0.5 * c - 1.0, var[c] = 0.5 + c;
  }
  std::vector<double> x(n), dy(n), y(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = k.bottom_bf16 ? round_bf16(h.bottom_data(0)[i]) : h.bottom_data(0)[i];
  auto at = [&](int64_t b, int64_t c, int64_t j) { return (b * C + c) * S + j; };
  if (!k.global)
    for (int64_t c = 0; c < C; ++c) {
      mu[c] = var[c] = 0;
      for (int64_t b = 0; b < N; ++b)
        for (int64_t j = 0; j < S; ++j) mu[c] += x[at(b, c, j)] / (N * S);
      for (int64_t b = 0; b < N; ++b)
        for (int64_t j = 0; j < S; ++j) var[c] += std::pow(x[at(b, c, j)] - mu[c], 2) / (N * S);
    }
  h.forward();
  const double top_rounding = k.top_bf16 ? kBf16Rounding : 0.0;
  const double bottom_rounding = k.bottom_bf16 ? kBf16Rounding : 0.0;
  for (int64_t b = 0; b < N; ++b)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < S; ++j) {
        const int64_t i = at(b, c, j);
        y[i] = (x[i] - mu[c]) / std::sqrt(var[c] + eps);
        ASSERT_NEAR(h.top_data(0)[i], y[i], top_rounding * std::fabs(y[i]) + 2e-5) << i;
        if (k.top_bf16) {
          ASSERT_TRUE(is_bf16_value(h.top_data(0)[i])) << "top stored in fp32 " << i;
        }
      }
  if (!k.global)  // the running averages come from the batch statistics in double
    for (int64_t c = 0; c < C; ++c) {
      EXPECT_NEAR(h.param_data(0)[c], 0.999 * 2 * (0.5 * c - 1) + mu[c], 1e-5 * (1 + c)) << c;
      EXPECT_NEAR(h.param_data(1)[c], 0.999 * 2 * (0.5 + c) + var[c] * m / (m - 1.0),
                  1e-5 * (1 + c + var[c]))
          << c;
    }
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::sin(0.37f * i) + 0.25f;  // a non-zero mean: mean(dy) matters
    h.top_diff(0)[i] = g;
    dy[i] = k.top_bf16 ? round_bf16(g) : g;
  }
  h.backward();
  for (int64_t c = 0; c < C; ++c) {
    const double is = 1 / std::sqrt(var[c] + eps);
    double mdy = 0, mdyy = 0, mabs = 0;
    for (int64_t b = 0; b < N; ++b)
      for (int64_t j = 0; j < S; ++j) {
        const int64_t i = at(b, c, j);
        mdy += dy[i] / (N * S);
        mdyy += dy[i] * y[i] / (N * S);
        mabs += std::fabs(dy[i] * y[i]) / (N * S);
      }
    for (int64_t b = 0; b < N; ++b)
      for (int64_t j = 0; j < S; ++j) {
        const int64_t i = at(b, c, j);
        const double ref = k.global ? dy[i] * is : (dy[i] - mdy - y[i] * mdyy) * is;
        const double kept = k.in_place && !k.global ? top_rounding : 0.0;
        const double tol = bottom_rounding * std::fabs(ref) +
                           kept * is * std::fabs(y[i]) * (std::fabs(mdyy) + mabs) + 2e-5;
        ASSERT_NEAR(h.bottom_diff(0)[i], ref, tol) << i;
        if (k.bottom_bf16) {
          ASSERT_TRUE(is_bf16_value(h.bottom_diff(0)[i])) << "dx in fp32 " << i;
        }
      }
  }
}
}  // namespace

TEST(BatchNorm, StorageReferenceHoldsInFp32) {
  // The reference and its tolerances below, with fp32 storage (no rounding allowed).
  for (bool global : {false, true})
    for (bool ip : {false, true}) check_storage({false, false, ip, global}, {4, 3, 30});
}

TEST(BatchNorm, Bf16StorageMatchesDoubleReference) {
  if (!bf16_storage_here()) GTEST_SKIP() << "no bf16 storage on this CPU (AVX512_BF16)";
  // Planes and rows (2-d) longer than the kernels' 512-value blocks of bf16 results, and shorter.
  for (const Shape& s : std::vector<Shape>{{4, 3, 30}, {6, 5, 1100}, {40, 7}, {9, 600}})
    for (bool global : {false, true})
      for (bool ip : {false, true}) check_storage({true, true, ip, global}, s);
}

TEST(BatchNorm, Bf16StorageMixedBottomAndTop) {
  if (!bf16_storage_here()) GTEST_SKIP() << "no bf16 storage on this CPU (AVX512_BF16)";
  for (const Shape& s : std::vector<Shape>{{4, 3, 30}, {40, 7}})
    for (bool global : {false, true}) {
      check_storage({false, true, false, global}, s);
      check_storage({true, false, false, global}, s);
    }
}

TEST(BatchNorm, Bf16StorageAgreesWithFp32Storage) {
  if (!bf16_storage_here()) GTEST_SKIP() << "no bf16 storage on this CPU (AVX512_BF16)";
  // What crema's CPU sweep checks for every declared configuration (2e-2 of the largest value).
  const std::vector<std::pair<std::string, Shape>> configs = {
      {"type: 'BatchNorm'", {2, 3, 4, 5}},
      {"type: 'BatchNorm'", {5, 7}},
      {"type: 'BatchNorm' batch_norm_param { moving_average_fraction: 0.9 eps: 0.001 }",
       {1, 3, 5, 3}},
      {"type: 'BatchNorm' batch_norm_param { use_global_stats: true }", {2, 3, 4}},
      {"type: 'BatchNorm'", {16, 8, 33, 31}}};
  for (const auto& [text, s] : configs)
    for (bool ip : {false, true})
      EXPECT_LT(crema::testing::max_storage_disagreement(text, {s}, opts(true, ip), kBf16, 3), 2e-2)
          << text << (ip ? " in place" : "");
}

TEST(BatchNorm, RowsMatchDoubleReference) {
  // 2-d inputs (and N,H,W,C ones) are computed as rows of channels (batch_norm_rows.hpp): a few
  // channels, several blocks of summed units (40000 rows of 20), a last unit of fewer rows, and
  // rows longer than one run (2100 channels). Whole 16-channel groups go through
  // batch_norm_rows_vec.hpp: 16 and 32 channels (rows summed four and two at a time) over several
  // blocks with a last block of an odd row count, 2048 (a block of 8 rows, 37 rows).
  const std::vector<Shape> shapes = {{3000, 7},  {40000, 20}, {6, 2100}, {1000, 1},
                                     {3001, 16}, {5001, 32},  {37, 2048}};
  for (const Shape& s : shapes)
    for (bool global : {false, true})
      for (bool ip : {false, true}) {
        SCOPED_TRACE(std::to_string(s[0]) + "x" + std::to_string(s[1]));
        check_storage({false, false, ip, global}, s);
        if (bf16_storage_here()) check_storage({true, true, ip, global}, s);
      }
}

// Channels-last (N,H,W,C) bf16 tensors: the same layer and inputs as N,C,H,W bf16 tensors.
namespace {
// Both runs compute in float from the same bf16 inputs; only the order of the sums differs (rows
// of channels against planes), so the float results differ in their last bits and may round to
// neighbouring bf16 values: one bf16 step, at most 2^-7 of the value. dE/dx in place with batch
// statistics also reads the kept y, itself one step apart at most, through the term
// y * mean(dy . y) / sigma: below 2^-8 of the largest gradient here. A layout read as N,C,H,W
// would mix the channels, whose statistics differ by far more (fill_by_channel).
constexpr double kBf16Step = 1.0 / 128;

void expect_close_values(const std::vector<float>& got, const std::vector<float>& want,
                         const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double largest = 0;
  for (float v : want) largest = std::max(largest, double(std::fabs(v)));
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], kBf16Step * std::fabs(want[i]) + largest / 256)
        << what << " at " << i << " (N,C,H,W order)";
}

// x = a gaussian draw scaled and shifted per channel c (scale 0.5 + 0.25 c, mean c - 1), so that
// every channel's statistics differ; values in N,C,H,W order.
std::vector<float> fill_by_channel(const Shape& s, uint64_t seed) {
  LayerHarness draw("type: 'BatchNorm'", {s});
  draw.fill_gaussian(0, 1.0, 0.0, seed);
  const int64_t C = s[1], S = s[2] * s[3], n = s[0] * C * S;
  std::vector<float> x(draw.bottom_data(0), draw.bottom_data(0) + n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = (i / S) % C;
    x[i] = x[i] * (0.5f + 0.25f * static_cast<float>(c % 8)) + static_cast<float>(c % 5) - 1.f;
  }
  return x;
}

// Running statistics of C channels that differ per channel, factor 2 (global statistics read
// M / 2 and V / 2).
void set_running_statistics(float* M, float* V, float* f, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    M[c] = 2.f * (0.3f * static_cast<float>(c % 7) - 1.f);
    V[c] = 2.f * (0.5f + 0.7f * static_cast<float>(c % 6));
  }
  f[0] = 2.f;
}

std::vector<float> top_gradient(int64_t n) {
  std::vector<float> dz(n);
  for (int64_t i = 0; i < n; ++i) dz[i] = std::sin(0.37f * static_cast<float>(i)) + 0.25f;
  return dz;
}

// BatchNorm alone through the harness: top, dE/dx and the running statistics of the N,H,W,C run
// against the N,C,H,W one.
void check_channels_last(const Shape& s, bool global, bool in_place) {
  const std::string text = std::string("type: 'BatchNorm' batch_norm_param { use_global_stats: ") +
                           (global ? "true" : "false") + " }";
  SCOPED_TRACE(text + " on (" + std::to_string(s[0]) + "," + std::to_string(s[1]) + "," +
               std::to_string(s[2]) + "," + std::to_string(s[3]) + ")" +
               (in_place ? " in place" : ""));
  const int64_t n = s[0] * s[1] * s[2] * s[3], C = s[1];
  const std::vector<float> x = fill_by_channel(s, 17), dz = top_gradient(n);
  std::vector<float> out[2][2], stats[2];  // [N,H,W,C][top, dx]
  for (int last = 0; last < 2; ++last) {
    HarnessOptions o = opts(true, in_place);
    o.storage = kBf16;
    o.channels_last = last == 1;
    LayerHarness h(text, {s}, o);
    ASSERT_TRUE(h.takes_channels_last());
    std::copy(x.begin(), x.end(), h.bottom_data(0));
    set_running_statistics(h.param_data(0), h.param_data(1), h.param_data(2), C);
    h.forward();
    out[last][0].assign(h.top_data(0), h.top_data(0) + n);
    std::copy(dz.begin(), dz.end(), h.top_diff(0));
    h.backward();
    out[last][1].assign(h.bottom_diff(0), h.bottom_diff(0) + n);
    for (int p = 0; p < 3; ++p)
      stats[last].insert(stats[last].end(), h.param_data(p),
                         h.param_data(p) + h.count(h.param_shape(p)));
  }
  expect_close_values(out[1][0], out[0][0], "top");
  expect_close_values(out[1][1], out[0][1], "dE/dx");
  // The running statistics come from the sums in double: they agree to float rounding.
  for (size_t i = 0; i < stats[0].size(); ++i)
    EXPECT_NEAR(stats[1][i], stats[0][i], 1e-5 * (1 + std::fabs(stats[0][i]))) << i;
}
}  // namespace

TEST(BatchNorm, ChannelsLastMatchesChannelsFirst) {
  if (!bf16_storage_here()) GTEST_SKIP() << "no bf16 storage on this CPU (AVX512_BF16)";
  // 3, 20 and 64 channels; 16 with several blocks of summed units and a last unit of fewer rows;
  // 2100, rows longer than one run. 16 and 64 are whole 16-channel groups
  // (batch_norm_rows_vec.hpp), the others batch_norm_rows.hpp's units.
  const std::vector<Shape> shapes = {
      {4, 3, 5, 7}, {2, 20, 6, 5}, {2, 64, 8, 9}, {17, 16, 31, 33}, {2, 2100, 2, 3}};
  for (const Shape& s : shapes)
    for (bool global : {false, true})
      for (bool ip : {false, true}) check_channels_last(s, global, ip);
}

// BatchNorm with the Scale and ReLU it absorbs (as a net runs them on the CPU; the harness runs
// one layer alone), in place on one bf16 tensor stored N,C,H,W or N,H,W,C: through the host's
// LayerInstance.
namespace {
struct FusedRun {
  std::vector<float> top, dx, statistics, scale_grads;
};

FusedRun run_fused(const Shape& s, bool channels_last, bool global, const std::vector<float>& x,
                   const std::vector<float>& dz) {
  crema::Registry& registry = crema::Registry::global();
  auto layer = [&](const std::string& text) {
    return crema::layer_from_text(text + " bottom: 'x' top: 'x'", "batch_norm_test", registry);
  };
  auto bn =
      layer(std::string("name: 'bn' type: 'BatchNorm' batch_norm_param { use_global_stats: ") +
            (global ? "true" : "false") + " }");
  auto scale = layer("name: 'scale' type: 'Scale' scale_param { bias_term: true }");
  auto relu = layer("name: 'relu' type: 'ReLU' relu_param { negative_slope: 0.1 }");
  crema::Tensor t;
  t.set_dtype(CREMA_BFLOAT16);
  if (channels_last) t.set_channels_last(true);
  t.reshape(s);
  const std::vector<crema::Tensor*> v = {&t};
  const crema_exec exec = crema::cpu_exec();
  bn->setup(v, v, exec);
  bn->reshape(v, v, exec);
  const int64_t C = s[1];
  auto blob = [](crema::LayerInstance& l, int p) { return l.params()[p].tensor.get(); };
  set_running_statistics(blob(*bn, 0)->mutable_host_data(), blob(*bn, 1)->mutable_host_data(),
                         blob(*bn, 2)->mutable_host_data(), C);
  const std::vector<crema::LayerInstance*> absorbed = {scale.get(), relu.get()};
  for (crema::LayerInstance* l : absorbed) {
    l->setup(v, v, exec);
    l->reshape(v, v, exec);
    if (!bn->absorb(*l)) throw std::runtime_error("BatchNorm did not absorb " + l->type());
  }
  // gamma and beta differ per channel; their gradients accumulate from zero.
  float* gamma = blob(*scale, 0)->mutable_host_data();
  float* beta = blob(*scale, 1)->mutable_host_data();
  for (int64_t c = 0; c < C; ++c) {
    gamma[c] = 0.5f + 0.125f * static_cast<float>(c % 9);
    beta[c] = 0.25f * std::sin(static_cast<float>(c));
  }
  for (int p = 0; p < 2; ++p) std::fill_n(blob(*scale, p)->mutable_host_diff(), C, 0.f);
  t.from_float(x.data());
  bn->forward(v, v, exec, absorbed);
  FusedRun r;
  r.top = t.to_float();
  t.from_float(dz.data(), /*diff=*/true);
  bn->backward(v, v, {1}, true, exec, absorbed, {1, 1});
  r.dx = t.to_float(/*diff=*/true);
  for (int p = 0; p < 3; ++p)
    r.statistics.insert(r.statistics.end(), blob(*bn, p)->host_data(),
                        blob(*bn, p)->host_data() + blob(*bn, p)->count());
  for (int p = 0; p < 2; ++p)
    r.scale_grads.insert(r.scale_grads.end(), blob(*scale, p)->host_diff(),
                         blob(*scale, p)->host_diff() + C);
  return r;
}
}  // namespace

TEST(BatchNorm, ChannelsLastWithAbsorbedScaleAndReluMatchesChannelsFirst) {
  if (!bf16_storage_here()) GTEST_SKIP() << "no bf16 storage on this CPU (AVX512_BF16)";
  const std::vector<Shape> shapes = {{4, 3, 5, 7}, {2, 20, 6, 5}, {3, 64, 7, 9}, {3, 32, 5, 3}};
  for (const Shape& s : shapes)
    for (bool global : {false, true}) {
      SCOPED_TRACE(std::string(global ? "global" : "batch") + " statistics, " +
                   std::to_string(s[1]) + " channels");
      const int64_t n = s[0] * s[1] * s[2] * s[3];
      const std::vector<float> x = fill_by_channel(s, 23), dz = top_gradient(n);
      const FusedRun first = run_fused(s, false, global, x, dz),
                     last = run_fused(s, true, global, x, dz);
      expect_close_values(last.top, first.top, "top");
      expect_close_values(last.dx, first.dx, "dE/dx");
      for (size_t i = 0; i < first.statistics.size(); ++i)
        EXPECT_NEAR(last.statistics[i], first.statistics[i],
                    1e-5 * (1 + std::fabs(first.statistics[i])))
            << "running statistics " << i;
      // Sums over each channel of g . y and g (the ReLU's mask, and y in place, one bf16 step
      // apart at most in a few values): 1% of the largest.
      double largest = 0;
      for (float v : first.scale_grads) largest = std::max(largest, double(std::fabs(v)));
      for (size_t i = 0; i < first.scale_grads.size(); ++i)
        EXPECT_NEAR(last.scale_grads[i], first.scale_grads[i], 1e-2 * largest)
            << (i < size_t(s[1]) ? "dgamma " : "dbeta ") << i % s[1];
    }
}
