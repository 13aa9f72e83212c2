// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm absorbing the Scale and ReLU that follow it in place (Net::absorbed_into): which
// layers qualify, and that the fused CPU passes give the numbers of the separate layers (loss,
// every parameter gradient, the running statistics, the data gradient), in TRAIN and TEST, with
// BatchNorm in place or not, frozen statistics, a leaky ReLU and a Scale without bias; and on
// the 2-d (N, C) output of an InnerProduct, which BatchNorm computes as rows of channels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include "crema/core/host.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

// The Scale "sc1" in place on `blob`, its scale and bias drawn away from 1 and 0.
std::string scale_layer(const std::string& blob) {
  return R"(layer { name: "sc1" type: "Scale" bottom: ")" + blob + R"(" top: ")" + blob + R"("
        scale_param { bias_term: true filler { type: "uniform" min: 0.5 max: 1.5 }
                      bias_filler { type: "uniform" min: -0.5 max: 0.5 } } })";
}

// bn1 writes bn1_top ("c1": in place), followed in place by sc1 and relu1; bn2 and sc2 in place
// on c2 with no ReLU after them; an Eltwise SUM (coefficients 1, -0.5) with a leaky ReLU after
// it (not absorbed: measured no faster, see BENCHMARKS.md). bn_param goes to both BatchNorm
// layers.
std::string net_text(const std::string& bn1_top, const std::string& bn_param,
                     const std::string& relu_param, const std::string& scale2_param) {
  return R"(
name: "absorb"
force_backward: true
layer { name: "in" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 3 dim: 2 dim: 5 dim: 4 } shape { dim: 3 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 5 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
layer { name: "bn1" type: "BatchNorm" bottom: "c1" top: ")" +
         bn1_top + R"(" )" + bn_param + R"( }
)" + scale_layer(bn1_top) +
         R"(
layer { name: "relu1" type: "ReLU" bottom: ")" +
         bn1_top + R"(" top: ")" + bn1_top + R"(" )" + relu_param + R"( }
layer { name: "conv2" type: "Convolution" bottom: ")" +
         bn1_top + R"(" top: "c2"
        convolution_param { num_output: 4 kernel_size: 1 weight_filler { type: "msra" } } }
layer { name: "bn2" type: "BatchNorm" bottom: "c2" top: "c2" )" +
         bn_param + R"( }
layer { name: "sc2" type: "Scale" bottom: "c2" top: "c2" )" +
         scale2_param + R"( }
layer { name: "conv2b" type: "Convolution" bottom: ")" +
         bn1_top + R"(" top: "c2b"
        convolution_param { num_output: 4 kernel_size: 1 weight_filler { type: "msra" } } }
layer { name: "sum" type: "Eltwise" bottom: "c2" bottom: "c2b" top: "s"
        eltwise_param { operation: SUM coeff: 1 coeff: -0.5 } }
layer { name: "sum_relu" type: "ReLU" bottom: "s" top: "s" relu_param { negative_slope: 0.05 } }
layer { name: "fc" type: "InnerProduct" bottom: "s" top: "fc"
        inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
)";
}

// The same three layers in place on the (9, width) output of an InnerProduct: rows of `width`
// channels (batch_norm_rows_vec.hpp where width is a multiple of 16, else batch_norm_rows.hpp).
std::string rows_net_text(int width, const std::string& bn_param) {
  return R"(
name: "absorb_rows"
force_backward: true
layer { name: "in" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 9 dim: 2 dim: 5 dim: 4 } shape { dim: 9 } } }
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "h"
        inner_product_param { num_output: )" +
         std::to_string(width) + R"( weight_filler { type: "xavier" } } }
layer { name: "bn1" type: "BatchNorm" bottom: "h" top: "h" )" +
         bn_param + R"( }
)" + scale_layer("h") +
         R"(
layer { name: "relu1" type: "ReLU" bottom: "h" top: "h" relu_param { negative_slope: 0.1 } }
layer { name: "fc" type: "InnerProduct" bottom: "h" top: "fc"
        inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
)";
}

struct Run {
  std::vector<float> loss, data_diff;
  std::vector<std::vector<float>> params;  // data and diff of every blob, state included
};

Run run(const std::string& text, bool fuse, pb::Phase phase, int steps) {
  NetOptions opt;
  opt.seed = 11;
  opt.phase = phase;
  opt.fuse = fuse;
  Net net(parse_net_text(text, "<absorb>", Registry::global()), opt);
  EXPECT_EQ(net.absorbed_into(net.layer_index("sc1")), fuse ? net.layer_index("bn1") : -1);
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.3f, 2.f);
  Run r;
  for (int s = 0; s < steps; ++s) {
    Tensor* data = net.blob("data");
    for (int64_t i = 0; i < data->count(); ++i) data->mutable_host_data()[i] = g(rng);
    Tensor* label = net.blob("label");
    for (int64_t i = 0; i < label->count(); ++i) label->mutable_host_data()[i] = float((i + s) % 3);
    net.clear_param_diffs();
    r.loss.push_back(net.forward());
    if (phase == pb::TRAIN) net.backward();
  }
  if (phase == pb::TRAIN)
    r.data_diff.assign(net.blob("data")->host_diff(),
                       net.blob("data")->host_diff() + net.blob("data")->count());
  for (Tensor* p : net.all_params()) {
    r.params.emplace_back(p->host_data(), p->host_data() + p->count());
    if (phase == pb::TRAIN) r.params.emplace_back(p->host_diff(), p->host_diff() + p->count());
  }
  return r;
}

