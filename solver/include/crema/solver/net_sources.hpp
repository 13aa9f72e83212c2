// SPDX-License-Identifier: BSD-2-Clause
// Where a solver's nets come from: net / train_net / test_net paths or inline net parameters.
// Caffe opens a relative path from the working directory; crema also tries the solver file's
// directory, so a solver works wherever it is run from.
#pragma once
#include <string>
#include <vector>

#include "crema.pb.h"

namespace crema {

struct NetSource {
  std::string role;   // "net", "train" or "test"
  std::string path;   // resolved path, when from a file
  const pb::NetParameter* inline_net = nullptr;
};

std::string resolve_net_path(const std::string& path, const std::string& solver_path);
std::vector<NetSource> solver_net_sources(const pb::SolverParameter& s, const std::string& solver_path);

}  // namespace crema
