// SPDX-License-Identifier: BSD-2-Clause
// bf16 storage between layers (ABI 1.5): which blobs a net stores in bf16 (those whose every
// layer asked for it and declared it), that an fp32-only plugin keeps fp32 blobs around it, that
// outputs and losses stay fp32, that a Split keeps one type, and that a residual block trained
// through bf16 blobs agrees with the same block on fp32 blobs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "crema/bf16.hpp"
#include "crema/core/net.hpp"
#include "crema/core/precision.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "largest_difference.hpp"

namespace crema {
namespace {

// A residual block as net_defs writes it: conv-BN-Scale-ReLU-conv-BN-Scale, a shortcut, the
// sum and its ReLU; then pooling, a classifier and a loss, and on a second branch an fp32-only
// TanH with a per-pixel loss (whose gradient differs at every element: through the global
// pooling alone, BatchNorm's backward would cancel a gradient constant over each plane down to
// its rounding errors, and no comparison could tell bf16's rounding from a bug).
const char* kBlock = R"(
  layer { name: "in" type: "Input" top: "x" top: "label" top: "target"
          input_param { shape { dim: 4 dim: 8 dim: 6 dim: 6 } shape { dim: 4 }
                        shape { dim: 4 dim: 8 dim: 6 dim: 6 } } }
  layer { name: "c1" type: "Convolution" bottom: "x" top: "c1"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "b1" type: "BatchNorm" bottom: "c1" top: "c1" }
  layer { name: "s1" type: "Scale" bottom: "c1" top: "c1" scale_param { bias_term: true } }
  layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" }
  layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2"
          convolution_param { num_output: 8 kernel_size: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "b2" type: "BatchNorm" bottom: "c2" top: "c2" }
  layer { name: "s2" type: "Scale" bottom: "c2" top: "c2" scale_param { bias_term: true } }
  layer { name: "sum" type: "Eltwise" bottom: "c2" bottom: "x" top: "sum" }
  layer { name: "r2" type: "ReLU" bottom: "sum" top: "sum" }
  layer { name: "t" type: "TanH" bottom: "sum" top: "t" }
  layer { name: "pool" type: "Pooling" bottom: "sum" top: "pool"
          pooling_param { pool: AVE global_pooling: true } }
  layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc"
          inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
  layer { name: "tloss" type: "EuclideanLoss" bottom: "t" bottom: "target" top: "tloss" }
)";

bool bf16_here() { return cpu_has_bf16(); }

Net make_net(std::optional<crema_dtype> precision, const std::string& extra = "",
             const std::string& block = kBlock) {
  NetOptions o;
  o.precision = precision;
  o.seed = 5;
  return Net(parse_net_text(extra + block, "block.prototxt", Registry::global()), o);
}

void fill_inputs(Net& net) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 1.f);
  float* x = net.blob("x")->mutable_host_data();
  for (int64_t i = 0; i < net.blob("x")->count(); ++i) x[i] = d(rng);
  float* label = net.blob("label")->mutable_host_data();
  for (int i = 0; i < 4; ++i) label[i] = static_cast<float>(i % 3);
  float* target = net.blob("target")->mutable_host_data();
  for (int64_t i = 0; i < net.blob("target")->count(); ++i) target[i] = d(rng);
}

TEST(Storage, BlobsBetweenBf16LayersAreStoredInBf16) {
  if (!bf16_here()) GTEST_SKIP() << "this CPU lacks AVX512_BF16: every blob stays fp32";
  Net net = make_net(CREMA_BFLOAT16);
  // Produced and read only by layers that declared bf16 storage (BatchNorm's Scale and ReLU are
  // computed inside it on the CPU).
  EXPECT_EQ(net.blob("c1")->dtype(), CREMA_BFLOAT16);
  EXPECT_EQ(net.blob("c2")->dtype(), CREMA_BFLOAT16);
  // The net's input (Input declares nothing), the loss and the classifier stay fp32.
  EXPECT_EQ(net.blob("x")->dtype(), CREMA_FLOAT32);
  EXPECT_EQ(net.blob("loss")->dtype(), CREMA_FLOAT32);
  EXPECT_EQ(net.blob("fc")->dtype(), CREMA_FLOAT32);
  // "sum" feeds the fp32-only TanH (through a Split): the Split's bottom and tops stay fp32.
  EXPECT_EQ(net.blob("sum")->dtype(), CREMA_FLOAT32);
  for (const std::string& name : net.blob_names()) {
    if (name.find("sum_r2_0_split") == 0) {
      EXPECT_EQ(net.blob(name)->dtype(), CREMA_FLOAT32) << name;
    }
  }
  EXPECT_NE(net.precision_summary().find("bf16 storage for"), std::string::npos)
      << net.precision_summary();
  // Reading a bf16 blob as fp32 is refused with a message; to_float widens it.
  net.forward();
  EXPECT_THROW(net.blob("c1")->host_data(), std::runtime_error);
  EXPECT_EQ(net.blob("c1")->to_float().size(), static_cast<size_t>(net.blob("c1")->count()));
}

