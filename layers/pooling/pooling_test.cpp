// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "crema/testing/harness.hpp"
#include "crema/testing/stored_values.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
std::string pool(const std::string& body) {
  return "type: 'Pooling' pooling_param { " + body + " }";
}

// x[h][w] = 4h + w + 1 on a 1x1x4x4 bottom.
void fill_ramp(LayerHarness& h) {
  for (int i = 0; i < 16; ++i) h.bottom_data(0)[i] = float(i + 1);
}

// Distinct values, far apart compared with the finite-difference step: no ties, no switching.
void fill_distinct(LayerHarness& h, uint64_t seed) {
  int64_t n = h.count(h.bottom_shape(0));
  std::vector<int> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(seed));
  const int64_t middle = n / 2;
  for (int64_t i = 0; i < n; ++i) h.bottom_data(0)[i] = 0.05f * float(perm[i] - middle);
}

std::string error_of(const std::string& text, const std::vector<Shape>& shapes) {
  try {
    LayerHarness h(text, shapes);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Pooling, AveragePaddedCeilByHand) {
  // k=3 s=2 p=1 on 4x4: ceil((4+2-3)/2)+1 = 3; windows along an axis: [-1,2) [1,4) [3,5)
  // give divisors 3, 3, 2 (the window end is clipped to H + p = 5, not to H = 4).
  LayerHarness h(pool("pool: AVE kernel_size: 3 stride: 2 pad: 1"), {{1, 1, 4, 4}});
  fill_ramp(h);
  h.forward();
  ASSERT_EQ(h.top_shape(0), (Shape{1, 1, 3, 3}));
  const float want[9] = {14.f / 9, 30.f / 9, 12.f / 6, 57.f / 9, 99.f / 9,
                         36.f / 6, 27.f / 6, 45.f / 6, 16.f / 4};
  for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], want[i]) << i;
  // Backward: each input gets dy / pool_size of every window holding it.
  for (int i = 0; i < 9; ++i) h.top_diff(0)[i] = 1.f;
  h.backward();
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[0], 1.f / 9);                       // (0,0): window (0,0)
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[5], 4.f / 9);                       // (1,1): 4 windows of 9
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[15], 1.f / 9 + 2.f / 6 + 1.f / 4);  // (3,3): divisors 9, 6, 6, 4
}

TEST(Pooling, MaxPaddedCeilByHandWithMaskTop) {
  LayerHarness h(pool("pool: MAX kernel_size: 3 stride: 2 pad: 1") + " top: 'y' top: 'mask'",
                 {{1, 1, 4, 4}});
  fill_ramp(h);
  h.forward();
  ASSERT_EQ(h.top_shape(1), (Shape{1, 1, 3, 3}));
  const float want[9] = {6, 8, 8, 14, 16, 16, 14, 16, 16};
  for (int i = 0; i < 9; ++i) {
    EXPECT_FLOAT_EQ(h.top_data(0)[i], want[i]) << i;
    EXPECT_FLOAT_EQ(h.top_data(1)[i], want[i] - 1) << i;  // flat index of the max
  }
  for (int i = 0; i < 9; ++i) h.top_diff(0)[i] = float(i + 1);
  h.backward();
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[15], 5 + 6 + 8 + 9.f);
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[13], 4 + 7.f);
  EXPECT_FLOAT_EQ(h.bottom_diff(0)[0], 0.f);
}

