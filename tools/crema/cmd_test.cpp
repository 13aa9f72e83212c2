// SPDX-License-Identifier: BSD-2-Clause
// crema test -model NET -weights W [-iterations N|all] [-gpu N]: scores a trained net in TEST
// phase, and says how many images of the test data that covered.
#include <climits>
#include <cstdlib>
#include <iostream>

#include "crema/core/device.hpp"
#include "crema/core/log.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "data_size.hpp"
#include "flags.hpp"
#include "npy.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {
// "Scored 5000 of the 10000 images ...": how much of the test data the means cover.
std::string scored(int iters, const DataSize& data) {
  const int64_t n = iters * data.batch;
  std::string m = "Scored " + std::to_string(n) + " images (" + std::to_string(iters) +
                  " iterations of " + std::to_string(data.batch) + ")";
  if (data.images == 0) return m + "; the size of the test data is not known";
  const std::string all = std::to_string(data.images);
  if (n < data.images)
    return m + " of the " + all + " in the test data; -iterations all scores each once";
  if (n == data.images) return m + ": every image of the test data once";
  if (n < 2 * data.images)
    return m + ": the test data's " + all + ", " + std::to_string(n - data.images) +
           " of them twice";
  return m + ": the test data's " + all + " more than once; -iterations all scores each once";
}
}  // namespace

int run_test(int argc, char** argv) {
  po::options_description desc("crema test");
  add_common_options(desc);
  add_fuse_option(desc);
  add_max_memory_option(desc);
  add_precision_option(desc);
  desc.add_options()("model", existing_file("model"), "net definition")(
      "weights", existing_file("weights"), "trained weights (.caffemodel)")(
      "iterations", po::value<std::string>()->default_value("50")->value_name("N|all"),
      "batches to score; all: every image of the test data once (MNISTData, CIFARData and Data "
      "layers, whose files say how many images they hold)")("gpu", gpu_id("gpu"),
                                                            "run on this GPU")(
      "stage", po::value<std::vector<std::string>>()->composing()->value_name("NAME"),
      "net state stage (repeatable)");
  desc.add_options()(
      "input", po::value<std::vector<std::string>>()->composing()->value_name("BLOB=FILE.npy"),
      "set an input blob (an Input layer's top) from a NumPy float array, "
      "reshaping the net to its shape (repeatable)")(
      "save_outputs", po::value<std::string>()->value_name("DIR"),
      "write the net's outputs after the last batch as DIR/<blob>.npy")(
      "save_blob", po::value<std::vector<std::string>>()->composing()->value_name("BLOB"),
      "with -save_outputs, also write this blob (repeatable)");
  auto vm = parse_flags(argc, argv, desc, "test");
  if (!vm.count("model")) throw std::runtime_error("-model is required");
  const std::string iterations = vm["iterations"].as<std::string>();
  int iters = 0;
  if (iterations != "all") {
    char* end = nullptr;
    const long n = std::strtol(iterations.c_str(), &end, 10);
    if (iterations.empty() || *end || n < 1 || n > INT_MAX)
      throw std::runtime_error(
          "-iterations " + iterations +
          ": give a whole number of 1 or more, or all (see: crema test -help)");
    iters = static_cast<int>(n);
  }
  NetOptions opt;
  opt.phase = pb::TEST;
  opt.source = vm["model"].as<std::string>();
  opt.fill_params = !vm.count("weights");
  opt.fuse = vm["fuse"].as<bool>();
  opt.max_memory = max_memory_flag(vm);
  opt.precision = precision_flag(vm);
  if (vm.count("stage")) opt.stages = vm["stage"].as<std::vector<std::string>>();
  Net net(read_net_file(opt.source), opt);
  if (opt.precision) CREMA_LOG(INFO) << "Precision: " << net.precision_summary();
  if (vm.count("weights")) {
    const std::string path = vm["weights"].as<std::string>();
    Net::WeightsCopy copy;
    try {
      copy = net.copy_trained_layers_from(read_weights_file(path));
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
    if (copy.not_copied.empty())
      CREMA_LOG(INFO) << path << ": " << copy.summary();
    else
      CREMA_LOG(WARNING) << path << ": " << copy.summary();
  } else {
    CREMA_LOG(WARNING) << "no -weights: scoring randomly initialised weights";
  }
  if (vm.count("input"))
    for (const std::string& spec : vm["input"].as<std::vector<std::string>>())
      load_input(net, spec);
  if (vm.count("gpu")) {
    device::select(std::stoi(vm["gpu"].as<std::string>()));
    net.set_device(CREMA_CUDA);
  }
  const DataSize data = data_size(net);
  if (iterations == "all") {
    if (data.images == 0)
      throw std::runtime_error("-iterations all: " + data.why_unknown + ": give -iterations N");
    iters = static_cast<int>((data.images + data.batch - 1) / data.batch);
  }
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
  if (vm.count("save_outputs"))
    for (const std::string& path :
         save_outputs(net, vm["save_outputs"].as<std::string>(),
                      vm.count("save_blob") ? vm["save_blob"].as<std::vector<std::string>>()
                                            : std::vector<std::string>{}))
      std::cout << "Saved " << path << "\n";
  if (data.batch > 0) std::cout << scored(iters, data) << "\n";
  std::cout << "Loss: " << loss / iters << "\n";
  for (size_t k = 0; k < sums.size(); ++k)
    std::cout << names[k] << " = " << sums[k] / iters << "\n";
  return 0;
}

}  // namespace crema::tools
