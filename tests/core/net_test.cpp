// SPDX-License-Identifier: BSD-2-Clause
// The graph engine: wiring errors, phases, fan-out with summed gradients, loss weights,
// propagate_down, in-place rules, reshape.
#include <gtest/gtest.h>

#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

pb::NetParameter net_of(const std::string& text) {
  return parse_net_text(text, "t.prototxt", Registry::global());
}

std::string build_error(const std::string& text) {
  try {
    Net n(net_of(text));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

const char* kInput =
    "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 } } }\n";

TEST(Net, BottomNobodyProduces) {
  std::string m =
      build_error(std::string(kInput) +
                  "layer { name: 'e' type: 'Eltwise' bottom: 'x' bottom: 'ghost' top: 'y' }");
  EXPECT_NE(m.find("layer 'e'"), std::string::npos) << m;
  EXPECT_NE(m.find("'ghost'"), std::string::npos) << m;
}

TEST(Net, DuplicateTop) {
  std::string m = build_error(std::string(kInput) + kInput);
  EXPECT_NE(m.find("duplicate top"), std::string::npos) << m;
}

TEST(Net, CycleOrWrongOrder) {
  std::string m = build_error(
      std::string(kInput) + "layer { name: 'a' type: 'Eltwise' bottom: 'x' bottom: 'z' top: 'y' }\n"
                            "layer { name: 'b' type: 'Eltwise' bottom: 'x' bottom: 'y' top: 'z' }");
  EXPECT_NE(m.find("produced only later"), std::string::npos) << m;
  EXPECT_NE(m.find("'b'"), std::string::npos) << m;
}

TEST(Net, ShapeMismatchNamesLayerAndShapes) {
  std::string m = build_error(
      "layer { name: 'in' type: 'Input' top: 'x' top: 'w' input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 4 } } }\n"
      "layer { name: 'sum' type: 'Eltwise' bottom: 'x' bottom: 'w' top: 'y' }");
  EXPECT_NE(m.find("layer 'sum' (Eltwise)"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,3)"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,4)"), std::string::npos) << m;
}

TEST(Net, InPlaceRefusedForLayersThatCannot) {
  std::string m = build_error(
      std::string(kInput) +
      "layer { name: 'in2' type: 'Input' top: 'w' input_param { shape { dim: 2 dim: 3 } } }\n"
      "layer { name: 'sum' type: 'Eltwise' bottom: 'x' bottom: 'w' top: 'x' }");
  EXPECT_NE(m.find("cannot run in place"), std::string::npos) << m;
}

TEST(Net, PhaseRulesSelectLayers) {
  std::string text =
      std::string(kInput) +
      "layer { name: 'tr' type: 'Eltwise' bottom: 'x' bottom: 'x' top: 'y' include { phase: TRAIN } }\n"
      "layer { name: 'te' type: 'Eltwise' bottom: 'x' bottom: 'x' top: 'y' include { phase: TEST } }\n"
      "layer { name: 'st' type: 'Eltwise' bottom: 'x' bottom: 'x' top: 'z' include { phase: TEST stage: 'deep' } }\n";
  NetOptions train, test, deep;
  train.phase = pb::TRAIN;
  test.phase = deep.phase = pb::TEST;
  deep.stages = {"deep"};
  EXPECT_GE(Net(net_of(text), train).layer_index("tr"), 0);
  EXPECT_LT(Net(net_of(text), train).layer_index("te"), 0);
  EXPECT_GE(Net(net_of(text), test).layer_index("te"), 0);
  EXPECT_LT(Net(net_of(text), test).layer_index("st"), 0);
  EXPECT_GE(Net(net_of(text), deep).layer_index("st"), 0);
}

// x feeds two consumers: the net splits it and sums both gradients into x.
TEST(Net, FanOutSumsGradients) {
  Net n(net_of(
      std::string("force_backward: true\n") + kInput +
      "layer { name: 'a' type: 'Eltwise' bottom: 'x' bottom: 'x' top: 'y' eltwise_param { coeff: 2 coeff: 3 } loss_weight: 1 }\n"
      "layer { name: 'b' type: 'Eltwise' bottom: 'x' bottom: 'x' top: 'z' eltwise_param { coeff: -1 coeff: 0.5 } loss_weight: 2 }"));
  EXPECT_GE(n.layer_index("x_in_0_split"), 0);
  float* x = n.blob("x")->mutable_host_data();
  for (int i = 0; i < 6; ++i) x[i] = float(i);
  float loss = n.forward_backward();
  // loss = sum(5x) + 2 * sum(-0.5x) = 4 * sum(x) = 60
  EXPECT_FLOAT_EQ(loss, 60.f);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(n.blob("x")->host_diff()[i], 5.f + 2 * -0.5f);
}

TEST(Net, PropagateDownFalseStopsTheGradient) {
  Net n(net_of(
      std::string("force_backward: true\n") + kInput +
      "layer { name: 'in2' type: 'Input' top: 'w' input_param { shape { dim: 2 dim: 3 } } }\n"
      "layer { name: 'a' type: 'Eltwise' bottom: 'x' bottom: 'w' top: 'y' loss_weight: 1 propagate_down: true propagate_down: false }"));
  std::fill(n.blob("w")->mutable_host_diff(), n.blob("w")->mutable_host_diff() + 6, 7.f);
  n.forward_backward();
  EXPECT_FLOAT_EQ(n.blob("x")->host_diff()[0], 1.f);
  EXPECT_FLOAT_EQ(n.blob("w")->host_diff()[0], 7.f);  // untouched
}

TEST(Net, OutputsAreUnconsumedTops) {
  Net n(net_of(std::string(kInput) +
               "layer { name: 'a' type: 'Eltwise' bottom: 'x' bottom: 'x' top: 'y' }"));
  ASSERT_EQ(n.output_blob_indices().size(), 1u);
  EXPECT_EQ(n.blob_names()[n.output_blob_indices()[0]], "y");
}

TEST(Net, ReshapeFollowsTheInput) {
  Net n(net_of(std::string(kInput) +
               "layer { name: 'a' type: 'Eltwise' bottom: 'x' bottom: 'x' top: 'y' }"));
  n.blob("x")->reshape({5, 7});
  n.reshape();
  EXPECT_EQ(n.blob("y")->shape(), (Shape{5, 7}));
}

TEST(Net, LegacyInputDimsBecomeAnInputLayer) {
  Net n(net_of("input: 'data' input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\n"
               "layer { name: 'a' type: 'Eltwise' bottom: 'data' bottom: 'data' top: 'y' }"));
  EXPECT_EQ(n.blob("y")->shape(), (Shape{1, 3, 4, 4}));
}

// Two layers naming the same parameter share one blob: one learnable entry, summed gradients.
TEST(Net, SharedParametersAccumulateGradients) {
  Net n(net_of(
      std::string(kInput) +
      "layer { name: 'ip1' type: 'InnerProduct' bottom: 'x' top: 'y1' loss_weight: 1 param { name: 'w' }"
      "  inner_product_param { num_output: 2 bias_term: false weight_filler { type: 'gaussian' } } }\n"
      "layer { name: 'ip2' type: 'InnerProduct' bottom: 'x' top: 'y2' loss_weight: 1 param { name: 'w' }"
      "  inner_product_param { num_output: 2 bias_term: false weight_filler { type: 'gaussian' } } }"));
  ASSERT_EQ(n.learnable_params().size(), 1u);
  Tensor* w1 = n.layer(n.layer_index("ip1")).params()[0].tensor.get();
  Tensor* w2 = n.layer(n.layer_index("ip2")).params()[0].tensor.get();
  EXPECT_EQ(w1, w2);
  float* x = n.blob("x")->mutable_host_data();
  for (int i = 0; i < 6; ++i) x[i] = float(i + 1);
  n.clear_param_diffs();
  n.forward_backward();
  // loss = 2 * sum_{n,o} (W x_n)_o, so dE/dW[o][i] = 2 * sum_n x[n][i]
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 3; ++i)
      EXPECT_FLOAT_EQ(w1->host_diff()[o * 3 + i], 2.f * (x[i] + x[3 + i]));
}

