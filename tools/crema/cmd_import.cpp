// SPDX-License-Identifier: BSD-2-Clause
// crema import -onnx MODEL.onnx -out NET.prototxt -weights NET.caffemodel [-train_net T -solver S
// -train_source DB -test_source DB]: the inverse of crema export (tools/onnx/import_net.hpp;
// docs/ONNX.md).
#include <google/protobuf/text_format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "crema/core/log.hpp"
#include "crema/core/proto_io.hpp"
#include "flags.hpp"
#include "import_net.hpp"
#include "onnx_file.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {
void write_text(const std::string& path, const google::protobuf::Message& m,
                const std::string& comment) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(m, &text);
  std::ofstream out(path, std::ios::trunc);
  out << "# " << comment << "\n" << text;
  if (!out) throw std::runtime_error(path + ": cannot write");
}
}  // namespace

int run_import(int argc, char** argv) {
  po::options_description desc("crema import");
  add_common_options(desc);
  auto add = desc.add_options();
  add("onnx", existing_file("onnx"), "the ONNX model to read");
  add("out", po::value<std::string>()->value_name("NET.prototxt"), "the deploy net to write");
  add("weights", po::value<std::string>()->value_name("NET.caffemodel"), "the weights to write");
  add("batch", positive_int("batch")->default_value(1),
      "the deploy net's batch, for a symbolic first input axis");
  add("train_net", po::value<std::string>()->value_name("FILE"),
      "also write a train/test net: Data layers (LMDB) in place of the input, SoftmaxWithLoss "
      "and Accuracy on the logits");
  add("solver", po::value<std::string>()->value_name("FILE"),
      "also write a solver that fine-tunes -train_net from the imported weights");
  add("train_source", po::value<std::string>()->value_name("DB"), "-train_net's TRAIN LMDB");
  add("test_source", po::value<std::string>()->value_name("DB"), "-train_net's TEST LMDB");
  add("train_batch", positive_int("train_batch")->default_value(32), "-train_net's batch size");
  add("base_lr", po::value<float>()->default_value(0.001f)->value_name("LR"),
      "the solver's fixed learning rate");
  add("max_iter", positive_int("max_iter")->default_value(100), "the solver's iterations");
  auto vm = parse_flags(argc, argv, desc, "import");
  for (const char* f : {"onnx", "out", "weights"})
    if (!vm.count(f))
      throw std::runtime_error(std::string("-") + f + " is required (see crema import -help)");
  const std::string path = vm["onnx"].as<std::string>();
  onnx_io::ImportOptions opt;
  opt.batch = vm["batch"].as<int>();
  onnx_io::ImportResult r;
  try {
    r = onnx_io::import_onnx(onnx_io::read_onnx(path), opt);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error(what.rfind(path, 0) == 0 ? what : path + ": " + what);
  }
  for (const auto& n : r.notes) CREMA_LOG(INFO) << n;
  const std::string out = vm["out"].as<std::string>(), weights = vm["weights"].as<std::string>();
  write_text(out, r.deploy, "imported by crema import from " + path);
  write_binary_proto_atomic(weights, r.weights);
  std::cout << "Wrote " << out << " (" << r.deploy.layer_size() << " layers) and " << weights
            << "\n";
  if (vm.count("train_net")) {
    if (!vm.count("train_source") || !vm.count("test_source"))
      throw std::runtime_error("-train_net needs -train_source DB and -test_source DB");
    onnx_io::TrainNetOptions t;
    t.train_source = vm["train_source"].as<std::string>();
    t.test_source = vm["test_source"].as<std::string>();
    t.batch = vm["train_batch"].as<int>();
    const std::string train = vm["train_net"].as<std::string>();
    write_text(train, onnx_io::train_test_net(r.deploy, t),
               "train/test net for fine-tuning, written by crema import from " + path);
    std::cout << "Wrote " << train << "\n";
    if (vm.count("solver")) {
      const std::string solver = vm["solver"].as<std::string>();
      const std::string prefix =
          (std::filesystem::path(solver).parent_path() / "finetune").string();
      write_text(solver,
                 onnx_io::fine_tune_solver(train, vm["base_lr"].as<float>(),
                                           vm["max_iter"].as<int>(), prefix),
                 "fine-tuning solver, written by crema import; run: crema train -solver " + solver +
                     " -weights " + weights);
      std::cout << "Wrote " << solver << ": crema train -solver " << solver << " -weights "
                << weights << "\n";
    }
  } else if (vm.count("solver")) {
    throw std::runtime_error("-solver needs -train_net");
  }
  return 0;
}

}  // namespace crema::tools
