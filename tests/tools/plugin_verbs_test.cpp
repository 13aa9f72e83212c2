// SPDX-License-Identifier: BSD-2-Clause
// `crema plugins` and `crema check-plugin`: what they print, in which order.
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "verbs.hpp"

namespace {

constexpr auto npos = std::string::npos;

std::string plugin_dir(const std::string& kind) {
  return std::string(CREMA_BINARY_DIR) + "/tests/plugins/" + kind;
}

// Runs a verb with `args`; returns its exit status and what it wrote to stdout.
int run(int (*verb)(int, char**), std::vector<std::string> args, std::string* out) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream captured;
  std::streambuf* keep = std::cout.rdbuf(captured.rdbuf());
  int rc = 1;
  try {
    rc = verb(static_cast<int>(argv.size()), argv.data());
  } catch (...) {
    std::cout.rdbuf(keep);
    throw;
  }
  std::cout.rdbuf(keep);
  *out = captured.str();
  return rc;
}

// What was found comes first; where it looked and what it refused come after.
TEST(PluginsVerb, ListsWhatWasFoundBeforeSearchDirectoriesAndRefusals) {
  std::string out;
  int rc = run(
      crema::tools::run_plugins,
      {"plugins", "-plugin_dir", plugin_dir("good"), "-plugin_dir", plugin_dir("wrong_abi")}, &out);
  EXPECT_EQ(rc, 1) << "a refusal is an error status";
  const size_t echo = out.find("echo 1.0.0"), type = out.find("Echo@1"),
               searched = out.find("searched"), refused = out.find("wrong_abi.so");
  ASSERT_NE(echo, npos) << out;
  ASSERT_NE(type, npos) << out;
  ASSERT_NE(searched, npos) << out;
  ASSERT_NE(refused, npos) << out;
  EXPECT_LT(type, searched) << out;
  EXPECT_LT(searched, refused) << out;
  // The first line says what was found, not a hint.
  const std::string first = out.substr(0, out.find('\n'));
  EXPECT_NE(first.find("plugin"), npos) << first;
  EXPECT_NE(first.find("type"), npos) << first;
  EXPECT_EQ(first.find("searched"), npos) << first;
  EXPECT_EQ(first.find("add directories"), npos) << first;
}

// Per configuration: what inputs it draws and the checker's settings, then one line per check.
TEST(CheckPluginVerb, PrintsInputsAndCheckerSettingsPerConfiguration) {
  std::string out;
  const std::string clip = plugin_dir("clip") + "/clip.so";
  EXPECT_EQ(run(crema::tools::run_check_plugin, {"check-plugin", clip}, &out), 0) << out;
  EXPECT_NE(out.find("type: 'Clip'  [4,250]"), npos) << out;
  EXPECT_NE(out.find("inputs: uniform [-2, 2) on every bottom"), npos) << out;
  EXPECT_NE(out.find("step 0.01, threshold 0.01, kinks -1, 1 (range 0.01)"), npos) << out;
  EXPECT_NE(out.find("PASS cpu"), npos) << out;
  EXPECT_LT(out.find("inputs:"), out.find("PASS cpu")) << out;
}

}  // namespace
