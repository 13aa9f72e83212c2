// SPDX-License-Identifier: BSD-2-Clause
// Every built-in layer plugin on the GPU, through the configurations it declares for
// `crema check-plugin` (its static tests()): the finite-difference gradient check on the GPU and
// CPU/GPU agreement of tops, bottom diffs and parameter diffs. And every layer type except the
// data sources has a CUDA path at all. Skipped, never passed, without a GPU; the layers' own test
// files hold the detailed GPU cases.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "crema/core/device.hpp"
#include "crema/testing/harness.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

// Data sources produce their batches on the host (as Caffe's do) and are copied to the device by
// the next layer's read.
const std::set<std::string> kHostOnly = {"Input", "MNISTData", "CIFARData", "Data"};

// CREMA_TEST_PLUGIN_DIR (set by CTest, and by scripts that run the tests from a copied build),
// else this build's plugin folder.
std::string plugin_dir() {
  const char* env = std::getenv("CREMA_TEST_PLUGIN_DIR");
  return env && *env ? env : std::string(CREMA_BINARY_DIR) + "/lib/crema/plugins";
}

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry();
    reg->set_search_dirs({plugin_dir()}, false);
    return reg;
  }();
  return *r;
}

TEST(LayerPluginsGpu, EveryComputeLayerHasACudaPath) {
  if (device::count() == 0) GTEST_SKIP() << "no CUDA device: " << device::unavailable_reason();
  for (const PluginInfo& p : registry().plugins()) {
    for (const std::string& type : p.types) {
      if (kHostOnly.count(type)) continue;
      EXPECT_TRUE(p.cuda) << type << " (" << p.path << ") has no CUDA path";
    }
  }
}

TEST(LayerPluginsGpu, DeclaredConfigurationsPassOnTheGpu) {
  if (device::count() == 0) GTEST_SKIP() << "no CUDA device: " << device::unavailable_reason();
  testing::HarnessOptions opt;
  opt.plugin_dirs = {plugin_dir()};
  opt.gpu = true;
  int configurations = 0;
  for (const PluginInfo& info : registry().plugins()) {
    const crema_plugin* p = registry().plugin_descriptor(info.path);
    ASSERT_NE(p, nullptr) << info.path;
    if (!info.cuda) continue;
    for (uint32_t i = 0; i < p->n_tests; ++i) {
      const std::string text = p->tests[i].layer_text, shapes = p->tests[i].bottom_shapes;
      SCOPED_TRACE(text + "  [" + shapes + "]");
      ++configurations;
      testing::LayerHarness h(text, testing::parse_shapes(shapes), opt);
      ASSERT_TRUE(h.has_cuda_path());
      for (int b = 0; b < h.num_bottoms(); ++b) h.fill_gaussian(b, 1.0, 0.0, 17 + b);
      std::string log;
      EXPECT_EQ(testing::GradientChecker(1e-2, 1e-2).check(h, &log), 0) << log;
      EXPECT_LT(testing::max_device_disagreement(text, testing::parse_shapes(shapes), opt), 1e-4);
    }
  }
  EXPECT_GT(configurations, 20);
}

}  // namespace
}  // namespace crema
