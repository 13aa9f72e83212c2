// SPDX-License-Identifier: BSD-2-Clause
// WinogradBf16's three passes against a double-precision convolution, each within the error its
// roundings allow: every transformed operand (V = B^T d B, U = G g G^T, dM = A dY A^T) is rounded
// to bf16 (at most 2^-8 of itself), which moves a product of two of them by at most about 2^-7
// of its size; the transforms
// after the sums (A^T . A, G^T . G) add those errors with their coefficients' sizes. The bound is
// computed here in double from the exact transformed operands, per output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <vector>

#include "conv_winograd_bf16.hpp"
#include "crema/bf16.hpp"
#include "crema/core/host.hpp"
#include "crema/layer.hpp"
#include "crema/layers/onednn_conv.hpp"
#include "winograd_tiles.hpp"

namespace crema::layers {
namespace {
using Tile = winograd::Tile<2>;

class WinogradBf16Test : public ::testing::Test {
 protected:
  // The transforms run on the host's threads, as inside the plugin.
  static void SetUpTestSuite() {
    crema::detail::host_ref() = crema::host_table();
    crema::set_num_threads(2);
  }
  void SetUp() override {
    if (!CREMA_WITH_ONEDNN) GTEST_SKIP() << "a build without oneDNN has no bf16 Winograd";
  }
};

struct Case {
  int num, channels, outputs, height, width, pad;
  int chunk_tiles = 0;  // > 0: that many tiles per chunk (a remainder chunk too)
};
std::string name(const Case& c) {
  std::ostringstream s;
  s << c.num << "x" << c.channels << "x" << c.height << "x" << c.width << " -> " << c.outputs
    << ", pad " << c.pad << ", chunks of " << c.chunk_tiles << " tiles";
  return s.str();
}
// Odd sizes (partial tiles at both edges), pads 0-2, 16-48 channels, and chunks of tiles that
// end inside an image with a shorter one last (the passes chunk by measured sizes otherwise).
const Case kCases[] = {{2, 16, 16, 6, 6, 1},     {1, 32, 16, 7, 9, 1},      {2, 16, 32, 5, 5, 0},
                       {1, 16, 16, 8, 6, 2},     {2, 48, 32, 9, 7, 1},      {4, 16, 16, 32, 32, 1},
                       {3, 16, 32, 9, 11, 1, 7}, {2, 32, 16, 16, 16, 1, 50}};

ConvGeometry geometry(const Case& c) {
  ConvGeometry g;
  g.channels = c.channels, g.height = c.height, g.width = c.width;
  g.kernel_h = g.kernel_w = 3;
  g.pad_h = g.pad_w = c.pad;
  return g;
}

std::vector<uint16_t> random_bf16(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d;
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = crema::float_to_bf16(d(rng));
  return v;
}
std::vector<double> widen(const std::vector<uint16_t>& v) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = crema::bf16_to_float(v[i]);
  return out;
}

// An N,H,W,C tensor in double.
struct Image {
  int n, h, w, c;
  std::vector<double> v;
  double at(int b, int y, int x, int ch) const {
    if (y < 0 || y >= h || x < 0 || x >= w) return 0.0;
    return v[((static_cast<size_t>(b) * h + y) * w + x) * c + ch];
  }
};

// out[b][y][x][o] = sum_{c,i,j} in[b][y-p+i][x-p+j][c] k(c, o, i*3+j) in double, and the bound
// of the bf16 Winograd's error on it: 2^-7 * sum_xi |A^T|-weights * sum_c |V||U| (+ the output's
// own rounding to bf16, and fp32 sums).
template <class Kernel>
void reference(const Image& in, int outputs, int oh, int ow, int pad, const Kernel& k,
               std::vector<double>* out, std::vector<double>* bound) {
  const double abs_at[2][4] = {{1, 1, 1, 0}, {0, 1, 1, 1}};  // |A^T| of F(2, 3)
  out->assign(static_cast<size_t>(in.n) * oh * ow * outputs, 0.0);
  bound->assign(out->size(), 0.0);
  for (int b = 0; b < in.n; ++b)
    for (int ty = 0; ty < (oh + 1) / 2; ++ty)
      for (int tx = 0; tx < (ow + 1) / 2; ++tx)
        for (int o = 0; o < outputs; ++o) {
          double mag[4][4] = {};  // sum_c |V[xi]||U[xi]| per transformed position
          for (int c = 0; c < in.c; ++c) {
            double d[4][4], v[4][4], g[3][3], u[4][4];
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) d[i][j] = in.at(b, 2 * ty - pad + i, 2 * tx - pad + j, c);
            for (int i = 0; i < 9; ++i) g[i / 3][i % 3] = k(c, o, i);
            winograd::separable(d, v,
                                [](const double(&x)[4], double(&r)[4]) { Tile::input(x, r); });
            winograd::separable(g, u,
                                [](const double(&x)[3], double(&r)[4]) { Tile::weight(x, r); });
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) mag[i][j] += std::fabs(v[i][j] * u[i][j]);
          }
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
              const int y = 2 * ty + i, x = 2 * tx + j;
              if (y >= oh || x >= ow) continue;
              double sum = 0, m = 0;
              for (int c = 0; c < in.c; ++c)
                for (int r = 0; r < 3; ++r)
                  for (int s = 0; s < 3; ++s)
                    sum += in.at(b, y - pad + r, x - pad + s, c) * k(c, o, r * 3 + s);
              for (int p = 0; p < 4; ++p)
                for (int q = 0; q < 4; ++q) m += abs_at[i][p] * abs_at[j][q] * mag[p][q];
              const size_t idx = ((static_cast<size_t>(b) * oh + y) * ow + x) * outputs + o;
              (*out)[idx] = sum;
              (*bound)[idx] = 1.01 * std::ldexp(m, -7) + std::ldexp(std::fabs(sum), -8) + 1e-6 * m;
            }
        }
}

