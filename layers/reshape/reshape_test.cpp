// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
std::string rs(const std::string& body) { return "type: 'Reshape' reshape_param { " + body + " }"; }
std::string error_of(const std::string& text, const Shape& s) {
  try {
    LayerHarness h(text, {s});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Reshape, ZeroCopiesAndMinusOneInfers) {
  const std::pair<std::string, Shape> cases[] = {
      {"shape { dim: 0 dim: -1 }", {2, 60}},
      {"shape { dim: -1 }", {120}},
      {"shape { dim: 0 dim: 0 dim: 2 dim: -1 }", {2, 3, 2, 10}},
      {"shape { dim: 6 dim: -1 dim: 0 }", {6, 5, 4}},  // 0 copies bottom axis 2; -1 = 120/24
      {"shape { dim: -1 dim: 4 } axis: 1 num_axes: 2", {2, 3, 4, 5}},
      {"shape { dim: 1 } axis: 1 num_axes: 0", {2, 1, 3, 4, 5}},
      {"shape { dim: 1 } axis: -1 num_axes: 0", {2, 3, 4, 5, 1}},
      {"shape { dim: 2 dim: 2 } axis: -3 num_axes: 1", {2, 3, 2, 2, 5}},  // -1 = after the last
      {"shape { } axis: 1 num_axes: 0", {2, 3, 4, 5}}};
  for (const auto& [body, want] : cases) {
    LayerHarness h(rs(body), {{2, 3, 4, 5}});
    EXPECT_EQ(h.top_shape(0), want) << body;
  }
}

TEST(Reshape, CopiesDataAndDiff) {
  LayerHarness h(rs("shape { dim: -1 dim: 2 }"), {{3, 2, 2}});
  EXPECT_EQ(h.top_shape(0), (Shape{6, 2}));
  h.fill_gaussian(0, 1.0);
  h.forward();
  for (int i = 0; i < 12; ++i) EXPECT_EQ(h.top_data(0)[i], h.bottom_data(0)[i]);
  for (int i = 0; i < 12; ++i) h.top_diff(0)[i] = float(i);
  h.backward();
  for (int i = 0; i < 12; ++i) EXPECT_EQ(h.bottom_diff(0)[i], float(i));
}

TEST(Reshape, ErrorsNameSizes) {
  std::string m = error_of(rs("shape { dim: 7 dim: 3 }"), {2, 3, 4});
  EXPECT_NE(m.find("(7,3)"), std::string::npos) << m;
  EXPECT_NE(m.find("21"), std::string::npos) << m;
  EXPECT_NE(m.find("24"), std::string::npos) << m;
  m = error_of(rs("shape { dim: 5 dim: -1 }"), {2, 3, 4});
  EXPECT_NE(m.find("24 values"), std::string::npos) << m;
  EXPECT_NE(m.find("multiple of the 5"), std::string::npos) << m;
  m = error_of(rs("shape { dim: -1 dim: -1 }"), {2, 3, 4});
  EXPECT_NE(m.find("at most one"), std::string::npos) << m;
  m = error_of(rs("shape { dim: 0 dim: 0 dim: 0 dim: 0 }"), {2, 3, 4});
  EXPECT_NE(m.find("no axis 3"), std::string::npos) << m;
  m = error_of(rs("shape { dim: 2 } axis: 2 num_axes: 3"), {2, 3, 4});
  EXPECT_NE(m.find("num_axes 3"), std::string::npos) << m;
  EXPECT_NE(error_of(rs("shape { dim: 24 } axis: 5"), {2, 3, 4}), "");
  EXPECT_NE(error_of(rs("shape { dim: -3 }"), {2, 3, 4}), "");
}

// In a net the host shares the bottom's memory with the top, unless the top is written in place
// by a consumer; then the layer copies and the bottom stays intact.
TEST(Reshape, NetSharesOrCopies) {
  crema::Registry& reg = crema::Registry::global();
  const std::string input =
      "layer { name: 'x' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 dim: 4 } } }\n"
      "layer { name: 'r' type: 'Reshape' bottom: 'x' top: 'r' reshape_param { shape { dim: 0 dim: "
      "-1 } } }\n";
  {
    crema::Net net(crema::parse_net_text(input, "<shared>", reg), {}, reg);
    float* x = net.blob("x")->mutable_host_data();
    for (int i = 0; i < 24; ++i) x[i] = float(i);
    net.forward();
    EXPECT_EQ(net.blob("r")->shape(), (crema::Shape{2, 12}));
    EXPECT_TRUE(net.blob("r")->shares_data_with(*net.blob("x")));
    EXPECT_EQ(net.blob("r")->host_data()[23], 23.f);
  }
  {
    crema::Net net(
        crema::parse_net_text(input + "layer { name: 's' type: 'Softmax' bottom: 'r' top: 'r' }\n",
                              "<in place>", reg),
        {}, reg);
    float* x = net.blob("x")->mutable_host_data();
    for (int i = 0; i < 24; ++i) x[i] = float(i);
    net.forward();
    EXPECT_FALSE(net.blob("r")->shares_data_with(*net.blob("x")));
    EXPECT_EQ(net.blob("x")->host_data()[23], 23.f);  // untouched by the in-place softmax
    EXPECT_LT(net.blob("r")->host_data()[23], 1.f);
  }
}

// The declared configurations' gradients run in the CPU and GPU sweeps; a copy layer's GPU
// result must equal the CPU's exactly.
TEST(Reshape, GpuAgreesExactly) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  const std::pair<std::string, Shape> cases[] = {
      {"shape { dim: 0 dim: -1 }", {2, 3, 4}},
      {"shape { dim: -1 }", {1, 7, 3}},
      {"shape { dim: 3 dim: 1 } axis: 1 num_axes: 1", {3, 3, 5}}};
  for (const auto& [body, s] : cases)
    EXPECT_EQ(crema::testing::max_device_disagreement(rs(body), {s}, {}), 0.0) << body;
}

// The same on the GPU: shared memory is not copied, a copy keeps the bottom intact.
TEST(Reshape, GpuNetSharesOrCopies) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  crema::Registry& reg = crema::Registry::global();
  const std::string input =
      "layer { name: 'x' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 dim: 4 } } }\n"
      "layer { name: 'r' type: 'Reshape' bottom: 'x' top: 'r' reshape_param { shape { dim: 0 dim: "
      "-1 } } }\n";
  for (bool in_place_consumer : {false, true}) {
    const std::string text =
        input +
        (in_place_consumer ? "layer { name: 's' type: 'Softmax' bottom: 'r' top: 'r' }\n" : "");
    crema::Net net(crema::parse_net_text(text, "<gpu>", reg), {}, reg);
    net.set_device(CREMA_CUDA);
    float* x = net.blob("x")->mutable_host_data();
    for (int i = 0; i < 24; ++i) x[i] = float(i);
    net.forward();
    EXPECT_EQ(net.blob("r")->shares_data_with(*net.blob("x")), !in_place_consumer);
    EXPECT_EQ(net.blob("x")->host_data()[23], 23.f);
    if (in_place_consumer)
      EXPECT_LT(net.blob("r")->host_data()[23], 1.f);
    else
      EXPECT_EQ(net.blob("r")->host_data()[23], 23.f);
  }
}
