// SPDX-License-Identifier: BSD-2-Clause
// Gradients passed through in shared diff memory (ABI 1.8, crema_layer_ext.passes_gradient):
// which bottoms the plan lets share their top's diff (a chain may hold in-place writers, a fork
// may not), and that nets train to the same gradients, bit for bit, with the sharing on and off
// (CREMA_SHARE_GRADIENTS=0), in fp32 and bf16, also after a reshape that regrows the blobs, and
// on a GPU in fp16 (there within cuDNN's summation order).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "crema/core/device.hpp"
#include "crema/core/gradient_sharing.hpp"
#include "narrow_nets.hpp"

namespace crema {
namespace {

bool any(int, int) { return true; }

// A layer of blob ids whose bottoms all need a gradient; `passes`: those passed through.
GradientLayer layer(std::vector<int> bottoms, std::vector<int> tops, uint32_t passes = 0) {
  std::vector<int8_t> need(bottoms.size(), 1);
  return {std::move(bottoms), std::move(tops), passes, std::move(need)};
}

std::vector<int> shared_bottoms(const std::vector<GradientShare>& plan) {
  std::vector<int> out;
  out.reserve(plan.size());
  for (const GradientShare& s : plan) out.push_back(s.bottom);
  return out;
}

// Blob ids: 0, 1 the addends, 2 the sum; in-place layers write 0 and 1 (post-activation block).
TEST(GradientSharingPlan, TwoInPlaceAddendsShareOneOfThem) {
  std::vector<GradientLayer> layers = {layer({}, {0}), layer({0}, {0}), layer({}, {1}),
                                       layer({1}, {1}), layer({0, 1}, {2}, 3u)};
  EXPECT_EQ(shared_bottoms(plan_gradient_sharing(layers, 3, any)), std::vector<int>({0}));
}

TEST(GradientSharingPlan, ReadOnlyAddendsAllShare) {
  std::vector<GradientLayer> layers = {layer({}, {0, 1}), layer({0, 1}, {2}, 3u)};
  EXPECT_EQ(shared_bottoms(plan_gradient_sharing(layers, 3, any)), std::vector<int>({0, 1}));
}

// An in-place addend beside a read-only one: the read-only one shares, the other gets a copy.
TEST(GradientSharingPlan, InPlaceAddendBesideAReadOnlyOneIsCopied) {
  std::vector<GradientLayer> layers = {layer({}, {0, 1}), layer({0}, {0}), layer({0, 1}, {2}, 3u)};
  EXPECT_EQ(shared_bottoms(plan_gradient_sharing(layers, 3, any)), std::vector<int>({1}));
}

// Sum 2 shares both its addends (3 and 4): a fork. Sum 1 made 3 from 0 and 1, written in place;
// sharing one of them would let its in-place writer overwrite what 4's producer reads later.
TEST(GradientSharingPlan, BelowAForkNoInPlaceBlobJoins) {
  std::vector<GradientLayer> layers = {layer({}, {0, 1, 4}), layer({0}, {0}), layer({1}, {1}),
                                       layer({0, 1}, {3}, 3u), layer({3, 4}, {5}, 3u)};
  EXPECT_EQ(shared_bottoms(plan_gradient_sharing(layers, 6, any)), std::vector<int>({3, 4}));
  // Without the fork (sum 2 shares only 3; 4 is not passed through) sum 1 may share 0.
  layers[4].passes = 1u;
  EXPECT_EQ(shared_bottoms(plan_gradient_sharing(layers, 6, any)), std::vector<int>({3, 0}));
}

TEST(GradientSharingPlan, RefusesWhatCannotShare) {
  // Bottom 1 not passed through, bottom 0 needing no gradient, a blob another layer reads too,
  // an incompatible blob (another storage type).
  std::vector<GradientLayer> layers = {layer({}, {0, 1}), layer({0, 1}, {2}, 1u)};
  EXPECT_EQ(shared_bottoms(plan_gradient_sharing(layers, 3, any)), std::vector<int>({0}));
  layers[1].need = {0, 1};
  EXPECT_TRUE(plan_gradient_sharing(layers, 3, any).empty());
  layers = {layer({}, {0, 1}), layer({0, 1}, {2}, 3u), layer({0}, {3})};
  EXPECT_EQ(shared_bottoms(plan_gradient_sharing(layers, 4, any)), std::vector<int>({1}));
  layers.pop_back();
  EXPECT_EQ(shared_bottoms(plan_gradient_sharing(layers, 3, [](int b, int) { return b != 0; })),
            std::vector<int>({1}));
}

// A post-activation block (its addends written in place by BatchNorm), a pre-activation block
// (read-only addends: a fork) and a sum with a coefficient other than 1, then a per-pixel loss
// so that every element carries its own gradient.
const std::string kBlocks = R"(
  layer { name: "in" type: "Input" top: "x" top: "label" top: "target"
          input_param { shape { dim: 4 dim: 3 dim: 6 dim: 6 } shape { dim: 4 }
                        shape { dim: 4 dim: 8 dim: 6 dim: 6 } } }
  layer { name: "c0" type: "Convolution" bottom: "x" top: "c0"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
  layer { name: "b0" type: "BatchNorm" bottom: "c0" top: "c0" }
  layer { name: "s0" type: "Scale" bottom: "c0" top: "c0" scale_param { bias_term: true } }
  layer { name: "r0" type: "ReLU" bottom: "c0" top: "c0" }
  layer { name: "c1" type: "Convolution" bottom: "c0" top: "c1"
          convolution_param { num_output: 8 kernel_size: 1 weight_filler { type: "msra" } } }
  layer { name: "b1" type: "BatchNorm" bottom: "c1" top: "c1" }
  layer { name: "s1" type: "Scale" bottom: "c1" top: "c1" scale_param { bias_term: true } }
  layer { name: "p1" type: "Convolution" bottom: "c0" top: "p1"
          convolution_param { num_output: 8 kernel_size: 1 weight_filler { type: "msra" } } }
  layer { name: "bp" type: "BatchNorm" bottom: "p1" top: "p1" }
  layer { name: "sum1" type: "Eltwise" bottom: "c1" bottom: "p1" top: "sum1" }
  layer { name: "rs1" type: "ReLU" bottom: "sum1" top: "sum1" }
  layer { name: "a2" type: "BatchNorm" bottom: "sum1" top: "a2" }
  layer { name: "r2" type: "ReLU" bottom: "a2" top: "a2" }
  layer { name: "c2" type: "Convolution" bottom: "a2" top: "c2"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
  layer { name: "sum2" type: "Eltwise" bottom: "c2" bottom: "sum1" top: "sum2" }
  layer { name: "c3" type: "Convolution" bottom: "sum2" top: "c3"
          convolution_param { num_output: 8 kernel_size: 1 weight_filler { type: "msra" } } }
  layer { name: "sum3" type: "Eltwise" bottom: "sum2" bottom: "c3" top: "sum3"
          eltwise_param { operation: SUM coeff: 1 coeff: -0.5 } }
)" + classifier_and_pixel_loss("sum3", "sum3");

// Whether bottom k of layer `name` holds its gradient in the top's diff memory.
bool shares(Net& net, const std::string& name, int k) {
  const int i = net.layer_index(name);
  return net.bottoms(i)[k]->shares_diff_with(*net.tops(i)[0]);
}

std::unique_ptr<Net> blocks_net(std::optional<crema_dtype> precision, bool share) {
  if (share)
    unsetenv("CREMA_SHARE_GRADIENTS");
  else
    setenv("CREMA_SHARE_GRADIENTS", "0", 1);
  NetOptions o;
  o.precision = precision;
  o.seed = 5;
  auto net =
      std::make_unique<Net>(parse_net_text(kBlocks, "blocks.prototxt", Registry::global()), o);
  unsetenv("CREMA_SHARE_GRADIENTS");
  return net;
}

void train_step(Net& net) {
  fill_inputs(net);
  for (auto& p : net.learnable_params()) p.tensor->zero_diff(CREMA_CPU);
  net.forward();
  net.backward();
}

void expect_same_param_gradients(Net& a, Net& b) {
  ASSERT_EQ(a.learnable_params().size(), b.learnable_params().size());
  for (size_t k = 0; k < a.learnable_params().size(); ++k) {
    const Tensor& x = *a.learnable_params()[k].tensor;
    const Tensor& y = *b.learnable_params()[k].tensor;
    const std::vector<float> dx = x.to_float(true), dy = y.to_float(true);
    int differ = 0;
    for (size_t e = 0; e < dx.size(); ++e) differ += dx[e] != dy[e];
    EXPECT_EQ(differ, 0) << a.learnable_params()[k].label;
  }
}

void batch_of(Net& net, int64_t n) {
  for (const char* name : {"x", "label", "target"}) {
    Shape s = net.blob(name)->shape();
    s[0] = n;
    net.blob(name)->reshape(s);
  }
  net.reshape();
}

class GradientSharingNet : public ::testing::TestWithParam<crema_dtype> {};

TEST_P(GradientSharingNet, SharesWhatThePlanAllowsAndTrainsTheSame) {
  std::unique_ptr<Net> on_net = blocks_net(GetParam(), true),
                       off_net = blocks_net(GetParam(), false);
  Net &on = *on_net, &off = *off_net;
  // sum1: one of its in-place addends; sum2: both (read-only); sum3: the addend with
  // coefficient 1 only.
  EXPECT_NE(shares(on, "sum1", 0), shares(on, "sum1", 1));
  EXPECT_TRUE(shares(on, "sum2", 0) && shares(on, "sum2", 1));
  // (sum3's top feeds TanH, which is fp32 only: in bf16 nets its addend stays bf16 and keeps
  // a diff of its own.)
  const int s3 = on.layer_index("sum3");
  EXPECT_EQ(shares(on, "sum3", 0), on.bottoms(s3)[0]->dtype() == on.tops(s3)[0]->dtype());
  EXPECT_FALSE(shares(on, "sum3", 1));
  for (const char* sum : {"sum1", "sum2", "sum3"})
    EXPECT_FALSE(shares(off, sum, 0) || shares(off, sum, 1)) << sum;
  for (int64_t batch : {4, 6}) {  // 6: every blob regrows, and the shares are made again
    if (batch != 4) batch_of(on, batch), batch_of(off, batch);
    train_step(on);
    train_step(off);
    expect_same_param_gradients(on, off);
    EXPECT_TRUE(shares(on, "sum2", 0) && shares(on, "sum2", 1)) << "batch " << batch;
  }
}

// On the GPU, where set_device plans the storage types again (fp16 blobs here) and the shares
// with them: the same shares, and gradients that agree with the sharing off (cuDNN may sum in
// another order: within 1e-2 of the largest, where a wrong share is off by O(1)).
TEST(GradientSharingGpu, SharesArePlannedForTheDeviceAndTrainTheSame) {
  if (device::count() == 0) GTEST_SKIP() << "no CUDA device: " << device::unavailable_reason();
  std::unique_ptr<Net> on = blocks_net(CREMA_FLOAT16, true), off = blocks_net(CREMA_FLOAT16, false);
  on->set_device(CREMA_CUDA);
  off->set_device(CREMA_CUDA);
  EXPECT_TRUE(shares(*on, "sum2", 0) && shares(*on, "sum2", 1));
  EXPECT_FALSE(shares(*off, "sum2", 0) || shares(*off, "sum2", 1));
  train_step(*on);
  train_step(*off);
  expect_param_gradients_agree(*off, *on, 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Precisions, GradientSharingNet,
                         ::testing::Values(CREMA_FLOAT32, CREMA_BFLOAT16), [](const auto& info) {
                           return info.param == CREMA_FLOAT32 ? "fp32" : "bf16";
                         });

}  // namespace
}  // namespace crema