TEST(Pooling, FloorRoundingByEitherField) {
  for (const char* f : {"ceil_mode: false", "round_mode: FLOOR"}) {
    LayerHarness h(pool(std::string("pool: AVE kernel_size: 3 stride: 2 pad: 1 ") + f),
                   {{1, 1, 4, 4}});
    fill_ramp(h);
    h.forward();
    ASSERT_EQ(h.top_shape(0), (Shape{1, 1, 2, 2})) << f;
    EXPECT_FLOAT_EQ(h.top_data(0)[3], 11.f) << f;
  }
  // Without padding, ceil keeps a partial last window; floor drops it.
  LayerHarness ceil(pool("pool: AVE kernel_size: 2 stride: 2"), {{1, 1, 5, 5}});
  LayerHarness floor(pool("pool: AVE kernel_size: 2 stride: 2 ceil_mode: false"), {{1, 1, 5, 5}});
  EXPECT_EQ(ceil.top_shape(0), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(floor.top_shape(0), (Shape{1, 1, 2, 2}));
  for (int i = 0; i < 25; ++i) ceil.bottom_data(0)[i] = float(i);
  ceil.forward();
  EXPECT_FLOAT_EQ(ceil.top_data(0)[8], 24.f);  // 1x1 window, divisor 1
  EXPECT_FLOAT_EQ(ceil.top_data(0)[2], (4 + 9) / 2.f);
}

TEST(Pooling, CeilDropsWindowStartingInPadding) {
  // H=5 k=2 s=2 p=1: ceil(5/2)+1 = 4, but window 3 would start at 3*2-1 = 5 = H: (4-1)*2 >= H+p
  // -> 3.
  LayerHarness h(pool("pool: MAX kernel_size: 2 stride: 2 pad: 1"), {{1, 1, 5, 5}});
  EXPECT_EQ(h.top_shape(0), (Shape{1, 1, 3, 3}));
  LayerHarness hw(
      pool("pool: MAX kernel_h: 1 kernel_w: 2 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 1"),
      {{1, 1, 2, 5}});
  EXPECT_EQ(hw.top_shape(0), (Shape{1, 1, 2, 3}));
}

TEST(Pooling, GlobalPooling) {
  LayerHarness a(pool("pool: AVE global_pooling: true"), {{2, 3, 4, 5}});
  LayerHarness m(pool("pool: MAX global_pooling: true"), {{2, 3, 4, 5}});
  a.fill_gaussian(0, 1.0);
  m.fill_gaussian(0, 1.0);
  a.forward();
  m.forward();
  ASSERT_EQ(a.top_shape(0), (Shape{2, 3, 1, 1}));
  for (int pl = 0; pl < 6; ++pl) {
    const float* x = a.bottom_data(0) + int64_t{pl} * 20;
    double s = 0;
    for (int i = 0; i < 20; ++i) s += x[i];
    EXPECT_NEAR(a.top_data(0)[pl], s / 20, 1e-5);
    EXPECT_FLOAT_EQ(m.top_data(0)[pl], *std::max_element(x, x + 20));
  }
}

namespace {
// Caffe's loop, verbatim in spirit: windows clipped to H + p for the divisor, first strict max.
void caffe_reference(const float* x, int64_t planes, int64_t H, int64_t W, int64_t k, int64_t s,
                     int64_t p, int64_t PH, int64_t PW, bool ave, std::vector<float>& y,
                     std::vector<int>& mask) {
  y.assign(planes * PH * PW, 0.f);
  mask.assign(planes * PH * PW, -1);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t ph = 0; ph < PH; ++ph)
      for (int64_t pw = 0; pw < PW; ++pw) {
        int64_t hs = ph * s - p, ws = pw * s - p;
        int64_t he = std::min(hs + k, H + p), we = std::min(ws + k, W + p);
        const int64_t size = (he - hs) * (we - ws);
        hs = std::max<int64_t>(hs, 0), ws = std::max<int64_t>(ws, 0);
        he = std::min(he, H), we = std::min(we, W);
        float best = -3.4e38f, sum = 0;
        int arg = -1;
        for (int64_t h = hs; h < he; ++h)
          for (int64_t w = ws; w < we; ++w) {
            const float v = x[pl * H * W + h * W + w];
            sum += v;
            if (v > best) best = v, arg = int(h * W + w);
          }
        const int64_t o = (pl * PH + ph) * PW + pw;
        y[o] = ave ? sum / float(size) : best;
        mask[o] = arg;
      }
}

// Ties everywhere (values in -2..1): MAX must keep the first maximum, AVE Caffe's divisors.
void check_against_caffe_loop(const HarnessOptions& o, const std::string& engine) {
  struct Case {
    int64_t n, c, h, w, k, s, p;
  };
  const Case cases[] = {
      {2, 3, 7, 9, 3, 2, 1}, {1, 5, 6, 6, 2, 2, 0}, {1, 2, 8, 5, 3, 1, 1}, {3, 1, 5, 11, 4, 3, 2},
      {1, 1, 9, 9, 9, 1, 0}, {1, 2, 5, 37, 3, 2, 1}};  // rows long enough for the vector loops
  std::mt19937 rng(5);
  for (const Case& k : cases)
    for (bool ave : {false, true}) {
      const std::string body = std::string("pool: ") + (ave ? "AVE" : "MAX") +
                               " kernel_size: " + std::to_string(k.k) +
                               " stride: " + std::to_string(k.s) + " pad: " + std::to_string(k.p);
      LayerHarness h(pool(body + engine) + (ave ? "" : " top: 'y' top: 'mask'"),
                     {{k.n, k.c, k.h, k.w}}, o);
      const int64_t n = h.count(h.bottom_shape(0));
      for (int64_t i = 0; i < n; ++i) h.bottom_data(0)[i] = float(int(rng() % 4) - 2);  // ties
      h.forward();
      const Shape out = h.top_shape(0);
      std::vector<float> y;
      std::vector<int> mask;
      caffe_reference(h.bottom_data(0), k.n * k.c, k.h, k.w, k.k, k.s, k.p, out[2], out[3], ave, y,
                      mask);
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_NEAR(h.top_data(0)[i], y[i], 1e-5) << body << " at " << i;
        if (!ave) {
          ASSERT_EQ(int(h.top_data(1)[i]), mask[i]) << body << " at " << i;
        }
      }
    }
}
}  // namespace

