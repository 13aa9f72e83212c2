// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;

namespace {
std::string conv(const std::string& body) {
  return "type: 'Convolution' convolution_param { " + body + " }";
}
const char* kFillers =
    " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 }";

// Direct-loop reference: y = b + sum W x over the (dilated, strided, padded) window of the group.
struct Ref {
  int kh, kw, ph, pw, sh, sw, dh, dw, group;
};
// The bf16 value of v by the definition: the nearest number with 8 significant bits, ties to even.
double bf16(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  int e;
  const double m = std::frexp(v, &e);
  return std::ldexp(std::nearbyint(std::ldexp(m, 8)), e - 8);
}

// With `round_bf16`, x and W are rounded to bf16 first (what the bf16 path multiplies), and
// `magnitude` gets each output's sum of |terms| (the scale of its fp32 rounding error).
std::vector<float> reference(LayerHarness& h, const Ref& r, bool bias, bool round_bf16 = false,
                             std::vector<double>* magnitude = nullptr) {
  auto xs = h.bottom_shape(0), ys = h.top_shape(0);
  // The test shapes are small: every dimension fits an int.
  const int N = static_cast<int>(xs[0]), C = static_cast<int>(xs[1]), H = static_cast<int>(xs[2]),
            W = static_cast<int>(xs[3]), M = static_cast<int>(ys[1]), OH = static_cast<int>(ys[2]),
            OW = static_cast<int>(ys[3]);
  const int cg = C / r.group, mg = M / r.group;
  const float* x = h.bottom_data(0);
  const float* w = h.param_data(0);
  std::vector<float> y(static_cast<size_t>(N) * M * OH * OW);
  if (magnitude) magnitude->assign(y.size(), 0.0);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < M; ++o)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          double s = bias ? h.param_data(1)[o] : 0.0, mag = std::fabs(s);
          for (int c = 0; c < cg; ++c)
            for (int i = 0; i < r.kh; ++i)
              for (int j = 0; j < r.kw; ++j) {
                int ih = oh * r.sh - r.ph + i * r.dh, iw = ow * r.sw - r.pw + j * r.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                int cin = (o / mg) * cg + c;
                double wv = w[((o * cg + c) * r.kh + i) * r.kw + j];
                double xv = x[((n * C + cin) * H + ih) * W + iw];
                if (round_bf16) wv = bf16(wv), xv = bf16(xv);
                s += wv * xv;
                mag += std::fabs(wv * xv);
              }
          const size_t at = ((static_cast<size_t>(n) * M + o) * OH + oh) * OW + ow;
          y[at] = static_cast<float>(s);
          if (magnitude) (*magnitude)[at] = mag;
        }
  return y;
}

void expect_matches_reference(const std::string& body, const std::vector<int64_t>& shape,
                              const Ref& r, bool bias = true) {
  LayerHarness h(conv(body + kFillers), {shape});
  h.fill_gaussian(0, 1.0);
  h.forward();
  std::vector<float> want = reference(h, r, bias);
  ASSERT_EQ(static_cast<int64_t>(want.size()), h.count(h.top_shape(0)));
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(h.top_data(0)[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << body << " at " << i;
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

// Runs fn with each GEMM formulation (conv_gemm.hpp) that a shape may take: stride-1 kernels with
// more than one row go through the row-shift method, or through the full im2col; 3x3 stride-1
// ones through Winograd F(2x2, 3x3) or F(4x4, 3x3) (forward and dE/dx, and dE/dW by Winograd or
// by the GEMM method), or not; few-channel ones forward by direct convolution, or not.
template <class Fn>
void for_each_method(const Fn& fn) {
  // The 1x1 layers alternate between the per-image pointwise GEMMs and im2col (a transpose).
  const struct {
    const char *min_plane, *winograd, *winograd_dw, *winograd_tile, *pointwise, *direct;
  } plans[] = {{"1", "0", "0", "2", "1", "0"},  {"1000000000", "0", "0", "2", "0", "1"},
               {"1", "1", "0", "2", "1", "-1"}, {"1000000000", "1", "1", "2", "0", "0"},
               {"1", "1", "1", "4", "1", "1"},  {"1000000000", "1", "0", "4", "0", "-1"}};
  for (const auto& p : plans) {
    setenv("CREMA_CONV_ROWSHIFT_MIN", p.min_plane, 1);
    setenv("CREMA_CONV_WINOGRAD", p.winograd, 1);
    setenv("CREMA_CONV_WINOGRAD_DW", p.winograd_dw, 1);
    setenv("CREMA_CONV_WINOGRAD_TILE", p.winograd_tile, 1);
    setenv("CREMA_CONV_POINTWISE", p.pointwise, 1);
    setenv("CREMA_CONV_DIRECT", p.direct, 1);
    SCOPED_TRACE(std::string("CREMA_CONV_ROWSHIFT_MIN=") + p.min_plane +
                 " CREMA_CONV_WINOGRAD=" + p.winograd + " CREMA_CONV_WINOGRAD_DW=" + p.winograd_dw +
                 " CREMA_CONV_WINOGRAD_TILE=" + p.winograd_tile +
                 " CREMA_CONV_POINTWISE=" + p.pointwise + " CREMA_CONV_DIRECT=" + p.direct);
    fn();
  }
  unsetenv("CREMA_CONV_DIRECT");
  unsetenv("CREMA_CONV_POINTWISE");
  unsetenv("CREMA_CONV_ROWSHIFT_MIN");
  unsetenv("CREMA_CONV_WINOGRAD");
  unsetenv("CREMA_CONV_WINOGRAD_DW");
  unsetenv("CREMA_CONV_WINOGRAD_TILE");
}
}  // namespace

TEST(Convolution, TwoByTwoKernelByHand) {
  LayerHarness h(conv("num_output: 1 kernel_size: 2 bias_filler { type: 'constant' value: 0.5 }"),
                 {{1, 1, 3, 3}});
  ASSERT_EQ(h.top_shape(0), (std::vector<int64_t>{1, 1, 2, 2}));
  set(h.bottom_data(0), {1, 2, 3, 4, 5, 6, 7, 8, 9});
  set(h.param_data(0), {1, 2, 3, 4});
  h.forward();
  const float want[] = {37.5f, 47.5f, 67.5f, 77.5f};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], want[i]) << i;
}

