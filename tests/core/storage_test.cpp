// SPDX-License-Identifier: BSD-2-Clause
// bf16 storage between layers (ABI 1.5): which blobs a net stores in bf16 (those whose every
// layer asked for it and declared it), that an fp32-only plugin keeps fp32 blobs around it, that
// outputs and losses stay fp32, that a Split keeps one type, and that a residual block trained
// through bf16 blobs agrees with the same block on fp32 blobs. fp16 storage, a GPU type: none on
// the CPU, and on a GPU the same plan and the same agreement.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "crema/bf16.hpp"
#include "crema/core/device.hpp"
#include "crema/core/net.hpp"
#include "crema/core/precision.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "largest_difference.hpp"
#include "narrow_nets.hpp"

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
  return net_from_text(precision, extra + block);
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
  // The log line's wording, which docs/PRECISION.md quotes: c1 and c2 of the net's 15 blobs
  // (11 named, and the tops of the Splits of x and sum).
  EXPECT_TRUE(std::regex_match(
      net.storage_summary(), std::regex("bf16 storage for 2 of 15 blobs \\([0-9]+% of activation "
                                        "elements, [0-9]+ of them N,H,W,C\\), fp32 for the rest")))
      << net.storage_summary();
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
  expect_param_gradients_agree(wide, narrow, 5e-2);
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

// No layer stores fp16 on the CPU (cpu_storage is bf16 at most): -precision fp16 there computes
// where layers can and keeps every blob fp32.
TEST(Storage, Fp16KeepsEveryBlobFp32OnTheCpu) {
  Net net = make_net(CREMA_FLOAT16);
  for (const std::string& name : net.blob_names())
    EXPECT_EQ(net.blob(name)->dtype(), CREMA_FLOAT32) << name;
  EXPECT_EQ(net.storage_summary(), "");
  EXPECT_EQ(net.precision_summary().find("storage"), std::string::npos) << net.precision_summary();
}

// fp16 blobs are a GPU type: a layer that declares them for CUDA (ReLU, Split, Eltwise, Pooling)
// takes them there and nowhere else; bf16 on the CPU where the CPU has AVX512_BF16.
TEST(Storage, Fp16StorageIsTakenOnlyOnTheGpu) {
  Net net = make_net(CREMA_FLOAT16);
  // On the GPU only where the layer has a CUDA path (a build without CUDA has none: a layer that
  // falls back to the CPU in a GPU net gets fp32 blobs).
  for (const char* name : {"r1", "sum", "pool"}) {
    const LayerInstance& layer = net.layer(net.layer_index(name));
    EXPECT_EQ(layer.stores_in(CREMA_FLOAT16, CREMA_CUDA), layer.has_cuda()) << name;
    EXPECT_EQ(layer.stores_in(CREMA_BFLOAT16, CREMA_CUDA), layer.has_cuda()) << name;
    EXPECT_FALSE(layer.stores_in(CREMA_FLOAT16, CREMA_CPU)) << name;
    EXPECT_EQ(layer.stores_in(CREMA_BFLOAT16, CREMA_CPU), bf16_here()) << name;
  }
  // TanH declares no storage type on either device.
  const LayerInstance& tanh = net.layer(net.layer_index("t"));
  EXPECT_FALSE(tanh.stores_in(CREMA_FLOAT16, CREMA_CUDA));
  EXPECT_FALSE(tanh.stores_in(CREMA_BFLOAT16, CREMA_CUDA));
}

// The GPU's residual block: conv-BN-ReLU, conv-BN, the sum with the first branch's output (through
// a Split) and its ReLU; then pooling, a classifier and a loss. Every layer between the input and
// the pooling runs alone on the GPU (nothing is absorbed), so each must declare the storage type.
const char* kGpuBlock = R"(
  layer { name: "in" type: "Input" top: "x" top: "label"
          input_param { shape { dim: 4 dim: 8 dim: 6 dim: 6 } shape { dim: 4 } } }
  layer { name: "c1" type: "Convolution" bottom: "x" top: "c1"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "b1" type: "BatchNorm" bottom: "c1" top: "c1" }
  layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" }
  layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2"
          convolution_param { num_output: 8 kernel_size: 3 pad: 1 bias_term: false
                              weight_filler { type: "msra" } } }
  layer { name: "b2" type: "BatchNorm" bottom: "c2" top: "c2" }
  layer { name: "sum" type: "Eltwise" bottom: "c2" bottom: "c1" top: "sum" }
  layer { name: "r2" type: "ReLU" bottom: "sum" top: "sum" }
  layer { name: "pool" type: "Pooling" bottom: "sum" top: "pool"
          pooling_param { pool: AVE global_pooling: true } }
  layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc"
          inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
)";

