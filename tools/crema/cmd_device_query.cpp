// SPDX-License-Identifier: BSD-2-Clause
// crema device_query: what the GPU(s) are, or why there are none.
#include <iostream>

#include "crema/core/device.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {

int run_device_query(int argc, char** argv) {
  po::options_description desc("crema device_query");
  add_common_options(desc);
  desc.add_options()("gpu", gpu_id("gpu", true)->default_value("all"), "the GPU to describe");
  auto vm = parse_flags(argc, argv, desc, "device_query");
  int n = device::count();
  if (n == 0) {
    std::cout << "No GPU: " << device::unavailable_reason() << "\n";
    return 1;
  }
  std::string which = vm["gpu"].as<std::string>();
  for (int i = 0; i < n; ++i)
    if (which == "all" || std::stoi(which) == i) std::cout << device::describe(i) << "\n";
  return 0;
}

}  // namespace crema::tools
