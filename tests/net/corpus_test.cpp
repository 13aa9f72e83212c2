// SPDX-License-Identifier: BSD-2-Clause
// Every real Caffe file in the corpus (CREMA_CORPUS_DIR; skipped without it): parses (or names
// its missing blocks), and when every layer type it uses has a plugin, builds, infers shapes, runs
// forward and backward on random input and summarises (parameters, multiply-adds). Data layers
// whose database is absent become Input layers of the shape the file implies (3x32x32 for CIFAR
// nets, 3x224x224 for ImageNet ones, crop_size when given).
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <random>
#include <set>

#include "corpus.hpp"
#include "crema/core/host.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "net_stats.hpp"

namespace crema {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> corpus_nets() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(test_corpus::dir())) {
    std::string p = e.path().string();
    if (e.path().extension() != ".prototxt" || p.find("solver") != std::string::npos) continue;
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Data layers read databases that are not here: give the net Input tops of the implied shape.
pb::NetParameter substitute_data(pb::NetParameter net, const std::string& path) {
  const int batch = 2;
  for (auto& l : *net.mutable_layer()) {
    bool data = l.type() == "Data" || l.type() == "ImageData" || l.type() == "HDF5Data";
    if (l.type() == "Input") {
      for (auto& s : *l.mutable_input_param()->mutable_shape())
        if (s.dim_size() > 0) s.set_dim(0, std::min<int64_t>(s.dim(0), batch));
      continue;
    }
    if (!data) continue;
    int64_t size = path.find("cifar") != std::string::npos ? 32 : 224;
    if (l.transform_param().crop_size() > 0) size = l.transform_param().crop_size();
    pb::LayerParameter in;
    in.set_name(l.name());
    in.set_type("Input");
    *in.mutable_top() = l.top();
    *in.mutable_include() = l.include();
    auto* shape = in.mutable_input_param()->add_shape();
    for (int64_t d : {int64_t(batch), int64_t(3), size, size}) shape->add_dim(d);
    if (l.top_size() > 1) in.mutable_input_param()->add_shape()->add_dim(batch);
    l = in;
  }
  return net;
}

TEST(Corpus, EveryFileParsesAndEveryBuildableFileRuns) {
  CREMA_REQUIRE_CORPUS();
  set_num_threads(0);
  Registry& r = Registry::global();
  int ran = 0;
  std::set<std::string> missing_everywhere;
  for (const std::string& path : corpus_nets()) {
    SCOPED_TRACE(path);
    pb::NetParameter net;
    try {
      net = read_net_file(path);
    } catch (const ParseError& e) {
      // Only a parameter block no plugin provides may stop a file from parsing.
      std::string m = e.what();
      EXPECT_NE(m.find("no loaded plugin provides the parameter block"), std::string::npos) << m;
      std::cout << "[ parse    ] " << fs::path(path).filename().string()
                << ": needs a plugin for a block\n";
      continue;
    }
    std::set<std::string> missing;
    for (const auto& l : net.layer())
      if (l.type() != "Data" && l.type() != "ImageData" && !r.has(l.type()))
        missing.insert(l.type());
    if (!missing.empty()) {
      std::string list;
      for (const auto& t : missing) list += " " + t, missing_everywhere.insert(t);
      std::cout << "[ missing  ] " << fs::path(path).filename().string() << ":" << list << "\n";
      continue;
    }
    pb::NetParameter runnable = substitute_data(net, path);
    NetOptions opt;
    opt.source = path;
    bool has_train_data = false;
    for (const auto& l : runnable.layer())
      for (const auto& rule : l.include())
        has_train_data = has_train_data || rule.phase() == pb::TRAIN;
    opt.phase = has_train_data || runnable.layer_size() == 0 ? pb::TRAIN : pb::TEST;
    try {
      Net n(runnable, opt);
      std::mt19937 rng(1);
      for (int i = 0; i < n.num_layers(); ++i)
        if (n.layer(i).type() == "Input")
          for (Tensor* t : n.tops(i)) {
            float* x = t->mutable_host_data();
            bool labels = t->ndim() == 1;
            for (int64_t j = 0; j < t->count(); ++j)
              x[j] = labels ? float(rng() % 3) : std::normal_distribution<float>()(rng);
          }
      n.forward();
      n.backward();
      // ... and summarises, as `crema summary` does.
      tools::NetStats stats = tools::net_stats(n);
      EXPECT_EQ(stats.layers.size(), static_cast<size_t>(n.num_layers()));
      EXPECT_GT(stats.params, 0);
      EXPECT_GT(stats.macs, 0);
      ++ran;
      std::cout << "[ ran      ] " << fs::path(path).filename().string() << " (" << n.num_layers()
                << " layers, " << stats.params << " parameters, " << stats.macs / 1e9
                << " GMACs)\n";
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  std::string still;
  for (const auto& t : missing_everywhere) still += " " + t;
  std::cout << "types still missing across the corpus:" << (still.empty() ? " none" : still)
            << "\n";
  // The goal: only the detection net's ROIPooling / SmoothL1Loss / Python stay out of reach.
  for (const auto& t : missing_everywhere)
    EXPECT_TRUE(t == "ROIPooling" || t == "SmoothL1Loss" || t == "Python") << "no plugin for " << t;
  EXPECT_GT(ran, 0);
}

}  // namespace
}  // namespace crema
