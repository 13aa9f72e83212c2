// SPDX-License-Identifier: BSD-2-Clause
// crema plot -log DIR [DIR...] [-out curves.png]: training loss, test loss and accuracy and the
// learning rate against iterations of one or more runs, from their metrics files, one curve per
// run. The drawing is tools/experiments/plot_metrics.py (matplotlib), run with a python that can
// import matplotlib: $CREMA_PYTHON, else python3 on the PATH, else /usr/bin/python3.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "flags.hpp"
#include "verbs.hpp"

#ifndef CREMA_PLOT_SCRIPT
#error "CREMA_PLOT_SCRIPT (the source tree's plot_metrics.py) is set by tools/CMakeLists.txt"
#endif

namespace crema::tools {

namespace fs = std::filesystem;

namespace {

const char kMetricsSuffix[] = "metrics.jsonl";

bool is_metrics_file(const fs::path& p) {
  const std::string name = p.filename().string();
  const std::string suffix = kMetricsSuffix;
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A -log value: a metrics file, or a directory holding one or more (each a run). Each run is
// labelled by the path given, with the file's prefix where a directory holds several.
std::vector<std::pair<std::string, std::string>> runs_of(const std::string& given) {
  std::string label = given;
  while (label.size() > 1 && label.back() == '/') label.pop_back();
  std::error_code ec;
  if (fs::is_regular_file(given, ec)) return {{label, given}};
  if (!fs::is_directory(given, ec))
    throw std::runtime_error("-log " + given + ": no such file or directory");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(given, ec))
    if (e.is_regular_file() && is_metrics_file(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw std::runtime_error("-log " + given +
                             ": no metrics file in it (crema train writes "
                             "<snapshot_prefix>_metrics.jsonl, or the solver's metrics_file)");
  if (files.size() == 1) return {{label, files[0].string()}};
  std::vector<std::pair<std::string, std::string>> runs;
  for (const fs::path& f : files) {
    std::string stem = f.filename().string();
    stem.resize(stem.size() - (sizeof(kMetricsSuffix) - 1));
    while (!stem.empty() && (stem.back() == '_' || stem.back() == '.')) stem.pop_back();
    runs.push_back({label + "/" + (stem.empty() ? "metrics" : stem), f.string()});
  }
  return runs;
}

// plot_metrics.py: installed beside the command's share directory, else in the source tree.
std::string plot_script() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path() / ".." / CREMA_INSTALL_DATADIR / "crema" /
                               "tools" / "plot_metrics.py";
    if (fs::exists(installed, ec)) return installed.lexically_normal().string();
  }
  if (fs::exists(CREMA_PLOT_SCRIPT, ec)) return CREMA_PLOT_SCRIPT;
  throw std::runtime_error("plot_metrics.py is neither installed beside crema nor at " +
                           std::string(CREMA_PLOT_SCRIPT));
}

// Runs argv; its exit status (127 when it cannot be started).
int run_program(const std::vector<std::string>& args, bool quiet) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::cout.flush();
  const pid_t pid = fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    if (quiet) {
      freopen("/dev/null", "w", stdout);
      freopen("/dev/null", "w", stderr);
    }
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The first python that imports matplotlib: $CREMA_PYTHON alone when set.
std::string python_with_matplotlib() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("CREMA_PYTHON"); env && *env)
    candidates.push_back(env);
  else
    candidates = {"python3", "/usr/bin/python3"};
  for (const std::string& py : candidates)
    if (run_program({py, "-c", "import matplotlib"}, true) == 0) return py;
  std::string tried;
  for (const std::string& py : candidates) tried += (tried.empty() ? "" : ", ") + py;
  throw std::runtime_error(
      "crema plot draws with Python's matplotlib, which no python here can import (tried " + tried +
      "): install it (bash scripts/install_deps.sh, or sudo apt-get install "
      "python3-matplotlib), or set CREMA_PYTHON to a python that has it");
}

}  // namespace

int run_plot(int argc, char** argv) {
  po::options_description desc("crema plot -log DIR");
  add_common_options(desc);
  desc.add_options()(
      "log", po::value<std::vector<std::string>>()->multitoken()->composing()->value_name("DIR"),
      "a run's directory (its *metrics.jsonl) or metrics file; several after one "
      "-log, or -log repeated, draw several runs")(
      "out", po::value<std::string>()->default_value("curves.png")->value_name("FILE.png"),
      "the PNG to write")("title", po::value<std::string>()->value_name("TEXT"),
                          "the figure's title (default: the runs' names)");
  auto vm = parse_flags(argc, argv, desc, "plot", true);
  std::vector<std::string> given;
  if (vm.count("log")) given = vm["log"].as<std::vector<std::string>>();
  if (vm.count("inputs"))
    for (const auto& p : vm["inputs"].as<std::vector<std::string>>()) given.push_back(p);
  if (given.empty()) throw std::runtime_error("-log DIR is required (see crema plot -help)");
  std::vector<std::string> args;
  for (const std::string& g : given)
    for (const auto& [label, file] : runs_of(g)) args.insert(args.end(), {"--run", label, file});
  const std::string out = vm["out"].as<std::string>();
  const fs::path out_dir = fs::path(out).parent_path();
  std::error_code ec;
  if (!out_dir.empty() && !fs::is_directory(out_dir, ec))
    throw std::runtime_error("-out " + out + ": no directory " + out_dir.string());
  const std::string py = python_with_matplotlib();
  std::vector<std::string> command = {py, plot_script(), "--out", out};
  if (vm.count("title")) command.insert(command.end(), {"--title", vm["title"].as<std::string>()});
  command.insert(command.end(), args.begin(), args.end());
  const int rc = run_program(command, false);
  if (rc != 0)
    throw std::runtime_error(py + " " + plot_script() + " failed (exit status " +
                             std::to_string(rc) + ")");
  return 0;
}

}  // namespace crema::tools
