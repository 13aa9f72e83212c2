// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "crema/plugin_abi.h"
#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
HarnessOptions opts(bool train, bool in_place = false, uint64_t seed = 1) {
  HarnessOptions o;
  o.train = train;
  o.in_place = in_place;
  o.seed = seed;
  return o;
}
std::vector<float> top(LayerHarness& h) {
  return std::vector<float>(h.top_data(0), h.top_data(0) + h.count(h.top_shape(0)));
}
}  // namespace

TEST(Dropout, TrainStatisticsAndScaling) {
  for (float p : {0.5f, 0.2f, 0.8f}) {
    LayerHarness h("type: 'Dropout' dropout_param { dropout_ratio: " + std::to_string(p) + " }",
                   {{8, 16, 33, 29}}, opts(true));
    h.fill_uniform(0, 1.0, 2.0);
    std::vector<float> x(h.bottom_data(0), h.bottom_data(0) + h.count(h.bottom_shape(0)));
    h.forward();
    int64_t dropped = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      float y = h.top_data(0)[i];
      if (y == 0.f) {
        ++dropped;
      } else {
        ASSERT_FLOAT_EQ(y, x[i] / (1.f - p)) << i;
      }
    }
    double frac = double(dropped) / x.size();
    EXPECT_NEAR(frac, p, 0.01) << "ratio " << p;
    // Backward applies the same mask and scale.
    for (size_t i = 0; i < x.size(); ++i) h.top_diff(0)[i] = 1.f;
    h.backward();
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_FLOAT_EQ(h.bottom_diff(0)[i], h.top_data(0)[i] == 0.f ? 0.f : 1.f / (1.f - p)) << i;
  }
}

TEST(Dropout, NeighbouringElementsAreIndependent) {
  LayerHarness h("type: 'Dropout'", {{1 << 16}}, opts(true));
  h.fill_uniform(0, 1.0, 2.0);
  h.forward();
  // P(both kept) for adjacent pairs should be 1/4.
  int64_t both = 0, n = h.count(h.top_shape(0)) - 1;
  for (int64_t i = 0; i < n; ++i) both += h.top_data(0)[i] != 0.f && h.top_data(0)[i + 1] != 0.f;
  EXPECT_NEAR(double(both) / n, 0.25, 0.01);
}

TEST(Dropout, TestPhaseIsIdentity) {
  LayerHarness h("type: 'Dropout' dropout_param { dropout_ratio: 0.7 }", {{2, 3, 4, 5}},
                 opts(false));
  h.fill_gaussian(0, 1.0);
  h.forward();
  for (int64_t i = 0; i < 120; ++i) ASSERT_EQ(h.top_data(0)[i], h.bottom_data(0)[i]);
  for (int64_t i = 0; i < 120; ++i) h.top_diff(0)[i] = 0.5f * i;
  h.backward();
  for (int64_t i = 0; i < 120; ++i) ASSERT_EQ(h.bottom_diff(0)[i], 0.5f * i);
  LayerHarness ip("type: 'Dropout'", {{2, 3, 4, 5}}, opts(false, true));
  ip.fill_gaussian(0, 1.0);
  std::vector<float> x(ip.bottom_data(0), ip.bottom_data(0) + 120);
  ip.forward();
  EXPECT_EQ(top(ip), x);
}

TEST(Dropout, SameSeedAndCounterSameMask) {
  const std::string t = "type: 'Dropout' dropout_param { dropout_ratio: 0.4 }";
  LayerHarness a(t, {{4, 5, 6, 7}}, opts(true, false, 42)),
      b(t, {{4, 5, 6, 7}}, opts(true, true, 42)), c(t, {{4, 5, 6, 7}}, opts(true, false, 43));
  for (LayerHarness* h : {&a, &b, &c}) h->fill_uniform(0, 1.0, 2.0);
  a.set_rng_counter(7);
  b.set_rng_counter(7);
  c.set_rng_counter(7);
  a.forward();
  b.forward();
  c.forward();
  const std::vector<float> first = top(a);
  EXPECT_EQ(first, top(b));  // same seed and counter, in place or not: same mask
  EXPECT_NE(first, top(c));  // another seed
  a.forward();               // the next counter: a fresh mask
  EXPECT_NE(first, top(a));
  a.set_rng_counter(7);  // the same counter again: the same mask
  a.forward();
  EXPECT_EQ(first, top(a));
}

