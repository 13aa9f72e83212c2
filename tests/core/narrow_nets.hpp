// SPDX-License-Identifier: BSD-2-Clause
// Nets of one definition built in different precisions or memory orders, compared after a
// forward_backward each: for the storage tests (storage_test, channels_last_test).
#pragma once
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>

#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "largest_difference.hpp"

namespace crema {

// The net of `text` at `precision` (nullopt: the net's own fields), seed 5.
inline Net net_from_text(std::optional<crema_dtype> precision, const std::string& text) {
  NetOptions o;
  o.precision = precision;
  o.seed = 5;
  return Net(parse_net_text(text, "test.prototxt", Registry::global()), o);
}

// The test nets' heads: global average pooling of `pooled`, a 3-way classifier and its loss on
// `label`, and a per-pixel loss, EuclideanLoss of tanh(`per_pixel`) against `target`, which gives
// every element of that blob a gradient of its own (through the pooling alone BatchNorm's
// backward would cancel a gradient constant over each plane).
inline std::string classifier_and_pixel_loss(const std::string& pooled,
                                             const std::string& per_pixel) {
  return R"(
  layer { name: "pool" type: "Pooling" bottom: ")" +
         pooled + R"(" top: "pool" pooling_param { pool: AVE global_pooling: true } }
  layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc"
          inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
  layer { name: "t" type: "TanH" bottom: ")" +
         per_pixel + R"(" top: "pixel_out" }
  layer { name: "tloss" type: "EuclideanLoss" bottom: "pixel_out" bottom: "target" top: "tloss" }
)";
}

// x and target (where the net has one) from N(0, 1), labels 0, 1, 2, 0: the same for every net.
inline void fill_inputs(Net& net) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 1.f);
  float* x = net.blob("x")->mutable_host_data();
  for (int64_t i = 0; i < net.blob("x")->count(); ++i) x[i] = d(rng);
  float* label = net.blob("label")->mutable_host_data();
  for (int i = 0; i < 4; ++i) label[i] = static_cast<float>(i % 3);
  if (!net.has_blob("target")) return;
  float* target = net.blob("target")->mutable_host_data();
  for (int64_t i = 0; i < net.blob("target")->count(); ++i) target[i] = d(rng);
}

// Every parameter gradient of `other` within `bound` times the largest of `reference`'s (what a
// narrower blob storage or another memory order may move it by).
inline void expect_param_gradients_agree(Net& reference, Net& other, double bound) {
  ASSERT_EQ(reference.learnable_params().size(), other.learnable_params().size());
  for (size_t k = 0; k < reference.learnable_params().size(); ++k) {
    const Tensor& a = *reference.learnable_params()[k].tensor;
    const Tensor& b = *other.learnable_params()[k].tensor;
    const LargestDifference d = largest_difference(b.host_diff(), a.host_diff(), a.count());
    EXPECT_GT(d.scale, 0) << reference.learnable_params()[k].label;
    EXPECT_LE(d.worst, bound * d.scale) << reference.learnable_params()[k].label;
  }
}

}  // namespace crema