TEST(Pooling, MatchesCaffeLoopWithManyTies) { check_against_caffe_loop({}, ""); }

TEST(Pooling, GradientAverage) {
  const std::pair<const char*, Shape> cases[] = {
      {"pool: AVE kernel_size: 3 stride: 2 pad: 1", {1, 3, 5, 5}},
      {"pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0", {2, 5, 6, 7}},
      {"pool: AVE kernel_size: 3 stride: 3", {1, 1, 7, 7}},
      {"pool: AVE kernel_size: 2 stride: 1 ceil_mode: false", {3, 2, 3, 4}},
      {"pool: AVE global_pooling: true", {2, 11, 3, 5}}};
  for (const auto& [body, shape] : cases) {
    LayerHarness h(pool(body), {shape});
    h.fill_gaussian(0, 1.0);
    std::string log;
    EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << body << "\n" << log;
  }
}

TEST(Pooling, GradientMaxDistinctInputs) {
  const std::pair<const char*, Shape> cases[] = {
      {"pool: MAX kernel_size: 3 stride: 2 pad: 1", {1, 3, 5, 5}},
      {"pool: MAX kernel_h: 2 kernel_w: 3 stride_h: 2 stride_w: 1 pad_w: 1 pad_h: 0", {2, 5, 5, 6}},
      {"pool: MAX kernel_size: 2 stride: 2", {1, 1, 7, 7}},
      {"pool: MAX global_pooling: true", {2, 11, 3, 3}}};
  uint64_t seed = 1;
  for (const auto& [body, shape] : cases) {
    for (const char* tops : {"", " top: 'y' top: 'mask'"}) {
      LayerHarness h(pool(body) + tops, {shape});
      fill_distinct(h, seed++);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << body << tops << "\n" << log;
    }
  }
}

