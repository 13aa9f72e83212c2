// SPDX-License-Identifier: BSD-2-Clause
// crema summary's counting (tools/crema/net_stats.cpp) on the generated net_defs/ against the
// published figures. Parameters count the convolution and InnerProduct weights (and biases) and
// the Scale layers' gamma and beta; BatchNorm's running statistics are state. Multiply-adds count
// Convolution and InnerProduct only.
//
// CIFAR ResNets are tested with option A shortcuts (net_defs/cifar/resnetN.prototxt), the
// configuration of He et al. 2015, Table 6 (0.27M / 0.85M / 1.7M): option A adds no parameters.
// The exact counts are those of every reimplementation with affine BN (e.g. 269,722 for ResNet-20).
// ImageNet ResNet-50: 25.6M parameters (25,557,032 as torchvision), 4.1 G multiply-adds at 224x224
// with the stride in the 3x3 convolution (net_defs default; 3.9 G with --stride-1x1, the paper's
// "3.8 x 10^9 FLOPs"). WRN-28-10 on CIFAR-10: 36.5M (Zagoruyko & Komodakis 2016, Table 1).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "corpus.hpp"
#include "crema/core/net.hpp"
#include "crema/core/net_wiring.hpp"
#include "crema/core/prototxt.hpp"
#include "net_stats.hpp"

