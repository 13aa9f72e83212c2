// SPDX-License-Identifier: BSD-2-Clause
// `crema plugins` and `crema check-plugin`: what they print, in which order.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <fstream>
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
  argv.reserve(args.size());
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

// Runs the crema command with `args`; returns its wait status and what it wrote (both streams).
// Through the binary: each check-plugin loads its plugin into a process of its own.
int run_crema(const std::string& args, std::string* out) {
  const std::string cmd = "ulimit -c 0; exec " + std::string(CREMA_BINARY_DIR) + "/bin/crema " +
                          args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  out->clear();
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out->append(buf, n);
  return pclose(p);
}

// Only the named plugin (and the built-in ones) load: a sibling whose entry function segfaults
// must not take the check down.
TEST(CheckPluginVerb, LoadsTheNamedPluginNotItsSiblings) {
  std::string out;
  const std::string good = plugin_dir("sibling") + "/sibling_good.so";
  EXPECT_EQ(run_crema("check-plugin " + good, &out), 0) << out;
  EXPECT_NE(out.find("sibling_good.so: 0 test configuration(s)"), npos) << out;
}

// A plugin that crashes, exits or hangs fails each configuration, named, and the next one runs.
TEST(CheckPluginVerb, CrashExitAndHangFailTheirConfigurations) {
  const struct {
    std::string kind, why;
  } cases[] = {{"forward_segv", "crashed with SIGSEGV (Segmentation fault)"},
               {"forward_exit", "the plugin ended the process (exit status 3)"},
               {"forward_hang", "timed out after 0.5 s (-timeout sets the limit)"}};
  for (const auto& k : cases) {
    std::string out;
    const std::string so = plugin_dir(k.kind) + "/" + k.kind + ".so";
    const int status = run_crema("check-plugin " + so + " -timeout 0.5", &out);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status << "\n" << out;
    const size_t first = out.find(k.why + " while checking type: 'Echo'  [2,3]");
    EXPECT_NE(first, npos) << out;
    EXPECT_NE(out.find(k.why + " while checking type: 'Echo'  [4]", first), npos) << out;
    EXPECT_NE(out.find("0 passed, 2 failed"), npos) << out;
  }
}

// A fatal signal in a plugin names the layer and the library on the way down, and the process
// still dies by the signal.
TEST(CremaCommand, FatalSignalNamesTheLayerAndPlugin) {
  const std::string net = std::string(CREMA_BINARY_DIR) + "/tests/segv_net.prototxt";
  std::ofstream(net) << "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 "
                        "dim: 3 } } }\n"
                        "layer { name: 'e1' type: 'Echo' bottom: 'x' top: 'y' }\n";
  std::string out;
  const int status = run_crema("time -model " + net + " -plugin_dir " + plugin_dir("forward_segv") +
                                   " -phase TEST -forward_only -iterations 1",
                               &out);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << status << "\n" << out;
  EXPECT_NE(out.find("crema: fatal signal SIGSEGV while running layer 'e1' (Echo) of plugin " +
                     plugin_dir("forward_segv") + "/forward_segv.so\n"),
            npos)
      << out;
}

}  // namespace
