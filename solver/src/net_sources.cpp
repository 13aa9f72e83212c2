// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/net_sources.hpp"

#include <filesystem>
#include <stdexcept>

namespace crema {

namespace fs = std::filesystem;

std::string resolve_net_path(const std::string& path, const std::string& solver_path) {
  if (fs::exists(path)) return path;
  fs::path beside = fs::path(solver_path).parent_path() / path;
  if (!fs::path(path).is_absolute() && fs::exists(beside)) return beside.string();
  throw std::runtime_error(solver_path + ": net file '" + path + "' not found (looked in the "
                           "working directory and beside the solver: " + beside.string() + ")");
}

std::vector<NetSource> solver_net_sources(const pb::SolverParameter& s, const std::string& solver_path) {
  std::vector<NetSource> out;
  if (s.has_net()) out.push_back({"net", resolve_net_path(s.net(), solver_path)});
  if (s.has_net_param()) out.push_back({"net", "", &s.net_param()});
  if (s.has_train_net()) out.push_back({"train", resolve_net_path(s.train_net(), solver_path)});
  if (s.has_train_net_param()) out.push_back({"train", "", &s.train_net_param()});
  for (int i = 0; i < s.test_net_size(); ++i)
    out.push_back({"test", resolve_net_path(s.test_net(i), solver_path)});
  for (int i = 0; i < s.test_net_param_size(); ++i)
    out.push_back({"test", "", &s.test_net_param(i)});
  if (out.empty()) throw std::runtime_error(solver_path + ": the solver names no net (net, train_net or net_param)");
  return out;
}

}  // namespace crema