namespace crema::tools {
namespace {

std::string def_path(const std::string& rel) {
  return std::string(CREMA_SOURCE_DIR) + "/net_defs/" + rel;
}

// Built for TEST at batch 1 with the data layers replaced by Input: nothing is filled or read.
NetStats stats_of(const std::string& rel, const Shape& input) {
  NetOptions opt;
  opt.phase = pb::TEST;
  opt.fill_params = false;
  opt.source = def_path(rel);
  Net net(with_input_shape(read_net_file(opt.source), input), opt);
  return net_stats(net);
}

const Shape kCifar = {1, 3, 32, 32};
const Shape kImageNet = {1, 3, 224, 224};

// Published figures are rounded: within half a unit of their last digit.
void expect_published(double value, double published, double last_digit, const std::string& what) {
  EXPECT_LE(std::fabs(value - published), 0.5 * last_digit)
      << what << ": " << value << " vs published " << published;
}

TEST(Summary, CifarResNet20OptionA) {
  NetStats s = stats_of("cifar/resnet20.prototxt", kCifar);
  expect_published(s.params / 1e6, 0.27, 0.01, "ResNet-20 params (M)");
  EXPECT_EQ(s.params, 269722);
  // 40.6M multiply-adds (about 41M, as usually quoted).
  expect_published(s.macs / 1e6, 41, 1, "ResNet-20 MACs (M)");
}

TEST(Summary, CifarResNet56OptionA) {
  NetStats s = stats_of("cifar/resnet56.prototxt", kCifar);
  expect_published(s.params / 1e6, 0.85, 0.01, "ResNet-56 params (M)");
  EXPECT_EQ(s.params, 853018);
}

TEST(Summary, CifarResNet110OptionA) {
  NetStats s = stats_of("cifar/resnet110.prototxt", kCifar);
  expect_published(s.params / 1e6, 1.7, 0.1, "ResNet-110 params (M)");
  EXPECT_EQ(s.params, 1727962);
}

TEST(Summary, PlainTwinHasTheParametersOfOptionA) {
  // Option A shortcuts are parameter-free: the plain twin counts the same.
  EXPECT_EQ(stats_of("cifar/plain20.prototxt", kCifar).params,
            stats_of("cifar/resnet20.prototxt", kCifar).params);
  EXPECT_EQ(stats_of("cifar/plain56.prototxt", kCifar).params,
            stats_of("cifar/resnet56.prototxt", kCifar).params);
}

TEST(Summary, CifarOptionBAddsTwoProjections) {
  // 1x1 16->32 and 32->64 convolutions with their BN/Scale: 512 + 64 + 2048 + 128.
  EXPECT_EQ(stats_of("cifar/resnet20_optB.prototxt", kCifar).params,
            269722 + 512 + 64 + 2048 + 128);
}

TEST(Summary, PreActResNet164) {
  // He et al. 2016, Table 3: 1.7M.
  NetStats s = stats_of("cifar/resnet164_preact.prototxt", kCifar);
  expect_published(s.params / 1e6, 1.7, 0.1, "pre-act ResNet-164 params (M)");
}

TEST(Summary, WideResNet28x10) {
  NetStats s = stats_of("cifar/wrn_28_10.prototxt", kCifar);
  expect_published(s.params / 1e6, 36.5, 0.1, "WRN-28-10 params (M)");
  // Dropout adds nothing.
  EXPECT_EQ(stats_of("cifar/wrn_28_10_dropout.prototxt", kCifar).params, s.params);
}

TEST(Summary, WideResNet16x4) {
  // Zagoruyko & Komodakis 2016, Table 1: 2.7M.
  NetStats s = stats_of("cifar/wrn_16_4.prototxt", kCifar);
  expect_published(s.params / 1e6, 2.7, 0.1, "WRN-16-4 params (M)");
}

TEST(Summary, ImageNetResNet50) {
  NetStats s = stats_of("imagenet/resnet50.prototxt", kImageNet);
  expect_published(s.params / 1e6, 25.6, 0.1, "ResNet-50 params (M)");
  EXPECT_EQ(s.params, 25557032);
  expect_published(s.macs / 1e9, 4.1, 0.1, "ResNet-50 GMACs");
  EXPECT_EQ(s.batch, 1);
  // The deploy file's own Input is 1x3x224x224 too.
  NetOptions opt;
  opt.phase = pb::TEST;
  opt.fill_params = false;
  Net net(read_net_file(def_path("imagenet/resnet50.prototxt")), opt);
  EXPECT_DOUBLE_EQ(net_stats(net).macs, s.macs);
}

TEST(Summary, ImageNetFamily) {
  // He et al. 2015, Table 1 gives 1.8, 3.6, 7.6, 11.3 x 10^9 FLOPs with the stride in the first
  // 1x1; with the stride in the 3x3 (as here) torchvision's model zoo lists 11.69M, 21.80M,
  // 44.55M, 60.19M parameters and 1.81, 3.66, 7.80, 11.51 G multiply-adds.
  struct Row {
    const char* file;
    double params_m, gmacs;
  };
  for (const Row& r : {Row{"imagenet/resnet18.prototxt", 11.69, 1.81},
                       Row{"imagenet/resnet34.prototxt", 21.80, 3.66},
                       Row{"imagenet/resnet101.prototxt", 44.55, 7.80},
                       Row{"imagenet/resnet152.prototxt", 60.19, 11.51}}) {
    NetStats s = stats_of(r.file, kImageNet);
    expect_published(s.params / 1e6, r.params_m, 0.01, std::string(r.file) + " params (M)");
    expect_published(s.macs / 1e9, r.gmacs, 0.01, std::string(r.file) + " GMACs");
  }
}

TEST(Summary, BatchScalesMacsAndActivationsNotParams) {
  NetStats one = stats_of("cifar/resnet20.prototxt", kCifar);
  NetStats eight = stats_of("cifar/resnet20.prototxt", {8, 3, 32, 32});
  EXPECT_EQ(eight.params, one.params);
  EXPECT_DOUBLE_EQ(eight.macs, 8 * one.macs);
  EXPECT_EQ(eight.activations - 2, 8 * (one.activations - 2));  // but the scalar loss and accuracy
  EXPECT_EQ(eight.batch, 8);
}

TEST(Summary, BatchNormStatisticsAreNotParameters) {
  NetStats s = stats_of("fashion_mnist/resnet20.prototxt", {1, 1, 28, 28});
  for (const LayerStats& l : s.layers) {
    if (l.type == "BatchNorm") {
      EXPECT_EQ(l.params, 0) << l.name;
    }
    if (l.type == "BatchNorm" || l.type == "Scale" || l.type == "ReLU") {
      EXPECT_EQ(l.activations, 0) << l.name << " runs in place";
    }
  }
  // The main job's net: 28x28 -> 28, 14, 7; 16/32/64 channels; option B.
  EXPECT_EQ(s.params, 269722 - 3 * 16 * 9 + 1 * 16 * 9 + 512 + 64 + 2048 + 128);
  bool saw_last_stage = false;
  for (const LayerStats& l : s.layers)
    if (l.name == "s3b3_sum") {
      saw_last_stage = true;
      EXPECT_EQ(l.top_shape, (Shape{1, 64, 7, 7}));
    }
  EXPECT_TRUE(saw_last_stage);
}

TEST(Summary, ParseShape) {
  EXPECT_EQ(parse_shape("1,3,224,224"), (Shape{1, 3, 224, 224}));
  EXPECT_THROW(parse_shape("1,x"), std::runtime_error);
  EXPECT_THROW(parse_shape("1,,2"), std::runtime_error);
  EXPECT_THROW(parse_shape("0,3"), std::runtime_error);
}

// ---------------------------------------------------------------------------------------------
// The generated files themselves.
// ---------------------------------------------------------------------------------------------

std::map<std::string, int> type_counts(const std::string& path) {
  pb::NetState test;
  test.set_phase(pb::TEST);
  std::map<std::string, int> n;
  const pb::NetParameter net = filter_net(read_net_file(path), test);
  for (const auto& l : net.layer()) ++n[l.type()];
  return n;
}

// Same layers, type by type, as the published Caffe files of the corpus (KaimingHe's ResNet-50/
// 101/152 deploy, a CIFAR ResNet-20 with projection shortcuts, Coldmooon's pre-activation
// ResNet-164, razorx89's WRN-16-4 with dropout).
TEST(GeneratedNetsCorpus, LayerCountsMatchPublishedCaffeFiles) {
  CREMA_REQUIRE_CORPUS();
  const std::string corpus = test_corpus::dir();
  const std::pair<const char*, const char*> pairs[] = {
      {"imagenet-resnet/resnet-50-deploy.prototxt", "imagenet/resnet50.prototxt"},
      {"imagenet-resnet/resnet-101-deploy.prototxt", "imagenet/resnet101.prototxt"},
      {"imagenet-resnet/resnet-152-deploy.prototxt", "imagenet/resnet152.prototxt"},
      {"cifar-resnet/resnet-20-trainval.prototxt", "fashion_mnist/resnet20.prototxt"},
      {"preact-resnet/preresnet164-cifar10.prototxt", "cifar/resnet164_preact.prototxt"},
      {"wide-resnet/wrn-16-4-dropout-cifar100-trainval.prototxt",
       "fashion_mnist/wrn_16_4_dropout.prototxt"},
  };
  for (const auto& [published, ours] : pairs) {
    auto a = type_counts(corpus + "/" + published), b = type_counts(def_path(ours));
    for (const char* t :
         {"Convolution", "BatchNorm", "Scale", "ReLU", "Eltwise", "Dropout", "InnerProduct"})
      EXPECT_EQ(a[t], b[t]) << t << " layers: " << published << " vs " << ours;
  }
}

TEST(GeneratedNets, PlainTwinHasNoAdditions) {
  auto res = type_counts(def_path("fashion_mnist/resnet56.prototxt"));
  auto plain = type_counts(def_path("fashion_mnist/plain56.prototxt"));
  EXPECT_EQ(res["Eltwise"], 27);
  EXPECT_EQ(plain["Eltwise"], 0);
  EXPECT_EQ(plain["Convolution"], 55);  // 1 + 54: no projections
  EXPECT_EQ(res["Convolution"], 57);    // + the two projections of option B
  EXPECT_EQ(plain["ReLU"], res["ReLU"]);
}

// Option A: the shortcut of the first unit of stage 2 is x subsampled by 2, then as many zero
// channels again; run the generated CIFAR ResNet-20 forward and compare.
TEST(GeneratedNets, OptionAShortcutIsZeroPaddedIdentity) {
  NetOptions opt;
  opt.phase = pb::TEST;
  opt.source = def_path("cifar/resnet20.prototxt");
  Net net(with_input_shape(read_net_file(opt.source), {2, 3, 32, 32}), opt);
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  Tensor* data = net.blob("data");
  for (int64_t i = 0; i < data->count(); ++i) data->mutable_host_data()[i] = g(rng);
  Tensor* label = net.blob("label");
  for (int64_t i = 0; i < label->count(); ++i) label->mutable_host_data()[i] = 1;
  net.forward();
  const Tensor& x = *net.blob("s1b3_sum");  // after its in-place ReLU: the unit's input
  const Tensor& pad = *net.blob("s2b1_pad");
  ASSERT_EQ(x.shape(), (Shape{2, 16, 32, 32}));
  ASSERT_EQ(pad.shape(), (Shape{2, 32, 16, 16}));
  int64_t wrong = 0;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 32; ++c)
      for (int i = 0; i < 16; ++i)
        for (int j = 0; j < 16; ++j) {
          const float got = pad.host_data()[((n * 32 + c) * 16 + i) * 16 + j];
          const float want = c < 16 ? x.host_data()[((n * 16 + c) * 32 + 2 * i) * 32 + 2 * j] : 0.f;
          wrong += got != want;
        }
  EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace crema::tools