// The largest |got - want| / bound; and the largest |got - want| / max|want|, to report.
void expect_within(const std::vector<uint16_t>& got, const std::vector<double>& want,
                   const std::vector<double>& bound, const std::string& what) {
  double worst = 0, largest = 0, off = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(crema::bf16_to_float(got[i]) - want[i]);
    worst = std::max(worst, e / bound[i]);
    largest = std::max(largest, std::fabs(want[i]));
    off = std::max(off, e);
  }
  EXPECT_LE(worst, 1.0) << what << ": an error past the roundings' bound";
  EXPECT_LT(off, 0.02 * largest) << what;  // the bf16 tests' 2% of the largest value
}

TEST_F(WinogradBf16Test, ForwardIsTheCorrelationWithinTheRoundingBound) {
  std::mt19937 rng(7);
  for (const Case& c : kCases) {
    const ConvGeometry g = geometry(c);
    const int oh = g.out_h(), ow = g.out_w();
    auto x = random_bf16(static_cast<size_t>(c.num) * c.height * c.width * c.channels, rng);
    std::normal_distribution<float> d;
    std::vector<float> w(static_cast<size_t>(c.outputs) * c.channels * 9), bias(c.outputs);
    for (float& v : w) v = d(rng);
    for (float& v : bias) v = d(rng);
    WinogradBf16 conv;
    std::vector<char> ws(conv.plan(g, c.outputs, c.num, crema::num_threads(), c.chunk_tiles));
    std::vector<uint16_t> y(static_cast<size_t>(c.num) * oh * ow * c.outputs);
    conv.forward(x.data(), w.data(), bias.data(), y.data(), ws.data());

    std::vector<double> want, bound;
    reference(
        Image{c.num, c.height, c.width, c.channels, widen(x)}, c.outputs, oh, ow, c.pad,
        [&](int ch, int o, int k) { return double(w[(o * c.channels + ch) * 9 + k]); }, &want,
        &bound);
    for (size_t i = 0; i < want.size(); ++i) want[i] += bias[i % c.outputs];
    expect_within(y, want, bound, name(c));
  }
}

TEST_F(WinogradBf16Test, BackwardDataIsTheTransposedCorrelationWithinTheRoundingBound) {
  std::mt19937 rng(8);
  for (const Case& c : kCases) {
    const ConvGeometry g = geometry(c);
    const int oh = g.out_h(), ow = g.out_w();
    auto dy = random_bf16(static_cast<size_t>(c.num) * oh * ow * c.outputs, rng);
    std::normal_distribution<float> d;
    std::vector<float> w(static_cast<size_t>(c.outputs) * c.channels * 9);
    for (float& v : w) v = d(rng);
    WinogradBf16 conv;
    std::vector<char> ws(conv.plan(g, c.outputs, c.num, crema::num_threads(), c.chunk_tiles));
    std::vector<uint16_t> dx(static_cast<size_t>(c.num) * c.height * c.width * c.channels);
    conv.backward_data(w.data(), dy.data(), dx.data(), ws.data());

    // dE/dx[c] = sum_o W[o][c] (rotated) correlated with dy, pad 2 - pad.
    std::vector<double> want, bound;
    reference(
        Image{c.num, oh, ow, c.outputs, widen(dy)}, c.channels, c.height, c.width, 2 - c.pad,
        [&](int o, int ch, int k) { return double(w[(o * c.channels + ch) * 9 + 8 - k]); }, &want,
        &bound);
    expect_within(dx, want, bound, name(c));
  }
}

