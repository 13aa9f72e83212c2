// SPDX-License-Identifier: BSD-2-Clause
// crema check-plugin PATH.so: loads one plugin through the real loader and runs each test
// configuration it declares through crema::testing::check_config: the gradient checker on the
// CPU and (when a GPU exists) on the GPU with CPU/GPU agreement. Per configuration it prints what
// inputs it draws and the checker's settings, then one PASS/FAIL/SKIP line per check. Each
// configuration runs in a child process: a plugin that crashes, exits or hangs fails that
// configuration (by signal, exit status or -timeout) and the next one still runs.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>

#include "crema/testing/harness.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {

// Results cross the pipe as length-prefixed fields: check, "PS" flags, detail; then "end".
void put(std::string& out, const std::string& field) {
  out += std::to_string(field.size()) + ":" + field;
}

bool take(const std::string& in, size_t& at, std::string* field) {
  const size_t colon = in.find(':', at);
  if (colon == std::string::npos) return false;
  const size_t n = std::stoul(in.substr(at, colon - at));
  if (colon + 1 + n > in.size()) return false;
  *field = in.substr(colon + 1, n);
  at = colon + 1 + n;
  return true;
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    default: return "signal " + std::to_string(sig);
  }
}

testing::CheckResult failure(const std::string& why, const testing::DeclaredConfig& c) {
  testing::CheckResult r;
  r.check = "run";
  r.detail = "  " + why + " while checking " + c.layer_text + "  [" + c.bottom_shapes + "]";
  return r;
}

// check_config(c) in a child process, its results read back through a pipe.
std::vector<testing::CheckResult> check_isolated(const testing::DeclaredConfig& c,
                                                 double timeout_s) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    std::string out;
    try {
      for (const testing::CheckResult& r : testing::check_config(c)) {
        put(out, r.check);
        put(out, std::string(r.passed ? "P" : "-") + (r.skipped ? "S" : "-"));
        put(out, r.detail);
      }
    } catch (const std::exception& e) {
      put(out, "run");
      put(out, "--");
      put(out, std::string("  ") + e.what());
    }
    put(out, "end");
    for (size_t at = 0; at < out.size();) {
      const ssize_t w = write(fds[1], out.data() + at, out.size() - at);
      if (w <= 0 && errno != EINTR) break;
      if (w > 0) at += static_cast<size_t>(w);
    }
    _exit(0);  // no destructors, no flushing of the parent's buffers
  }
  close(fds[1]);
  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      timed_out = true;
      break;
    }
    char buf[4096];
    const ssize_t got = read(fds[0], buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    data.append(buf, static_cast<size_t>(got));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    std::ostringstream os;
    os << "timed out after " << timeout_s << " s (-timeout sets the limit)";
    return {failure(os.str(), c)};
  }
  if (WIFSIGNALED(status))
    return {failure("crashed with " + signal_name(WTERMSIG(status)) + " (" +
                        strsignal(WTERMSIG(status)) + ")",
                    c)};
  std::vector<testing::CheckResult> out;
  size_t at = 0;
  std::string check, flags, detail;
  while (take(data, at, &check) && check != "end" && take(data, at, &flags) &&
         take(data, at, &detail)) {
    testing::CheckResult r;
    r.check = check;
    r.passed = flags.size() == 2 && flags[0] == 'P';
    r.skipped = flags.size() == 2 && flags[1] == 'S';
    r.detail = detail;
    out.push_back(r);
  }
  if (check != "end") {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return {failure("the plugin ended the process (exit status " + std::to_string(code) + ")", c)};
  }
  return out;
}

}  // namespace

int run_check_plugin(int argc, char** argv) {
  po::options_description desc("crema check-plugin PATH.so");
  add_common_options(desc);
  desc.add_options()(
      "step", po::value<double>(),
      "finite-difference step for every configuration (default: as declared, else 1e-2)")(
      "threshold", po::value<double>(),
      "relative tolerance for every configuration (default: as declared, else 1e-2)")(
      "timeout", po::value<double>()->default_value(60),
      "seconds one configuration may run before it fails as hung");
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
      for (const testing::CheckResult& r : check_isolated(c, vm["timeout"].as<double>())) {
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
