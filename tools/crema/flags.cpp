// SPDX-License-Identifier: BSD-2-Clause
#include "flags.hpp"

#include <iostream>
#include <stdexcept>

#include "crema/core/host.hpp"
#include "crema/core/registry.hpp"

namespace crema::tools {

void add_common_options(po::options_description& desc) {
  desc.add_options()
    ("plugin_dir", po::value<std::vector<std::string>>()->composing(),
     "also search this directory for layer plugins (repeatable; searched first)")
    ("threads", po::value<int>()->default_value(0),
     "CPU threads for OpenBLAS and crema (0: CREMA_NUM_THREADS, else all cores)")
    ("help,h", "show this help");
}

po::variables_map parse_flags(int argc, char** argv, const po::options_description& desc,
                              const std::string& verb, bool positional) {
  po::variables_map vm;
  po::positional_options_description pos;
  po::options_description all(desc);
  if (positional) {
    all.add_options()("inputs", po::value<std::vector<std::string>>()->composing(), "files");
    pos.add("inputs", -1);
  }
  int style = po::command_line_style::unix_style | po::command_line_style::allow_long_disguise;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).style(style).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw std::runtime_error(std::string(e.what()) + " (see: crema " + verb + " -help)");
  }
  if (vm.count("help")) {
    std::cout << "usage: crema " << verb << " [flags]\n" << desc << std::endl;
    std::exit(0);
  }
  if (vm.count("plugin_dir"))
    for (const auto& d : vm["plugin_dir"].as<std::vector<std::string>>())
      Registry::global().add_search_dir(d);
  set_num_threads(vm["threads"].as<int>());
  return vm;
}

}  // namespace crema::tools
