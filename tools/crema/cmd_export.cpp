// SPDX-License-Identifier: BSD-2-Clause
// crema export -model NET -weights W -out net.onnx [-opset N] [-input_shape N,C,H,W]: the net
// and its weights as an ONNX model (tools/onnx/export_net.hpp; docs/ONNX.md).
#include <iostream>

#include "crema/core/log.hpp"
#include "export_net.hpp"
#include "flags.hpp"
#include "net_stats.hpp"
#include "onnx_file.hpp"
#include "verbs.hpp"

namespace crema::tools {

int run_export(int argc, char** argv) {
  po::options_description desc("crema export");
  add_common_options(desc);
  auto add = desc.add_options();
  add("model", existing_file("model"), "net definition (a deploy net, or a train/test net)");
  add("weights", existing_file("weights"), "trained weights (.caffemodel); default: the fillers'");
  add("out", po::value<std::string>()->value_name("FILE.onnx"), "the ONNX model to write");
  add("opset", po::value<int>()->default_value(onnx_io::kMaxOpset)->value_name("N"),
      "ONNX opset to write (13 to 17)");
  add("input_shape", shape_value("input_shape"),
      "make every data layer an input of this shape (train/test nets), e.g. 1,3,32,32");
  auto vm = parse_flags(argc, argv, desc, "export");
  if (!vm.count("model")) throw std::runtime_error("-model is required (see crema export -help)");
  if (!vm.count("out")) throw std::runtime_error("-out FILE.onnx is required");
  onnx_io::ExportOptions opt;
  opt.model = vm["model"].as<std::string>();
  if (vm.count("weights")) opt.weights = vm["weights"].as<std::string>();
  if (vm.count("input_shape")) opt.input_shape = parse_shape(vm["input_shape"].as<std::string>());
  opt.opset = vm["opset"].as<int>();
  opt.producer_version = CREMA_VERSION;
  onnx_io::ExportResult r = onnx_io::export_onnx(opt);
  for (const auto& note : r.notes) CREMA_LOG(INFO) << note;
  const std::string out = vm["out"].as<std::string>();
  onnx_io::write_onnx(out, r.model);
  const onnx::GraphProto& g = r.model.graph();
  std::cout << "Wrote " << out << ": opset " << opt.opset << ", " << g.node_size() << " nodes, "
            << g.initializer_size() << " initializers; inputs";
  for (const auto& v : g.input()) std::cout << " " << v.name();
  std::cout << "; outputs";
  for (const auto& v : g.output()) std::cout << " " << v.name();
  std::cout << "\n";
  return 0;
}

}  // namespace crema::tools