TEST(Convolution, PaddingStrideAndDilationByHand) {
  // pad 1, stride 2: OH = floor((3 + 2 - 2) / 2) + 1 = 2.
  LayerHarness ps(conv("num_output: 1 kernel_size: 2 pad: 1 stride: 2 bias_term: false"),
                  {{1, 1, 3, 3}});
  ASSERT_EQ(ps.top_shape(0), (std::vector<int64_t>{1, 1, 2, 2}));
  set(ps.bottom_data(0), {1, 2, 3, 4, 5, 6, 7, 8, 9});
  set(ps.param_data(0), {1, 2, 3, 4});
  ps.forward();
  const float want[] = {4, 18, 36, 77};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(ps.top_data(0)[i], want[i]) << i;
  // dilation 2: the 2x2 kernel spans 3x3 and reads the corners.
  LayerHarness d(conv("num_output: 1 kernel_size: 2 dilation: 2 bias_term: false"), {{1, 1, 3, 3}});
  ASSERT_EQ(d.top_shape(0), (std::vector<int64_t>{1, 1, 1, 1}));
  set(d.bottom_data(0), {1, 2, 3, 4, 5, 6, 7, 8, 9});
  set(d.param_data(0), {1, 2, 3, 4});
  d.forward();
  EXPECT_FLOAT_EQ(d.top_data(0)[0], 1 + 2 * 3 + 3 * 7 + 4 * 9);
}

TEST(Convolution, GroupsByHand) {
  LayerHarness h(
      conv("num_output: 2 kernel_size: 1 group: 2 bias_filler { type: 'constant' value: 1 }"),
      {{1, 2, 2, 2}});
  ASSERT_EQ(h.param_shape(0), (std::vector<int64_t>{2, 1, 1, 1}));
  set(h.bottom_data(0), {1, 2, 3, 4, 1, 1, 1, 1});
  set(h.param_data(0), {2, -3});
  h.forward();
  const float want[] = {3, 5, 7, 9, -2, -2, -2, -2};
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], want[i]) << i;
}

TEST(Convolution, MatchesDirectLoops) {
  for_each_method([] {
    expect_matches_reference("num_output: 5 kernel_size: 3 pad: 1", {2, 3, 7, 9},
                             {3, 3, 1, 1, 1, 1, 1, 1, 1});
    expect_matches_reference(
        "num_output: 6 kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 0 stride_h: 2 stride_w: 1 "
        "dilation: 2 dilation: 1 group: 3",
        {3, 6, 8, 5}, {3, 2, 2, 0, 2, 1, 2, 1, 3});
    expect_matches_reference("num_output: 4 kernel_size: 1 stride: 2", {2, 5, 7, 6},
                             {1, 1, 0, 0, 2, 2, 1, 1, 1});
    expect_matches_reference("num_output: 7 kernel_size: 1 bias_term: false", {3, 9, 4, 5},
                             {1, 1, 0, 0, 1, 1, 1, 1, 1}, false);
    // Depthwise and ResNeXt-style groups.
    expect_matches_reference("num_output: 4 kernel_size: 3 pad: 1 stride: 2 group: 4", {2, 4, 6, 7},
                             {3, 3, 1, 1, 2, 2, 1, 1, 4});
    expect_matches_reference("num_output: 8 kernel_size: 3 pad: 2 dilation: 2 group: 2",
                             {2, 6, 5, 5}, {3, 3, 2, 2, 1, 1, 2, 2, 2});
    expect_matches_reference(
        "num_output: 3 kernel_h: 4 kernel_w: 1 pad_h: 1 dilation: 2 dilation: 3", {2, 2, 9, 4},
        {4, 1, 1, 0, 1, 1, 2, 3, 1});
    // 1x1: strided with groups (a subsampled pointwise GEMM), and padded (through im2col).
    expect_matches_reference("num_output: 4 kernel_size: 1 stride: 2 stride: 3 group: 2",
                             {2, 4, 5, 7}, {1, 1, 0, 0, 2, 3, 1, 1, 2});
    expect_matches_reference("num_output: 3 kernel_size: 1 pad: 1", {2, 2, 3, 3},
                             {1, 1, 1, 1, 1, 1, 1, 1, 1});
    // Depthwise (group == channels == num_output) with dilation, and with a channel multiplier.
    expect_matches_reference("num_output: 5 kernel_h: 3 kernel_w: 2 pad: 2 dilation: 2 group: 5",
                             {2, 5, 6, 7}, {3, 2, 2, 2, 1, 1, 2, 2, 5});
    expect_matches_reference("num_output: 6 kernel_size: 3 pad: 1 group: 3", {2, 3, 5, 5},
                             {3, 3, 1, 1, 1, 1, 1, 1, 3});
    // A ResNet-sized layer, with the default method choice under the default setting.
    expect_matches_reference("num_output: 16 kernel_size: 3 pad: 1", {3, 16, 16, 16},
                             {3, 3, 1, 1, 1, 1, 1, 1, 1});
    // 3x3 stride 1 (Winograd's shapes): odd output sizes (partial tiles), batch 1, channel
    // counts off multiples of 8, pads 0, 1, 2 and unequal pads, more inputs than outputs.
    expect_matches_reference("num_output: 11 kernel_size: 3", {1, 13, 7, 9},
                             {3, 3, 0, 0, 1, 1, 1, 1, 1});
    expect_matches_reference("num_output: 9 kernel_size: 3 pad: 2", {2, 5, 5, 6},
                             {3, 3, 2, 2, 1, 1, 1, 1, 1});
    expect_matches_reference("num_output: 3 kernel_size: 3 pad_h: 0 pad_w: 1", {2, 10, 8, 7},
                             {3, 3, 0, 1, 1, 1, 1, 1, 1});
    expect_matches_reference("num_output: 24 kernel_size: 3 pad: 1", {1, 20, 3, 3},
                             {3, 3, 1, 1, 1, 1, 1, 1, 1});
    // Few input channels, outputs a multiple of 16 (the direct forward): a stem-like 7x7 stride 2
    // with 64 + 16 outputs and a pixel remainder, 5x5 stride 2, unequal kernels and strides,
    // and a stride-3 kernel whose windows never reach the last input row and column.
    expect_matches_reference("num_output: 80 kernel_size: 7 stride: 2 pad: 3", {2, 3, 15, 17},
                             {7, 7, 3, 3, 2, 2, 1, 1, 1});
    expect_matches_reference("num_output: 32 kernel_size: 5 stride: 2 pad: 2", {1, 1, 11, 13},
                             {5, 5, 2, 2, 2, 2, 1, 1, 1});
    expect_matches_reference(
        "num_output: 16 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 1 stride_w: 2",
        {2, 4, 6, 9}, {3, 2, 1, 0, 1, 2, 1, 1, 1});
    expect_matches_reference("num_output: 16 kernel_size: 3 stride: 3 bias_term: false",
                             {1, 2, 13, 14}, {3, 3, 0, 0, 3, 3, 1, 1, 1}, false);
  });
}

