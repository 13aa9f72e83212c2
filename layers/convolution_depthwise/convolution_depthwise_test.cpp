// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;

namespace {
std::string dw(const std::string& body) {
  return "type: 'ConvolutionDepthwise' convolution_param { " + body + " }";
}
const char* kFillers =
    " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 }";

struct Geo {
  int kh, kw, ph, pw, sh, sw, dh, dw;
};
// y[n][c] = b[c] + sum_{i,j} W[c][i][j] x[n][c][oh*sh - ph + i*dh][ow*sw - pw + j*dw]
std::vector<float> reference(LayerHarness& h, const Geo& g, bool bias) {
  auto xs = h.bottom_shape(0), ys = h.top_shape(0);
  const int N = xs[0], C = xs[1], H = xs[2], W = xs[3], OH = ys[2], OW = ys[3];
  std::vector<float> y(static_cast<size_t>(N) * C * OH * OW);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          double s = bias ? h.param_data(1)[c] : 0.0;
          for (int i = 0; i < g.kh; ++i)
            for (int j = 0; j < g.kw; ++j) {
              int ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              s += double(h.param_data(0)[(c * g.kh + i) * g.kw + j]) *
                   h.bottom_data(0)[((n * C + c) * H + ih) * W + iw];
            }
          y[((n * C + c) * OH + oh) * OW + ow] = static_cast<float>(s);
        }
  return y;
}

std::string error_of(const std::string& text, const std::vector<int64_t>& shape) {
  try {
    LayerHarness h(text, {shape});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void set(float* dst, std::initializer_list<float> v) { std::copy(v.begin(), v.end(), dst); }
}  // namespace

TEST(ConvolutionDepthwise, EachChannelByHand) {
  LayerHarness h(dw("num_output: 2 group: 2 kernel_size: 2"), {{1, 2, 3, 3}});
  ASSERT_EQ(h.top_shape(0), (std::vector<int64_t>{1, 2, 2, 2}));
  ASSERT_EQ(h.param_shape(0), (std::vector<int64_t>{2, 1, 2, 2}));
  set(h.bottom_data(0), {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  set(h.param_data(0), {1, 2, 3, 4, 1, 1, 1, -1});
  set(h.param_data(1), {0.5f, -1});
  h.forward();
  const float want[] = {37.5f, 47.5f, 67.5f, 77.5f, 1, 1, 1, 1};
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], want[i]) << i;
}

TEST(ConvolutionDepthwise, PaddingStrideAndDilationByHand) {
  LayerHarness ps(dw("kernel_size: 2 pad: 1 stride: 2 bias_term: false"), {{1, 1, 3, 3}});
  ASSERT_EQ(ps.top_shape(0), (std::vector<int64_t>{1, 1, 2, 2}));
  set(ps.bottom_data(0), {1, 2, 3, 4, 5, 6, 7, 8, 9});
  set(ps.param_data(0), {1, 2, 3, 4});
  ps.forward();
  const float want[] = {4, 18, 36, 77};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(ps.top_data(0)[i], want[i]) << i;
  LayerHarness d(dw("kernel_size: 2 dilation: 2 bias_term: false"), {{1, 1, 3, 3}});
  set(d.bottom_data(0), {1, 2, 3, 4, 5, 6, 7, 8, 9});
  set(d.param_data(0), {1, 2, 3, 4});
  d.forward();
  EXPECT_FLOAT_EQ(d.top_data(0)[0], 1 + 2 * 3 + 3 * 7 + 4 * 9);
}

TEST(ConvolutionDepthwise, MatchesDirectLoops) {
  const struct {
    const char* body;
    std::vector<int64_t> shape;
    Geo g;
  } cases[] = {
      {"kernel_size: 3 pad: 1", {2, 5, 7, 9}, {3, 3, 1, 1, 1, 1, 1, 1}},
      {"kernel_size: 3 pad: 1 stride: 2", {3, 4, 8, 7}, {3, 3, 1, 1, 2, 2, 1, 1}},
      {"kernel_h: 3 kernel_w: 5 pad_h: 2 pad_w: 1 stride_h: 1 stride_w: 3 dilation: 2 dilation: 1",
       {1, 3, 9, 11},
       {3, 5, 2, 1, 1, 3, 2, 1}},
      {"kernel_size: 5 pad: 2", {2, 2, 4, 4}, {5, 5, 2, 2, 1, 1, 1, 1}},
  };
  for (const auto& tc : cases) {
    LayerHarness h(dw(std::string(tc.body) + kFillers), {tc.shape});
    h.fill_gaussian(0, 1.0);
    h.forward();
    std::vector<float> want = reference(h, tc.g, true);
    ASSERT_EQ(static_cast<int64_t>(want.size()), h.count(h.top_shape(0))) << tc.body;
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(h.top_data(0)[i], want[i], 1e-4 * (1 + std::fabs(want[i])))
          << tc.body << " at " << i;
  }
}

TEST(ConvolutionDepthwise, GradientsMatchFiniteDifferences) {
  const struct {
    const char* body;
    std::vector<int64_t> shape;
  } cases[] = {
      {"kernel_size: 3 pad: 1", {2, 3, 5, 7}},              // odd sizes
      {"kernel_size: 3", {1, 5, 6, 5}},                     // batch 1
      {"kernel_size: 3 pad: 1 stride: 2", {2, 3, 7, 6}},    // strided
      {"kernel_size: 3 pad: 2 dilation: 2", {2, 2, 6, 5}},  // dilation
      {"kernel_h: 2 kernel_w: 3 pad_w: 1 stride_h: 2 stride_w: 1 bias_term: false", {2, 3, 5, 6}},
      {"kernel_size: 1", {2, 3, 3, 4}},  // 1x1
  };
  for (const auto& tc : cases) {
    LayerHarness h(dw(std::string(tc.body) + kFillers), {tc.shape});
    h.fill_gaussian(0, 1.0);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << tc.body << "\n" << log;
  }
}

TEST(ConvolutionDepthwise, RefusesMismatchedGroupAndNumOutput) {
  std::string m = error_of(dw("num_output: 4 kernel_size: 3"), {1, 3, 5, 5});
  EXPECT_NE(m.find("num_output 4, input channels 3"), std::string::npos) << m;
  m = error_of(dw("group: 1 kernel_size: 3"), {1, 3, 5, 5});
  EXPECT_NE(m.find("group 1, input channels 3"), std::string::npos) << m;
  EXPECT_EQ(error_of(dw("num_output: 3 group: 3 kernel_size: 3"), {1, 3, 5, 5}), "");
}

TEST(ConvolutionDepthwise, RefusesKernelLargerThanPaddedInputNamingSizes) {
  std::string m = error_of("name: 'dw_big' " + dw("kernel_size: 7 pad: 1"), {1, 2, 4, 9});
  EXPECT_NE(m.find("dw_big"), std::string::npos) << m;
  EXPECT_NE(m.find("kernel height 7"), std::string::npos) << m;
  EXPECT_NE(m.find("input height 4 + 2*1 = 6"), std::string::npos) << m;
  m = error_of(dw("kernel_size: 3"), {1, 2, 5, 5, 5});
  EXPECT_NE(m.find("4-D"), std::string::npos) << m;
  m = error_of(dw("pad: 1"), {1, 2, 5, 5});
  EXPECT_NE(m.find("kernel_size"), std::string::npos) << m;
  m = error_of(dw("kernel_size: 3 stride: 0"), {1, 2, 5, 5});
  EXPECT_NE(m.find("stride dimensions must be nonzero"), std::string::npos) << m;
}

// ---- GPU (skipped without a CUDA device) ----
namespace {
const struct {
  const char* body;
  std::vector<int64_t> shape;
} kGpuCases[] = {
    {"kernel_size: 3 pad: 1", {2, 3, 5, 7}},                    // 3x3 pad 1
    {"kernel_size: 3 pad: 1 stride: 2", {2, 4, 7, 6}},          // stride 2
    {"kernel_size: 3 pad: 2 dilation: 2", {2, 2, 6, 5}},        // dilation 2
    {"kernel_size: 1", {2, 3, 3, 4}},                           // 1x1
    {"kernel_size: 3 bias_term: false", {1, 5, 6, 5}},          // no bias, batch 1
    {"kernel_h: 2 kernel_w: 3 pad_w: 1 stride_h: 2 stride_w: 1 bias_term: false", {2, 3, 5, 6}},
    {"kernel_h: 3 kernel_w: 5 pad_h: 2 pad_w: 1 stride_h: 1 stride_w: 3 dilation: 2 dilation: 1",
     {1, 3, 9, 11}},                                            // rectangular everything
    {"kernel_size: 5 pad: 2 stride: 3", {2, 2, 8, 7}},          // stride larger than 2
};
}  // namespace

TEST(ConvolutionDepthwise, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const auto& tc : kGpuCases)
    for (const char* engine : {"DEFAULT", "CAFFE", "CUDNN"}) {  // one GPU path for all engines
      const double d = crema::testing::max_device_disagreement(
          dw(std::string(tc.body) + " engine: " + engine + kFillers), {tc.shape}, {});
      EXPECT_LT(d, 1e-4) << tc.body << " engine: " << engine;
    }
  // A MobileNet-sized layer: long weight-gradient reductions.
  EXPECT_LT(crema::testing::max_device_disagreement(
                dw(std::string("kernel_size: 3 pad: 1") + kFillers), {{8, 32, 28, 28}}, {}),
            1e-4);
}