class GpuStorage : public ::testing::Test {
 protected:
  void SetUp() override {
    if (device::count() == 0) GTEST_SKIP() << "no CUDA device: " << device::unavailable_reason();
  }
};

TEST_F(GpuStorage, Fp16RunStoresTheBlobsBetweenLayersInFp16) {
  Net net = make_net(CREMA_FLOAT16, "", kGpuBlock);
  net.set_device(CREMA_CUDA);
  for (const char* name : {"c1", "c2", "sum"})
    EXPECT_EQ(net.blob(name)->dtype(), CREMA_FLOAT16) << name;
  int splits = 0;
  for (const std::string& name : net.blob_names()) {
    if (name.find("c1_r1_0_split") != 0) continue;
    EXPECT_EQ(net.blob(name)->dtype(), CREMA_FLOAT16) << name;
    ++splits;
  }
  EXPECT_EQ(splits, 2);
  // The input (Input declares nothing), the classifier's output and the loss stay fp32; no blob
  // is bf16 or N,H,W,C.
  for (const char* name : {"x", "label", "fc", "loss"})
    EXPECT_EQ(net.blob(name)->dtype(), CREMA_FLOAT32) << name;
  for (const std::string& name : net.blob_names()) {
    EXPECT_NE(net.blob(name)->dtype(), CREMA_BFLOAT16) << name;
    EXPECT_FALSE(net.blob(name)->channels_last()) << name;
  }
  const std::string summary = net.precision_summary();
  EXPECT_TRUE(std::regex_search(summary, std::regex("; fp16 storage for [0-9]+ of [0-9]+ blobs "
                                                    "\\([0-9]+% of activation elements\\), fp32 "
                                                    "for the rest$")))
      << summary;
  EXPECT_EQ(summary.find("bf16 storage"), std::string::npos) << summary;
}

// The block computing in fp16 on fp32 blobs (forward_type FLOAT) and on fp16 blobs: the loss and
// every parameter gradient agree to fp16's rounding of the activations, as the CPU's bf16 blobs
// do to bf16's (Storage.Bf16BlobsTrainLikeFp32Blobs; fp16 keeps 3 bits more, so its bound holds
// with room to spare). Back on the CPU the same net keeps fp32 blobs.
TEST_F(GpuStorage, Fp16BlobsTrainLikeFp32Blobs) {
  std::string block = kGpuBlock;
  const std::string r2 = R"(layer { name: "r2" type: "ReLU" bottom: "sum" top: "sum" })";
  block.erase(block.find(r2), r2.size());
  Net wide = make_net(std::nullopt,
                      "default_forward_math: FLOAT16\ndefault_backward_math: FLOAT16\n", block);
  Net narrow = make_net(CREMA_FLOAT16, "", block);
  wide.set_device(CREMA_CUDA);
  narrow.set_device(CREMA_CUDA);
  ASSERT_EQ(wide.blob("c1")->dtype(), CREMA_FLOAT32);
  ASSERT_EQ(narrow.blob("c1")->dtype(), CREMA_FLOAT16);
  for (Net* net : {&wide, &narrow}) {
    fill_inputs(*net);
    net->clear_param_diffs();
  }
  const float lw = wide.forward_backward(), ln = narrow.forward_backward();
  ASSERT_TRUE(std::isfinite(ln));
  EXPECT_NEAR(ln, lw, 2e-2 * std::fabs(lw));
  // The fp16 blob reads back (widened) close to the fp32 one.
  const std::vector<float> c2w = wide.blob("c2")->to_float(), c2n = narrow.blob("c2")->to_float();
  const LargestDifference c2 = largest_difference(c2n.data(), c2w.data(), wide.blob("c2")->count());
  EXPECT_GT(c2.scale, 0);
  EXPECT_LE(c2.worst, 2e-2 * c2.scale);
  expect_param_gradients_agree(wide, narrow, 5e-2);
  narrow.set_device(CREMA_CPU);
  for (const std::string& name : narrow.blob_names())
    EXPECT_EQ(narrow.blob(name)->dtype(), CREMA_FLOAT32) << name;
}

}  // namespace
}  // namespace crema
