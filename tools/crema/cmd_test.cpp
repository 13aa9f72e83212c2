// SPDX-License-Identifier: BSD-2-Clause
// crema test -model NET -weights W [-iterations N] [-gpu N]: scores a trained net in TEST phase.
#include <iostream>

#include "crema/core/device.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {

int run_test(int argc, char** argv) {
  po::options_description desc("crema test");
  add_common_options(desc);
  add_fuse_option(desc);
  desc.add_options()
    ("model", po::value<std::string>(), "net definition")
    ("weights", po::value<std::string>(), "trained weights (.caffemodel)")
    ("iterations", po::value<int>()->default_value(50), "batches to score")
    ("gpu", po::value<std::string>(), "run on this GPU")
    ("stage", po::value<std::vector<std::string>>()->composing(), "net state stage (repeatable)");
  auto vm = parse_flags(argc, argv, desc, "test");
  if (!vm.count("model")) throw std::runtime_error("-model is required");
  NetOptions opt;
  opt.phase = pb::TEST;
  opt.source = vm["model"].as<std::string>();
  opt.fill_params = !vm.count("weights");
  opt.fuse = vm["fuse"].as<bool>();
  if (vm.count("stage")) opt.stages = vm["stage"].as<std::vector<std::string>>();
  Net net(read_net_file(opt.source), opt);
  if (vm.count("weights")) {
    const std::string path = vm["weights"].as<std::string>();
    Net::WeightsCopy copy;
    try {
      copy = net.copy_trained_layers_from(read_weights_file(path));
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
    std::cerr << (copy.not_copied.empty() ? "I " : "W ") << path << ": " << copy.summary() << "\n";
  } else {
    std::cerr << "W no -weights: scoring randomly initialised weights\n";
  }
  if (vm.count("gpu")) {
    device::select(std::stoi(vm["gpu"].as<std::string>()));
    net.set_device(CREMA_CUDA);
  }
  const int iters = vm["iterations"].as<int>();
  std::vector<double> sums;
  std::vector<std::string> names;
  double loss = 0;
  for (int i = 0; i < iters; ++i) {
    net.set_rng_counter(static_cast<uint64_t>(i));
    float l = net.forward();
    loss += l;
    size_t k = 0;
    for (int id : net.output_blob_indices()) {
      const Tensor* b = net.blob_at(id);
      for (int64_t j = 0; j < b->count(); ++j, ++k) {
        if (i == 0) sums.push_back(0), names.push_back(net.blob_names()[id]);
        sums[k] += b->host_data()[j];
        std::cout << "Batch " << i << ", " << names[k] << " = " << b->host_data()[j] << "\n";
      }
    }
  }
  std::cout << "Loss: " << loss / iters << "\n";
  for (size_t k = 0; k < sums.size(); ++k) std::cout << names[k] << " = " << sums[k] / iters << "\n";
  return 0;
}

}  // namespace crema::tools