TEST_F(WinogradBf16Test, BackwardWeightsAddsTheGradientWithinTheRoundingBound) {
  const double abs_g[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, {0, 0, 1}};  // |G|
  std::mt19937 rng(9);
  for (const Case& c : kCases) {
    const ConvGeometry g = geometry(c);
    const int oh = g.out_h(), ow = g.out_w(), th = (oh + 1) / 2, tw = (ow + 1) / 2;
    auto x = random_bf16(static_cast<size_t>(c.num) * c.height * c.width * c.channels, rng);
    auto dy = random_bf16(static_cast<size_t>(c.num) * oh * ow * c.outputs, rng);
    std::vector<float> dw(static_cast<size_t>(c.outputs) * c.channels * 9, 0.25f);  // adds to it
    WinogradBf16 conv;
    std::vector<char> ws(conv.plan(g, c.outputs, c.num, crema::num_threads(), c.chunk_tiles));
    conv.backward_weights(x.data(), dy.data(), dw.data(), ws.data());

    const Image xi{c.num, c.height, c.width, c.channels, widen(x)},
        dyi{c.num, oh, ow, c.outputs, widen(dy)};
    double worst = 0, largest = 0, off = 0;
    for (int o = 0; o < c.outputs; ++o)
      for (int ch = 0; ch < c.channels; ++ch) {
        double mag[4][4] = {}, want[9] = {};
        for (int b = 0; b < c.num; ++b)
          for (int ty = 0; ty < th; ++ty)
            for (int tx = 0; tx < tw; ++tx) {
              double d[4][4], v[4][4], e[2][2], m[4][4];
              for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j)
                  d[i][j] = xi.at(b, 2 * ty - c.pad + i, 2 * tx - c.pad + j, ch);
              for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 2; ++j) e[i][j] = dyi.at(b, 2 * ty + i, 2 * tx + j, o);
              winograd::separable(d, v,
                                  [](const double(&a)[4], double(&r)[4]) { Tile::input(a, r); });
              winograd::separable(
                  e, m, [](const double(&a)[2], double(&r)[4]) { Tile::output_adjoint(a, r); });
              for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) mag[i][j] += std::fabs(v[i][j] * m[i][j]);
            }
        for (int b = 0; b < c.num; ++b)
          for (int y = 0; y < oh; ++y)
            for (int xx = 0; xx < ow; ++xx)
              for (int k = 0; k < 9; ++k)
                want[k] += xi.at(b, y - c.pad + k / 3, xx - c.pad + k % 3, ch) *
                           dyi.at(b, y, xx, o);
        for (int k = 0; k < 9; ++k) {
          double m = 0;
          for (int p = 0; p < 4; ++p)
            for (int q = 0; q < 4; ++q) m += abs_g[p][k / 3] * abs_g[q][k % 3] * mag[p][q];
          const double got = dw[(static_cast<size_t>(o) * c.channels + ch) * 9 + k] - 0.25;
          const double bound = 1.01 * std::ldexp(m, -7) + 1e-5 * m + 1e-6;
          worst = std::max(worst, std::fabs(got - want[k]) / bound);
          largest = std::max(largest, std::fabs(want[k]));
          off = std::max(off, std::fabs(got - want[k]));
        }
      }
    EXPECT_LE(worst, 1.0) << name(c) << ": an error past the roundings' bound";
    EXPECT_LT(off, 0.02 * largest) << name(c);
  }
}