TEST(Pooling, ErrorsNameSizes) {
  std::string m = error_of(pool("pool: MAX kernel_size: 5 pad: 1"), {{1, 1, 2, 2}});
  EXPECT_NE(m.find("5x5"), std::string::npos) << m;
  EXPECT_NE(m.find("4x4"), std::string::npos) << m;
  m = error_of(pool("pool: AVE kernel_size: 2 pad: 2"), {{1, 1, 6, 6}});
  EXPECT_NE(m.find("pad 2x2"), std::string::npos) << m;
  m = error_of(pool("pool: MAX kernel_size: 2"), {{1, 6, 6}});
  EXPECT_NE(m.find("(1,6,6)"), std::string::npos) << m;
  m = error_of(pool("pool: STOCHASTIC kernel_size: 2"), {{1, 1, 6, 6}});
  EXPECT_NE(m.find("STOCHASTIC"), std::string::npos) << m;
  m = error_of(pool("pool: AVE kernel_size: 2") + " top: 'a' top: 'b'", {{1, 1, 6, 6}});
  EXPECT_NE(m.find("mask"), std::string::npos) << m;
  EXPECT_NE(error_of(pool("global_pooling: true kernel_size: 2"), {{1, 1, 6, 6}}), "");
  EXPECT_NE(error_of(pool("kernel_h: 2"), {{1, 1, 6, 6}}), "");
  EXPECT_NE(error_of(pool("kernel_size: 2 pad: 1 pad_h: 1 pad_w: 0"), {{1, 1, 6, 6}}), "");
}

namespace {
HarnessOptions on_gpu() {
  HarnessOptions o;
  o.gpu = true;
  return o;
}
}  // namespace

// On the GPU: MAX always native; AVE on cuDNN (engine DEFAULT) where the shape allows, else
// native, and native with engine CAFFE.
TEST(Pooling, GpuMatchesCaffeLoopWithManyTies) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  ASSERT_TRUE(
      LayerHarness(pool("pool: MAX kernel_size: 2"), {{1, 1, 4, 4}}, on_gpu()).has_cuda_path());
  check_against_caffe_loop(on_gpu(), "");
  check_against_caffe_loop(on_gpu(), " engine: CAFFE");
}

TEST(Pooling, GpuByHand) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* engine : {"", " engine: CAFFE"}) {
    // The ceil-rounded 3x3 output of AVE k3 s2 p1 on 4x4 (divisors 9, 6, 4 at the edge).
    LayerHarness a(pool(std::string("pool: AVE kernel_size: 3 stride: 2 pad: 1") + engine),
                   {{1, 1, 4, 4}}, on_gpu());
    fill_ramp(a);
    a.forward();
    const float want[9] = {14.f / 9, 30.f / 9, 12.f / 6, 57.f / 9, 99.f / 9,
                           36.f / 6, 27.f / 6, 45.f / 6, 16.f / 4};
    for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(a.top_data(0)[i], want[i]) << engine << i;
    for (int i = 0; i < 9; ++i) a.top_diff(0)[i] = 1.f;
    a.backward();
    EXPECT_FLOAT_EQ(a.bottom_diff(0)[5], 4.f / 9);
    EXPECT_FLOAT_EQ(a.bottom_diff(0)[15], 1.f / 9 + 2.f / 6 + 1.f / 4);
    // Floor rounding: the case cuDNN takes under engine DEFAULT.
    LayerHarness f(
        pool(std::string("pool: AVE kernel_size: 3 stride: 2 pad: 1 ceil_mode: false") + engine),
        {{1, 1, 4, 4}}, on_gpu());
    fill_ramp(f);
    f.forward();
    ASSERT_EQ(f.top_shape(0), (Shape{1, 1, 2, 2}));
    EXPECT_FLOAT_EQ(f.top_data(0)[0], 14.f / 9);
    EXPECT_FLOAT_EQ(f.top_data(0)[3], 11.f);
  }
  LayerHarness m(pool("pool: MAX kernel_size: 3 stride: 2 pad: 1"), {{1, 1, 4, 4}}, on_gpu());
  fill_ramp(m);
  m.forward();
  const float want[9] = {6, 8, 8, 14, 16, 16, 14, 16, 16};
  for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(m.top_data(0)[i], want[i]) << i;
  for (int i = 0; i < 9; ++i) m.top_diff(0)[i] = float(i + 1);
  m.backward();
  EXPECT_FLOAT_EQ(m.bottom_diff(0)[15], 5 + 6 + 8 + 9.f);
  EXPECT_FLOAT_EQ(m.bottom_diff(0)[13], 4 + 7.f);
  EXPECT_FLOAT_EQ(m.bottom_diff(0)[0], 0.f);
}