TEST(Storage, Fp32UnlessAskedOrWhereTheCpuLacksBf16) {
  Net plain = make_net(std::nullopt);
  for (const std::string& name : plain.blob_names())
    EXPECT_EQ(plain.blob(name)->dtype(), CREMA_FLOAT32) << name;
  EXPECT_EQ(plain.precision_summary(), "fp32");
  // bf16 math with fp32 storage: NVCaffe's forward_type FLOAT beside forward_math BFLOAT16.
  Net math_only = make_net(std::nullopt, "default_forward_math: BFLOAT16\n");
  for (const std::string& name : math_only.blob_names())
    EXPECT_EQ(math_only.blob(name)->dtype(), CREMA_FLOAT32) << name;
  // A layer's own forward_type FLOAT keeps its blobs fp32 in a bf16 run.
  std::string text = kBlock;
  const std::string b2 = "name: \"b2\" type: \"BatchNorm\"";
  text.replace(text.find(b2), b2.size(), b2 + " forward_type: FLOAT");
  NetOptions o;
  o.precision = CREMA_BFLOAT16;
  Net pinned(parse_net_text(text, "block.prototxt", Registry::global()), o);
  EXPECT_EQ(pinned.blob("c2")->dtype(), CREMA_FLOAT32);
}

// The block in bf16 math, once with fp32 blobs (forward_type FLOAT) and once with bf16 blobs:
// the loss and every parameter gradient agree to bf16's rounding of the activations (each
// stored value is off by at most 2^-9 of itself; through two BatchNorms that stays within a
// few percent of each gradient's largest magnitude, while a wrong element or a missing term
// would be off by O(100%)). Without the ReLU after the sum: in a net this small the two runs'
// sums differ in sign at a couple of elements near 0 (bf16's rounding of the branch), and each
// such kink moves a gradient by a whole term (measured: 10% of the largest); the ReLU inside
// the first BatchNorm stays.
TEST(Storage, Bf16BlobsTrainLikeFp32Blobs) {
  if (!bf16_here()) GTEST_SKIP() << "this CPU lacks AVX512_BF16: every blob stays fp32";
  std::string block = kBlock;
  const std::string r2 = R"(layer { name: "r2" type: "ReLU" bottom: "sum" top: "sum" })";
  block.erase(block.find(r2), r2.size());
  Net wide = make_net(std::nullopt,
                      "default_forward_math: BFLOAT16\ndefault_backward_math: BFLOAT16\n", block);
  Net narrow = make_net(CREMA_BFLOAT16, "", block);
  ASSERT_EQ(narrow.blob("c1")->dtype(), CREMA_BFLOAT16);
  fill_inputs(wide);
  fill_inputs(narrow);
  wide.clear_param_diffs();
  narrow.clear_param_diffs();
  const float lw = wide.forward_backward(), ln = narrow.forward_backward();
  EXPECT_NEAR(ln, lw, 2e-2 * std::fabs(lw));
  ASSERT_EQ(wide.learnable_params().size(), narrow.learnable_params().size());
  for (size_t k = 0; k < wide.learnable_params().size(); ++k) {
    const Tensor& a = *wide.learnable_params()[k].tensor;
    const Tensor& b = *narrow.learnable_params()[k].tensor;
    const LargestDifference d = largest_difference(b.host_diff(), a.host_diff(), a.count());
    EXPECT_GT(d.scale, 0) << wide.learnable_params()[k].label;
    EXPECT_LE(d.worst, 5e-2 * d.scale) << wide.learnable_params()[k].label;
  }
}

TEST(Storage, TensorRoundsAndWidensLikeTheHardware) {
  // float_to_bf16: nearest even, NaN kept, subnormals to signed zero.
  EXPECT_EQ(float_to_bf16(1.f), 0x3f80);
  EXPECT_EQ(float_to_bf16(1.f + 1.f / 256), 0x3f80);          // a tie: to even
  EXPECT_EQ(float_to_bf16(1.f + 3.f / 256), 0x3f82);          // a tie: to even, upwards
  EXPECT_EQ(float_to_bf16(1.f + 1.f / 256 + 1e-6f), 0x3f81);  // past the tie
  EXPECT_EQ(float_to_bf16(-1e-40f), 0x8000);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  EXPECT_EQ(bf16_to_float(float_to_bf16(INFINITY)), INFINITY);
  Tensor t(Shape{3});
  t.mutable_host_data()[0] = 1.f;
  t.set_dtype(CREMA_BFLOAT16);  // the contents go: a blob's type is chosen before it is used
  auto* raw = static_cast<uint16_t*>(t.mutable_host_raw());
  raw[0] = float_to_bf16(2.5f), raw[1] = float_to_bf16(-3.f), raw[2] = float_to_bf16(0.1f);
  const std::vector<float> v = t.to_float();
  EXPECT_EQ(v[0], 2.5f);
  EXPECT_EQ(v[1], -3.f);
  EXPECT_NEAR(v[2], 0.1f, 0.1f / 256);
  EXPECT_EQ(t.buffer_bytes(), 3u * 2u);
  EXPECT_THROW(t.mutable_host_diff(), std::runtime_error);
}

}  // namespace
}  // namespace crema