TEST(Convolution, SmallWorkspaceChunksGiveTheSameResult) {
  // The chunk budget in KB: 1 gives one image per chunk, 4 and 7 split the batch of 5 into
  // chunks with a remainder (or take it whole), depending on the method's buffer sizes.
  for_each_method([] {
    for (const char* kb : {"1", "4", "7"}) {
      setenv("CREMA_CONV_CHUNK_KB", kb, 1);
      expect_matches_reference("num_output: 3 kernel_size: 3 pad: 1 stride: 1", {5, 2, 6, 6},
                               {3, 3, 1, 1, 1, 1, 1, 1, 1});
      expect_matches_reference("num_output: 3 kernel_size: 1", {5, 4, 6, 6},
                               {1, 1, 0, 0, 1, 1, 1, 1, 1});
      LayerHarness h(
          conv(std::string("num_output: 4 kernel_size: 3 stride: 2 pad: 1 group: 2") + kFillers),
          {{5, 4, 5, 5}});
      h.fill_gaussian(0, 1.0);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << kb << "\n" << log;
      LayerHarness r(
          conv(std::string("num_output: 4 kernel_size: 3 pad: 1 dilation: 2") + kFillers),
          {{5, 3, 5, 4}});
      r.fill_gaussian(0, 1.0);
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(r, &log), 0) << kb << "\n" << log;
      unsetenv("CREMA_CONV_CHUNK_KB");
    }
  });
}

TEST(Convolution, WinogradChunksGiveTheSameResult) {
  // Winograd's own chunk budget in KB: one image per chunk, chunks of 2 with a remainder of 1
  // (about 4.3 KB per image here), and the whole batch.
  // F(4x4, 3x3) takes about 3.5 KB per image here.
  setenv("CREMA_CONV_WINOGRAD", "1", 1);
  for (const char* tile : {"2", "4"})
    for (const char* kb : {"0", "9", "65536"})
      for (const char* dw : {"0", "1"}) {
        setenv("CREMA_CONV_WINOGRAD_TILE", tile, 1);
        setenv("CREMA_CONV_WINOGRAD_CHUNK_KB", kb, 1);
        setenv("CREMA_CONV_WINOGRAD_DW", dw, 1);
        SCOPED_TRACE(std::string("CREMA_CONV_WINOGRAD_TILE=") + tile +
                     " CREMA_CONV_WINOGRAD_CHUNK_KB=" + kb + " CREMA_CONV_WINOGRAD_DW=" + dw);
        expect_matches_reference("num_output: 3 kernel_size: 3 pad: 1", {5, 2, 6, 6},
                                 {3, 3, 1, 1, 1, 1, 1, 1, 1});
        LayerHarness h(conv(std::string("num_output: 3 kernel_size: 3 pad: 1") + kFillers),
                       {{5, 2, 6, 5}});
        h.fill_gaussian(0, 1.0);
        std::string log;
        EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << kb << "\n" << log;
      }
  unsetenv("CREMA_CONV_WINOGRAD_TILE");
  unsetenv("CREMA_CONV_WINOGRAD_CHUNK_KB");
  unsetenv("CREMA_CONV_WINOGRAD_DW");
  unsetenv("CREMA_CONV_WINOGRAD");
}

// The CPU method chosen in convolution_param (cpu_method, winograd_tile) rather than through
// CREMA_CONV_*: each choice gives the reference numbers and runs the path the matching
// variables force (bit for bit, where the methods' roundings differ), and the variables, a
// debugging override, still win over the prototxt.
std::vector<float> forward_of(const std::string& body, const std::vector<int64_t>& shape) {
  LayerHarness h(conv(body + kFillers), {shape});
  h.fill_gaussian(0, 1.0);
  h.forward();
  return std::vector<float>(h.top_data(0), h.top_data(0) + h.count(h.top_shape(0)));
}

