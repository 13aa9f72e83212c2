// SPDX-License-Identifier: BSD-2-Clause
// crema draw's DOT (tools/crema/net_stats.cpp net_to_dot) for a tiny residual net: in-place
// layers folded into their producer, one edge per blob use, a block boxed by its name prefix.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>

#include "crema/core/net_wiring.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "net_dot.hpp"

namespace crema::tools {
namespace {

const char* kTiny = R"(
name: "tiny"
layer { name: "data" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } shape { dim: 2 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false } }
layer { name: "conv1_bn" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "conv1_scale" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "conv1_relu" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "b1_conv1" type: "Convolution" bottom: "conv1" top: "b1_conv1"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 stride: 2 } }
layer { name: "b1_relu1" type: "ReLU" bottom: "b1_conv1" top: "b1_conv1" }
layer { name: "b1_conv2" type: "Convolution" bottom: "b1_conv1" top: "b1_conv2"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "b1_proj" type: "Convolution" bottom: "conv1" top: "b1_proj"
        convolution_param { num_output: 4 kernel_size: 1 stride: 2 } }
layer { name: "b1_sum" type: "Eltwise" bottom: "b1_conv2" bottom: "b1_proj" top: "b1_sum" }
layer { name: "pool" type: "Pooling" bottom: "b1_sum" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 10 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
)";

pb::NetParameter tiny(pb::Phase phase) {
  pb::NetState state;
  state.set_phase(phase);
  return filter_net(parse_net_text(kTiny, "tiny.prototxt", Registry::global()), state);
}

std::set<std::string> all(const std::string& text, const std::string& pattern) {
  std::set<std::string> out;
  std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it)
    out.insert((*it)[1].str() + ((*it).size() > 2 ? " -> " + (*it)[2].str() : ""));
  return out;
}

std::set<std::string> nodes(const std::string& dot) {
  return all(dot, "\\n\\s*\"([^\"]+)\" \\[label=");
}
std::set<std::string> edges(const std::string& dot) {
  return all(dot, "\"([^\"]+)\" -> \"([^\"]+)\"");
}

TEST(Draw, NodesFoldInPlaceLayers) {
  const std::string dot = net_to_dot(tiny(pb::TRAIN));
  EXPECT_EQ(nodes(dot), (std::set<std::string>{"data", "conv1", "b1_conv1", "b1_conv2", "b1_proj",
                                               "b1_sum", "pool", "fc", "loss"}))
      << dot;
  EXPECT_NE(dot.find("conv1\\nConvolution 3x3, 4\\n+ BatchNorm, Scale, ReLU"), std::string::npos)
      << dot;
  EXPECT_NE(dot.find("b1_conv1\\nConvolution 3x3/2, 4\\n+ ReLU"), std::string::npos) << dot;
  EXPECT_NE(dot.find("Pooling AVE global"), std::string::npos) << dot;
  EXPECT_EQ(dot.find("conv1_bn"), std::string::npos) << dot;
}

TEST(Draw, EdgesFollowTheBlobs) {
  const std::string dot = net_to_dot(tiny(pb::TRAIN));
  EXPECT_EQ(edges(dot), (std::set<std::string>{
                            "data -> conv1", "conv1 -> b1_conv1", "conv1 -> b1_proj",
                            "b1_conv1 -> b1_conv2", "b1_conv2 -> b1_sum", "b1_proj -> b1_sum",
                            "b1_sum -> pool", "pool -> fc", "fc -> loss", "data -> loss"}))
      << dot;
}

TEST(Draw, PhaseFilterAddsAccuracy) {
  const std::string dot = net_to_dot(tiny(pb::TEST));
  EXPECT_TRUE(nodes(dot).count("accuracy")) << dot;
  EXPECT_TRUE(edges(dot).count("fc -> accuracy")) << dot;
}

TEST(Draw, BlockIsACluster) {
  const std::string dot = net_to_dot(tiny(pb::TRAIN));
  const size_t c = dot.find("subgraph \"cluster_b1\"");
  ASSERT_NE(c, std::string::npos) << dot;
  const std::string body = dot.substr(c, dot.find("  }\n", c) - c);
  for (const char* n : {"\"b1_conv1\"", "\"b1_conv2\"", "\"b1_proj\"", "\"b1_sum\""})
    EXPECT_NE(body.find(n), std::string::npos) << n << " not in\n" << body;
  EXPECT_EQ(body.find("\"pool\""), std::string::npos) << body;
  // conv1 has no '_' and its in-place layers are folded: no cluster of its own.
  EXPECT_EQ(dot.find("cluster_conv1"), std::string::npos) << dot;
  DrawOptions flat;
  flat.cluster = false;
  EXPECT_EQ(net_to_dot(tiny(pb::TRAIN), flat).find("subgraph"), std::string::npos);
}

TEST(Draw, BlobLabels) {
  DrawOptions o;
  o.blob_labels = true;
  const std::string dot = net_to_dot(tiny(pb::TRAIN), o);
  EXPECT_NE(dot.find("\"data\" -> \"loss\" [label=\"label\"]"), std::string::npos) << dot;
}

}  // namespace
}  // namespace crema::tools
