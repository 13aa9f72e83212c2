// SPDX-License-Identifier: BSD-2-Clause
// What the data-parallel solver relies on to send gradients while the backward pass runs: the
// backward listener is called after every layer, and Net::param_grad_ready_layers() says after
// which one each parameter's gradient is final, shared parameters (summed by two layers) and
// parameters of absorbed layers (computed by their absorber on the CPU) included. Checked
// against the gradients themselves: at each call, every parameter declared ready already holds
// the value it has when backward() returns.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

// fc1 and fc2 share their weights ('w'); BatchNorm absorbs the Scale and ReLU after it.
const char* kNet = R"(
  layer { name: 'in' type: 'Input' top: 'x' top: 'y'
          input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 3 } } }
  layer { name: 'fc1' type: 'InnerProduct' bottom: 'x' top: 'h' param { name: 'w' }
          inner_product_param { num_output: 3 weight_filler { type: 'gaussian' std: 0.5 } } }
  layer { name: 'bn' type: 'BatchNorm' bottom: 'h' top: 'h' }
  layer { name: 'scale' type: 'Scale' bottom: 'h' top: 'h' scale_param { bias_term: true } }
  layer { name: 'relu' type: 'ReLU' bottom: 'h' top: 'h' }
  layer { name: 'fc2' type: 'InnerProduct' bottom: 'h' top: 'z' param { name: 'w' }
          inner_product_param { num_output: 3 weight_filler { type: 'gaussian' std: 0.5 } } }
  layer { name: 'loss' type: 'EuclideanLoss' bottom: 'z' bottom: 'y' top: 'loss' }
)";

std::unique_ptr<Net> make_net(bool fuse) {
  NetOptions o;
  o.fuse = fuse;
  auto net = std::make_unique<Net>(parse_net_text(kNet, "t.prototxt", Registry::global()), o);
  for (const char* blob : {"x", "y"}) {
    Tensor* t = net->blob(blob);
    float* d = t->mutable_host_data();
    for (int64_t i = 0; i < t->count(); ++i) d[i] = 0.37f * static_cast<float>(i % 7) - 1.f;
  }
  return net;
}

std::vector<float> diff_of(const LearnableParam& p) {
  const float* g = p.tensor->host_diff();
  return {g, g + p.tensor->count()};
}

void check_ready_gradients(bool fuse) {
  auto net = make_net(fuse);
  const std::vector<int> ready = net->param_grad_ready_layers();
  auto& params = net->learnable_params();
  ASSERT_EQ(ready.size(), params.size());
  std::vector<int> calls;
  std::map<std::pair<int, size_t>, std::vector<float>> seen;  // (call, param) -> its diff then
  net->forward();
  net->clear_param_diffs();
  net->set_backward_listener([&](int layer) {
    calls.push_back(layer);
    for (size_t k = 0; k < params.size(); ++k)
      if (ready[k] >= layer) seen[{layer, k}] = diff_of(params[k]);
  });
  net->backward();
  net->set_backward_listener(nullptr);
  std::vector<int> expected;
  for (int i = net->num_layers() - 1; i >= 0; --i) expected.push_back(i);
  EXPECT_EQ(calls, expected);  // after every layer, down to 0
  for (const auto& [key, values] : seen)
    EXPECT_EQ(values, diff_of(params[key.second]))
        << params[key.second].label << " reported ready after layer " << key.first
        << " but changed later";
  // Every parameter is ready by the last call, and the shared weights only after fc1 (index 1):
  // after fc2 alone they held half their gradient.
  const int fc1 = net->layer_index("fc1"), scale = net->layer_index("scale");
  for (size_t k = 0; k < params.size(); ++k) {
    if (params[k].label.rfind("fc1", 0) == 0) {
      EXPECT_EQ(ready[k], fc1) << params[k].label;
    }
    if (params[k].label.rfind("scale", 0) == 0) {
      EXPECT_EQ(ready[k], fuse ? net->layer_index("bn") : scale) << params[k].label;
    }
  }
}

TEST(BackwardListener, ReadyGradientsAreFinal) { check_ready_gradients(true); }
TEST(BackwardListener, ReadyGradientsAreFinalUnfused) { check_ready_gradients(false); }

}  // namespace
}  // namespace crema