using Env = std::vector<std::pair<const char*, const char*>>;
std::vector<float> forward_with_env(const std::string& body, const std::vector<int64_t>& shape,
                                    const Env& env) {
  for (const auto& [name, value] : env) setenv(name, value, 1);
  std::vector<float> y = forward_of(body, shape);
  for (const auto& [name, value] : env) unsetenv(name);
  return y;
}

TEST(Convolution, CpuMethodFromThePrototxt) {
  // 3x3, stride 1, 3 input channels, 16 outputs: Winograd, direct convolution and the GEMMs
  // all apply.
  const std::string base = "num_output: 16 kernel_size: 3 pad: 1";
  const std::vector<int64_t> shape = {2, 3, 9, 8};
  const struct {
    const char* fields;
    Env env;
  } cases[] = {
      {"cpu_method: GEMM", {{"CREMA_CONV_WINOGRAD", "0"}, {"CREMA_CONV_DIRECT", "0"}}},
      {"cpu_method: WINOGRAD winograd_tile: 2",
       {{"CREMA_CONV_WINOGRAD", "1"},
        {"CREMA_CONV_DIRECT", "0"},
        {"CREMA_CONV_WINOGRAD_TILE", "2"}}},
      {"cpu_method: WINOGRAD winograd_tile: 4",
       {{"CREMA_CONV_WINOGRAD", "1"},
        {"CREMA_CONV_DIRECT", "0"},
        {"CREMA_CONV_WINOGRAD_TILE", "4"}}},
      {"cpu_method: DIRECT", {{"CREMA_CONV_WINOGRAD", "0"}, {"CREMA_CONV_DIRECT", "1"}}},
  };
  std::vector<std::vector<float>> outputs;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fields);
    const std::string body = base + " " + c.fields;
    expect_matches_reference(body, shape, {3, 3, 1, 1, 1, 1, 1, 1, 1});
    outputs.push_back(forward_of(body, shape));
    EXPECT_EQ(outputs.back(), forward_with_env(base, shape, c.env))
        << "not the path the variables force";
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    for (size_t j = i + 1; j < outputs.size(); ++j)
      EXPECT_NE(outputs[i], outputs[j]) << cases[i].fields << " and " << cases[j].fields
                                        << " gave the same bits: the test cannot tell them apart";
  // The environment wins.
  EXPECT_EQ(forward_with_env(base + " cpu_method: GEMM", shape, cases[1].env), outputs[1]);
  EXPECT_NE(error_of(conv("num_output: 2 kernel_size: 3 winograd_tile: 3"), {1, 1, 5, 5})
                .find("winograd_tile must be 2 or 4"),
            std::string::npos);
}

struct GradCase {
  const char* body;
  std::vector<int64_t> shape;
};

TEST(Convolution, GradientsMatchFiniteDifferences) {
  const GradCase cases[] = {
      {"num_output: 3 kernel_size: 3 pad: 1", {2, 3, 5, 7}},                      // odd sizes
      {"num_output: 5 kernel_size: 3", {1, 5, 6, 5}},                             // batch 1, C=5
      {"num_output: 6 kernel_size: 3 pad: 1 group: 3", {2, 3, 4, 5}},             // groups
      {"num_output: 4 kernel_size: 3 pad: 2 dilation: 2", {2, 2, 6, 5}},          // dilation
      {"num_output: 4 kernel_size: 1", {2, 7, 3, 4}},                             // 1x1 pointwise
      {"num_output: 4 kernel_size: 1 group: 2", {1, 6, 3, 4}},                    // ... grouped
      {"num_output: 3 kernel_size: 3 stride: 2 pad: 1", {2, 3, 7, 6}},            // strided
      {"num_output: 2 kernel_size: 1 stride: 2 bias_term: false", {2, 3, 5, 5}},  // 1x1 projection
      {"num_output: 4 kernel_size: 1 stride: 2 stride: 3 group: 2", {2, 4, 5, 7}},
      {"num_output: 4 kernel_h: 2 kernel_w: 3 pad_h: 1 stride_w: 2 stride_h: 1", {2, 2, 4, 7}},
      {"num_output: 3 kernel_size: 3 group: 3 pad: 1 stride: 2", {2, 3, 5, 5}},  // depthwise
      {"num_output: 5 kernel_size: 3 group: 5 pad: 2 dilation: 2", {2, 5, 4, 6}},
      // 3x3 stride 1 through Winograd (for_each_method): pads 0, 1, 2, unequal pads, odd sizes.
      {"num_output: 7 kernel_size: 3 pad: 2", {2, 3, 5, 4}},
      {"num_output: 2 kernel_size: 3 pad_h: 1 pad_w: 0", {1, 9, 6, 5}},
      {"num_output: 10 kernel_size: 3 pad: 1 bias_term: false", {3, 6, 3, 4}},
      // 16 or more channels each way: Winograd's vectorised transforms and their remainders.
      {"num_output: 17 kernel_size: 3 pad: 1", {1, 18, 5, 6}},
      // Few input channels (the direct forward): a 64 + 16-output stem-like layer.
      {"num_output: 80 kernel_size: 3 stride: 2 pad: 1", {2, 3, 7, 15}},
  };
  // A convolution is linear in each input and each weight taken alone, so a large step has no
  // truncation error and shrinks the share of float rounding (F(4x4, 3x3) rounds more than the
  // GEMMs do: at 1e-2 its rounding alone moved a numeric derivative by 1e-3).
  for_each_method([&] {
    for (const GradCase& gc : cases) {
      LayerHarness h(conv(std::string(gc.body) + kFillers), {gc.shape});
      h.fill_gaussian(0, 1.0);
      std::string log;
      EXPECT_EQ(GradientChecker(0.5, 1e-3).check(h, &log), 0) << gc.body << "\n" << log;
    }
  });
}

