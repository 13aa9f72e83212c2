// SPDX-License-Identifier: BSD-2-Clause
// The crema command: one binary, one verb per job, Caffe's flag spellings.
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include "verbs.hpp"

namespace {
struct Verb {
  int (*run)(int, char**);
  const char* help;
};

const std::map<std::string, Verb>& verbs() {
  using namespace crema::tools;
  static const std::map<std::string, Verb> v = {
      {"train", {run_train, "train a net: -solver solver.prototxt [-weights w | -snapshot s] [-gpu 0]"}},
      {"test", {run_test, "score a net: -model net.prototxt -weights w [-iterations N] [-gpu 0]"}},
      {"time", {run_time, "time forward/backward per layer: -model net.prototxt [-iterations N]"}},
      {"validate", {run_validate, "check net and solver files without allocating them: FILE..."}},
      {"plugins", {run_plugins, "list the layer plugins found and where they were searched"}},
      {"check-plugin", {run_check_plugin, "gradient-check a plugin's declared test configurations: PATH.so"}},
      {"summary", {run_summary, "per-layer shapes, parameters, multiply-adds, memory: -model net.prototxt [-input_shape N,C,H,W]"}},
      {"draw", {run_draw, "Graphviz DOT/SVG/PNG of a net: -model net.prototxt [-out net.svg]"}},
      {"convert", {run_convert, "write MNIST/CIFAR files into an LMDB of Datum records for the Data layer"}},
      {"device_query", {run_device_query, "show the GPU(s): [-gpu N]"}},
  };
  return v;
}

int usage() {
  std::cerr << "usage: crema <verb> [flags]\n\nverbs:\n";
  for (const auto& [name, v] : verbs()) std::cerr << "  " << name << std::string(14 - name.size(), ' ') << v.help << "\n";
  std::cerr << "\nEvery verb takes -plugin_dir DIR (repeatable), -threads N and -help.\n";
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-help") || !std::strcmp(argv[1], "--help")) return usage();
  auto it = verbs().find(argv[1]);
  if (it == verbs().end()) {
    std::cerr << "crema: unknown verb '" << argv[1] << "'\n";
    return usage();
  }
  try {
    return it->second.run(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::cerr << "crema " << argv[1] << ": " << e.what() << std::endl;
    return 1;
  }
}
