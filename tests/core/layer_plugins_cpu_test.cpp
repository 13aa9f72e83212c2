// SPDX-License-Identifier: BSD-2-Clause
// Every built-in layer plugin on the CPU, through the configurations it declares (its static
// tests(), what `crema check-plugin` runs): one case per plugin, each configuration drawn and
// checked as declared (crema::testing::check_config). A configuration added to a plugin's tests()
// is under test here, on the GPU (layer_plugins_gpu_test) and in check-plugin alike.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "crema/testing/harness.hpp"

namespace crema {
namespace {

// CREMA_TEST_PLUGIN_DIR when set (scripts that run the tests from a copied build), else this
// build's plugin folder.
std::string plugin_dir() {
  const char* env = std::getenv("CREMA_TEST_PLUGIN_DIR");
  return env && *env ? env : std::string(CREMA_BINARY_DIR) + "/lib/crema/plugins";
}

std::vector<std::string> builtin_plugins() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(plugin_dir(), ec))
    if (e.path().extension() == ".so") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class DeclaredConfigs : public ::testing::TestWithParam<std::string> {};

TEST_P(DeclaredConfigs, PassOnTheCpu) {
  const std::string path = plugin_dir() + "/" + GetParam() + ".so";
  const auto configs = testing::declared_configs(path, {plugin_dir()});
  if (configs.empty()) GTEST_SKIP() << GetParam() << " declares no test configurations";
  testing::CheckOptions cpu;
  cpu.gpu = false;
  cpu.plugin_dirs = {plugin_dir()};
  for (const testing::DeclaredConfig& c : configs) {
    SCOPED_TRACE(c.layer_text + "  [" + c.bottom_shapes + "]  " + c.describe());
    const auto results = testing::check_config(c, cpu);
    ASSERT_FALSE(results.empty());
    for (const testing::CheckResult& r : results)
      EXPECT_TRUE(r.passed) << r.check << ": " << r.detail;
  }
}

// Convolution's declared configurations again with its own bf16 methods between N,H,W,C blobs
// forced onto every layer they can take (CREMA_CONV_WINOGRAD_BF16, CREMA_CONV_1X1_GEMM): by
// default they run only on CPUs without AMX, and only from 64 channels (Winograd), so the
// checks above may not reach them. Its 16-channel configurations go through them in the
// "cpu bf16 storage, bf16 math, N,H,W,C" check.
TEST(OwnBf16Methods, ConvolutionPassesThroughWinogradAndTheOneByOneGemm) {
  const std::string path = plugin_dir() + "/convolution.so";
  setenv("CREMA_CONV_WINOGRAD_BF16", "1", 1);
  setenv("CREMA_CONV_1X1_GEMM", "1", 1);
  testing::CheckOptions cpu;
  cpu.gpu = false;
  cpu.plugin_dirs = {plugin_dir()};
  bool reached = false;
  for (const testing::DeclaredConfig& c : testing::declared_configs(path, {plugin_dir()})) {
    SCOPED_TRACE(c.layer_text + "  [" + c.bottom_shapes + "]  " + c.describe());
    for (const testing::CheckResult& r : testing::check_config(c, cpu)) {
      EXPECT_TRUE(r.passed) << r.check << ": " << r.detail;
      reached = reached || r.check == "cpu bf16 storage, bf16 math, N,H,W,C";
    }
  }
  unsetenv("CREMA_CONV_WINOGRAD_BF16");
  unsetenv("CREMA_CONV_1X1_GEMM");
  if (!reached) GTEST_SKIP() << "no bf16 N,H,W,C check on this CPU or build (no AVX512_BF16)";
}

INSTANTIATE_TEST_SUITE_P(BuiltIn, DeclaredConfigs, ::testing::ValuesIn(builtin_plugins()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace crema