TEST(Convolution, BackwardAccumulatesParamsAndSkipsBottomWhenAsked) {
  LayerHarness h(conv(std::string("num_output: 2 kernel_size: 3 pad: 1") + kFillers),
                 {{2, 3, 4, 4}});
  h.fill_gaussian(0, 1.0);
  h.forward();
  for (int64_t i = 0; i < h.count(h.top_shape(0)); ++i) h.top_diff(0)[i] = 1.f;
  h.zero_param_diffs();
  h.backward();
  std::vector<float> once(h.param_diff(0), h.param_diff(0) + h.count(h.param_shape(0)));
  const float db = h.param_diff(1)[0];
  EXPECT_FLOAT_EQ(db, 2 * 4 * 4);  // sum of dE/dy over N, H, W
  for (int64_t i = 0; i < h.count(h.bottom_shape(0)); ++i) h.bottom_diff(0)[i] = 42.f;
  h.backward({false});
  for (size_t i = 0; i < once.size(); ++i) EXPECT_NEAR(h.param_diff(0)[i], 2 * once[i], 1e-4) << i;
  EXPECT_FLOAT_EQ(h.param_diff(1)[0], 2 * db);
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[0], 42.f);  // untouched without propagate_down
}

TEST(Convolution, RefusesKernelLargerThanPaddedInputNamingSizes) {
  std::string m =
      error_of("name: 'conv_big' " + conv("num_output: 2 kernel_size: 5 pad: 0"), {1, 1, 3, 4});
  EXPECT_NE(m.find("conv_big"), std::string::npos) << m;
  EXPECT_NE(m.find("kernel height 5"), std::string::npos) << m;
  EXPECT_NE(m.find("input height 3"), std::string::npos) << m;
  m = error_of("name: 'conv_dil' " + conv("num_output: 2 kernel_size: 3 dilation: 3 pad: 1"),
               {1, 1, 9, 4});
  EXPECT_NE(m.find("conv_dil"), std::string::npos) << m;
  EXPECT_NE(m.find("dilated extent 7"), std::string::npos) << m;
  EXPECT_NE(m.find("width 4 + 2*1 = 6"), std::string::npos) << m;
  EXPECT_EQ(error_of(conv("num_output: 2 kernel_size: 5 pad: 1"), {1, 1, 3, 3}), "");
}

// Geometry is read and combined in 64 bits: values that wrapped an int (a pad of 2^31-1 doubled,
// a uint32 read as -1, a dilated extent past 2^31) are refused instead of computed with.
TEST(Convolution, RefusesGeometryThatOverflows) {
  std::string m = error_of(conv("num_output: 2 kernel_size: 3 pad: 2147483647"), {1, 1, 5, 5});
  EXPECT_NE(m.find("geometry too large"), std::string::npos) << m;
  m = error_of(conv("num_output: 2 kernel_size: 3 pad: 4294967295"), {1, 1, 5, 5});
  EXPECT_NE(m.find("pad 4294967295 is out of range"), std::string::npos) << m;
  m = error_of(conv("num_output: 2 kernel_size: 3 dilation: 2000000000 pad: 1"), {1, 1, 5, 5});
  EXPECT_NE(m.find("dilated extent 4000000001"), std::string::npos) << m;
  m = error_of(conv("num_output: 2 kernel_h: 3 kernel_w: 4294967295"), {1, 1, 5, 5});
  EXPECT_NE(m.find("kernel_w 4294967295 is out of range"), std::string::npos) << m;
}

TEST(Convolution, RefusesBadParameters) {
  std::string m = error_of(conv("num_output: 2 kernel_size: 3 group: 2"), {1, 3, 5, 5});
  EXPECT_NE(m.find("channels 3 are not a multiple of group 2"), std::string::npos) << m;
  m = error_of(conv("num_output: 3 kernel_size: 3 group: 2"), {1, 4, 5, 5});
  EXPECT_NE(m.find("num_output 3 is not a multiple of group 2"), std::string::npos) << m;
  m = error_of(conv("kernel_size: 3"), {1, 1, 5, 5});
  EXPECT_NE(m.find("num_output must be given"), std::string::npos) << m;
  m = error_of(conv("num_output: 1"), {1, 1, 5, 5});
  EXPECT_NE(m.find("kernel_size (or kernel_h and kernel_w) must be given"), std::string::npos) << m;
  m = error_of(conv("num_output: 1 kernel_size: 3 kernel_h: 3 kernel_w: 3"), {1, 1, 5, 5});
  EXPECT_NE(m.find("not both"), std::string::npos) << m;
  m = error_of(conv("num_output: 1 kernel_size: 3 stride: 0"), {1, 1, 5, 5});
  EXPECT_NE(m.find("stride dimensions must be nonzero"), std::string::npos) << m;
  m = error_of(conv("num_output: 1 kernel_size: 3 axis: 2"), {1, 1, 5, 5});
  EXPECT_NE(m.find("only the channel axis 1"), std::string::npos) << m;
  m = error_of(conv("num_output: 1 kernel_size: 3"), {1, 1, 5, 5, 5});
  EXPECT_NE(m.find("4-D"), std::string::npos) << m;
  m = error_of(conv("num_output: 1 kernel_size: 3 kernel_size: 3 kernel_size: 3"), {1, 1, 5, 5});
  EXPECT_NE(m.find("once per spatial axis"), std::string::npos) << m;
  EXPECT_EQ(error_of(conv("num_output: 1 kernel_size: 3 axis: -3"), {1, 1, 5, 5}), "");
}

