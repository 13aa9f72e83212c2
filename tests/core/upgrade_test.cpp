// Tests of crema::upgrade_net / upgrade_solver on the prototxt corpus (CREMA_CORPUS_DIR; the
// suites named *Corpus, skipped without it) and on small hand-written legacy nets.
#include "crema/core/upgrade.hpp"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "corpus.hpp"

namespace crema {
namespace {

using google::protobuf::TextFormat;

std::string corpus_path(const std::string& rel) { return test_corpus::dir() + "/" + rel; }

template <typename Message>
Message parse_text(const std::string& text) {
  Message m;
  EXPECT_TRUE(TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

template <typename Message>
Message load(const std::string& rel) {
  std::ifstream in(corpus_path(rel));
  EXPECT_TRUE(in) << "cannot open " << corpus_path(rel);
  std::stringstream ss;
  ss << in.rdbuf();
  Message m;
  EXPECT_TRUE(TextFormat::ParseFromString(ss.str(), &m)) << rel;
  return m;
}

pb::NetParameter load_upgraded(const std::string& rel) {
  auto net = load<pb::NetParameter>(rel);
  EXPECT_TRUE(net_needs_upgrade(net)) << rel;
  upgrade_net(&net, rel);
  EXPECT_FALSE(net_needs_upgrade(net)) << rel;
  EXPECT_EQ(net.layers_size(), 0);
  return net;
}

const pb::LayerParameter& find_layer(const pb::NetParameter& net, const std::string& name,
                                     int nth = 0) {
  for (const auto& l : net.layer()) {
    if (l.name() == name && nth-- == 0) return l;
  }
  ADD_FAILURE() << "no layer " << name;
  static const pb::LayerParameter kEmpty;
  return kEmpty;
}

// Runs `fn` and returns the runtime_error message it throws ("" if none).
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// ---- V0 ----

TEST(UpgradeV0Corpus, Cifar10FullTrain) {
  CREMA_REQUIRE_CORPUS();
  const auto net = load_upgraded("v1-format/cifar10-full-train-v0.prototxt");
  EXPECT_EQ(net.name(), "CIFAR10_full_train");
  ASSERT_EQ(net.layer_size(), 14);
  const char* kTypes[] = {"Data",         "Convolution",    "Pooling", "ReLU",
                          "LRN",          "Convolution",    "ReLU",    "Pooling",
                          "LRN",          "Convolution",    "ReLU",    "Pooling",
                          "InnerProduct", "SoftmaxWithLoss"};
  for (int i = 0; i < 14; ++i) EXPECT_EQ(net.layer(i).type(), kTypes[i]) << i;

  const auto& data = find_layer(net, "cifar");
  EXPECT_EQ(data.data_param().source(), "cifar10-leveldb/cifar-train-leveldb");
  EXPECT_EQ(data.data_param().batch_size(), 100u);
  EXPECT_EQ(data.transform_param().mean_file(), "mean.binaryproto");
  ASSERT_EQ(data.top_size(), 2);
  EXPECT_EQ(data.top(0), "data");
  EXPECT_EQ(data.top(1), "label");

  const auto& conv1 = find_layer(net, "conv1");
  const auto& cp = conv1.convolution_param();
  EXPECT_EQ(cp.num_output(), 32u);
  ASSERT_EQ(cp.kernel_size_size(), 1);
  EXPECT_EQ(cp.kernel_size(0), 5u);
  ASSERT_EQ(cp.pad_size(), 1);
  EXPECT_EQ(cp.pad(0), 2u);
  ASSERT_EQ(cp.stride_size(), 1);
  EXPECT_EQ(cp.stride(0), 1u);
  EXPECT_EQ(cp.weight_filler().type(), "gaussian");
  EXPECT_FLOAT_EQ(cp.weight_filler().std(), 0.0001f);
  EXPECT_EQ(cp.bias_filler().type(), "constant");
  ASSERT_EQ(conv1.param_size(), 2);
  EXPECT_FLOAT_EQ(conv1.param(0).lr_mult(), 1.0f);
  EXPECT_FLOAT_EQ(conv1.param(1).lr_mult(), 2.0f);
  EXPECT_FALSE(conv1.param(0).has_decay_mult());
  ASSERT_EQ(conv1.bottom_size(), 1);
  EXPECT_EQ(conv1.bottom(0), "data");
  EXPECT_EQ(conv1.top(0), "conv1");

  const auto& pool1 = find_layer(net, "pool1");
  EXPECT_EQ(pool1.pooling_param().pool(), pb::PoolingParameter::MAX);
  EXPECT_EQ(pool1.pooling_param().kernel_size(), 3u);
  EXPECT_EQ(pool1.pooling_param().stride(), 2u);
  EXPECT_EQ(find_layer(net, "pool2").pooling_param().pool(), pb::PoolingParameter::AVE);

  const auto& relu1 = find_layer(net, "relu1");  // in place
  EXPECT_EQ(relu1.bottom(0), "pool1");
  EXPECT_EQ(relu1.top(0), "pool1");

  const auto& norm1 = find_layer(net, "norm1");
  EXPECT_EQ(norm1.lrn_param().local_size(), 3u);
  EXPECT_FLOAT_EQ(norm1.lrn_param().alpha(), 0.00005f);
  EXPECT_FLOAT_EQ(norm1.lrn_param().beta(), 0.75f);

  const auto& ip1 = find_layer(net, "ip1");
  EXPECT_EQ(ip1.inner_product_param().num_output(), 10u);
  ASSERT_EQ(ip1.param_size(), 2);
  EXPECT_FLOAT_EQ(ip1.param(0).decay_mult(), 250.0f);
  EXPECT_FLOAT_EQ(ip1.param(1).decay_mult(), 0.0f);

  const auto& loss = find_layer(net, "loss");
  ASSERT_EQ(loss.bottom_size(), 2);
  EXPECT_EQ(loss.bottom(1), "label");
}

TEST(UpgradeV0, PaddingLayerIsFoldedIntoConv) {
  auto net = parse_text<pb::NetParameter>(R"(
    input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
    layers { layer { name: "pad1" type: "padding" pad: 2 }
             bottom: "data" top: "pad1" }
    layers { layer { name: "conv1" type: "conv" num_output: 4 kernelsize: 5
                     group: 1 stride: 1 biasterm: false }
             bottom: "pad1" top: "conv1" }
    layers { layer { name: "drop" type: "dropout" dropout_ratio: 0.3 }
             bottom: "conv1" top: "conv1" })");
  upgrade_net(&net, "padding.prototxt");
  ASSERT_EQ(net.layer_size(), 3);  // Input, conv1, drop
  EXPECT_EQ(net.layer(0).type(), "Input");
  const auto& conv = net.layer(1);
  EXPECT_EQ(conv.name(), "conv1");
  EXPECT_EQ(conv.bottom(0), "data");
  ASSERT_EQ(conv.convolution_param().pad_size(), 1);
  EXPECT_EQ(conv.convolution_param().pad(0), 2u);
  EXPECT_FALSE(conv.convolution_param().bias_term());
  EXPECT_FLOAT_EQ(net.layer(2).dropout_param().dropout_ratio(), 0.3f);
}

TEST(UpgradeV0, ErrorsNameSourceAndLayer) {
  auto unknown = parse_text<pb::NetParameter>(R"(
    layers { layer { name: "mystery" type: "frobnicate" } top: "x" })");
  std::string msg = error_of([&] { upgrade_net(&unknown, "old.prototxt"); });
  EXPECT_NE(msg.find("old.prototxt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mystery"), std::string::npos) << msg;
  EXPECT_NE(msg.find("frobnicate"), std::string::npos) << msg;

  auto misplaced = parse_text<pb::NetParameter>(R"(
    layers { layer { name: "r" type: "relu" num_output: 3 } top: "x" })");
  msg = error_of([&] { upgrade_net(&misplaced, "old.prototxt"); });
  EXPECT_NE(msg.find("'r'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("num_output"), std::string::npos) << msg;

  auto dangling = parse_text<pb::NetParameter>(R"(
    layers { layer { name: "c" type: "relu" } bottom: "nowhere" top: "y" })");
  msg = error_of([&] { upgrade_net(&dangling, "old.prototxt"); });
  EXPECT_NE(msg.find("nowhere"), std::string::npos) << msg;
}

// ---- V1 ----

TEST(UpgradeV1Corpus, CaffeNetTrainVal) {
  CREMA_REQUIRE_CORPUS();
  const auto net = load_upgraded("v1-format/caffenet-trainval-v1.prototxt");
  ASSERT_EQ(net.layer_size(), 26);
  EXPECT_EQ(net.layer(0).type(), "Data");
  EXPECT_EQ(net.layer(1).type(), "Data");

  const auto& train = find_layer(net, "data", 0);
  ASSERT_EQ(train.include_size(), 1);
  EXPECT_EQ(train.include(0).phase(), pb::TRAIN);
  EXPECT_EQ(train.data_param().backend(), pb::DataParameter::LMDB);
  EXPECT_EQ(train.data_param().batch_size(), 256u);
  EXPECT_EQ(train.transform_param().crop_size(), 227u);
  EXPECT_TRUE(train.transform_param().mirror());
  const auto& test = find_layer(net, "data", 1);
  EXPECT_EQ(test.include(0).phase(), pb::TEST);
  EXPECT_TRUE(test.transform_param().has_mirror());
  EXPECT_FALSE(test.transform_param().mirror());

  const auto& conv1 = find_layer(net, "conv1");
  EXPECT_EQ(conv1.type(), "Convolution");
  EXPECT_EQ(conv1.convolution_param().num_output(), 96u);
  EXPECT_EQ(conv1.convolution_param().kernel_size(0), 11u);
  EXPECT_EQ(conv1.convolution_param().stride(0), 4u);
  ASSERT_EQ(conv1.param_size(), 2);
  EXPECT_FLOAT_EQ(conv1.param(0).lr_mult(), 1.0f);
  EXPECT_FLOAT_EQ(conv1.param(1).lr_mult(), 2.0f);
  EXPECT_FLOAT_EQ(conv1.param(0).decay_mult(), 1.0f);
  EXPECT_FLOAT_EQ(conv1.param(1).decay_mult(), 0.0f);

  EXPECT_EQ(find_layer(net, "relu1").type(), "ReLU");
  EXPECT_EQ(find_layer(net, "pool1").type(), "Pooling");
  EXPECT_EQ(find_layer(net, "pool1").pooling_param().kernel_size(), 3u);
  EXPECT_EQ(find_layer(net, "norm1").type(), "LRN");
  EXPECT_EQ(find_layer(net, "norm1").lrn_param().local_size(), 5u);
  EXPECT_EQ(find_layer(net, "drop6").type(), "Dropout");
  EXPECT_FLOAT_EQ(find_layer(net, "drop6").dropout_param().dropout_ratio(), 0.5f);
  const auto& fc7 = find_layer(net, "fc7");
  EXPECT_EQ(fc7.type(), "InnerProduct");
  EXPECT_EQ(fc7.inner_product_param().num_output(), 4096u);
  EXPECT_FLOAT_EQ(fc7.inner_product_param().bias_filler().value(), 1.0f);
  EXPECT_EQ(fc7.bottom(0), "fc6");
  const auto& acc = find_layer(net, "accuracy");
  EXPECT_EQ(acc.type(), "Accuracy");
  EXPECT_EQ(acc.include(0).phase(), pb::TEST);
  const auto& loss = find_layer(net, "loss");
  EXPECT_EQ(loss.type(), "SoftmaxWithLoss");
  ASSERT_EQ(loss.bottom_size(), 2);
  EXPECT_EQ(loss.bottom(0), "fc8");
  EXPECT_EQ(loss.bottom(1), "label");
  EXPECT_EQ(loss.top(0), "loss");
}

TEST(UpgradeV1Corpus, Cifar10FullTrainTest) {
  CREMA_REQUIRE_CORPUS();
  const auto net = load_upgraded("v1-format/cifar10-full-traintest-v1.prototxt");
  ASSERT_EQ(net.layer_size(), 16);
  const auto& norm1 = find_layer(net, "norm1");
  EXPECT_EQ(norm1.lrn_param().norm_region(), pb::LRNParameter::WITHIN_CHANNEL);
  EXPECT_EQ(find_layer(net, "pool1").pooling_param().pool(), pb::PoolingParameter::MAX);
  EXPECT_EQ(find_layer(net, "pool2").pooling_param().pool(), pb::PoolingParameter::AVE);
}

TEST(UpgradeV1, LegacyTransformFieldsAndParamNames) {
  auto net = parse_text<pb::NetParameter>(R"(
    layers { name: "d" type: DATA top: "data"
             data_param { source: "db" batch_size: 8 scale: 0.5
                          mean_file: "m.binaryproto" crop_size: 20
                          mirror: true } }
    layers { name: "ip" type: INNER_PRODUCT bottom: "data" top: "ip"
             param: "shared_w" blob_share_mode: PERMISSIVE
             blobs_lr: 3 loss_weight: 0.5
             inner_product_param { num_output: 2 } })");
  upgrade_net(&net, "legacy.prototxt");
  const auto& d = net.layer(0);
  EXPECT_FALSE(d.data_param().has_scale());
  EXPECT_FALSE(d.data_param().has_crop_size());
  EXPECT_EQ(d.data_param().source(), "db");
  EXPECT_FLOAT_EQ(d.transform_param().scale(), 0.5f);
  EXPECT_EQ(d.transform_param().mean_file(), "m.binaryproto");
  EXPECT_EQ(d.transform_param().crop_size(), 20u);
  EXPECT_TRUE(d.transform_param().mirror());
  const auto& ip = net.layer(1);
  ASSERT_EQ(ip.param_size(), 1);
  EXPECT_EQ(ip.param(0).name(), "shared_w");
  EXPECT_EQ(ip.param(0).share_mode(), pb::ParamSpec::PERMISSIVE);
  EXPECT_FLOAT_EQ(ip.param(0).lr_mult(), 3.0f);
  ASSERT_EQ(ip.loss_weight_size(), 1);
  EXPECT_FLOAT_EQ(ip.loss_weight(0), 0.5f);
}

TEST(UpgradeV1, CurrentFormatDataLayerWithLegacyFields) {
  auto net = parse_text<pb::NetParameter>(R"(
    layer { name: "d" type: "ImageData" top: "data" top: "label"
            image_data_param { source: "list.txt" crop_size: 10 } })");
  ASSERT_TRUE(net_needs_upgrade(net));
  upgrade_net(&net, "v2.prototxt");
  EXPECT_EQ(net.layer(0).transform_param().crop_size(), 10u);
  EXPECT_FALSE(net.layer(0).image_data_param().has_crop_size());

  auto conflict = parse_text<pb::NetParameter>(R"(
    layer { name: "d" type: "Data" top: "data"
            data_param { crop_size: 10 } transform_param { crop_size: 12 } })");
  const std::string msg = error_of([&] { upgrade_net(&conflict, "v2.prototxt"); });
  EXPECT_NE(msg.find("crop_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'d'"), std::string::npos) << msg;
}

TEST(UpgradeV1, MixedFormatsAreRejected) {
  auto net = parse_text<pb::NetParameter>(R"(
    layers { name: "a" type: RELU bottom: "x" top: "x" }
    layer { name: "b" type: "ReLU" bottom: "x" top: "x" })");
  const std::string msg = error_of([&] { upgrade_net(&net, "mixed.txt"); });
  EXPECT_NE(msg.find("mixed.txt"), std::string::npos) << msg;

  auto untyped = parse_text<pb::NetParameter>(R"(
    layers { name: "nameless_type" bottom: "x" top: "x" })");
  const std::string msg2 = error_of([&] { upgrade_net(&untyped, "untyped.txt"); });
  EXPECT_NE(msg2.find("nameless_type"), std::string::npos) << msg2;
}

// ---- net inputs ----

void expect_input_layer(const pb::NetParameter& net, int layer_count) {
  EXPECT_EQ(net.input_size(), 0);
  EXPECT_EQ(net.input_dim_size(), 0);
  EXPECT_EQ(net.input_shape_size(), 0);
  ASSERT_EQ(net.layer_size(), layer_count);
  const auto& input = net.layer(0);
  EXPECT_EQ(input.type(), "Input");
  ASSERT_EQ(input.top_size(), 1);
  EXPECT_EQ(input.top(0), "data");
  ASSERT_EQ(input.input_param().shape_size(), 1);
  const auto& shape = input.input_param().shape(0);
  ASSERT_EQ(shape.dim_size(), 4);
  EXPECT_EQ(shape.dim(0), 1);
  EXPECT_EQ(shape.dim(1), 3);
  EXPECT_EQ(shape.dim(2), 224);
  EXPECT_EQ(shape.dim(3), 224);
  EXPECT_EQ(net.layer(1).name(), "conv1");
  EXPECT_EQ(net.layer(1).bottom(0), "data");
}

TEST(UpgradeInputCorpus, InputDimBecomesInputLayer) {
  CREMA_REQUIRE_CORPUS();
  const auto net = load_upgraded("imagenet-resnet/resnet-50-deploy.prototxt");
  expect_input_layer(net, 229);
}

TEST(UpgradeInputCorpus, InputShapeBecomesInputLayer) {
  CREMA_REQUIRE_CORPUS();
  const auto net = load_upgraded("preact-resnet/resnet101-v2-deploy.prototxt");
  expect_input_layer(net, 442);
}

TEST(UpgradeInput, MismatchedDimsAreRejected) {
  auto net = parse_text<pb::NetParameter>(R"(
    input: "a" input: "b" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8)");
  const std::string msg = error_of([&] { upgrade_net(&net, "in.prototxt"); });
  EXPECT_NE(msg.find("in.prototxt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("input_dim"), std::string::npos) << msg;
}

TEST(UpgradeInput, ShapelessInputsAreDropped) {
  auto net = parse_text<pb::NetParameter>(R"(
    input: "data" layer { name: "r" type: "ReLU" bottom: "data" top: "r" })");
  upgrade_net(&net, "weights.caffemodel");
  EXPECT_EQ(net.input_size(), 0);
  ASSERT_EQ(net.layer_size(), 1);
  EXPECT_EQ(net.layer(0).name(), "r");
}

// ---- BatchNorm ----

TEST(UpgradeBatchNormCorpus, FrozenStatisticParamsAreStripped) {
  CREMA_REQUIRE_CORPUS();
  auto net = load<pb::NetParameter>("cifar-resnet/resnet-20-trainval.prototxt");
  int bn_with_params = 0;
  for (const auto& l : net.layer()) {
    if (l.type() == "BatchNorm" && l.param_size() == 3) ++bn_with_params;
  }
  EXPECT_EQ(bn_with_params, 21);
  ASSERT_TRUE(net_needs_upgrade(net));
  upgrade_net(&net, "resnet-20-trainval.prototxt");
  int bn = 0;
  for (const auto& l : net.layer()) {
    if (l.type() == "BatchNorm") {
      ++bn;
      EXPECT_EQ(l.param_size(), 0) << l.name();
    } else if (l.type() == "Convolution") {
      EXPECT_GT(l.param_size(), 0) << l.name();  // untouched
    }
  }
  EXPECT_EQ(bn, 21);
}

TEST(UpgradeBatchNorm, LearnableOrSharedParamsAreKept) {
  auto net = parse_text<pb::NetParameter>(R"(
    layer { name: "bn_lr" type: "BatchNorm" bottom: "x" top: "x"
            param { lr_mult: 1 } }
    layer { name: "bn_shared" type: "BatchNorm" bottom: "x" top: "x"
            param { name: "m" lr_mult: 0 } })");
  EXPECT_FALSE(net_needs_upgrade(net));
  upgrade_net(&net, "bn.prototxt");
  EXPECT_EQ(net.layer(0).param_size(), 1);
  EXPECT_EQ(net.layer(1).param_size(), 1);
}

// ---- current-format files ----

TEST(UpgradeNetCorpus, CurrentFormatIsUntouched) {
  CREMA_REQUIRE_CORPUS();
  auto net = load<pb::NetParameter>("wide-resnet/wrn-53-2-bottleneck-imagenet-deploy.prototxt");
  const pb::NetParameter before = net;
  EXPECT_FALSE(net_needs_upgrade(net));
  upgrade_net(&net, "wrn");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(before, net));
}

TEST(UpgradeNetCorpus, EveryCorpusNetUpgrades) {
  CREMA_REQUIRE_CORPUS();
  const char* kNets[] = {
      "cifar-resnet/resnet-20-trainval.prototxt",
      "cifar-resnet/resnet20-netspec-coldmooon.prototxt",
      "densenet/densenet-121-deploy.prototxt",
      "densenet/densenet-40-cifar10-train.prototxt",
      "imagenet-resnet/resnet-152-deploy.prototxt",
      "imagenet-resnet/resnet-50-3classes-trainval-pr.prototxt",
      "mobilenetv2/mobilenet-v2-convdepthwise-suzhenghang.prototxt",
      "mobilenetv2/mobilenet-v2-deploy.prototxt",
      "preact-resnet/preresnet164-cifar10.prototxt",
      "resnext/resnext50-32x4d-deploy.prototxt",
      "se-resnet/se-resnet-50-axpy.prototxt",
      "se-resnet/se-resnet-50-scale2bottom-deploy.prototxt",
      "wide-resnet/wrn-16-4-dropout-cifar100-trainval.prototxt",
      "wide-resnet/wrn-28-10-ilsvrc151-trainval.prototxt",
      "wide-resnet/wrn50-2-imagenet-deploy.prototxt",
  };
  for (const char* rel : kNets) {
    auto net = load<pb::NetParameter>(rel);
    EXPECT_NO_THROW(upgrade_net(&net, rel)) << rel;
    EXPECT_FALSE(net_needs_upgrade(net)) << rel;
    EXPECT_EQ(net.input_size(), 0) << rel;
    EXPECT_EQ(net.layers_size(), 0) << rel;
  }
}

TEST(UpgradeNetCorpus, CeilModeFromForkParses) {
  CREMA_REQUIRE_CORPUS();
  const auto net = load<pb::NetParameter>("wide-resnet/wrn50-2-imagenet-deploy.prototxt");
  bool found = false;
  for (const auto& l : net.layer()) {
    if (l.pooling_param().has_ceil_mode()) {
      found = true;
      EXPECT_FALSE(l.pooling_param().ceil_mode()) << l.name();
      // Caffe's own field stays at its default.
      EXPECT_EQ(l.pooling_param().round_mode(), pb::PoolingParameter::CEIL);
    }
  }
  EXPECT_TRUE(found);
}

// ---- solvers ----

TEST(UpgradeSolverCorpus, SolverTypeEnumBecomesTypeString) {
  CREMA_REQUIRE_CORPUS();
  auto solver =
      load<pb::SolverParameter>("solvers/autoencoder-adagrad-old-solver-type-enum.prototxt");
  ASSERT_TRUE(solver.has_solver_type());
  EXPECT_EQ(solver.solver_type(), pb::SolverParameter::ADAGRAD);
  EXPECT_TRUE(solver_needs_upgrade(solver));
  upgrade_solver(&solver);
  EXPECT_FALSE(solver.has_solver_type());
  EXPECT_EQ(solver.type(), "AdaGrad");
  EXPECT_FALSE(solver_needs_upgrade(solver));
  EXPECT_EQ(solver.net(), "examples/mnist/mnist_autoencoder.prototxt");
}

TEST(UpgradeSolver, EveryEnumValueMaps) {
  const std::pair<pb::SolverParameter::SolverType, const char*> kCases[] = {
      {pb::SolverParameter::SGD, "SGD"},           {pb::SolverParameter::NESTEROV, "Nesterov"},
      {pb::SolverParameter::ADAGRAD, "AdaGrad"},   {pb::SolverParameter::RMSPROP, "RMSProp"},
      {pb::SolverParameter::ADADELTA, "AdaDelta"}, {pb::SolverParameter::ADAM, "Adam"},
  };
  for (const auto& [value, name] : kCases) {
    pb::SolverParameter s;
    s.set_solver_type(value);
    upgrade_solver(&s);
    EXPECT_EQ(s.type(), name);
  }
}

TEST(UpgradeSolver, BothTypeFieldsAreRejected) {
  auto s = parse_text<pb::SolverParameter>("solver_type: ADAM type: \"Adam\"");
  const std::string msg = error_of([&] { upgrade_solver(&s, "both.prototxt"); });
  EXPECT_NE(msg.find("both.prototxt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("solver_type"), std::string::npos) << msg;
}

TEST(UpgradeSolverCorpus, InlineV1NetIsUpgraded) {
  CREMA_REQUIRE_CORPUS();
  auto solver = load<pb::SolverParameter>("solvers/lenet-consolidated-netparam-v1-solver.prototxt");
  ASSERT_TRUE(solver_needs_upgrade(solver));
  upgrade_solver(&solver, "lenet_consolidated_solver.prototxt");
  const auto& net = solver.net_param();
  EXPECT_EQ(net.layers_size(), 0);
  ASSERT_EQ(net.layer_size(), 12);
  EXPECT_EQ(net.layer(0).type(), "Data");
  EXPECT_FLOAT_EQ(net.layer(0).transform_param().scale(), 0.00390625f);
  const auto& conv1 = find_layer(net, "conv1");
  EXPECT_EQ(conv1.type(), "Convolution");
  ASSERT_EQ(conv1.param_size(), 2);
  EXPECT_FLOAT_EQ(conv1.param(1).lr_mult(), 2.0f);
  EXPECT_EQ(solver.type(), "SGD");  // default, nothing to upgrade
}

}  // namespace
}  // namespace crema