// Each thread takes whole chunks with buffers of its own (a slot): one to three slots on the
// host's two threads give the same outputs and dE/dx bit for bit (tiles are independent), and
// dE/dW up to the order its slots' partial sums are added in.
TEST_F(WinogradBf16Test, SlotCountsAgree) {
  const Case c{3, 16, 32, 9, 11, 1, 7};  // 90 tiles: 13 chunks, the last one shorter
  const ConvGeometry g = geometry(c);
  const size_t in = static_cast<size_t>(c.num) * c.height * c.width * c.channels,
               out = static_cast<size_t>(c.num) * g.out_h() * g.out_w() * c.outputs;
  std::mt19937 rng(10);
  const auto x = random_bf16(in, rng), dy = random_bf16(out, rng);
  std::normal_distribution<float> d;
  std::vector<float> w(static_cast<size_t>(c.outputs) * c.channels * 9);
  for (float& v : w) v = d(rng);
  std::vector<uint16_t> y[3], dx[3];
  std::vector<float> dw[3];
  for (int slots = 1; slots <= 3; ++slots) {
    WinogradBf16 conv;
    std::vector<char> ws(conv.plan(g, c.outputs, c.num, slots, c.chunk_tiles));
    auto& yi = y[slots - 1];
    auto& dxi = dx[slots - 1];
    auto& dwi = dw[slots - 1];
    yi.resize(out), dxi.resize(in), dwi.assign(w.size(), 0.f);
    conv.forward(x.data(), w.data(), nullptr, yi.data(), ws.data());
    conv.backward_data(w.data(), dy.data(), dxi.data(), ws.data());
    conv.backward_weights(x.data(), dy.data(), dwi.data(), ws.data());
  }
  float largest = 0;
  for (float v : dw[0]) largest = std::max(largest, std::fabs(v));
  for (int s = 1; s < 3; ++s) {
    EXPECT_EQ(y[s], y[0]) << s + 1 << " slots";
    EXPECT_EQ(dx[s], dx[0]) << s + 1 << " slots";
    for (size_t i = 0; i < w.size(); ++i)
      ASSERT_NEAR(dw[s][i], dw[0][i], 1e-5f * largest) << s + 1 << " slots, weight " << i;
  }
}

// What the layer relies on to choose it: 3x3, stride 1, one group, channels in 16s wherever
// CREMA_CONV_WINOGRAD_BF16=1 forces it; without it also 64 channels, 8 x 8 outputs and 256
// tiles over the batch or more (and no AMX, which the CPU decides).
TEST_F(WinogradBf16Test, TakesOnlyStrideOneThreeByThreeKernelsOverWholeChannelBlocks) {
  const bool can = crema::bf16_stores_fast() && CREMA_WITH_ONEDNN;
  ConvGeometry g = geometry(kCases[0]);  // 16 channels, 6 x 6 outputs
  ::setenv("CREMA_CONV_WINOGRAD_BF16", "1", 1);
  EXPECT_EQ(WinogradBf16::applies(g, 16, 64), can);
  EXPECT_FALSE(WinogradBf16::applies(g, 24, 64));  // outputs not a multiple of 16
  ConvGeometry strided = g;
  strided.stride_h = 2;
  EXPECT_FALSE(WinogradBf16::applies(strided, 16, 64));
  ConvGeometry wide = g;
  wide.kernel_h = wide.kernel_w = 5;
  EXPECT_FALSE(WinogradBf16::applies(wide, 16, 64));
  ConvGeometry grouped = g;
  grouped.groups = 2;
  EXPECT_FALSE(WinogradBf16::applies(grouped, 16, 64));
  ::setenv("CREMA_CONV_WINOGRAD_BF16", "0", 1);
  EXPECT_FALSE(WinogradBf16::applies(g, 16, 64));
  ::unsetenv("CREMA_CONV_WINOGRAD_BF16");
  EXPECT_FALSE(WinogradBf16::applies(g, 16, 64));  // too few channels and outputs
  ConvGeometry large = g;
  large.channels = 64, large.height = large.width = 14;
  const bool without_amx = can && OnednnConv::bf16_without_amx();
  EXPECT_FALSE(WinogradBf16::applies(large, 32, 8));            // 32 outputs: too few
  EXPECT_EQ(WinogradBf16::applies(large, 64, 8), without_amx);  // 392 tiles
  EXPECT_FALSE(WinogradBf16::applies(large, 64, 2));            // 98 tiles: too few
  large.height = large.width = 8;
  EXPECT_EQ(WinogradBf16::applies(large, 64, 64), without_amx);  // ResNet-20's 8 x 8 x 64
  EXPECT_FALSE(WinogradBf16::applies(large, 64, 8));             // 128 tiles: too few
  large.height = large.width = 7;
  EXPECT_FALSE(WinogradBf16::applies(large, 64, 64));  // 7 x 7 outputs: too few
}

}  // namespace
}  // namespace crema::layers
