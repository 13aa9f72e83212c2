// SPDX-License-Identifier: BSD-2-Clause
// crema check-plugin PATH.so: loads one plugin through the real loader and runs each test
// configuration it declares through crema::testing::check_config: the gradient checker on the
// CPU and (when a GPU exists) on the GPU with CPU/GPU agreement. Per configuration it prints what
// inputs it draws and the checker's settings, then one PASS/FAIL/SKIP line per check.
#include <iostream>

#include "crema/testing/harness.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {

int run_check_plugin(int argc, char** argv) {
  po::options_description desc("crema check-plugin PATH.so");
  add_common_options(desc);
  desc.add_options()(
      "step", po::value<double>(),
      "finite-difference step for every configuration (default: as declared, else 1e-2)")(
      "threshold", po::value<double>(),
      "relative tolerance for every configuration (default: as declared, else 1e-2)");
  auto vm = parse_flags(argc, argv, desc, "check-plugin", true);
  if (!vm.count("inputs")) throw std::runtime_error("give the plugin's .so path");
  int failed = 0, passed = 0, skipped = 0;
  for (const auto& path : vm["inputs"].as<std::vector<std::string>>()) {
    std::vector<testing::DeclaredConfig> configs;
    try {
      configs = testing::declared_configs(path);
    } catch (const std::exception& e) {
      std::cout << "FAIL load " << e.what() << "\n";
      return 1;
    }
    std::cout << path << ": " << configs.size() << " test configuration(s)\n";
    if (configs.empty())
      std::cout << "  (the plugin declares none: add a static tests() to its class)\n";
    for (size_t i = 0; i < configs.size(); ++i) {
      testing::DeclaredConfig& c = configs[i];
      if (vm.count("step")) c.step = vm["step"].as<double>();
      if (vm.count("threshold")) c.threshold = vm["threshold"].as<double>();
      std::cout << "\nconfiguration " << i + 1 << ": " << c.layer_text << "  [" << c.bottom_shapes
                << "]\n  " << c.describe() << "\n";
      for (const testing::CheckResult& r : testing::check_config(c)) {
        const char* verdict = r.skipped ? "SKIP " : r.passed ? "PASS " : "FAIL ";
        std::cout << verdict << r.check;
        if (r.skipped || r.check == "cpu/gpu") std::cout << "  (" << r.detail << ")";
        std::cout << "\n";
        if (!r.passed && !r.skipped && r.check != "cpu/gpu") std::cout << r.detail << "\n";
        (r.skipped ? skipped : r.passed ? passed : failed)++;
      }
    }
  }
  std::cout << "\n" << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed ? 1 : 0;
}

}  // namespace crema::tools
