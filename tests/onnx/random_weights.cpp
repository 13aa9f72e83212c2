// SPDX-License-Identifier: BSD-2-Clause
// random_weights NET.prototxt OUT.caffemodel SEED [N,C,H,W DEPLOY.prototxt]: weights for a net
// with values that exercise an export: the fillers' weights where they are random, small random
// values where a filler is constant (biases, Scale's gamma and beta), and BatchNorm statistics
// with a factor blob other than 1 (so that an exporter that forgets to divide it out is caught).
// With a shape, a train/test net's data layers become Inputs of that shape, and DEPLOY gets the
// net as `crema test -input` runs it: Accuracy and losses dropped, SoftmaxWithLoss a Softmax
// whose top is "prob" (what crema export writes for it).
#include <google/protobuf/text_format.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <random>

#include "crema/core/net.hpp"
#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"
#include "net_stats.hpp"

int main(int argc, char** argv) try {
  if (argc < 4) {
    std::cerr << "usage: random_weights NET.prototxt OUT.caffemodel SEED [N,C,H,W DEPLOY]\n";
    return 2;
  }
  crema::pb::NetParameter def = crema::read_net_file(argv[1]);
  if (argc > 5) {
    def = crema::tools::with_input_shape(def, crema::tools::parse_shape(argv[4]));
    crema::pb::NetParameter deploy = def;
    deploy.clear_layer();
    for (const auto& l : def.layer()) {
      const std::string& t = l.type();
      if (t == "SoftmaxWithLoss") {
        crema::pb::LayerParameter* s = deploy.add_layer();
        s->set_name(l.name());
        s->set_type("Softmax");
        s->add_bottom(l.bottom(0));
        s->add_top("prob");
        for (const auto& rule : l.include()) *s->add_include() = rule;
      } else if (t != "Accuracy" && (t.size() < 4 || t.compare(t.size() - 4, 4, "Loss") != 0)) {
        *deploy.add_layer() = l;
      }
    }
    std::string text;
    google::protobuf::TextFormat::PrintToString(deploy, &text);
    std::ofstream(argv[5]) << text;
    def = deploy;
  }
  crema::NetOptions opt;
  opt.phase = crema::pb::TEST;
  opt.source = argv[1];
  crema::Net net(def, opt);
  std::mt19937_64 rng(std::stoull(argv[3]));
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> uniform(0.5f, 2.f);
  for (int i = 0; i < net.num_layers(); ++i) {
    crema::LayerInstance& l = net.layer(i);
    auto& params = l.params();
    if (l.type() == "BatchNorm" && params.size() >= 3) {
      const float f = uniform(rng);
      float* m = params[0].tensor->mutable_host_data();
      float* v = params[1].tensor->mutable_host_data();
      for (int64_t c = 0; c < params[0].tensor->count(); ++c)
        m[c] = 0.5f * normal(rng) * f, v[c] = uniform(rng) * f;
      params[2].tensor->mutable_host_data()[0] = f;
      continue;
    }
    for (size_t k = 0; k < params.size(); ++k) {
      crema::Tensor& t = *params[k].tensor;
      float* d = t.mutable_host_data();
      bool constant = true;
      for (int64_t j = 1; j < t.count() && constant; ++j) constant = d[j] == d[0];
      if (!constant) continue;
      // Scale's gamma near 1; weights (deploy nets name no filler) scaled by their fan-in, so
      // that deep nets stay finite; biases, betas and slopes near 0.
      const bool gamma = l.type() == "Scale" && k == 0 && d[0] == 1.f;
      const int64_t fan_in = t.ndim() >= 2 ? t.count() / t.dim(0) : 0;  // a whole number
      const float std = fan_in > 0 ? 1.f / std::sqrt(static_cast<float>(fan_in)) : 0.1f;
      for (int64_t j = 0; j < t.count(); ++j)
        d[j] = gamma ? 0.75f + 0.5f * uniform(rng) / 2.f : std * normal(rng);
    }
  }
  crema::pb::NetParameter weights;
  net.to_proto(&weights);
  crema::write_binary_proto_atomic(argv[2], weights);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "random_weights: " << e.what() << "\n";
  return 1;
}
