// SPDX-License-Identifier: BSD-2-Clause
// The helpers the layer plugins share, on their own: im2col against its defining formula over
// random geometries, col2im as its exact adjoint, the layout transposes, exp_poly's accuracy,
// the per-channel runs and sums, and the threaded copy. (The convolution tests check them again through
// whole layers; a mistake here shows first here.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <tuple>
#include <vector>

#include "crema/layers/channel_reduce.hpp"
#include "crema/layers/channel_runs.hpp"
#include "crema/layers/copy.hpp"
#include "crema/layers/fast_math.hpp"
#include "crema/layers/im2col.hpp"
#include "crema/layers/layout_bf16.hpp"
// The host's table and thread count: the helpers run on the host's threads, as in a plugin.
#include "crema/core/host.hpp"

namespace crema::layers {
namespace {

class LayersCommon : public ::testing::Test {
 protected:
  // The helpers run on the host's threads, as they do inside a plugin.
  static void SetUpTestSuite() {
    crema::detail::host_ref() = crema::host_table();
    crema::set_num_threads(2);
  }
};

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

ConvGeometry random_geometry(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (;;) {
    ConvGeometry g;
    g.groups = pick(1, 3);
    g.channels = g.groups * pick(1, 4);
    g.height = pick(1, 9);
    g.width = pick(1, 9);
    g.kernel_h = pick(1, 4);
    g.kernel_w = pick(1, 4);
    g.pad_h = pick(0, 2);
    g.pad_w = pick(0, 2);
    g.stride_h = pick(1, 3);
    g.stride_w = pick(1, 3);
    g.dilation_h = pick(1, 2);
    g.dilation_w = pick(1, 2);
    if (g.height + 2 * g.pad_h >= g.extent_h() && g.width + 2 * g.pad_w >= g.extent_w()) return g;
  }
}

// A random geometry and `num` random N,H,W,C images for it.
struct RandomCase {
  ConvGeometry g;
  int num;
  std::vector<float> xt;
};
RandomCase random_case(std::mt19937& rng, int num) {
  const ConvGeometry g = random_geometry(rng);
  return {g, num, random_floats(num * g.in_plane() * g.channels, rng)};
}

// The column matrix straight from im2col.hpp's formula, one entry at a time.
std::vector<float> reference_im2col(const std::vector<float>& xt, int num, const ConvGeometry& g) {
  const int oh_n = g.out_h(), ow_n = g.out_w(), cg_n = g.channels / g.groups;
  const int64_t cols = g.col_width();
  std::vector<float> col(num * g.out_plane() * cols, 0.f);
  for (int n = 0; n < num; ++n)
    for (int oh = 0; oh < oh_n; ++oh)
      for (int ow = 0; ow < ow_n; ++ow)
        for (int gr = 0; gr < g.groups; ++gr)
          for (int i = 0; i < g.kernel_h; ++i)
            for (int j = 0; j < g.kernel_w; ++j)
              for (int cg = 0; cg < cg_n; ++cg) {
                const int y = oh * g.stride_h - g.pad_h + i * g.dilation_h;
                const int x = ow * g.stride_w - g.pad_w + j * g.dilation_w;
                const int64_t row = (int64_t{n} * oh_n + oh) * ow_n + ow;
                const int64_t c = ((int64_t{gr} * g.kernel_h + i) * g.kernel_w + j) * cg_n + cg;
                const bool inside = y >= 0 && y < g.height && x >= 0 && x < g.width;
                col[row * cols + c] =
                    inside ? xt[((int64_t{n} * g.height + y) * g.width + x) * g.channels +
                                int64_t{gr} * cg_n + cg]
                           : 0.f;
              }
  return col;
}

std::string describe(const ConvGeometry& g) {
  std::ostringstream os;
  os << "C" << g.channels << " G" << g.groups << " " << g.height << "x" << g.width << " k"
     << g.kernel_h << "x" << g.kernel_w << " p" << g.pad_h << "," << g.pad_w << " s" << g.stride_h
     << "," << g.stride_w << " d" << g.dilation_h << "," << g.dilation_w;
  return os.str();
}

TEST_F(LayersCommon, Im2colMatchesItsFormulaOverRandomGeometries) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const auto [g, num, xt] = random_case(rng, 1 + trial % 3);
    std::vector<float> col(num * g.out_plane() * g.col_width(), 99.f);  // every entry is written
    im2col_nhwc(xt.data(), num, g, col.data());
    ASSERT_EQ(col, reference_im2col(xt, num, g)) << describe(g) << ", " << num << " images";
  }
}

// col2im is im2col's transpose: <im2col(x), y> = <x, col2im(y)> for any x, y. It overwrites its
// output, so stale values in it must not leak in.
TEST_F(LayersCommon, Col2imIsTheAdjointOfIm2col) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const auto [g, num, xt] = random_case(rng, 1 + trial % 2);
    const auto y = random_floats(num * g.out_plane() * g.col_width(), rng);
    std::vector<float> col(y.size());
    im2col_nhwc(xt.data(), num, g, col.data());
    std::vector<float> back(xt.size(), 1e6f);
    col2im_nhwc(y.data(), num, g, back.data());
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t i = 0; i < y.size(); ++i)
      lhs += double{col[i]} * y[i], scale += std::fabs(col[i] * y[i]);
    for (size_t i = 0; i < xt.size(); ++i) rhs += double{xt[i]} * back[i];
    ASSERT_NEAR(lhs, rhs, 1e-5 * (1 + scale)) << describe(g);
  }
}

