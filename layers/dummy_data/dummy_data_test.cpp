// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
std::string dd(const std::string& body, const std::string& tops = "") {
  return "type: 'DummyData' dummy_data_param { " + body + " }" + tops;
}
std::string error_of(const std::string& text) {
  try {
    LayerHarness h(text, {});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
void constant_once_random_every_forward(const crema::testing::HarnessOptions& o) {
  LayerHarness h(dd("shape { dim: 3 } data_filler { type: 'constant' value: 1.5 } "
                    "data_filler { type: 'gaussian' mean: 10 std: 0.1 }",
                    " top: 'c' top: 'g'"),
                 {}, o);
  h.forward();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(h.top_data(0)[i], 1.5f);
    EXPECT_NEAR(h.top_data(1)[i], 10.f, 1.f);
  }
  // Overwrite both tops: the constant one is not written again (as in Caffe), the random one is.
  for (int i = 0; i < 3; ++i) h.top_data(0)[i] = h.top_data(1)[i] = -1;
  h.forward();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(h.top_data(0)[i], -1.f);
    EXPECT_NEAR(h.top_data(1)[i], 10.f, 1.f);
  }
  // A reshape writes the constants again.
  h.reshape();
  h.forward();
  EXPECT_EQ(h.top_data(0)[0], 1.5f);
}
}  // namespace

TEST(DummyData, ShapesAndDefaultZeros) {
  LayerHarness h(dd("shape { dim: 2 dim: 3 } shape { dim: 4 }", " top: 'a' top: 'b'"), {});
  EXPECT_EQ(h.top_shape(0), (Shape{2, 3}));
  EXPECT_EQ(h.top_shape(1), (Shape{4}));
  h.top_data(1)[3] = 7;  // make sure the first forward writes
  h.forward();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(h.top_data(0)[i], 0.f);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.top_data(1)[i], 0.f);
  LayerHarness one(dd("shape { dim: 5 }", " top: 'a' top: 'b' top: 'c'"), {});
  for (int t = 0; t < 3; ++t) EXPECT_EQ(one.top_shape(t), Shape{5});
}

TEST(DummyData, LegacyDims) {
  LayerHarness h(dd("num: 2 channels: 3 height: 4 width: 5 num: 1 channels: 1 height: 1 width: 6",
                    " top: 'a' top: 'b'"),
                 {});
  EXPECT_EQ(h.top_shape(0), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(h.top_shape(1), (Shape{1, 1, 1, 6}));
  LayerHarness mixed(dd("num: 2 num: 3 channels: 1 height: 1 width: 2", " top: 'a' top: 'b'"), {});
  EXPECT_EQ(mixed.top_shape(1), (Shape{3, 1, 1, 2}));
}

TEST(DummyData, ConstantOnceRandomEveryForward) { constant_once_random_every_forward({}); }

TEST(DummyData, FillerStatisticsAndDeterminism) {
  LayerHarness g(dd("shape { dim: 100 dim: 100 } data_filler { type: 'gaussian' mean: 2 std: 3 }"),
                 {});
  LayerHarness u(dd("shape { dim: 100 dim: 100 } data_filler { type: 'uniform' min: -1 max: 4 }"),
                 {});
  g.forward();
  u.forward();
  double s = 0, ss = 0, lo = 1e9, hi = -1e9, us = 0;
  for (int i = 0; i < 10000; ++i) {
    s += g.top_data(0)[i], ss += double(g.top_data(0)[i]) * g.top_data(0)[i];
    lo = std::min(lo, double(u.top_data(0)[i])), hi = std::max(hi, double(u.top_data(0)[i]));
    us += u.top_data(0)[i];
  }
  EXPECT_NEAR(s / 1e4, 2.0, 0.1);
  EXPECT_NEAR(std::sqrt(ss / 1e4 - (s / 1e4) * (s / 1e4)), 3.0, 0.1);
  EXPECT_GE(lo, -1.0);
  EXPECT_LE(hi, 4.0);
  EXPECT_NEAR(us / 1e4, 1.5, 0.05);
  // Same seed and counter, same values; chunks differ from each other.
  LayerHarness g2(dd("shape { dim: 100 dim: 100 } data_filler { type: 'gaussian' mean: 2 std: 3 }"),
                  {});
  g2.forward();
  for (int i = 0; i < 10000; i += 97) EXPECT_EQ(g.top_data(0)[i], g2.top_data(0)[i]);
  EXPECT_NE(g.top_data(0)[0], g.top_data(0)[4096]);
}

TEST(DummyData, OneFillerForAllTops) {
  LayerHarness h(
      dd("shape { dim: 4 } data_filler { type: 'constant' value: -2 }", " top: 'a' top: 'b'"), {});
  h.forward();
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < 4; ++i) EXPECT_EQ(h.top_data(t)[i], -2.f);
  std::string log;
  EXPECT_EQ(GradientChecker().check(h, &log), 0) << log;  // nothing to differentiate
}

