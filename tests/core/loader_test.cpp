// SPDX-License-Identifier: BSD-2-Clause
// The plugin loader refuses every kind of broken plugin with a message and never crashes.
#include <gtest/gtest.h>

#include "crema/core/layer_instance.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

std::string dir(const std::string& kind) { return std::string(CREMA_BINARY_DIR) + "/tests/plugins/" + kind; }

std::string refusal(const std::string& kind) {
  Registry r;
  r.set_search_dirs({dir(kind)}, false);
  EXPECT_EQ(r.refusals().size(), 1u) << kind;
  return r.refusals().empty() ? "" : r.refusals()[0].path + ": " + r.refusals()[0].reason;
}

TEST(Loader, AcceptsAGoodPlugin) {
  Registry r;
  r.set_search_dirs({dir("good")}, false);
  EXPECT_TRUE(r.refusals().empty());
  EXPECT_TRUE(r.has("Echo"));
  ASSERT_EQ(r.plugins().size(), 1u);
  EXPECT_EQ(r.plugins()[0].name, "echo");
}

TEST(Loader, RefusesWrongAbiMajor) {
  std::string m = refusal("wrong_abi");
  EXPECT_NE(m.find("ABI major version 2"), std::string::npos) << m;
  EXPECT_NE(m.find("rebuild"), std::string::npos) << m;
}

TEST(Loader, RefusesPluginNeedingNewerMinor) {
  std::string m = refusal("too_new");
  // broken_plugins.cpp asks for this crema's minor + 5.
  const std::string want = "needs ABI 1." + std::to_string(CREMA_ABI_MINOR + 5) + " but this crema provides 1." +
                           std::to_string(CREMA_ABI_MINOR);
  EXPECT_NE(m.find(want), std::string::npos) << m;
}

TEST(Loader, RefusesLibraryWithoutEntryFunction) {
  std::string m = refusal("no_entry");
  EXPECT_NE(m.find("crema_plugin_entry"), std::string::npos) << m;
  EXPECT_NE(m.find("no_entry.so"), std::string::npos) << m;
}

TEST(Loader, RefusesEntryFunctionThatThrows) {
  std::string m = refusal("entry_throws");
  EXPECT_NE(m.find("entry exploded"), std::string::npos) << m;
}

TEST(Loader, RefusesUnparsableSchema) {
  std::string m = refusal("bad_schema");
  EXPECT_NE(m.find("schema"), std::string::npos) << m;
}

TEST(Loader, RefusesBlockWithoutSchema) {
  std::string m = refusal("no_schema");
  EXPECT_NE(m.find("no_schema_param"), std::string::npos) << m;
}

TEST(Loader, RefusesSecondPluginClaimingTheSameType) {
  std::string m = refusal("duplicate");
  EXPECT_NE(m.find("already provided by"), std::string::npos) << m;
  EXPECT_NE(m.find("duplicate_a.so"), std::string::npos) << m;
  EXPECT_NE(m.find("duplicate_b.so"), std::string::npos) << m;
}

TEST(Loader, UnknownTypeListsDirectoriesTypesAndRefusals) {
  Registry r;
  r.set_search_dirs({dir("good"), dir("wrong_abi"), "/nonexistent/plugins"}, false);
  try {
    r.find("Frobnicate");
    FAIL();
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown layer type 'Frobnicate'"), std::string::npos) << m;
    EXPECT_NE(m.find("/nonexistent/plugins"), std::string::npos) << m;
    EXPECT_NE(m.find("Echo"), std::string::npos) << m;
    EXPECT_NE(m.find("wrong_abi.so"), std::string::npos) << m;
  }
}

TEST(Loader, ErrorInCreateComesBackAsMessage) {
  Registry r;
  r.set_search_dirs({dir("create_throws")}, false);
  pb::LayerParameter lp = parse_layer_text("name: 'e' type: 'Echo'", "<t>", r);
  try {
    LayerInstance l(lp, r);
    FAIL();
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("layer 'e' (Echo)"), std::string::npos) << m;
    EXPECT_NE(m.find("refuses to be created"), std::string::npos) << m;
  }
}

TEST(Loader, ThrowInForwardComesBackAsMessage) {
  Registry r;
  r.set_search_dirs({dir("forward_throws"), std::string(CREMA_BINARY_DIR) + "/lib/crema/plugins"}, false);
  pb::NetParameter net = parse_net_text(
      "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 } } }"
      "layer { name: 'e' type: 'Echo' bottom: 'x' top: 'y' }", "<t>", r);
  Net n(net, {}, r);
  try {
    n.forward();
    FAIL();
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("layer 'e' (Echo) forward"), std::string::npos) << m;
    EXPECT_NE(m.find("failed in forward on purpose"), std::string::npos) << m;
  }
}

TEST(Loader, SearchesEnvironmentAndExecutableRelativeDirectories) {
  setenv("CREMA_PLUGIN_PATH", "/tmp/a:/tmp/b", 1);
  Registry r;
  auto dirs = r.search_dirs();
  unsetenv("CREMA_PLUGIN_PATH");
  ASSERT_GE(dirs.size(), 3u);
  EXPECT_EQ(dirs[0], "/tmp/a");
  EXPECT_EQ(dirs[1], "/tmp/b");
  EXPECT_NE(dirs.back().find("lib/crema/plugins"), std::string::npos);
  for (const auto& d : dirs) EXPECT_NE(d, ".");
}

}  // namespace
}  // namespace crema