// ---- GPU (skipped without a CUDA device) ----
// Every GPU case runs with each engine: DEFAULT (cuDNN where the host has it), CUDNN, CAFFE
// (im2col + cuBLAS).
namespace {
const char* const kEngines[] = {"DEFAULT", "CUDNN", "CAFFE"};

const GradCase kGpuCases[] = {
    {"num_output: 4 kernel_size: 3 pad: 1", {2, 3, 5, 7}},                      // 3x3 pad 1
    {"num_output: 3 kernel_size: 3 stride: 2 pad: 1", {2, 3, 7, 6}},            // stride 2
    {"num_output: 4 kernel_size: 1", {2, 7, 3, 4}},                             // 1x1 pointwise
    {"num_output: 2 kernel_size: 1 stride: 2 bias_term: false", {2, 3, 5, 5}},  // 1x1 strided
    {"num_output: 3 kernel_size: 1 pad: 1", {2, 2, 3, 3}},                      // 1x1 padded
    {"num_output: 6 kernel_size: 3 pad: 1 group: 2", {2, 4, 4, 5}},             // groups
    {"num_output: 4 kernel_size: 1 group: 2", {3, 6, 3, 4}},                    // grouped 1x1
    {"num_output: 3 kernel_size: 3 group: 3 pad: 1 stride: 2", {2, 3, 5, 5}},   // depthwise
    {"num_output: 6 kernel_size: 3 pad: 1 group: 3", {2, 3, 5, 5}},             // multiplier 2
    {"num_output: 4 kernel_size: 3 pad: 2 dilation: 2", {2, 2, 6, 5}},          // dilation 2
    {"num_output: 4 kernel_h: 2 kernel_w: 3 pad_h: 1 stride_w: 2 stride_h: 1", {2, 2, 4, 7}},
    {"num_output: 6 kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 0 stride_h: 2 stride_w: 1 "
     "dilation: 2 dilation: 1 group: 3",
     {3, 6, 8, 5}},                                                   // all of it
    {"num_output: 5 kernel_size: 3 bias_term: false", {1, 5, 6, 5}},  // no bias, N=1
};

std::string with_engine(const char* body, const char* engine) {
  return conv(std::string(body) + " engine: " + engine + kFillers);
}
}  // namespace

TEST(Convolution, GpuHasCudaPath) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  for (const char* engine : kEngines) {
    LayerHarness h(with_engine("num_output: 2 kernel_size: 3", engine), {{1, 2, 4, 4}}, o);
    ASSERT_TRUE(h.has_cuda_path()) << engine;
  }
}

TEST(Convolution, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* engine : kEngines)
    for (const GradCase& gc : kGpuCases) {
      const double d =
          crema::testing::max_device_disagreement(with_engine(gc.body, engine), {gc.shape}, {});
      EXPECT_LT(d, 1e-4) << gc.body << " engine: " << engine;
    }
  // A ResNet-sized layer and a wide 1x1: longer sums, where cuDNN's order differs most.
  for (const char* engine : kEngines) {
    EXPECT_LT(
        crema::testing::max_device_disagreement(
            with_engine("num_output: 32 kernel_size: 3 pad: 1", engine), {{4, 32, 14, 14}}, {}),
        1e-4)
        << engine;
    EXPECT_LT(
        crema::testing::max_device_disagreement(
            with_engine("num_output: 64 kernel_size: 1 stride: 2", engine), {{3, 48, 9, 9}}, {}),
        1e-4)
        << engine;
  }
}

TEST(Convolution, GpuGradientsMatchFiniteDifferences) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  for (const char* engine : kEngines)
    for (const GradCase& gc : kGpuCases) {
      LayerHarness h(with_engine(gc.body, engine), {gc.shape}, o);
      ASSERT_TRUE(h.has_cuda_path());
      h.fill_gaussian(0, 1.0);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0)
          << gc.body << " engine: " << engine << "\n"
          << log;
    }
}

TEST(Convolution, GpuBackwardAccumulatesParamsAndSkipsBottomWhenAsked) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::testing::HarnessOptions o;
  o.gpu = true;
  for (const char* engine : kEngines) {
    SCOPED_TRACE(engine);
    LayerHarness h(with_engine("num_output: 2 kernel_size: 3 pad: 1", engine), {{2, 3, 4, 4}}, o);
    h.fill_gaussian(0, 1.0);
    h.forward();
    for (int64_t i = 0; i < h.count(h.top_shape(0)); ++i) h.top_diff(0)[i] = 1.f;
    h.zero_param_diffs();
    h.backward();
    std::vector<float> once(h.param_diff(0), h.param_diff(0) + h.count(h.param_shape(0)));
    const float db = h.param_diff(1)[0];
    EXPECT_FLOAT_EQ(db, 2 * 4 * 4);
    for (int64_t i = 0; i < h.count(h.bottom_shape(0)); ++i) h.bottom_diff(0)[i] = 42.f;
    h.backward({false});
    for (size_t i = 0; i < once.size(); ++i)
      EXPECT_NEAR(h.param_diff(0)[i], 2 * once[i], 1e-4 * (1 + std::fabs(once[i]))) << i;
    EXPECT_FLOAT_EQ(h.param_diff(1)[0], 2 * db);
    for (int64_t i = 0; i < h.count(h.bottom_shape(0)); ++i)
      ASSERT_EQ(h.bottom_diff(0)[i], 42.f) << i;  // untouched without propagate_down
  }
}