TEST(DummyData, ErrorsNameCounts) {
  std::string m =
      error_of(dd("shape { dim: 2 } data_filler {} data_filler {}", " top: 'a' top: 'b' top: 'c'"));
  EXPECT_NE(m.find("3 tops but 2 data fillers"), std::string::npos) << m;
  m = error_of(dd("shape { dim: 2 } shape { dim: 3 }", " top: 'a' top: 'b' top: 'c'"));
  EXPECT_NE(m.find("3 tops but 2 shapes"), std::string::npos) << m;
  m = error_of(dd("shape { dim: 2 } num: 1 channels: 1 height: 1 width: 1"));
  EXPECT_NE(m.find("not both"), std::string::npos) << m;
  m = error_of(dd("num: 1 channels: 1 height: 1"));
  EXPECT_NE(m.find("'width'"), std::string::npos) << m;
  m = error_of(dd("shape { dim: 2 } data_filler { type: 'xavier' }"));
  EXPECT_NE(m.find("xavier"), std::string::npos) << m;
}

// In a net every forward draws a new random stream: random tops change, constant ones do not.
TEST(DummyData, NetRefillsRandomTopsEachIteration) {
  crema::Registry& reg = crema::Registry::global();
  crema::Net net(crema::parse_net_text(
                     "layer { name: 'd' type: 'DummyData' top: 'g' top: 'c' dummy_data_param { "
                     "shape { dim: 8 } data_filler { type: 'uniform' min: -1 max: 1 } "
                     "data_filler { type: 'constant' value: 3 } } }\n",
                     "<net>", reg),
                 {}, reg);
  net.forward();
  std::vector<float> first(net.blob("g")->host_data(), net.blob("g")->host_data() + 8);
  net.forward();
  int same = 0;
  for (int i = 0; i < 8; ++i) same += net.blob("g")->host_data()[i] == first[i];
  EXPECT_LT(same, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(net.blob("c")->host_data()[i], 3.f);
}

namespace {
crema::testing::HarnessOptions on_gpu() {
  crema::testing::HarnessOptions o;
  o.gpu = true;
  return o;
}
}  // namespace

TEST(DummyData, GpuConstantOnceRandomEveryForward) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  ASSERT_TRUE(LayerHarness(dd("shape { dim: 3 }"), {}, on_gpu()).has_cuda_path());
  constant_once_random_every_forward(on_gpu());
}

TEST(DummyData, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // Random tops are drawn on the host on both devices: the same numbers, bit for bit.
  const std::pair<const char*, const char*> cases[] = {
      {"shape { dim: 2 dim: 3 } data_filler { type: 'gaussian' std: 2 }", ""},
      {"shape { dim: 100 dim: 100 } data_filler { type: 'uniform' min: -1 max: 4 }", ""},
      {"shape { dim: 5 } shape { dim: 7000 } shape { dim: 4 } data_filler { type: 'constant' "
       "value: 3 } data_filler { type: 'gaussian' } data_filler { type: 'uniform' }",
       " top: 'a' top: 'b' top: 'c'"}};
  for (const auto& [body, tops] : cases)
    EXPECT_EQ(crema::testing::max_device_disagreement(dd(body, tops), {}, {}), 0.0) << body;
}

TEST(DummyData, GpuNetRefillsRandomTopsEachIteration) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::Registry& reg = crema::Registry::global();
  crema::Net net(crema::parse_net_text(
                     "layer { name: 'd' type: 'DummyData' top: 'g' top: 'c' dummy_data_param { "
                     "shape { dim: 8 } data_filler { type: 'uniform' min: -1 max: 1 } "
                     "data_filler { type: 'constant' value: 3 } } }\n",
                     "<net>", reg),
                 {}, reg);
  net.set_device(CREMA_CUDA);
  net.forward();
  std::vector<float> first(net.blob("g")->host_data(), net.blob("g")->host_data() + 8);
  net.forward();
  int same = 0;
  for (int i = 0; i < 8; ++i) same += net.blob("g")->host_data()[i] == first[i];
  EXPECT_LT(same, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(net.blob("c")->host_data()[i], 3.f);
}
