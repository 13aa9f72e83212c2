// SPDX-License-Identifier: BSD-2-Clause
// What is wrong with a solver definition before it trains: what `crema train` would refuse, what
// it would run without learning, and the fields the chosen type or lr_policy ignores. Shared by
// `crema validate` (which refuses the first two) and the Solver (which refuses the first and
// warns about the rest).
#pragma once
#include <string>
#include <vector>

#include "crema.pb.h"

namespace crema {

struct SolverIssue {
  enum Level {
    kWarning,     // a field the type or policy ignores, or a default that may surprise
    kNoLearning,  // training runs but cannot learn (no base_lr): validate refuses, train warns
    kError,       // training refuses it (unknown type or lr_policy, step without stepsize, ...)
  };
  Level level;
  std::string field;    // the SolverParameter field it is about
  std::string message;  // starts with the field; says what it is for
};

std::vector<SolverIssue> check_solver(const pb::SolverParameter& p);

// Before training: throws the errors (each on a line of its own) and logs the other issues as
// warnings, unless `quiet`.
void check_solver_for_training(const pb::SolverParameter& p, bool quiet);

}  // namespace crema