TEST(Pooling, GpuGradient) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::pair<const char*, Shape> ave[] = {
      {"pool: AVE kernel_size: 3 stride: 2 pad: 1", {1, 3, 5, 5}},
      {"pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0", {2, 5, 6, 7}},
      {"pool: AVE kernel_size: 3 stride: 3", {1, 1, 7, 7}},
      {"pool: AVE kernel_size: 2 stride: 1 ceil_mode: false", {3, 2, 3, 4}},
      {"pool: AVE kernel_size: 3 stride: 2 pad: 1 round_mode: FLOOR", {2, 2, 6, 6}},
      {"pool: AVE global_pooling: true", {2, 11, 3, 5}}};
  for (const char* engine : {"", " engine: CAFFE"})
    for (const auto& [body, shape] : ave) {
      LayerHarness h(pool(body + std::string(engine)), {shape}, on_gpu());
      ASSERT_TRUE(h.has_cuda_path());
      h.fill_gaussian(0, 1.0);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << body << engine << "\n" << log;
    }
  const std::pair<const char*, Shape> max[] = {
      {"pool: MAX kernel_size: 3 stride: 2 pad: 1", {1, 3, 5, 5}},
      {"pool: MAX kernel_h: 2 kernel_w: 3 stride_h: 2 stride_w: 1 pad_w: 1 pad_h: 0", {2, 5, 5, 6}},
      {"pool: MAX kernel_size: 2 stride: 2", {1, 1, 7, 7}},
      {"pool: MAX global_pooling: true", {2, 11, 3, 3}}};
  uint64_t seed = 1;
  for (const auto& [body, shape] : max)
    for (const char* tops : {"", " top: 'y' top: 'mask'"}) {
      LayerHarness h(pool(body) + tops, {shape}, on_gpu());
      fill_distinct(h, seed++);
      std::string log;
      EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << body << tops << "\n" << log;
    }
}

TEST(Pooling, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const char* bodies[] = {
      "pool: AVE kernel_size: 3 stride: 2 pad: 1",
      "pool: AVE kernel_size: 3 stride: 2 pad: 1 ceil_mode: false",
      "pool: AVE kernel_size: 2 stride: 2",
      "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0",
      "pool: AVE global_pooling: true",
      "pool: MAX kernel_size: 3 stride: 2",
      "pool: MAX kernel_size: 3 stride: 2 pad: 1",
      "pool: MAX kernel_size: 2 stride: 2 round_mode: FLOOR",
      "pool: MAX global_pooling: true"};
  for (const char* engine : {"", " engine: CAFFE", " engine: CUDNN"})
    for (const char* body : bodies)
      for (const Shape& s : std::vector<Shape>{{2, 3, 9, 7}, {4, 16, 28, 28}}) {
        const std::string text = pool(body + std::string(engine));
        EXPECT_LT(crema::testing::max_device_disagreement(text, {s}, {}), 1e-5) << text;
        if (std::string(body).find("MAX") != std::string::npos) {  // the mask top as well
          const std::string two_tops = text + " top: 'y' top: 'mask'";
          EXPECT_LT(crema::testing::max_device_disagreement(two_tops, {s}, {}), 1e-5) << two_tops;
        }
      }
}

