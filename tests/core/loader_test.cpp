// SPDX-License-Identifier: BSD-2-Clause
// The plugin loader refuses every kind of broken plugin with a message and never crashes.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>

#include "crema/core/host.hpp"
#include "crema/core/layer_instance.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

constexpr auto npos = std::string::npos;

std::string dir(const std::string& kind) {
  return std::string(CREMA_BINARY_DIR) + "/tests/plugins/" + kind;
}
std::string builtin_dir() { return std::string(CREMA_BINARY_DIR) + "/lib/crema/plugins"; }

// Builds a net of an Input 'x' (2x3) and `layer` over the plugins of `kind` and the built-in ones;
// returns the error, "" when the net builds.
std::string net_error(const std::string& kind, const std::string& layer) {
  Registry r;
  r.set_search_dirs({dir(kind), builtin_dir()}, false);
  pb::NetParameter net = parse_net_text(
      "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 } } }" + layer,
      "<t>", r);
  try {
    Net n(net, {}, r);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

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

// The loader's own major check needs a descriptor; the SDK's entry function refuses a host of
// another major before making one, and must say why through the host's set_error.
TEST(Loader, EntryFunctionExplainsAbiMajorMismatch) {
  void* lib = dlopen((dir("good") + "/good.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto entry = reinterpret_cast<crema_plugin_entry_fn>(dlsym(lib, CREMA_ENTRY_SYMBOL));
  ASSERT_NE(entry, nullptr);
  crema_host other = *host_table();
  other.abi_major = CREMA_ABI_MAJOR + 1;
  take_plugin_error();
  EXPECT_EQ(entry(&other), nullptr);
  std::string m = take_plugin_error();
  EXPECT_NE(m.find("built for ABI major " + std::to_string(CREMA_ABI_MAJOR) + ", host speaks " +
                   std::to_string(CREMA_ABI_MAJOR + 1)),
            npos)
      << m;
  // A table too short to hold set_error: refused without calling through it.
  other.struct_size = offsetof(crema_host, set_error);
  EXPECT_EQ(entry(&other), nullptr);
  EXPECT_EQ(take_plugin_error().find("built for"), npos);
  dlclose(lib);
}

TEST(Loader, RefusesPluginNeedingNewerMinor) {
  std::string m = refusal("too_new");
  // broken_plugins.cpp asks for this crema's minor + 5.
  const std::string want = "needs ABI 1." + std::to_string(CREMA_ABI_MINOR + 5) +
                           " but this crema provides 1." + std::to_string(CREMA_ABI_MINOR);
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
  r.set_search_dirs({dir("forward_throws"), std::string(CREMA_BINARY_DIR) + "/lib/crema/plugins"},
                    false);
  pb::NetParameter net =
      parse_net_text("layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 } } }"
                     "layer { name: 'e' type: 'Echo' bottom: 'x' top: 'y' }",
                     "<t>", r);
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

// Live layers hold their LayerType: a rescan (a directory added, or other directories named) keeps
// every accepted plugin and its types where they are, and never opens a library twice.
TEST(Loader, RescanKeepsLoadedTypesAndLibraries) {
  Registry r;
  r.set_search_dirs({dir("counted")}, false);
  const LayerType* echo = &r.find("Echo");
  pb::LayerParameter lp = parse_layer_text("name: 'e' type: 'Echo' bottom: 'x' top: 'y'", "<t>", r);
  auto layer = std::make_unique<LayerInstance>(lp, r);

  r.add_search_dir(builtin_dir());
  EXPECT_TRUE(r.has("ReLU"));
  EXPECT_EQ(&r.find("Echo"), echo);
  const size_t n = r.plugins().size();
  EXPECT_GT(n, 1u);
  r.set_search_dirs({builtin_dir()}, false);
  EXPECT_TRUE(r.has("Echo"));
  EXPECT_EQ(&r.find("Echo"), echo);
  EXPECT_EQ(r.plugins().size(), n);
  int listed = 0;
  for (const PluginInfo& p : r.plugins())
    if (p.name == "counted") {
      ++listed;
      EXPECT_EQ(p.version, "1.0.1") << "its entry function ran again";
    }
  EXPECT_EQ(listed, 1);
  EXPECT_NE(layer->plugin_path().find("counted.so"), npos) << layer->plugin_path();

  // The layer made before the rescans still runs.
  Tensor x({2, 3}), y;
  for (int i = 0; i < 6; ++i) x.mutable_host_data()[i] = static_cast<float>(i);
  crema_exec ex{};
  ex.struct_size = sizeof(ex);
  ex.device = CREMA_CPU;
  ex.num_threads = 1;
  layer->setup({&x}, {&y}, ex);
  layer->reshape({&x}, {&y}, ex);
  layer->forward({&x}, {&y}, ex);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.host_data()[5], 5.f);
  layer.reset();
}

TEST(Loader, ReshapeMustSetEveryTopShape) {
  std::string m =
      net_error("no_top_shape", "layer { name: 'e' type: 'Echo' bottom: 'x' top: 'y' }");
  EXPECT_NE(m.find("layer 'e' (Echo) reshape"), npos) << m;
  EXPECT_NE(m.find("top 0 ('y')"), npos) << m;
  EXPECT_NE(m.find("set_shape"), npos) << m;
  // In place too: the top is not left with the bottom's shape by accident.
  m = net_error("no_top_shape", "layer { name: 'e' type: 'Echo' bottom: 'x' top: 'x' }");
  EXPECT_NE(m.find("layer 'e' (Echo) reshape"), npos) << m;
  EXPECT_NE(m.find("top 0 ('x')"), npos) << m;
}

TEST(Loader, InPlaceTopMustKeepTheBottomShape) {
  std::string m =
      net_error("wrong_in_place_shape", "layer { name: 'e' type: 'Echo' bottom: 'x' top: 'x' }");
  EXPECT_NE(m.find("layer 'e' (Echo) reshape"), npos) << m;
  EXPECT_NE(m.find("top 0 ('x')"), npos) << m;
  EXPECT_NE(m.find("(6)"), npos) << m;
  EXPECT_NE(m.find("(2,3)"), npos) << m;
}

TEST(Loader, InPlaceRefusalNamesTheFlag) {
  std::string m = net_error("good", "layer { name: 'e' type: 'Echo' bottom: 'x' top: 'x' }");
  EXPECT_NE(m.find("cannot run in place"), npos) << m;
  EXPECT_NE(m.find("LayerInfo.flags = CREMA_LAYER_IN_PLACE"), npos) << m;
}

TEST(Loader, WarnsOnceAboutAFieldNumberBelowTheOutOfTreeRange) {
  Registry r;
  r.set_search_dirs({dir("low_field_number")}, false);
  EXPECT_TRUE(r.refusals().empty());
  EXPECT_TRUE(r.has("LowNumber"));
  ASSERT_EQ(r.warnings().size(), 1u);
  const std::string m = r.warnings()[0];
  EXPECT_NE(m.find("low_number_param"), npos) << m;
  EXPECT_NE(m.find("777"), npos) << m;
  EXPECT_NE(m.find("10000"), npos) << m;
  EXPECT_NE(m.find("PLUGIN_ABI.md"), npos) << m;
  r.add_search_dir(builtin_dir());
  EXPECT_TRUE(r.has("ReLU"));
  EXPECT_EQ(r.warnings().size(), 1u);
}

// Bound at load: a call of a function nothing defines is refused then, naming the symbol, not
// left to kill the process with "symbol lookup error" when the layer runs.
TEST(Loader, RefusesUnresolvedSymbolAtLoad) {
  std::string m = refusal("unresolved");
  EXPECT_NE(m.find("undefined symbol"), npos) << m;
  EXPECT_NE(m.find("crema_test_defined_nowhere"), npos) << m;
}

// A scratch directory under the build tree, emptied first.
std::string scratch(const std::string& name) {
  std::string d = std::string(CREMA_BINARY_DIR) + "/tests/scratch/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

TEST(Loader, RefusalGivesTheDynamicLoadersReason) {
  const std::string d = scratch("not_elf");
  std::ofstream(d + "/x.so") << "not a shared library\n";
  Registry r;
  r.set_search_dirs({d}, false);
  ASSERT_EQ(r.refusals().size(), 1u);
  const std::string m = r.refusals()[0].path + ": " + r.refusals()[0].reason;
  EXPECT_NE(m.find("x.so"), npos) << m;
  EXPECT_TRUE(m.find("invalid ELF header") != npos || m.find("file too short") != npos) << m;
  EXPECT_EQ(m.find("Bad file descriptor"), npos) << m;
}

TEST(Loader, SymlinkLoopIsRefusedByName) {
  const std::string d = scratch("symlink_loop");
  std::filesystem::create_symlink("b.so", d + "/a.so");
  std::filesystem::create_symlink("a.so", d + "/b.so");
  Registry r;
  r.set_search_dirs({d}, false);
  ASSERT_EQ(r.refusals().size(), 2u);
  EXPECT_EQ(r.refusals()[0].path, d + "/a.so");
  EXPECT_EQ(r.refusals()[1].path, d + "/b.so");
  EXPECT_NE(r.refusals()[0].reason.find("symbolic links"), npos) << r.refusals()[0].reason;
}

// Anyone on the machine could replace what loads from there.
TEST(Loader, WarnsAboutWorldWritableDirectoryAndPlugin) {
  namespace fs = std::filesystem;
  const std::string d = scratch("world_writable");
  fs::copy_file(dir("good") + "/good.so", d + "/good.so");
  fs::permissions(d, fs::perms::others_write, fs::perm_options::add);
  fs::permissions(d + "/good.so", fs::perms::others_write, fs::perm_options::add);
  Registry r;
  r.set_search_dirs({d}, false);
  EXPECT_TRUE(r.has("Echo"));
  ASSERT_EQ(r.warnings().size(), 2u);
  EXPECT_EQ(r.warnings()[0].find(d + ": plugin directory is writable by everyone"), 0u)
      << r.warnings()[0];
  EXPECT_EQ(r.warnings()[1].find(d + "/good.so: plugin file is writable by everyone"), 0u)
      << r.warnings()[1];
  fs::permissions(d, fs::perms::others_write, fs::perm_options::remove);
}

TEST(Loader, BuiltInPluginsLoadWithoutRefusalsOrWarnings) {
  Registry r;
  r.set_search_dirs({builtin_dir()}, false);
  EXPECT_GT(r.plugins().size(), 20u);
  for (const Refusal& x : r.refusals()) ADD_FAILURE() << x.path << ": " << x.reason;
  for (const std::string& w : r.warnings()) ADD_FAILURE() << w;
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
