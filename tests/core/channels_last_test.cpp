// SPDX-License-Identifier: BSD-2-Clause
// Channels-last bf16 blobs (ABI 1.6): which blobs a net stores N,H,W,C (4-D bf16 blobs whose
// every layer declared the order; a layer without CREMA_LAYOUT_MIXED keeps its tensors in one
// order), that CREMA_CHANNELS_LAST=0 turns it off, that a residual net trains through N,H,W,C
// blobs as through N,C,H,W ones (also through Convolution's own Winograd and 1x1 GEMM methods),
// and the tensor's logical view of its N,H,W,C bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "crema/bf16.hpp"
#include "crema/core/net.hpp"
#include "crema/core/precision.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "largest_difference.hpp"
#include "narrow_nets.hpp"

namespace crema {
namespace {

// A stem and one residual block as net_defs writes them, then global pooling, a classifier and a
// loss; the per-pixel EuclideanLoss on tanh(c1) gives every element its own gradient (through
// the global pooling alone, BatchNorm's backward would cancel a gradient constant over each
// plane). TanH declares neither bf16 storage nor an order, so c1 stays fp32 N,C,H,W.
const std::string kResidual = R"(
  layer { name: "in" type: "Input" top: "x" top: "label" top: "target"
          input_param { shape { dim: 4 dim: 3 dim: 6 dim: 6 } shape { dim: 4 }
                        shape { dim: 4 dim: 20 dim: 6 dim: 6 } } }
  layer { name: "c0" type: "Convolution" bottom: "x" top: "c0"
          convolution_param { num_output: 20 kernel_size: 3 pad: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "b0" type: "BatchNorm" bottom: "c0" top: "c0" }
  layer { name: "s0" type: "Scale" bottom: "c0" top: "c0" scale_param { bias_term: true } }
  layer { name: "r0" type: "ReLU" bottom: "c0" top: "c0" }
  layer { name: "c1" type: "Convolution" bottom: "c0" top: "c1"
          convolution_param { num_output: 20 kernel_size: 3 pad: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "b1" type: "BatchNorm" bottom: "c1" top: "c1" }
  layer { name: "s1" type: "Scale" bottom: "c1" top: "c1" scale_param { bias_term: true } }
  layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" }
  layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2"
          convolution_param { num_output: 20 kernel_size: 1 bias_term: true
                              weight_filler { type: "msra" } } }
  layer { name: "b2" type: "BatchNorm" bottom: "c2" top: "c2" }
  layer { name: "s2" type: "Scale" bottom: "c2" top: "c2" scale_param { bias_term: true } }
  layer { name: "sum" type: "Eltwise" bottom: "c2" bottom: "c0" top: "sum" }
)" + classifier_and_pixel_loss("sum", "c1");

bool bf16_here() { return cpu_has_bf16(); }

// CREMA_CHANNELS_LAST=0 for as long as it lives.
struct ChannelsLastOff {
  ChannelsLastOff() { setenv("CREMA_CHANNELS_LAST", "0", 1); }
  ~ChannelsLastOff() { unsetenv("CREMA_CHANNELS_LAST"); }
};

// The net in bf16 (blobs N,H,W,C where the plan allows it, unless `off` is given).
Net make_net(const std::string& text, const ChannelsLastOff* off = nullptr) {
  (void)off;  // planned while it lives
  return net_from_text(CREMA_BFLOAT16, text);
}

TEST(ChannelsLast, BlobsBetweenDeclaringLayersAreStoredChannelsLast) {
  if (!bf16_here()) GTEST_SKIP() << "this CPU lacks AVX512_BF16: every blob stays fp32";
  Net net = make_net(kResidual);
  // Convolution, BatchNorm (with its Scale and ReLU), Eltwise, Split and Pooling declare it.
  for (const char* name : {"c0", "c2", "sum"}) {
    EXPECT_EQ(net.blob(name)->dtype(), CREMA_BFLOAT16) << name;
    EXPECT_TRUE(net.blob(name)->channels_last()) << name;
  }
  // TanH declares neither bf16 storage nor an order: "c1", which it reads, stays fp32 N,C,H,W.
  EXPECT_EQ(net.blob("c1")->dtype(), CREMA_FLOAT32);
  EXPECT_FALSE(net.blob("c1")->channels_last());
  // The fp32 input, the pooled features and the classifier stay N,C,H,W.
  for (const char* name : {"x", "pool", "fc"})
    EXPECT_FALSE(net.blob(name)->channels_last()) << name;
  EXPECT_NE(net.precision_summary().find("N,H,W,C"), std::string::npos) << net.precision_summary();
  // Every Split of c0 shares its order.
  for (const std::string& name : net.blob_names())
    if (name.rfind("c0_", 0) == 0 && name.find("split") != std::string::npos) {
      EXPECT_TRUE(net.blob(name)->channels_last()) << name;
    }
}

TEST(ChannelsLast, AnElementwiseLayerKeepsOneOrder) {
  if (!bf16_here()) GTEST_SKIP() << "this CPU lacks AVX512_BF16: every blob stays fp32";
  // An Eltwise whose one bottom is fp32 4-D keeps its bf16 bottom and its top N,C,H,W too:
  // with the fp32 input "target" as the shortcut, c2 and sum go back to N,C,H,W, while c0
  // (between two convolutions and a BatchNorm, which may differ per tensor) stays N,H,W,C.
  std::string text = kResidual;
  const std::string shortcut = R"(bottom: "c2" bottom: "c0")";
  text.replace(text.find(shortcut), shortcut.size(), R"(bottom: "c2" bottom: "target")");
  Net mixed = make_net(text);
  EXPECT_EQ(mixed.blob("c2")->dtype(), CREMA_BFLOAT16);
  EXPECT_EQ(mixed.blob("sum")->dtype(), CREMA_BFLOAT16);
  EXPECT_FALSE(mixed.blob("c2")->channels_last());
  EXPECT_FALSE(mixed.blob("sum")->channels_last());
  EXPECT_TRUE(mixed.blob("c0")->channels_last());
}

TEST(ChannelsLast, OffWithTheEnvironmentVariable) {
  if (!bf16_here()) GTEST_SKIP() << "this CPU lacks AVX512_BF16: every blob stays fp32";
  ChannelsLastOff off;
  Net net = make_net(kResidual, &off);
  for (const std::string& name : net.blob_names())
    EXPECT_FALSE(net.blob(name)->channels_last()) << name;
  EXPECT_EQ(net.blob("c0")->dtype(), CREMA_BFLOAT16);
}

// The same net and inputs through N,H,W,C blobs and through N,C,H,W blobs (both bf16): the
// values stored are the same roundings of the same sums but for summation order (oneDNN's 1x1
// convolution instead of crema's GEMM, BatchNorm's channel sums by rows), so each blob, the loss
// and every parameter gradient agree to a few bf16 units of their largest magnitude; a permuted
// or misread element would be off by O(100%).
TEST(ChannelsLast, TrainsLikeChannelsFirst) {
  if (!bf16_here()) GTEST_SKIP() << "this CPU lacks AVX512_BF16: every blob stays fp32";
  Net last = make_net(kResidual);
  ChannelsLastOff off;
  Net first = make_net(kResidual, &off);
  ASSERT_TRUE(last.blob("c2")->channels_last());
  ASSERT_FALSE(first.blob("c2")->channels_last());
  fill_inputs(last);
  fill_inputs(first);
  last.clear_param_diffs();
  first.clear_param_diffs();
  const float loss_last = last.forward_backward(), loss_first = first.forward_backward();
  EXPECT_NEAR(loss_last, loss_first, 1e-2 * std::fabs(loss_first));
  for (const char* name : {"c0", "c2", "sum"}) {
    const std::vector<float> a = last.blob(name)->to_float(), b = first.blob(name)->to_float();
    const LargestDifference d = largest_difference(a.data(), b.data(), first.blob(name)->count());
    EXPECT_LE(d.worst, 2e-2 * d.scale) << name;
  }
  expect_param_gradients_agree(first, last, 3e-2);
}

// A residual block whose inner convolutions take crema's own bf16 methods between N,H,W,C
// blobs: c1 (3x3, stride 1, 64 channels, 14 x 14) Winograd F(2x2, 3x3), c2 (1x1, no bias) one
// GEMM forward, on crema's 64-column kernel (gemm64_bf16.hpp) as its dE/dx. No ReLU after c1:
// its values differ from oneDNN's by bf16 units, and a ReLU would flip at a few near-zero ones,
// moving single gradients by O(1); nothing between c2 and the sum (a BatchNorm there would make
// s1's bias gradient zero but for rounding). The per-pixel loss hangs off a 1x1 convolution of
// the sum (c3, fp32 N,C,H,W for TanH), so that the sum stays N,H,W,C bf16 and every element gets
// its own gradient.
const char* kWinogradBlock = R"(
  layer { name: "in" type: "Input" top: "x" top: "label" top: "target"
          input_param { shape { dim: 4 dim: 16 dim: 14 dim: 14 } shape { dim: 4 }
                        shape { dim: 4 dim: 64 dim: 14 dim: 14 } } }
  layer { name: "c0" type: "Convolution" bottom: "x" top: "c0"
          convolution_param { num_output: 64 kernel_size: 3 pad: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "b0" type: "BatchNorm" bottom: "c0" top: "c0" }
  layer { name: "s0" type: "Scale" bottom: "c0" top: "c0" scale_param { bias_term: true } }
  layer { name: "r0" type: "ReLU" bottom: "c0" top: "c0" }
  layer { name: "c1" type: "Convolution" bottom: "c0" top: "c1"
          convolution_param { num_output: 64 kernel_size: 3 pad: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "b1" type: "BatchNorm" bottom: "c1" top: "c1" }
  layer { name: "s1" type: "Scale" bottom: "c1" top: "c1" scale_param { bias_term: true } }
  layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2"
          convolution_param { num_output: 64 kernel_size: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "sum" type: "Eltwise" bottom: "c2" bottom: "c0" top: "sum" }
  layer { name: "pool" type: "Pooling" bottom: "sum" top: "pool"
          pooling_param { pool: AVE global_pooling: true } }
  layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc"
          inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
  layer { name: "c3" type: "Convolution" bottom: "sum" top: "c3"
          convolution_param { num_output: 64 kernel_size: 1 bias_term: true
                              weight_filler { type: "msra" } } }
  layer { name: "t" type: "TanH" bottom: "c3" top: "c3_out" }
  layer { name: "tloss" type: "EuclideanLoss" bottom: "c3_out" bottom: "target" top: "tloss" }
)";

// CREMA_CONV_WINOGRAD_BF16, CREMA_CONV_1X1_GEMM and CREMA_CONV_GEMM64 set to `on` (whatever the
// CPU and shape rules say) for as long as it lives.
struct OwnMethods {
  explicit OwnMethods(bool on) {
    for (const char* name : kVariables) setenv(name, on ? "1" : "0", 1);
  }
  ~OwnMethods() {
    for (const char* name : kVariables) unsetenv(name);
  }
  static constexpr const char* kVariables[] = {"CREMA_CONV_WINOGRAD_BF16", "CREMA_CONV_1X1_GEMM",
                                               "CREMA_CONV_GEMM64"};
};

// The block through crema's Winograd and 1x1 GEMM, through oneDNN's convolution on the same
// N,H,W,C blobs, and through N,C,H,W bf16 blobs: each blob, the loss and every parameter
// gradient agree within the bf16 tolerances of TrainsLikeChannelsFirst (the Winograd's
// transformed operands are rounded instead of x and W: about twice the direct error), and the
// first differs from the second (another method ran).
TEST(ChannelsLast, WinogradAndGemmMethodsTrainLikeOnednn) {
  if (!bf16_here()) GTEST_SKIP() << "this CPU lacks AVX512_BF16: every blob stays fp32";
  Net own = [] {
    OwnMethods on(true);
    return make_net(kWinogradBlock);
  }();
  Net onednn = [] {
    OwnMethods off(false);
    return make_net(kWinogradBlock);
  }();
  ChannelsLastOff first_order;
  Net first = make_net(kWinogradBlock, &first_order);
  for (const char* name : {"c0", "c1", "c2", "sum"})
    ASSERT_TRUE(own.blob(name)->channels_last()) << name;
  float losses[3];
  Net* nets[3] = {&own, &onednn, &first};
  for (int i = 0; i < 3; ++i) {
    fill_inputs(*nets[i]);
    nets[i]->clear_param_diffs();
    losses[i] = nets[i]->forward_backward();
  }
  EXPECT_NEAR(losses[0], losses[2], 1e-2 * std::fabs(losses[2]));
  for (const char* name : {"c1", "c2", "sum"}) {
    const std::vector<float> a = own.blob(name)->to_float(), b = first.blob(name)->to_float(),
                             c = onednn.blob(name)->to_float();
    const LargestDifference d = largest_difference(a.data(), b.data(), first.blob(name)->count());
    EXPECT_LE(d.worst, 2e-2 * d.scale) << name;
    if (std::string(name) != "sum") {
      EXPECT_NE(a, c) << name << ": the same method ran twice";
    }
  }
  expect_param_gradients_agree(first, own, 3e-2);
}

TEST(ChannelsLast, TensorSpeaksNchwOverItsNhwcBytes) {
  Tensor t(Shape{2, 3, 2, 2});
  EXPECT_THROW(t.set_channels_last(true), std::runtime_error);  // fp32 tensors stay N,C,H,W
  t.set_dtype(CREMA_BFLOAT16);
  t.set_channels_last(true);
  ASSERT_TRUE(t.channels_last());
  // Logical value of (n, c, h, w): 100n + 10c + 2h + w, all exact in bf16.
  std::vector<float> logical(24);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 4; ++p) logical[(n * 3 + c) * 4 + p] = 100 * n + 10 * c + p;
  t.from_float(logical.data());
  // In memory: ((n*H + h)*W + w)*C + c.
  const auto* raw = static_cast<const uint16_t*>(t.host_raw());
  for (int n = 0; n < 2; ++n)
    for (int p = 0; p < 4; ++p)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(bf16_to_float(raw[(n * 4 + p) * 3 + c]), 100 * n + 10 * c + p);
  EXPECT_EQ(t.to_float(), logical);
  // Seen as 2-D the order has no meaning: refused rather than misread.
  t.reshape(Shape{2, 12});
  EXPECT_THROW(t.to_float(), std::runtime_error);
}

}  // namespace
}  // namespace crema