TEST(Net, SharedParameterShapeMismatchIsAnError) {
  std::string m = build_error(
      std::string(kInput) +
      "layer { name: 'ip1' type: 'InnerProduct' bottom: 'x' top: 'y1' param { name: 'w' } inner_product_param { num_output: 2 } }\n"
      "layer { name: 'ip2' type: 'InnerProduct' bottom: 'x' top: 'y2' param { name: 'w' } inner_product_param { num_output: 4 } }");
  EXPECT_NE(m.find("shares parameter 'w'"), std::string::npos) << m;
}

// Loading weights says what it did: none matched is an error (an empty or foreign .caffemodel
// once scored zero weights without a word), a partial match names the layers left out, and a
// mismatch anywhere leaves every weight as it was.
TEST(Net, CopyingWeightsReportsWhatMatched) {
  const std::string two_layers =
      std::string(kInput) +
      "layer { name: 'ip1' type: 'InnerProduct' bottom: 'x' top: 'h' inner_product_param { num_output: 2 } }\n"
      "layer { name: 'ip2' type: 'InnerProduct' bottom: 'h' top: 'y' inner_product_param { num_output: 4 } }";
  Net source(net_of(two_layers));
  for (Tensor* t : source.all_params())
    for (int64_t i = 0; i < t->count(); ++i) t->mutable_host_data()[i] = 0.5f + float(i);
  pb::NetParameter weights;
  source.to_proto(&weights);

  Net target(net_of(two_layers));
  EXPECT_THROW(
      {
        try {
          target.copy_trained_layers_from(pb::NetParameter());
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("match no layer"), std::string::npos) << e.what();
          throw;
        }
      },
      std::runtime_error);

  pb::NetParameter only_ip1 = weights;
  only_ip1.mutable_layer()->erase(only_ip1.mutable_layer()->begin() + 2);  // in, ip1, [ip2]
  Net::WeightsCopy copy = target.copy_trained_layers_from(only_ip1);
  EXPECT_EQ(copy.copied, std::vector<std::string>{"ip1"});
  EXPECT_EQ(copy.not_copied, std::vector<std::string>{"ip2"});
  EXPECT_NE(copy.summary().find("no weights for: ip2"), std::string::npos) << copy.summary();
  EXPECT_THROW(target.copy_trained_layers_from(only_ip1, /*require_all=*/true), std::runtime_error);

  // ip2's weights of the wrong size: refused, and ip1 (first in the file) is not touched either.
  Net fresh(net_of(two_layers));
  const float ip1_before = fresh.layer(fresh.layer_index("ip1")).params()[0].tensor->host_data()[0];
  pb::NetParameter bad = weights;
  bad.mutable_layer(2)->mutable_blobs(0)->mutable_data()->RemoveLast();
  EXPECT_THROW(fresh.copy_trained_layers_from(bad), std::runtime_error);
  EXPECT_EQ(fresh.layer(fresh.layer_index("ip1")).params()[0].tensor->host_data()[0], ip1_before);

  copy = fresh.copy_trained_layers_from(weights, /*require_all=*/true);
  EXPECT_EQ(copy.copied.size(), 2u);
  EXPECT_EQ(fresh.layer(fresh.layer_index("ip2")).params()[0].tensor->host_data()[3], 3.5f);
}