// The mask written out from the SDK's random streams (plugin_abi.h), not from dropout_mask.h:
// key = mix(seed + mix(counter + G)), element i kept when the high 32 bits of
// mix(key + (i + 1) G) reach p (2^32 - 1), mix = crema_splitmix64, G = CREMA_SPLITMIX64_GAMMA.
TEST(Dropout, MaskIsTheSplitMix64StreamOfSeedAndCounter) {
  const float p = 0.3f;
  LayerHarness h("type: 'Dropout' dropout_param { dropout_ratio: 0.3 }", {{3, 1000}},
                 opts(true, false, 42));
  h.fill_uniform(0, 1.0, 2.0);
  h.set_rng_counter(9);
  h.forward();
  const uint64_t key = crema_splitmix64(42 + crema_splitmix64(9 + CREMA_SPLITMIX64_GAMMA));
  const auto threshold = static_cast<uint32_t>(4294967295.0 * static_cast<double>(p));
  int64_t kept = 0;
  for (int64_t i = 0; i < 3000; ++i) {
    const uint64_t z =
        crema_splitmix64(key + static_cast<uint64_t>(i + 1) * CREMA_SPLITMIX64_GAMMA);
    const bool keep = static_cast<uint32_t>(z >> 32) >= threshold;
    kept += keep;
    ASSERT_EQ(h.top_data(0)[i], keep ? h.bottom_data(0)[i] * (1.f / (1.f - p)) : 0.f) << i;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 3000);
}

TEST(Dropout, Gradient) {
  for (const char* p : {"0.5", "0.25"})
    for (const std::vector<Shape>& s :
         std::vector<std::vector<Shape>>{{{2, 3, 4, 5}}, {{1, 7, 3}}, {{5}}}) {
      for (bool ip : {false, true}) {
        LayerHarness h(std::string("type: 'Dropout' dropout_param { dropout_ratio: ") + p + " }", s,
                       opts(true, ip));
        h.fill_gaussian(0, 1.0);
        std::string log;
        EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << p << "\n" << log;
      }
    }
  LayerHarness t("type: 'Dropout'", {{3, 4}}, opts(false));
  t.fill_gaussian(0, 1.0);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(t, &log), 0) << log;
}

TEST(Dropout, ScaleTrainFalseScalesAtTest) {
  const std::string t = "type: 'Dropout' dropout_param { dropout_ratio: 0.25 scale_train: false }";
  LayerHarness test(t, {{4}}, opts(false)), train(t, {{1000}}, opts(true));
  for (int i = 0; i < 4; ++i) test.bottom_data(0)[i] = 4.f * i;
  test.forward();
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(test.top_data(0)[i], 3.f * i);
  train.fill_uniform(0, 1.0, 2.0);
  train.forward();
  for (int i = 0; i < 1000; ++i) {
    float y = train.top_data(0)[i];
    ASSERT_TRUE(y == 0.f || y == train.bottom_data(0)[i]) << i;
  }
}

TEST(Dropout, RejectsBadRatio) {
  EXPECT_THROW(LayerHarness("type: 'Dropout' dropout_param { dropout_ratio: 1 }", {{4}}),
               std::exception);
  EXPECT_THROW(LayerHarness("type: 'Dropout' dropout_param { dropout_ratio: -0.1 }", {{4}}),
               std::exception);
}

namespace {
HarnessOptions on_gpu(bool train, bool in_place = false, uint64_t seed = 1) {
  HarnessOptions o = opts(train, in_place, seed);
  o.gpu = true;
  return o;
}
}  // namespace

TEST(Dropout, GpuMaskIsTheCpuMask) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // More elements than one grid covers at once; a counter far from 0.
  const std::string t = "type: 'Dropout' dropout_param { dropout_ratio: 0.3 }";
  for (bool ip : {false, true}) {
    LayerHarness cpu(t, {{64, 64, 64, 70}}, opts(true, ip, 42)),
        gpu(t, {{64, 64, 64, 70}}, on_gpu(true, ip, 42));
    ASSERT_TRUE(gpu.has_cuda_path());
    cpu.fill_uniform(0, 1.0, 2.0);
    gpu.fill_uniform(0, 1.0, 2.0);
    cpu.set_rng_counter(123456789);
    gpu.set_rng_counter(123456789);
    cpu.forward();
    gpu.forward();
    EXPECT_EQ(top(cpu), top(gpu)) << "in_place " << ip;
  }
}

TEST(Dropout, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* p : {"0.5", "0.25"})
    for (bool ip : {false, true}) {
      LayerHarness h(std::string("type: 'Dropout' dropout_param { dropout_ratio: ") + p + " }",
                     {{2, 3, 4, 5}}, on_gpu(true, ip));
      ASSERT_TRUE(h.has_cuda_path());
      h.fill_gaussian(0, 1.0);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << p << " in_place " << ip << "\n"
                                                               << log;
    }
  LayerHarness t("type: 'Dropout'", {{3, 4}}, on_gpu(false));
  t.fill_gaussian(0, 1.0);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(t, &log), 0) << log;
}

TEST(Dropout, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // The same mask bit for bit and the same products: the two devices agree exactly.
  for (const std::string p : {"", "dropout_param { dropout_ratio: 0.2 }",
                              "dropout_param { dropout_ratio: 0.25 scale_train: false }"})
    for (bool train : {true, false})
      for (bool ip : {false, true})
        EXPECT_EQ(crema::testing::max_device_disagreement("type: 'Dropout' " + p, {{2, 3, 4, 5}},
                                                          opts(train, ip, 5)),
                  0.0)
            << p << " train " << train << " in_place " << ip;
}
