// SPDX-License-Identifier: BSD-2-Clause
// crema summary -model NET [-phase TEST] [-input_shape N,C,H,W]: per layer the output shape,
// learnable parameters, multiply-adds (Convolution, InnerProduct) and the activation memory its
// tops own, then the totals. The net is built (shapes inferred) but no data is touched and no
// parameter is filled: large nets and batches cost no memory.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "flags.hpp"
#include "net_stats.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {

std::string human(double v, const char* unit = "") {
  char buf[64];
  if (v >= 1e9)
    std::snprintf(buf, sizeof buf, "%.3f G%s", v / 1e9, unit);
  else if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3f M%s", v / 1e6, unit);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.3f K%s", v / 1e3, unit);
  else
    std::snprintf(buf, sizeof buf, "%.0f %s", v, unit);
  return buf;
}

std::string bytes(double b) {
  char buf[64];
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024));
  else if (b >= 1024.0)
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v), out;
  int n = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (n && n % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++n;
  }
  return out;
}

std::string shape_text(const Shape& s) {
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) t += (i ? "x" : "") + std::to_string(s[i]);
  return t.empty() ? "-" : t;
}

}  // namespace

int run_summary(int argc, char** argv) {
  po::options_description desc("crema summary -model NET");
  add_common_options(desc);
  auto add = desc.add_options();
  add("model", existing_file("model"), "net definition");
  add("phase", one_of("phase", {"TRAIN", "TEST"})->default_value("TEST"), "TRAIN or TEST");
  add("stage", po::value<std::vector<std::string>>()->composing()->value_name("NAME"),
      "net state stage (repeatable)");
  add("level", po::value<int>()->default_value(0)->value_name("N"), "net state level");
  add("input_shape", shape_value("input_shape"),
      "replace every data/Input layer by an Input of this shape, e.g. 1,3,224,224 (labels get N)");
  add("splits", po::bool_switch(), "also list the Split layers crema inserts");
  auto vm = parse_flags(argc, argv, desc, "summary");
  if (!vm.count("model")) throw std::runtime_error("-model is required (see crema summary -help)");
  const std::string phase = vm["phase"].as<std::string>();
  NetOptions opt;
  opt.phase = phase == "TEST" ? pb::TEST : pb::TRAIN;
  opt.level = vm["level"].as<int>();
  if (vm.count("stage")) opt.stages = vm["stage"].as<std::vector<std::string>>();
  opt.source = vm["model"].as<std::string>();
  opt.fill_params = false;
  pb::NetParameter def = read_net_file(opt.source);
  if (vm.count("input_shape"))
    def = with_input_shape(def, parse_shape(vm["input_shape"].as<std::string>()));
  std::unique_ptr<Net> net = build_net(def, opt);
  NetStats s = net_stats(*net);
  const bool splits = vm["splits"].as<bool>();

  int wname = 5, wtype = 4, wshape = 12;  // column widths
  int hidden = 0;
  int64_t hidden_memory = 0;
  for (const LayerStats& l : s.layers) {
    if (l.type == "Split" && !splits) continue;
    wname = std::max(wname, static_cast<int>(l.name.size()));
    wtype = std::max(wtype, static_cast<int>(l.type.size()));
    wshape = std::max(wshape, static_cast<int>(shape_text(l.top_shape).size()));
  }
  std::cout << "Net \"" << net->name() << "\" (" << opt.source << "), phase " << phase << ", batch "
            << s.batch << "\n";
  std::cout << std::left << std::setw(wname) << "layer"
            << "  " << std::setw(wtype) << "type"
            << "  " << std::setw(wshape) << "output" << std::right << "  " << std::setw(12)
            << "params"
            << "  " << std::setw(14) << "MACs"
            << "  " << std::setw(11) << "memory"
            << "\n";
  for (const LayerStats& l : s.layers) {
    if (l.type == "Split" && !splits) {
      ++hidden;
      hidden_memory += l.activations;
      continue;
    }
    std::cout << std::left << std::setw(wname) << l.name << "  " << std::setw(wtype) << l.type
              << "  " << std::setw(wshape) << shape_text(l.top_shape) << std::right << "  "
              << std::setw(12) << (l.params ? with_commas(l.params) : "-") << "  " << std::setw(14)
              << (l.macs > 0 ? with_commas(static_cast<int64_t>(l.macs)) : "-") << "  "
              << std::setw(11)
              << (l.activations       ? bytes(4.0 * l.activations)
                  : l.type == "Split" ? "shared"
                                      : "in place")
              << "\n";
  }
  const double n = std::max<int64_t>(1, s.batch);
  std::cout << "\nLayers: " << s.layers.size() - hidden;
  if (hidden)
    std::cout << " (+" << hidden << " Split layers holding " << bytes(4.0 * hidden_memory)
              << " of copies; -splits lists them)";
  std::cout << "\nParameters: " << with_commas(s.params) << " ("
            << human(static_cast<double>(s.params)) << "), " << bytes(4.0 * s.params) << "\n";
  std::cout << "Multiply-adds (Convolution, InnerProduct): "
            << with_commas(static_cast<int64_t>(s.macs)) << " (" << human(s.macs)
            << ") per forward";
  if (s.batch > 1) std::cout << ", " << human(s.macs / n) << " per image";
  std::cout << "\nElement-wise ops (BatchNorm, Scale, ReLU, Eltwise, Pooling, Dropout): "
            << human(s.other_ops) << " per forward\n";
  std::cout << "Activation memory (float32 tops, forward): " << bytes(4.0 * s.activations);
  if (s.batch > 1) std::cout << ", " << bytes(4.0 * s.activations / n) << " per image";
  std::cout << "\n";
  return 0;
}

}  // namespace crema::tools
