// SPDX-License-Identifier: BSD-2-Clause
// crema check-plugin PATH.so: loads one plugin through the real loader and runs each test
// configuration it declares through the gradient checker, on the CPU and (when a GPU exists)
// on the GPU with CPU/GPU agreement. One PASS/FAIL line per check.
#include <filesystem>
#include <iostream>

#include "crema/testing/harness.hpp"
#include "flags.hpp"
#include "crema/core/registry.hpp"
#include "verbs.hpp"

namespace crema::tools {

int run_check_plugin(int argc, char** argv) {
  po::options_description desc("crema check-plugin PATH.so");
  add_common_options(desc);
  desc.add_options()("step", po::value<double>()->default_value(1e-2), "finite-difference step")(
      "threshold", po::value<double>()->default_value(1e-2), "relative tolerance");
  auto vm = parse_flags(argc, argv, desc, "check-plugin", true);
  if (!vm.count("inputs")) throw std::runtime_error("give the plugin's .so path");
  int failed = 0, checks = 0;
  for (const auto& path : vm["inputs"].as<std::vector<std::string>>()) {
    namespace fs = std::filesystem;
    if (!fs::exists(path)) throw std::runtime_error(path + ": no such file");
    std::string dir = fs::absolute(path).parent_path().string();
    Registry::global().add_search_dir(dir);
    std::string canonical = fs::weakly_canonical(path).string();
    for (const Refusal& r : Registry::global().refusals())
      if (r.path == canonical) {
        std::cout << "FAIL load " << path << ": " << r.reason << "\n";
        return 1;
      }
    const crema_plugin* p = Registry::global().plugin_descriptor(canonical);
    if (!p) throw std::runtime_error(path + ": not loaded");
    std::cout << "plugin " << p->name << " " << p->version << ": " << p->n_tests
              << " test configuration(s)\n";
    if (p->n_tests == 0) std::cout << "  (the plugin declares none: add a static tests() to its class)\n";
    testing::HarnessOptions opt;
    opt.plugin_dirs = {dir};
    for (uint32_t i = 0; i < p->n_tests; ++i) {
      std::string text = p->tests[i].layer_text, shapes = p->tests[i].bottom_shapes;
      for (bool gpu : {false, true}) {
        if (gpu && !testing::gpu_available()) {
          std::cout << "SKIP gpu  " << text << "  (no CUDA device)\n";
          continue;
        }
        ++checks;
        opt.gpu = gpu;
        std::string log;
        int bad = 0;
        try {
          testing::LayerHarness h(text, testing::parse_shapes(shapes), opt);
          for (int b = 0; b < h.num_bottoms(); ++b) h.fill_gaussian(b, 1.0, 0.0, 17 + b);
          bad = testing::GradientChecker(vm["step"].as<double>(), vm["threshold"].as<double>())
                    .check(h, &log);
          if (gpu) {
            double d = testing::max_device_disagreement(text, testing::parse_shapes(shapes), opt);
            if (d > 1e-4) ++bad, log += "CPU/GPU disagree by " + std::to_string(d) + "\n";
          }
        } catch (const std::exception& e) {
          bad = 1;
          log = e.what();
        }
        std::cout << (bad ? "FAIL " : "PASS ") << (gpu ? "gpu  " : "cpu  ") << text << "  ["
                  << shapes << "]\n";
        if (bad) std::cout << log << "\n", ++failed;
      }
    }
  }
  std::cout << checks - failed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}

}  // namespace crema::tools