TEST(ConvolutionDepthwise, GpuGradientsMatchFiniteDifferences) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  for (const auto& tc : kGpuCases) {
    LayerHarness h(dw(std::string(tc.body) + kFillers), {tc.shape}, o);
    ASSERT_TRUE(h.has_cuda_path());
    h.fill_gaussian(0, 1.0);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << tc.body << "\n" << log;
  }
}

TEST(ConvolutionDepthwise, GpuBackwardAccumulatesParamsAndSkipsBottomWhenAsked) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  LayerHarness h(dw(std::string("kernel_size: 3 pad: 1") + kFillers), {{2, 3, 4, 4}}, o);
  h.fill_gaussian(0, 1.0);
  h.forward();
  for (int64_t i = 0; i < h.count(h.top_shape(0)); ++i) h.top_diff(0)[i] = 1.f;
  h.zero_param_diffs();
  h.backward();
  std::vector<float> once(h.param_diff(0), h.param_diff(0) + h.count(h.param_shape(0)));
  EXPECT_FLOAT_EQ(h.param_diff(1)[0], 2 * 4 * 4);  // sum of dE/dy over N, H, W
  for (int64_t i = 0; i < h.count(h.bottom_shape(0)); ++i) h.bottom_diff(0)[i] = 42.f;
  h.backward({false});
  for (size_t i = 0; i < once.size(); ++i)
    EXPECT_NEAR(h.param_diff(0)[i], 2 * once[i], 1e-4 * (1 + std::fabs(once[i]))) << i;
  EXPECT_FLOAT_EQ(h.param_diff(1)[0], 4 * 4 * 4);
  for (int64_t i = 0; i < h.count(h.bottom_shape(0)); ++i)
    ASSERT_EQ(h.bottom_diff(0)[i], 42.f) << i;  // untouched without propagate_down
}
