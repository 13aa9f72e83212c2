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
// Naive double-precision LRN forward (both regions) for comparison on larger inputs.
std::vector<double> reference(const std::vector<float>& x, const Shape& s, int size, double alpha,
                              double beta, double k, bool across) {
  const int64_t N = s[0], C = s[1], H = s[2], W = s[3];
  const int pad = (size - 1) / 2;
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          auto at = [&](int64_t cc, int64_t hh, int64_t ww) {
            return double(x[((n * C + cc) * H + hh) * W + ww]);
          };
          double sum = 0, scale;
          if (across) {
            for (int64_t q = c - pad; q <= c + pad; ++q)
              if (q >= 0 && q < C) sum += at(q, h, w) * at(q, h, w);
            scale = k + alpha / size * sum;
          } else {
            for (int64_t hh = h - pad; hh <= h + pad; ++hh)
              for (int64_t ww = w - pad; ww <= w + pad; ++ww)
                if (hh >= 0 && hh < H && ww >= 0 && ww < W) sum += at(c, hh, ww) * at(c, hh, ww);
            scale = 1 + alpha / (size * size) * sum;
          }
          y[((n * C + c) * H + h) * W + w] = at(c, h, w) * std::pow(scale, -beta);
        }
  return y;
}
}  // namespace

TEST(LRN, AcrossChannelsByHand) {
  for (double beta : {0.75, 0.5}) {
    LayerHarness h(
        "type: 'LRN' lrn_param { local_size: 3 alpha: 3 beta: " + std::to_string(beta) + " k: 1 }",
        {{1, 3, 1, 1}});
    for (int i = 0; i < 3; ++i) h.bottom_data(0)[i] = 1.f + i;
    h.forward();
    const double s[3] = {1 + 1 + 4, 1 + 1 + 4 + 9, 1 + 4 + 9};
    for (int i = 0; i < 3; ++i)
      EXPECT_NEAR(h.top_data(0)[i], (1 + i) * std::pow(s[i], -beta), 1e-6) << i;
  }
}

TEST(LRN, WithinChannelByHand) {
  LayerHarness h(
      "type: 'LRN' lrn_param { local_size: 3 alpha: 9 beta: 0.5 k: 100 norm_region: WITHIN_CHANNEL "
      "}",
      {{1, 1, 1, 4}});
  for (int i = 0; i < 4; ++i) h.bottom_data(0)[i] = 1.f + i;
  h.forward();
  // alpha / n^2 = 1; windows of 3 along w, clipped; k is not used (Caffe's shift is 1).
  const double s[4] = {1 + 1 + 4, 1 + 1 + 4 + 9, 1 + 4 + 9 + 16, 1 + 9 + 16};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(h.top_data(0)[i], (1 + i) / std::sqrt(s[i]), 1e-6) << i;
}

TEST(LRN, MatchesReferenceOnLargerInputs) {
  const Shape s = {2, 6, 17, 19};  // more than one spatial chunk
  for (bool across : {true, false})
    for (const char* beta : {"0.75", "0.6"}) {
      LayerHarness h(std::string("type: 'LRN' lrn_param { local_size: 5 alpha: 0.3 k: 1.5 beta: ") +
                         beta + (across ? "" : " norm_region: WITHIN_CHANNEL") + " }",
                     {s});
      h.fill_gaussian(0, 2.0);
      std::vector<float> x(h.bottom_data(0), h.bottom_data(0) + h.count(s));
      h.forward();
      std::vector<double> y = reference(x, s, 5, 0.3, std::stod(beta), 1.5, across);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(h.top_data(0)[i], y[i], 1e-5 * (1 + std::fabs(y[i]))) << i;
    }
}

TEST(LRN, GradientAcrossChannels) {
  for (const Shape& s :
       std::vector<Shape>{{2, 7, 3, 3}, {1, 2, 4, 5}, {3, 1, 2, 3}, {1, 9, 17, 17}})
    for (const char* p :
         {"local_size: 3 alpha: 0.5 beta: 0.75 k: 2", "local_size: 5 alpha: 1 beta: 0.6"}) {
      LayerHarness h(std::string("type: 'LRN' lrn_param { ") + p + " }", {s});
      h.fill_gaussian(0, 1.0, 0.0, 12);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-2).check(h, &log), 0) << p << "\n" << log;
    }
}