TEST(Convolution, GpuIm2colChunksGiveTheSameResult) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // The column buffer budget in KB, against 4.9 KB (first case) and 1.7 KB (second) of columns
  // per image: chunks of 1 image, of 2 with a remainder of 1 (10 KB, resp. 4 KB), the batch of 5.
  for (const char* kb : {"0", "4", "10", "64"}) {
    setenv("CREMA_CONV_GPU_COLUMN_KB", kb, 1);
    for (const char* body : {"num_output: 6 kernel_size: 3 pad: 1 group: 2",
                             "num_output: 3 kernel_size: 3 stride: 2 dilation: 2 pad: 2"}) {
      const std::string text = with_engine(body, "CAFFE");
      EXPECT_LT(crema::testing::max_device_disagreement(text, {{5, 4, 7, 5}}, {}), 1e-4)
          << body << " CREMA_CONV_GPU_COLUMN_KB=" << kb;
      crema::testing::HarnessOptions o;
      o.gpu = true;
      LayerHarness h(text, {{5, 4, 7, 5}}, o);
      h.fill_gaussian(0, 1.0);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0)
          << body << " CREMA_CONV_GPU_COLUMN_KB=" << kb << "\n"
          << log;
    }
  }
  unsetenv("CREMA_CONV_GPU_COLUMN_KB");
}

// The layers the bf16 tests run: a 3x3, a 1x1, a grouped dilated strided 3x2, a strided 1x1 and
// a grouped 1x1; each through both engines (oneDNN for kernels over 1x1, bf16 GEMMs for 1x1) and
// each one forced (CREMA_CONV_BF16). fn(h, ref, what) gets a harness in bf16 with its input
// drawn. Returns false where this CPU or build has no bf16 (the caller skips).
struct Bf16Case {
  const char* body;
  std::vector<int64_t> shape;
  Ref ref;
};
const Bf16Case kBf16ThreeByThree{
    "num_output: 8 kernel_size: 3 pad: 1", {2, 16, 9, 11}, {3, 3, 1, 1, 1, 1, 1, 1, 1}};
const Bf16Case kBf16OneByOne{
    "num_output: 6 kernel_size: 1", {3, 32, 5, 7}, {1, 1, 0, 0, 1, 1, 1, 1, 1}};
const Bf16Case kBf16StridedOneByOne{
    "num_output: 12 kernel_size: 1 stride: 2", {2, 24, 7, 7}, {1, 1, 0, 0, 2, 2, 1, 1, 1}};
const Bf16Case kBf16GroupedOneByOne{
    "num_output: 8 kernel_size: 1 group: 2", {2, 12, 5, 6}, {1, 1, 0, 0, 1, 1, 1, 1, 2}};

template <class Fn>
bool for_each_bf16_layer(const Fn& fn) {
  const Bf16Case cases[] = {
      kBf16ThreeByThree,
      kBf16OneByOne,
      {"num_output: 6 kernel_h: 3 kernel_w: 2 stride: 2 dilation: 2 group: 2 pad: 1",
       {2, 8, 9, 8},
       {3, 2, 1, 1, 2, 2, 2, 2, 2}},
      kBf16StridedOneByOne,
      kBf16GroupedOneByOne};
  for (const char* engine : {"", "onednn", "gemm"}) {
    if (*engine) setenv("CREMA_CONV_BF16", engine, 1);
    for (const Bf16Case& c : cases) {
      crema::testing::HarnessOptions opt;
      opt.math = 1;  // CREMA_BFLOAT16
      LayerHarness h(conv(std::string(c.body) + kFillers), {c.shape}, opt);
      if (h.math() != 1) {
        unsetenv("CREMA_CONV_BF16");
        return false;
      }
      h.fill_gaussian(0, 1.0);
      fn(h, c.ref, std::string(c.body) + ", engine '" + engine + "'");
    }
  }
  unsetenv("CREMA_CONV_BF16");
  return true;
}

// bf16 (crema train -precision bf16): the output is the product of bf16-rounded inputs and
// weights summed in fp32, through either engine, so it matches the rounded reference to fp32
// accuracy and differs from the unrounded one by bf16's.
TEST(Convolution, Bf16ComputesWithRoundedInputsAndFp32Sums) {
  const bool ran =
      for_each_bf16_layer([](LayerHarness& h, const Ref& ref, const std::string& what) {
        h.forward();
        std::vector<double> mag;
        const std::vector<float> want = reference(h, ref, true, true, &mag);
        const std::vector<float> exact = reference(h, ref, true);
        const float* y = h.top_data(0);
        double worst = 0, off_unrounded = 0;
        for (size_t i = 0; i < want.size(); ++i) {
          worst = std::max(worst, std::fabs(y[i] - want[i]) / std::max(mag[i], 1e-30));
          off_unrounded = std::max(off_unrounded, double(std::fabs(y[i] - exact[i])));
        }
        // fp32 sums of at most a few hundred terms: within 1e-5 of their magnitude.
        EXPECT_LT(worst, 1e-5) << what;
        EXPECT_GT(off_unrounded, 1e-4) << what << ": the inputs were not rounded to bf16";
      });
  if (!ran) GTEST_SKIP() << "no bf16 on this CPU or build (crema computes in fp32 there)";
}