// bf16 storage (HarnessOptions bottom_storage / top_storage): the harness rounds the input and
// the top gradients into the layer's bf16 tensors and widens its results back. The reference
// runs Caffe's definition in double on the values the layer sees (rounded to bf16 where the
// tensor is bf16). Tolerances: a result stored in bf16 is the fp32 result rounded once, so within
// 2^-8 of its magnitude (8 significant bits, nearest) and itself a bf16 value; one stored in fp32
// is off by fp32 sums only (1e-6 relative); 1e-5 absolute covers the fp32 rounding of gradient
// sums that cancel. A MAX of bf16 values is one of them, so it must match exactly.
namespace {
constexpr int kBf16 = 1;  // crema_dtype CREMA_BFLOAT16

double bf16(double v) { return crema::testing::round_to_math(v, kBf16); }

::testing::AssertionResult stored_as(bool is_bf16, float got, double ref) {
  return crema::testing::stored_as(is_bf16, got, ref, 1e-5);
}

struct PoolCase {
  std::string body;
  Shape shape;
  int64_t k, s, p;  // square windows; global pooling: k = H = W, s 1, p 0
  bool ave;
};

// Pooling of one plane in double: y and the flat index of each window's first maximum (MAX), and
// dx from dy.
struct PoolReference {
  int64_t out_h, out_w;
  std::vector<double> y, dx;
  std::vector<int64_t> arg;
};
PoolReference reference(const PoolCase& c, const std::vector<double>& x,
                        const std::vector<double>& dy) {
  const int64_t planes = c.shape[0] * c.shape[1], H = c.shape[2], W = c.shape[3];
  auto outputs = [&](int64_t size) {
    int64_t n = (size + 2 * c.p - c.k + c.s - 1) / c.s + 1;  // ceil
    if (c.p > 0 && (n - 1) * c.s >= size + c.p) --n;
    return n;
  };
  PoolReference r{outputs(H), outputs(W), {}, std::vector<double>(x.size(), 0.0), {}};
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t ph = 0; ph < r.out_h; ++ph)
      for (int64_t pw = 0; pw < r.out_w; ++pw) {
        const int64_t hs = ph * c.s - c.p, ws = pw * c.s - c.p;
        const int64_t he = std::min(hs + c.k, H + c.p), we = std::min(ws + c.k, W + c.p);
        const double size = double((he - hs) * (we - ws));
        const int64_t o = (pl * r.out_h + ph) * r.out_w + pw;
        double sum = 0, best = 0;
        int64_t at = -1;
        for (int64_t h = std::max<int64_t>(hs, 0); h < std::min(he, H); ++h)
          for (int64_t w = std::max<int64_t>(ws, 0); w < std::min(we, W); ++w) {
            const double v = x[pl * H * W + h * W + w];
            sum += v;
            if (at < 0 || v > best) best = v, at = h * W + w;
            if (c.ave) r.dx[pl * H * W + h * W + w] += dy[o] / size;
          }
        r.y.push_back(c.ave ? sum / size : best);
        r.arg.push_back(at);
        if (!c.ave) r.dx[pl * H * W + at] += dy[o];
      }
  return r;
}

