// SPDX-License-Identifier: BSD-2-Clause
// Every built-in layer plugin on the GPU, through the configurations it declares for
// `crema check-plugin` (its static tests()), run by crema::testing::check_config as declared:
// the finite-difference gradient check on the GPU and CPU/GPU agreement of tops, bottom diffs and
// parameter diffs (layer_plugins_cpu_test runs the same configurations on the CPU), and each
// fp16 / bf16 math a layer declares for CUDA (cuda_math) against its fp32 path on the GPU within
// CheckOptions::narrower_tolerance, where the GPU has tensor cores for the type. And every
// layer type except the data sources has a CUDA path at all. Skipped, never passed, without a
// GPU; the layers' own test files hold the detailed GPU cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "crema/core/device.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/testing/harness.hpp"

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

// A layer without a CUDA path (the test plugin Clip, which computes in the workspace) runs on the
// CPU inside a GPU net with host scratch, between convolutions whose scratch is on the device:
// the outputs and the input's gradient match the same net on the CPU.
TEST(LayerPluginsGpu, CpuOnlyLayerInAGpuNetComputesInHostScratch) {
  if (device::count() == 0) GTEST_SKIP() << "no CUDA device: " << device::unavailable_reason();
  Registry r;
  // The build's tests/plugins/clip beside its lib/crema/plugins (a copied build keeps the two).
  r.set_search_dirs({plugin_dir(), plugin_dir() + "/../../../tests/plugins/clip"}, false);
  const char* text = R"(
    name: "fallback" force_backward: true
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 9 dim: 9 } } }
    layer { name: "conv1" type: "Convolution" bottom: "x" top: "c" convolution_param {
            num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "clip" type: "Clip" bottom: "c" top: "y" }
    layer { name: "conv2" type: "Convolution" bottom: "y" top: "z" convolution_param {
            num_output: 2 kernel_size: 3 weight_filler { type: "gaussian" std: 0.5 } } })";
  auto run = [&](bool gpu) {
    NetOptions opt;
    opt.seed = 3;
    Net net(parse_net_text(text, "<fallback>", r), opt, r);
    if (gpu) net.set_device(CREMA_CUDA);
    Tensor* x = net.blob("x");
    for (int64_t i = 0; i < x->count(); ++i) x->mutable_host_data()[i] = 2.f * std::sin(0.7f * i);
    net.forward();
    Tensor* z = net.blob("z");
    std::fill(z->mutable_host_diff(), z->mutable_host_diff() + z->count(), 1.f);
    net.backward();
    std::vector<float> out(z->host_data(), z->host_data() + z->count());
    out.insert(out.end(), x->host_diff(), x->host_diff() + x->count());
    return out;
  };
  const std::vector<float> cpu = run(false), gpu = run(true);
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i)
    ASSERT_NEAR(gpu[i], cpu[i], 1e-4f * (1.f + std::fabs(cpu[i]))) << "value " << i;
}

TEST(LayerPluginsGpu, DeclaredConfigurationsPassOnTheGpu) {
  if (device::count() == 0) GTEST_SKIP() << "no CUDA device: " << device::unavailable_reason();
  testing::CheckOptions gpu_only;  // the CPU side runs in layer_plugins_cpu_test
  gpu_only.cpu = false;
  gpu_only.plugin_dirs = {plugin_dir()};
  int configurations = 0, narrower = 0;
  std::map<std::string, std::set<std::string>> storage_checks;  // layer type -> "fp16", "bf16"
  for (const PluginInfo& info : registry().plugins()) {
    if (!info.cuda) continue;
    for (const testing::DeclaredConfig& c : testing::declared_configs(info.path, {plugin_dir()})) {
      SCOPED_TRACE(c.layer_text + "  [" + c.bottom_shapes + "]  " + c.describe());
      ++configurations;
      const auto results = testing::check_config(c, gpu_only);
      // The GPU gradient check and CPU/GPU agreement, then "gpu fp16" / "gpu bf16" where declared,
      // and "gpu fp16 storage[, fp16 math]" / "gpu bf16 storage[, bf16 math]".
      EXPECT_GE(results.size(), 2u);
      for (const testing::CheckResult& r : results) {
        EXPECT_TRUE(r.passed) << r.check << ": " << r.detail;
        narrower += r.check == "gpu fp16" || r.check == "gpu bf16";
        for (const char* type : {"fp16", "bf16"})
          if (r.check.rfind(std::string("gpu ") + type + " storage", 0) == 0)
            storage_checks[info.types.front()].insert(type);
      }
    }
  }
  EXPECT_GT(configurations, 20);
  // Convolution and InnerProduct declare both types; a GPU of compute capability 8.0 or later
  // runs them (fp16 needs 7.0, bf16 8.0).
  if (device::compute_capability() >= 80) {
    EXPECT_GT(narrower, 0);
  }
  // The layer types that take 2-byte blobs on any GPU are checked in both types.
  for (const char* type :
       {"Convolution", "BatchNorm", "Scale", "ReLU", "Eltwise", "Split", "Pooling"})
    EXPECT_EQ(storage_checks[type].size(), 2u) << type;
}

}  // namespace
}  // namespace crema