TEST_F(LayersCommon, Col2imSumsTheEntriesReadFromEachPixel) {
  // A 3x3 stride-1 pad-1 kernel over a 3x3 plane: the centre pixel is read by all 9 windows,
  // a corner by 4, an edge by 6; with every column entry 1, col2im gives those counts.
  ConvGeometry g;
  g.channels = 1, g.height = 3, g.width = 3, g.kernel_h = 3, g.kernel_w = 3, g.pad_h = 1,
  g.pad_w = 1;
  std::vector<float> ones(g.out_plane() * g.col_width(), 1.f), x(9, -5.f);
  col2im_nhwc(ones.data(), 1, g, x.data());
  EXPECT_EQ(x, (std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
}

void check_layout_round_trip(int num, int channels, int64_t plane);

TEST_F(LayersCommon, LayoutTransposesRoundTripAndAddTheBias) {
  // Edges only, whole 16 x 16 and 8 x 8 tiles with edges, one pixel.
  for (const auto& [num, channels, plane] :
       {std::tuple<int, int, int64_t>{3, 5, 7}, {2, 33, 50}, {2, 16, 64}, {1, 24, 1}}) {
    SCOPED_TRACE(std::to_string(channels) + " channels, " + std::to_string(plane) + " pixels");
    check_layout_round_trip(num, channels, plane);
  }
}

void check_layout_round_trip(int num, int channels, int64_t plane) {
  std::mt19937 rng(3);
  const auto x = random_floats(int64_t{num} * channels * plane, rng);
  const auto bias = random_floats(channels, rng);
  std::vector<float> xt(x.size()), back(x.size());
  nchw_to_nhwc(x.data(), num, channels, plane, xt.data());
  for (int n = 0; n < num; ++n)
    for (int c = 0; c < channels; ++c)
      for (int64_t p = 0; p < plane; ++p)
        ASSERT_EQ(xt[(n * plane + p) * channels + c], x[(n * channels + c) * plane + p]);
  nhwc_to_nchw(xt.data(), num, channels, plane, nullptr, back.data());
  EXPECT_EQ(back, x);
  nhwc_to_nchw(xt.data(), num, channels, plane, bias.data(), back.data());
  for (int n = 0; n < num; ++n)
    for (int c = 0; c < channels; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t i = (n * channels + c) * plane + p;
        ASSERT_EQ(back[i], x[i] + bias[c]);
      }
}

// bf16 by its definition on the bit pattern: nearest, ties to even; NaN stays a NaN;
// subnormals become zero of their sign (as the AVX512_BF16 conversion makes them).
uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  if ((u & 0x7f800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

TEST_F(LayersCommon, NchwToNhwcBf16TransposesAndRoundsEveryElement) {
  if (!layout_bf16_available()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  std::mt19937 rng(9);
  // Ragged planes and channel counts (the masked edges), whole 16 x 16 tiles, one pixel.
  const std::tuple<int64_t, int64_t, int64_t> shapes[] = {{2, 3, 49},    {1, 16, 16}, {3, 24, 50},
                                                          {2, 64, 1024}, {1, 17, 1},  {2, 33, 196}};
  for (const auto& [num, channels, plane] : shapes) {
    std::vector<float> x = random_floats(static_cast<size_t>(num * channels * plane), rng);
    x[0] = std::nanf("");
    if (x.size() > 3) {
      x[1] = INFINITY;
      x[2] = 1e-40f;       // subnormal
      x[3] = 1.00390625f;  // exactly between two bf16 values: ties to even
    }
    std::vector<uint16_t> out(x.size(), 0xdead);
    nchw_to_nhwc_bf16(x.data(), num, channels, plane, out.data());
    for (int64_t n = 0; n < num; ++n)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t p = 0; p < plane; ++p)
          ASSERT_EQ(out[static_cast<size_t>((n * plane + p) * channels + c)],
                    bf16_bits(x[static_cast<size_t>((n * channels + c) * plane + p)]))
              << num << "x" << channels << "x" << plane << " at n " << n << " c " << c << " p "
              << p;
  }
}

TEST_F(LayersCommon, ExpPolyIsWithinTwoUlpsOfExpAndClampsOutsideFloatRange) {
  double worst = 0;
  for (float t = -87.f; t <= 88.f; t += 0.00731f) {
    const double exact = std::exp(double{t});
    worst = std::max(worst, std::fabs(exp_poly(t) - exact) / exact);
  }
  EXPECT_LT(worst, 2.5e-7);  // float's epsilon is 1.19e-7
  EXPECT_EQ(exp_poly(0.f), 1.f);
  EXPECT_TRUE(std::isfinite(exp_poly(1000.f)));
  EXPECT_GT(exp_poly(1000.f), 1e38f);
  EXPECT_GE(exp_poly(-1000.f), 0.f);
  EXPECT_LT(exp_poly(-1000.f), 1e-37f);
}

TEST_F(LayersCommon, ChannelRunsVisitEveryElementOnceWithItsChannel) {
  for (const int64_t inner : {int64_t{1}, int64_t{5}}) {
    const int64_t outer = 6, channels = 4, n = outer * channels * inner;
    std::vector<int> visits(n, 0), channel_seen(n, -1);
    for_channel_runs(
        outer, channels, inner, 8, [&](int64_t offset, int64_t length, int64_t c0, auto stride) {
          for (int64_t i = 0; i < length; ++i) {
            ++visits[offset + i];  // runs are disjoint, so no two threads touch one element
            channel_seen[offset + i] = static_cast<int>(c0 + decltype(stride)::value * i);
          }
        });
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(visits[i], 1) << "inner " << inner << ", element " << i;
      ASSERT_EQ(channel_seen[i], (i / inner) % channels) << "inner " << inner << ", element " << i;
    }
  }
  // An empty tensor (a zero-sized axis) has no runs: (6, 4, 0) once gave six rows of 4.
  for (const auto& [outer, channels, inner] :
       {std::tuple<int64_t, int64_t, int64_t>{6, 4, 0}, {0, 4, 5}, {6, 0, 5}}) {
    int calls = 0;
    for_channel_runs(outer, channels, inner, 8, [&](int64_t, int64_t, int64_t, auto) { ++calls; });
    EXPECT_EQ(calls, 0) << outer << "x" << channels << "x" << inner;
  }
}

// Sums of u and u * v per channel with channel_reduce, added to totals that start at `init`; the
// `after` of each run overwrites u there with NaN (as a layer's dx over dy in place), which the
// sums must not see. u is taken by value: the call spoils it.
std::vector<double> reduce_two(std::vector<float> u, const std::vector<float>& v, int64_t outer,
                               int64_t channels, int64_t inner, double init) {
  std::vector<double> totals(2 * channels, init), partial;
  const float *pu = u.data(), *pv = v.data();
  float* spoil = u.data();
  channel_reduce<2>(
      outer, channels, inner,
      [pu, pv](int64_t e, int64_t, auto& s0, auto& s1) {
        s0 += pu[e];
        s1 += std::decay_t<decltype(s1)>(pu[e]) * pv[e];
      },
      partial, totals.data(),
      [&](int64_t offset, int64_t length, int64_t, auto) {
        std::fill(spoil + offset, spoil + offset + length, std::nanf(""));
      });
  return totals;
}

TEST_F(LayersCommon, ChannelReduceMatchesADoubleSumAndNotTheThreadCount) {
  std::mt19937 rng(3);
  // Planes of one block, of several with a remainder (512-value blocks), and rows (inner 1)
  // with more rows than row blocks.
  for (const int64_t inner : {int64_t{1}, int64_t{7}, int64_t{1300}}) {
    const int64_t outer = inner == 1 ? 300 : 5, channels = 3, n = outer * channels * inner;
    const auto u = random_floats(n, rng), v = random_floats(n, rng);
    std::vector<double> want(2 * channels, 0.5), scale(2 * channels, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = (i / inner) % channels;
      want[c] += u[i];
      want[channels + c] += double(u[i]) * v[i];
      scale[c] += std::abs(u[i]);
      scale[channels + c] += std::abs(double(u[i]) * v[i]);
    }
    crema::set_num_threads(1);
    const auto one = reduce_two(u, v, outer, channels, inner, 0.5);
    crema::set_num_threads(2);
    const auto two = reduce_two(u, v, outer, channels, inner, 0.5);
    for (int64_t k = 0; k < 2 * channels; ++k)
      // float within blocks of at most 512 terms: a few float ulps of the sum of |terms|.
      EXPECT_NEAR(one[k], want[k], 1e-6 * scale[k]) << "inner " << inner << ", sum " << k;
    EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)), 0)
        << "inner " << inner << ": 1 and 2 threads disagree";
  }
}

TEST_F(LayersCommon, CopyFloatsCopiesAcrossChunkBoundariesAndSkipsSelfCopies) {
  std::mt19937 rng(5);
  for (const int64_t n :
       {int64_t{0}, int64_t{1}, int64_t{65535}, int64_t{65536}, int64_t{200001}}) {
    const auto src = random_floats(n, rng);
    std::vector<float> dst(n + 1, -7.f);
    copy_floats(dst.data(), src.data(), n);
    ASSERT_TRUE(std::equal(src.begin(), src.end(), dst.begin())) << n << " floats";
    EXPECT_EQ(dst[n], -7.f) << "wrote past " << n << " floats";
  }
  std::vector<float> same{1.f, 2.f};
  copy_floats(same.data(), same.data(), 2);
  EXPECT_EQ(same, (std::vector<float>{1.f, 2.f}));
}

}  // namespace
}  // namespace crema::layers
