// SPDX-License-Identifier: BSD-2-Clause
// crema draw -model NET [-phase TRAIN] [-out FILE] [-format dot|svg|png]: the graph as Graphviz
// DOT (parsed and phase-filtered only, nothing built), SVG or PNG through `dot` when installed.
// In-place layers (BatchNorm, Scale, ReLU) are folded into the node that produced their blob and
// the layers of a residual block (a shared name prefix) are boxed together.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "crema/core/net_wiring.hpp"
#include "crema/core/prototxt.hpp"
#include "flags.hpp"
#include "net_dot.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {

std::string extension(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  return e.empty() ? "" : e.substr(1);
}

bool have_dot() { return std::system("command -v dot >/dev/null 2>&1") == 0; }

}  // namespace

int run_draw(int argc, char** argv) {
  po::options_description desc("crema draw -model NET");
  add_common_options(desc);
  auto add = desc.add_options();
  add("model", existing_file("model"), "net definition");
  add("phase", one_of("phase", {"TRAIN", "TEST"})->default_value("TRAIN"),
      "TRAIN or TEST: the layers drawn");
  add("stage", po::value<std::vector<std::string>>()->composing()->value_name("NAME"),
      "net state stage (repeatable)");
  add("level", po::value<int>()->default_value(0)->value_name("N"), "net state level");
  add("out", po::value<std::string>()->value_name("FILE"),
      "output file: .dot, or .svg/.png drawn by Graphviz's dot (default: DOT on stdout)");
  add("format", po::value<std::string>()->value_name("dot|svg|png"),
      "dot, svg or png (default: from -out's extension, else dot)");
  add("rankdir", one_of("rankdir", {"TB", "LR"})->default_value("TB"),
      "Graphviz rankdir: top to bottom or left to right");
  add("no_cluster", po::bool_switch(), "do not box the blocks (layers sharing a name prefix)");
  add("blob_labels", po::bool_switch(), "label the edges with the blob names");
  auto vm = parse_flags(argc, argv, desc, "draw");
  if (!vm.count("model")) throw std::runtime_error("-model is required (see crema draw -help)");
  const std::string phase = vm["phase"].as<std::string>();
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : "";
  std::string format = vm.count("format") ? vm["format"].as<std::string>() : extension(out);
  if (format.empty() || format == "gv") format = "dot";
  if (format != "dot" && format != "svg" && format != "png")
    throw std::runtime_error("-format is dot, svg or png, not " + format);

  pb::NetParameter def = read_net_file(vm["model"].as<std::string>());
  pb::NetState state = def.state();
  state.set_phase(phase == "TEST" ? pb::TEST : pb::TRAIN);
  state.set_level(vm["level"].as<int>());
  if (vm.count("stage"))
    for (const auto& s : vm["stage"].as<std::vector<std::string>>()) state.add_stage(s);
  DrawOptions opt;
  opt.cluster = !vm["no_cluster"].as<bool>();
  opt.blob_labels = vm["blob_labels"].as<bool>();
  opt.rankdir = vm["rankdir"].as<std::string>();
  const std::string dot = net_to_dot(filter_net(def, state), opt);

  if (format == "dot") {
    if (out.empty()) {
      std::cout << dot;
    } else {
      std::ofstream f(out);
      if (!(f << dot)) throw std::runtime_error("cannot write " + out);
    }
    return 0;
  }
  if (out.empty()) throw std::runtime_error("-format " + format + " needs -out FILE");
  if (!have_dot())
    throw std::runtime_error(
        "-out " + out +
        " needs Graphviz's dot, which is not installed (on the PATH): install it "
        "(bash scripts/install_deps.sh, or sudo apt-get install graphviz), or write DOT, which "
        "needs nothing: -out " +
        std::filesystem::path(out).replace_extension(".dot").string() +
        " (render it elsewhere: dot -T" + format + " FILE.dot -o FILE." + format + ")");
  const std::string tmp = out + ".dot.tmp";
  {
    std::ofstream f(tmp);
    if (!(f << dot)) throw std::runtime_error("cannot write " + tmp);
  }
  auto q = [](const std::string& s) {
    std::string r = "'";
    for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return r + "'";
  };
  const int rc = std::system(("dot -T" + format + " -o " + q(out) + " " + q(tmp)).c_str());
  std::remove(tmp.c_str());
  if (rc != 0)
    throw std::runtime_error("dot -T" + format + " failed (exit status " + std::to_string(rc) +
                             ")");
  return 0;
}

}  // namespace crema::tools
