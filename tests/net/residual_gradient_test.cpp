// SPDX-License-Identifier: BSD-2-Clause
// A small residual net (conv-BN-Scale-ReLU, identity and projection shortcuts, global pooling,
// InnerProduct, SoftmaxWithLoss): its whole-net gradient against finite differences of the loss.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "crema/core/host.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

const char* kResidualNet = R"(
name: "tiny_resnet"
force_backward: true
layer { name: "in" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } shape { dim: 2 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false weight_filler { type: "msra" } } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "sc1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
# identity block
layer { name: "a_conv" type: "Convolution" bottom: "conv1" top: "a"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false weight_filler { type: "msra" } } }
layer { name: "a_bn" type: "BatchNorm" bottom: "a" top: "a" }
layer { name: "a_sc" type: "Scale" bottom: "a" top: "a" scale_param { bias_term: true } }
layer { name: "a_sum" type: "Eltwise" bottom: "conv1" bottom: "a" top: "a_out" }
layer { name: "a_relu" type: "ReLU" bottom: "a_out" top: "a_out" }
# projection block, stride 2, 4 -> 6 channels
layer { name: "b_conv" type: "Convolution" bottom: "a_out" top: "b"
        convolution_param { num_output: 6 kernel_size: 3 pad: 1 stride: 2 bias_term: false weight_filler { type: "msra" } } }
layer { name: "b_bn" type: "BatchNorm" bottom: "b" top: "b" }
layer { name: "b_sc" type: "Scale" bottom: "b" top: "b" scale_param { bias_term: true } }
layer { name: "proj" type: "Convolution" bottom: "a_out" top: "p"
        convolution_param { num_output: 6 kernel_size: 1 stride: 2 bias_term: false weight_filler { type: "msra" } } }
layer { name: "p_bn" type: "BatchNorm" bottom: "p" top: "p" }
layer { name: "p_sc" type: "Scale" bottom: "p" top: "p" scale_param { bias_term: true } }
layer { name: "b_sum" type: "Eltwise" bottom: "p" bottom: "b" top: "b_out" }
layer { name: "b_relu" type: "ReLU" bottom: "b_out" top: "b_out" }
layer { name: "pool" type: "Pooling" bottom: "b_out" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
)";

TEST(ResidualNet, WholeNetGradientMatchesFiniteDifferences) {
  set_num_threads(1);
  NetOptions opt;
  opt.seed = 5;
  Net net(parse_net_text(kResidualNet, "<tiny_resnet>", Registry::global()), opt);
  // The CPU passes run fused here (BatchNorm absorbing Scale and ReLU): this checks them too.
  EXPECT_EQ(net.absorbed_into(net.layer_index("relu1")), net.layer_index("bn1"));
  EXPECT_EQ(net.absorbed_into(net.layer_index("b_sc")), net.layer_index("b_bn"));
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  Tensor* data = net.blob("data");
  for (int64_t i = 0; i < data->count(); ++i) data->mutable_host_data()[i] = g(rng);
  net.blob("label")->mutable_host_data()[0] = 1;
  net.blob("label")->mutable_host_data()[1] = 2;

  net.clear_param_diffs();
  net.forward_backward();
  std::vector<std::pair<Tensor*, std::string>> checked = {{data, "data"}};
  for (const LearnableParam& p : net.learnable_params()) checked.push_back({p.tensor, p.label});
  std::vector<std::vector<float>> analytic;
  analytic.reserve(checked.size());
  for (auto& [t, name] : checked)
    analytic.emplace_back(t->host_diff(), t->host_diff() + t->count());

  const float h = 1e-3f;
  int failures = 0, compared = 0;
  for (size_t k = 0; k < checked.size(); ++k) {
    Tensor* t = checked[k].first;
    for (int64_t i = 0; i < t->count(); ++i) {
      float keep = t->host_data()[i];
      t->mutable_host_data()[i] = keep + h;
      double plus = net.forward();
      t->mutable_host_data()[i] = keep - h;
      double minus = net.forward();
      t->mutable_host_data()[i] = keep;
      double numeric = (plus - minus) / (2 * h), a = analytic[k][i];
      double scale = std::max({std::fabs(numeric), std::fabs(a), 1.0});
      ++compared;
      if (std::fabs(numeric - a) > 2e-2 * scale && ++failures <= 10)
        ADD_FAILURE() << checked[k].second << "[" << i << "]: analytic " << a << " numeric "
                      << numeric;
    }
  }
  EXPECT_EQ(failures, 0) << "of " << compared;
  EXPECT_GT(compared, 500);
}

}  // namespace
}  // namespace crema