// dE/dx and dE/dW of the same layers in bf16: products of the bf16-rounded output gradient with
// rounded weights (dE/dx) or rounded inputs (dE/dW), summed in fp32. Reference in double.
struct RefGrads {
  std::vector<double> dx, dw, dx_mag, dw_mag;
};
RefGrads reference_grads(LayerHarness& h, const Ref& r, bool round_bf16) {
  auto xs = h.bottom_shape(0), ys = h.top_shape(0);
  const int N = static_cast<int>(xs[0]), C = static_cast<int>(xs[1]), H = static_cast<int>(xs[2]),
            W = static_cast<int>(xs[3]), M = static_cast<int>(ys[1]), OH = static_cast<int>(ys[2]),
            OW = static_cast<int>(ys[3]);
  const int cg = C / r.group, mg = M / r.group;
  const float *x = h.bottom_data(0), *w = h.param_data(0), *dy = h.top_diff(0);
  RefGrads g;
  g.dx.assign(static_cast<size_t>(N) * C * H * W, 0.0);
  g.dx_mag = g.dx;
  g.dw.assign(static_cast<size_t>(M) * cg * r.kh * r.kw, 0.0);
  g.dw_mag = g.dw;
  auto rd = [&](double v) { return round_bf16 ? bf16(v) : v; };
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < M; ++o)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          const double d = rd(dy[((static_cast<size_t>(n) * M + o) * OH + oh) * OW + ow]);
          for (int c = 0; c < cg; ++c)
            for (int i = 0; i < r.kh; ++i)
              for (int j = 0; j < r.kw; ++j) {
                int ih = oh * r.sh - r.ph + i * r.dh, iw = ow * r.sw - r.pw + j * r.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const size_t wi = ((static_cast<size_t>(o) * cg + c) * r.kh + i) * r.kw + j;
                const size_t xi =
                    ((static_cast<size_t>(n) * C + static_cast<size_t>(o / mg) * cg + c) * H + ih) *
                        W +
                    iw;
                g.dx[xi] += rd(w[wi]) * d;
                g.dx_mag[xi] += std::fabs(rd(w[wi]) * d);
                g.dw[wi] += rd(x[xi]) * d;
                g.dw_mag[wi] += std::fabs(rd(x[xi]) * d);
              }
        }
  return g;
}

TEST(Convolution, Bf16GradientsUseRoundedOperandsAndFp32Sums) {
  const bool ran =
      for_each_bf16_layer([](LayerHarness& h, const Ref& ref, const std::string& what) {
        h.forward();
        std::mt19937 rng(5);
        std::normal_distribution<float> normal(0.f, 1.f);
        for (int64_t i = 0; i < h.count(h.top_shape(0)); ++i) h.top_diff(0)[i] = normal(rng);
        h.zero_param_diffs();
        h.backward();
        const RefGrads want = reference_grads(h, ref, true);
        const RefGrads exact = reference_grads(h, ref, false);
        auto compare = [&](const float* got, const std::vector<double>& ref_values,
                           const std::vector<double>& mag, const std::vector<double>& unrounded,
                           const char* which) {
          double worst = 0, off_unrounded = 0;
          for (size_t i = 0; i < ref_values.size(); ++i) {
            worst = std::max(worst, std::fabs(got[i] - ref_values[i]) / std::max(mag[i], 1e-30));
            off_unrounded = std::max(off_unrounded, std::fabs(got[i] - unrounded[i]));
          }
          // fp32 sums of at most a few hundred terms: within 1e-5 of their magnitude.
          EXPECT_LT(worst, 1e-5) << which << " of " << what;
          EXPECT_GT(off_unrounded, 1e-4) << which << " of " << what << ": not rounded to bf16";
        };
        compare(h.bottom_diff(0), want.dx, want.dx_mag, exact.dx, "dE/dx");
        compare(h.param_diff(0), want.dw, want.dw_mag, exact.dw, "dE/dW");
      });
  if (!ran) GTEST_SKIP() << "no bf16 on this CPU or build (crema computes in fp32 there)";
}

// Between N,H,W,C bf16 blobs (ABI 1.6) every method reads and writes the tensors in that order:
// oneDNN's primitives in place, the whole-batch 1x1 GEMMs (strided ones gather and scatter), and
// dE/dW as one GEMM over im2col rows for layers of 128 channels or more. Each result against the
// double reference of bf16-rounded operands: y and dE/dx are stored in bf16 (within 2^-8 of
// each value, plus fp32 summation), dE/dW in fp32 (within 1e-5 of the magnitudes summed).
TEST(Convolution, Bf16ChannelsLastGradientsOfEveryMethod) {
  const Bf16Case cases[] = {
      kBf16ThreeByThree,
      {"num_output: 6 kernel_size: 3 pad: 1", {2, 128, 5, 4}, {3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"num_output: 5 kernel_size: 3 stride: 2 pad: 1",
       {2, 130, 7, 6},
       {3, 3, 1, 1, 2, 2, 1, 1, 1}},
      kBf16OneByOne,
      kBf16StridedOneByOne,
      kBf16GroupedOneByOne};
  for (const Bf16Case& c : cases) {
    crema::testing::HarnessOptions opt;
    opt.math = 1;     // CREMA_BFLOAT16
    opt.storage = 1;  // bf16 blobs
    opt.channels_last = true;
    LayerHarness h(conv(std::string(c.body) + kFillers), {c.shape}, opt);
    if (h.math() != 1 || !h.stores_in(1) || !h.takes_channels_last())
      GTEST_SKIP() << "no bf16 N,H,W,C on this CPU or build";
    h.fill_gaussian(0, 1.0);
    h.forward();
    std::vector<double> mag;
    const std::vector<float> want_y = reference(h, c.ref, true, true, &mag);
    for (size_t i = 0; i < want_y.size(); ++i)
      ASSERT_LE(std::fabs(h.top_data(0)[i] - want_y[i]), std::fabs(want_y[i]) / 256 + 1e-5 * mag[i])
          << "y[" << i << "] of " << c.body;
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (int64_t i = 0; i < h.count(h.top_shape(0)); ++i) h.top_diff(0)[i] = normal(rng);
    h.zero_param_diffs();
    h.backward();
    const RefGrads want = reference_grads(h, c.ref, true);
    for (size_t i = 0; i < want.dx.size(); ++i)
      ASSERT_LE(std::fabs(h.bottom_diff(0)[i] - want.dx[i]),
                std::fabs(want.dx[i]) / 256 + 1e-5 * want.dx_mag[i])
          << "dE/dx[" << i << "] of " << c.body;
    for (size_t i = 0; i < want.dw.size(); ++i)
      ASSERT_LE(std::fabs(h.param_diff(0)[i] - want.dw[i]), 1e-5 * want.dw_mag[i] + 1e-30)
          << "dE/dW[" << i << "] of " << c.body;
  }
}
