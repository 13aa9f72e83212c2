// SPDX-License-Identifier: BSD-2-Clause
// The logger: glog's line shape with the caller's file and line, levels, the optional log file,
// and plugins' lines (crema_host.log) naming the layer they run for.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "crema/core/host.hpp"
#include "crema/core/log.hpp"

namespace crema {
namespace {

namespace fs = std::filesystem;

// "I1206 18:50:22.123456 12345 " then where "] " and the message.
const std::string kPrefix = R"(^[IWE]\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ )";

// One line: the prefix, then `rest` (a regular expression: where, "] ", the message).
bool one_line(const std::string& out, const std::string& rest) {
  return std::regex_search(out, std::regex(kPrefix + rest + R"(\n$)"));
}

std::string logged(void (*fn)()) {
  ::testing::internal::CaptureStderr();
  fn();
  return ::testing::internal::GetCapturedStderr();
}

TEST(Log, LineHasGlogShapeWithTheCallersFileAndLine) {
  static int line = 0;
  std::string out = logged([] {
    line = __LINE__ + 1;
    CREMA_LOG(INFO) << "Iteration " << 7 << ", loss = " << 0.5;
  });
  EXPECT_TRUE(
      one_line(out, R"(log_test\.cpp:)" + std::to_string(line) + R"(\] Iteration 7, loss = 0\.5)"))
      << out;
  EXPECT_EQ(out.find('/'), std::string::npos) << "the file's name, not its path: " << out;
  EXPECT_NE(out.find(" " + std::to_string(getpid()) + " "), std::string::npos) << out;
}

TEST(Log, LevelsAndConditionalLines) {
  std::string out = logged([] {
    CREMA_LOG(WARNING) << "w";
    CREMA_LOG(ERROR) << "e";
    CREMA_LOG_IF(INFO, false) << "never";
    CREMA_LOG_IF(INFO, true) << "shown";
  });
  std::istringstream lines(out);
  std::string w, e, shown, rest;
  std::getline(lines, w);
  std::getline(lines, e);
  std::getline(lines, shown);
  EXPECT_FALSE(std::getline(lines, rest)) << out;
  EXPECT_TRUE(std::regex_search(w, std::regex(kPrefix + R"(log_test\.cpp:\d+\] w$)"))) << w;
  EXPECT_EQ(w[0], 'W');
  EXPECT_EQ(e[0], 'E');
  EXPECT_EQ(shown[0], 'I');
  EXPECT_EQ(out.find("never"), std::string::npos);
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  CREMA_LOG_IF(INFO, false) << count();
  EXPECT_EQ(evaluated, 0) << "a line not written is not built";
}

TEST(Log, LogFileGetsTheSameLines) {
  const fs::path path = fs::temp_directory_path() / ("crema_log_test_" + std::to_string(getpid()));
  fs::remove(path);
  set_log_file(path.string());
  std::string out = logged([] { CREMA_LOG(INFO) << "to both"; });
  set_log_file("");
  logged([] { CREMA_LOG(INFO) << "stderr only"; });
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_EQ(text.str(), out);
  fs::remove(path);
  EXPECT_THROW(set_log_file("/proc/crema_no_such_dir/log"), std::runtime_error);
}

TEST(Log, PluginLinesNameTheLayerTheyRunFor) {
  const crema_host* host = host_table();
  std::string outside = logged([] { host_table()->log(CREMA_LOG_WARNING, "no layer"); });
  EXPECT_TRUE(one_line(outside, R"(plugin\] no layer)")) << outside;
  EXPECT_EQ(outside[0], 'W');
  const std::string type = "Convolution", name = "conv1";
  {
    LogSourceScope scope(&type, &name);
    std::string inside = logged([] { host_table()->log(CREMA_LOG_INFO, "planned"); });
    EXPECT_TRUE(one_line(inside, R"(Convolution:conv1\] planned)")) << inside;
    // parallel_for's workers (the second chunk runs on another thread) log for the same layer.
    set_num_threads(2);
    ::testing::internal::CaptureStderr();
    host->parallel_for(
        4, 1,
        [](void*, int64_t b, int64_t) {
          if (b > 0) host_table()->log(CREMA_LOG_ERROR, "in a worker");
        },
        nullptr);
    set_num_threads(0);
    std::string worker = ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(one_line(worker, R"(Convolution:conv1\] in a worker)")) << worker;
  }
  std::string after = logged([] { host_table()->log(CREMA_LOG_INFO, "after"); });
  EXPECT_NE(after.find(" plugin] after"), std::string::npos) << after;
}

}  // namespace
}  // namespace crema