// Float rounding differs between the two orders of the same products (frozen statistics of a
// fresh net divide by sqrt(eps): gradients of ~10 with rounding of ~1e-4 relative to 1).
void expect_close(const std::vector<float>& a, const std::vector<float>& b,
                  const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], 1e-4 * (1 + std::fabs(b[i]))) << what << " [" << i << "]";
}

void expect_same_numbers(const std::string& text, pb::Phase phase) {
  set_num_threads(1);
  Run fused = run(text, true, phase, 3), separate = run(text, false, phase, 3);
  expect_close(fused.loss, separate.loss, "loss");
  expect_close(fused.data_diff, separate.data_diff, "data diff");
  ASSERT_EQ(fused.params.size(), separate.params.size());
  for (size_t k = 0; k < fused.params.size(); ++k)
    expect_close(fused.params[k], separate.params[k], "param blob " + std::to_string(k));
}

TEST(Absorption, BatchNormTakesTheScaleAndReluAfterItInPlace) {
  std::string text = net_text("c1", "", "", "scale_param { bias_term: true }");
  Net net(parse_net_text(text, "<absorb>", Registry::global()), NetOptions{});
  const int bn1 = net.layer_index("bn1"), bn2 = net.layer_index("bn2");
  EXPECT_EQ(net.absorbed_into(net.layer_index("sc1")), bn1);
  EXPECT_EQ(net.absorbed_into(net.layer_index("relu1")), bn1);
  EXPECT_EQ(net.absorbed_into(net.layer_index("sc2")), bn2);      // no ReLU after: the Scale alone
  EXPECT_EQ(net.absorbed_into(net.layer_index("sum_relu")), -1);  // Eltwise absorbs nothing
  EXPECT_EQ(net.absorbed_into(net.layer_index("fc")), -1);
  EXPECT_EQ(net.absorbed_into(bn1), -1);
  // A Scale over two axes is not the per-channel form: neither it nor the ReLU after it.
  std::string two_axes = net_text("c1", "", "", "scale_param { num_axes: 2 }");
  std::string pos = "scale_param { bias_term: true filler";
  two_axes.replace(two_axes.find(pos), pos.size(),
                   "scale_param { num_axes: 2 bias_term: true filler");
  Net other(parse_net_text(two_axes, "<absorb>", Registry::global()), NetOptions{});
  EXPECT_EQ(other.absorbed_into(other.layer_index("sc1")), -1);
  EXPECT_EQ(other.absorbed_into(other.layer_index("relu1")), -1);
  EXPECT_EQ(other.absorbed_into(other.layer_index("sc2")), -1);
  // NetOptions::fuse = false (crema train/test/time -fuse=false): every layer runs alone.
  NetOptions no_fusion;
  no_fusion.fuse = false;
  Net off(parse_net_text(text, "<absorb>", Registry::global()), no_fusion);
  for (int i = 0; i < off.num_layers(); ++i) EXPECT_EQ(off.absorbed_into(i), -1) << i;
}

// CREMA_FUSE, a debugging override, wins over NetOptions::fuse both ways.
TEST(Absorption, CremaFuseOverridesTheOption) {
  const std::string text = net_text("c1", "", "", "scale_param { bias_term: true }");
  NetOptions no_fusion;
  no_fusion.fuse = false;
  setenv("CREMA_FUSE", "0", 1);
  Net off(parse_net_text(text, "<absorb>", Registry::global()), NetOptions{});
  setenv("CREMA_FUSE", "1", 1);
  Net on(parse_net_text(text, "<absorb>", Registry::global()), no_fusion);
  unsetenv("CREMA_FUSE");
  for (int i = 0; i < off.num_layers(); ++i) EXPECT_EQ(off.absorbed_into(i), -1) << i;
  EXPECT_EQ(on.absorbed_into(on.layer_index("sc1")), on.layer_index("bn1"));
  EXPECT_EQ(on.absorbed_into(on.layer_index("relu1")), on.layer_index("bn1"));
}

TEST(Absorption, FusedPassesMatchTheSeparateLayers) {
  const std::string scale_bias = "scale_param { bias_term: true }";
  {
    SCOPED_TRACE("in place, batch statistics");
    expect_same_numbers(net_text("c1", "", "", scale_bias), pb::TRAIN);
  }
  {
    SCOPED_TRACE("out of place, leaky ReLU, Scale without bias");
    expect_same_numbers(net_text("b1", "", "relu_param { negative_slope: 0.1 }", ""), pb::TRAIN);
  }
  {
    SCOPED_TRACE("frozen statistics (use_global_stats in TRAIN), in place and not");
    const std::string frozen = "batch_norm_param { use_global_stats: true }";
    expect_same_numbers(net_text("c1", frozen, "", scale_bias), pb::TRAIN);
    expect_same_numbers(net_text("b1", frozen, "relu_param { negative_slope: 0.2 }", ""),
                        pb::TRAIN);
  }
  {
    SCOPED_TRACE("TEST phase");
    expect_same_numbers(net_text("c1", "", "", scale_bias), pb::TEST);
  }
}

TEST(Absorption, FusedPassesOverRowsMatchTheSeparateLayers) {
  for (int width : {32, 20}) {
    SCOPED_TRACE(std::to_string(width) + " channels");
    expect_same_numbers(rows_net_text(width, ""), pb::TRAIN);
    expect_same_numbers(rows_net_text(width, "batch_norm_param { use_global_stats: true }"),
                        pb::TRAIN);
    expect_same_numbers(rows_net_text(width, ""), pb::TEST);
  }
}

}  // namespace
}  // namespace crema
