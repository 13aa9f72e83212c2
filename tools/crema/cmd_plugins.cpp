// SPDX-License-Identifier: BSD-2-Clause
// crema plugins: every plugin found, its types, version, library, devices and parameter block;
// then the directories searched, warnings and the libraries refused.
#include <iostream>
#include <string>

#include "crema/core/precision.hpp"
#include "crema/core/registry.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {
namespace {
// " (fp32, bf16)": the math types a path offers, when it offers more than fp32.
std::string math_types(uint32_t narrower) {
  std::string out;
  for (crema_dtype t : {CREMA_BFLOAT16, CREMA_FLOAT16})
    if (narrower & CREMA_DTYPE_BIT(t)) out += std::string(", ") + dtype_name(t);
  return out.empty() ? "" : " (fp32" + out + ")";
}
}  // namespace

int run_plugins(int argc, char** argv) {
  po::options_description desc("crema plugins");
  add_common_options(desc);
  desc.add_options()("schema", po::bool_switch(), "also print each layer's parameter message");
  auto vm = parse_flags(argc, argv, desc, "plugins");
  Registry& r = Registry::global();
  // What was found first; where it was looked for and what was refused after.
  size_t n_types = 0;
  for (const PluginInfo& p : r.plugins()) n_types += p.types.size();
  std::cout << r.plugins().size() << " plugin(s) with " << n_types << " layer type(s)\n";
  for (const PluginInfo& p : r.plugins()) {
    std::cout << p.name << " " << p.version << "  " << p.path << "\n";
    const crema_plugin* d = r.plugin_descriptor(p.path);
    for (uint32_t i = 0; d && i < d->n_layers; ++i) {
      const crema_layer_desc& l = d->layers[i];
      const LayerType& t = r.find(std::string(l.type) + "@" + std::to_string(l.layer_version));
      std::cout << "  " << l.type << "@" << l.layer_version << "  devices: CPU"
                << math_types(t.cpu_math) << (l.forward_cuda ? ", CUDA" : "")
                << (l.forward_cuda ? math_types(t.cuda_math) : "")
                << "  params: " << (l.param_field ? l.param_field : "-") << "\n";
      if (vm["schema"].as<bool>() && l.param_field) {
        std::string s =
            r.param_schema(r.find(std::string(l.type) + "@" + std::to_string(l.layer_version)));
        std::cout << "    " << s << "\n";
      }
    }
  }
  std::cout << "\nsearched:";
  const auto dirs = r.search_dirs();
  if (dirs.empty()) std::cout << " (no directories)";
  for (const auto& dir : dirs) std::cout << "\n  " << dir;
  std::cout << "\n";
  for (const std::string& w : r.warnings()) std::cout << "warning: " << w << "\n";
  for (const Refusal& x : r.refusals())
    std::cout << "refused " << x.path << ": " << x.reason << "\n";
  std::cout << "(add directories with -plugin_dir DIR or CREMA_PLUGIN_PATH=DIR1:DIR2)\n";
  return r.refusals().empty() ? 0 : 1;
}

}  // namespace crema::tools