TEST(LRN, GradientWithinChannel) {
  for (const Shape& s : std::vector<Shape>{{2, 3, 5, 4}, {1, 2, 1, 7}, {1, 1, 6, 6}})
    for (const char* p : {"local_size: 3 alpha: 0.5", "local_size: 5 alpha: 2 beta: 0.6"}) {
      LayerHarness h(std::string("type: 'LRN' lrn_param { norm_region: WITHIN_CHANNEL ") + p + " }",
                     {s});
      h.fill_gaussian(0, 1.0, 0.0, 13);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-2).check(h, &log), 0) << p << "\n" << log;
    }
}

TEST(LRN, RejectsBadParameters) {
  try {
    LayerHarness h("type: 'LRN' lrn_param { local_size: 4 }", {{1, 3, 2, 2}});
    FAIL() << "accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("local_size"), std::string::npos) << e.what();
  }
  try {
    LayerHarness h("type: 'LRN'", {{3, 4}});
    FAIL() << "accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("(3,4)"), std::string::npos) << e.what();
  }
}

namespace {
HarnessOptions on_gpu() {
  HarnessOptions o;
  o.gpu = true;
  return o;
}
// ACROSS_CHANNELS: cuDNN under engine DEFAULT (in its parameter range), native under CAFFE;
// WITHIN_CHANNEL: native either way.
const char* const kEngines[] = {"DEFAULT", "CAFFE"};
}  // namespace

TEST(LRN, GpuMatchesReference) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const Shape s = {2, 6, 17, 19};
  for (const char* engine : kEngines)
    for (bool across : {true, false})
      for (const char* beta : {"0.75", "0.6"}) {
        const std::string text =
            std::string("type: 'LRN' lrn_param { local_size: 5 alpha: 0.3 k: 1.5 beta: ") + beta +
            (across ? "" : " norm_region: WITHIN_CHANNEL") + " engine: " + engine + " }";
        LayerHarness h(text, {s}, on_gpu());
        ASSERT_TRUE(h.has_cuda_path());
        h.fill_gaussian(0, 2.0);
        std::vector<float> x(h.bottom_data(0), h.bottom_data(0) + h.count(s));
        h.forward();
        std::vector<double> y = reference(x, s, 5, 0.3, std::stod(beta), 1.5, across);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(h.top_data(0)[i], y[i], 1e-5 * (1 + std::fabs(y[i])))
              << engine << " across " << across << " beta " << beta << " at " << i;
      }
}

TEST(LRN, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* engine : kEngines) {
    for (const Shape& s : std::vector<Shape>{{2, 7, 3, 3}, {1, 2, 4, 5}, {3, 1, 2, 3}})
      for (const char* p :
           {"local_size: 3 alpha: 0.5 beta: 0.75 k: 2", "local_size: 5 alpha: 1 beta: 0.6"}) {
        LayerHarness h(std::string("type: 'LRN' lrn_param { ") + p + " engine: " + engine + " }",
                       {s}, on_gpu());
        h.fill_gaussian(0, 1.0, 0.0, 12);
        std::string log;
        EXPECT_EQ(GradientChecker(1e-2, 1e-2).check(h, &log), 0) << engine << p << "\n" << log;
      }
    for (const Shape& s : std::vector<Shape>{{2, 3, 5, 4}, {1, 2, 1, 7}})
      for (const char* p : {"local_size: 3 alpha: 0.5", "local_size: 5 alpha: 2 beta: 0.6"}) {
        LayerHarness h(std::string("type: 'LRN' lrn_param { norm_region: WITHIN_CHANNEL ") + p +
                           " engine: " + engine + " }",
                       {s}, on_gpu());
        h.fill_gaussian(0, 1.0, 0.0, 13);
        std::string log;
        EXPECT_EQ(GradientChecker(1e-2, 1e-2).check(h, &log), 0) << engine << p << "\n" << log;
      }
  }
}

TEST(LRN, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const char* params[] = {
      "",                                             // AlexNet's defaults: 5, 1, 0.75, 1
      "local_size: 3 alpha: 0.5 beta: 0.6 k: 2",      // powf
      "local_size: 17 alpha: 0.1",                    // beyond cuDNN's window: native
      "local_size: 5 alpha: 0.0001 beta: 0.75 k: 1",  // CaffeNet
  };
  for (const char* engine : {"DEFAULT", "CAFFE", "CUDNN"})
    for (const char* region : {"ACROSS_CHANNELS", "WITHIN_CHANNEL"})
      for (const char* p : params)
        for (const Shape& s : std::vector<Shape>{{2, 7, 5, 5}, {4, 20, 13, 13}}) {
          const std::string text = std::string("type: 'LRN' lrn_param { norm_region: ") + region +
                                   " " + p + " engine: " + engine + " }";
          EXPECT_LT(crema::testing::max_device_disagreement(text, {s}, {}), 1e-4) << text;
        }
}