// A legacy 4-d blob (num, channels, height, width) is accepted for a parameter of the same
// element count; dimensions read from a damaged file are refused: negative ones, whose product
// can still match (-1 x -2 x 1 x 1 for 2 values), and ones whose product overflowed (a signed
// overflow, found by the caffemodel fuzz target under UBSan).
TEST(Net, CopyingWeightsRefusesImpossibleLegacyShapes) {
  const std::string net =
      std::string(kInput) +
      "layer { name: 'ip' type: 'InnerProduct' bottom: 'x' top: 'y' inner_product_param { num_output: 2 } }";
  Net source(net_of(net));
  pb::NetParameter weights;
  source.to_proto(&weights);
  pb::LayerParameter& ip = *weights.mutable_layer(1);
  ASSERT_EQ(ip.name(), "ip");
  auto legacy = [&](int32_t n, int32_t c, int32_t h, int32_t w) {
    pb::NetParameter out = weights;
    pb::BlobProto& bias = *out.mutable_layer(1)->mutable_blobs(1);
    bias.clear_shape();
    bias.set_num(n), bias.set_channels(c), bias.set_height(h), bias.set_width(w);
    return out;
  };
  Net target(net_of(net));
  EXPECT_NO_THROW(target.copy_trained_layers_from(legacy(1, 1, 1, 2)));
  EXPECT_THROW(target.copy_trained_layers_from(legacy(-1, -2, 1, 1)), std::runtime_error);
  EXPECT_THROW(target.copy_trained_layers_from(legacy(INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX)),
               std::runtime_error);
  EXPECT_THROW(target.copy_trained_layers_from(legacy(65536, 65536, 65536, 65536)),
               std::runtime_error);
}

// An Input whose element count wraps (4294967296 x 4294967296) is refused naming the layer.
TEST(Net, OverflowingInputShapeNamesTheLayer) {
  std::string m = build_error(
      "layer { name: 'huge' type: 'Input' top: 'x' input_param { shape { dim: 4294967296 "
      "dim: 4294967296 } } }\n"
      "layer { name: 'prob' type: 'Softmax' bottom: 'x' top: 'y' }");
  EXPECT_NE(m.find("huge"), std::string::npos) << m;
  EXPECT_NE(m.find("more than 2^48 elements"), std::string::npos) << m;
}

}  // namespace
}  // namespace crema