// channels_last: the bf16 tensors stored N,H,W,C (ABI 1.6); ties: inputs drawn from -2..1, so
// that most windows hold several maxima and MAX must route each gradient to the first.
void check_storage(const PoolCase& c, bool bottom_bf16, bool top_bf16, bool mask_top = false,
                   bool channels_last = false, bool ties = false) {
  HarnessOptions o;
  o.bottom_storage = {bottom_bf16 ? kBf16 : 0};
  o.top_storage = {top_bf16 ? kBf16 : 0, top_bf16 ? kBf16 : 0};
  o.channels_last = channels_last;
  LayerHarness h(pool(c.body) + (mask_top ? " top: 'y' top: 'mask'" : ""), {c.shape}, o);
  ASSERT_TRUE(h.stores_in(kBf16));
  if (channels_last) {
    ASSERT_TRUE(h.takes_channels_last());
  }
  h.fill_gaussian(0, 1.0, 0.0, 13);
  const int64_t n = h.count(c.shape);
  std::mt19937 rng(5);
  if (ties)
    for (int64_t i = 0; i < n; ++i) h.bottom_data(0)[i] = float(int(rng() % 4) - 2);
  std::vector<double> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = bottom_bf16 ? bf16(h.bottom_data(0)[i]) : h.bottom_data(0)[i];
  h.forward();
  const int64_t m = h.count(h.top_shape(0));
  std::vector<double> dy(m);
  for (int64_t i = 0; i < m; ++i) {
    const float g = 0.37f * static_cast<float>(i % 101) - 17.3f;
    h.top_diff(0)[i] = g;
    dy[i] = top_bf16 ? bf16(g) : g;
  }
  const PoolReference r = reference(c, x, dy);
  const std::string where = c.body + (bottom_bf16 ? ", bf16 bottom" : ", fp32 bottom") +
                            (top_bf16 ? ", bf16 top" : ", fp32 top") +
                            (channels_last ? ", N,H,W,C" : "") + (ties ? ", ties" : "");
  ASSERT_EQ(h.top_shape(0), (Shape{c.shape[0], c.shape[1], r.out_h, r.out_w})) << where;
  for (int64_t i = 0; i < m; ++i) {
    ASSERT_TRUE(stored_as(top_bf16, h.top_data(0)[i], r.y[i])) << where << " y[" << i << "]";
    if (!c.ave && bottom_bf16) {
      ASSERT_EQ(h.top_data(0)[i], r.y[i]) << where << " y[" << i << "]";
    }
    if (mask_top) {
      ASSERT_EQ(h.top_data(1)[i], r.arg[i]) << where << " mask[" << i << "]";
    }
  }
  h.backward();
  for (int64_t i = 0; i < n; ++i)
    ASSERT_TRUE(stored_as(bottom_bf16, h.bottom_diff(0)[i], r.dx[i]))
        << where << " dE/dx[" << i << "]";
}

const PoolCase kStorageCases[] = {
    {"pool: MAX kernel_size: 3 stride: 2 pad: 1", {2, 3, 13, 15}, 3, 2, 1, false},  // ResNet's stem
    {"pool: MAX kernel_size: 2 stride: 2", {2, 3, 8, 8}, 2, 2, 0, false},
    {"pool: AVE kernel_size: 3 stride: 2 pad: 1", {2, 3, 15, 15}, 3, 2, 1, true},
    {"pool: AVE global_pooling: true", {2, 4, 7, 7}, 7, 1, 0, true}};  // ResNet's head
}  // namespace

TEST(Pooling, Bf16StorageAgainstDoubleReference) {
  for (const PoolCase& c : kStorageCases) {
    check_storage(c, true, true);
    check_storage(c, true, false);
    check_storage(c, false, true);
  }
}

// N,H,W,C bf16 tensors: pooled in that order where the top is N,H,W,C or 1x1, through transposed
// copies where it is not (an fp32 top, a mask top); the same reference either way.
TEST(Pooling, Bf16ChannelsLastAgainstDoubleReference) {
  if (!crema::testing::LayerHarness(pool("pool: MAX kernel_size: 2"), {{1, 1, 2, 2}})
           .takes_channels_last())
    GTEST_SKIP() << "this CPU lacks AVX512_BF16: no N,H,W,C tensors";
  for (const PoolCase& c : kStorageCases)
    for (bool ties : {false, true}) {
      check_storage(c, true, true, false, true, ties);
      check_storage(c, true, false, false, true, ties);
      if (!c.ave) check_storage(c, true, true, true, true, ties);
    }
}

TEST(Pooling, Bf16MaskTopHoldsIndicesUpTo256) {
  // 15x17 = 255 positions: every flat index is a bf16 value.
  check_storage({"pool: MAX kernel_size: 3 stride: 2 pad: 1", {2, 2, 15, 17}, 3, 2, 1, false}, true,
                true, true);
  HarnessOptions o;
  o.storage = kBf16;
  try {
    LayerHarness h(pool("pool: MAX kernel_size: 3 stride: 2") + " top: 'y' top: 'mask'",
                   {{1, 1, 17, 17}}, o);
    FAIL() << "a bf16 mask top accepted for 17x17 planes";
  } catch (const std::exception& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("planes are 17x17: store the mask top in fp32"), std::string::npos) << m;
  }
}
