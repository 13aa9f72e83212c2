// SPDX-License-Identifier: BSD-2-Clause
// Verbs whose machinery lands with the solver.
#include <stdexcept>

#include "verbs.hpp"

namespace crema::tools {
int run_train(int, char**) { throw std::runtime_error("train: the solver is not built yet"); }
int run_test(int, char**) { throw std::runtime_error("test: the solver is not built yet"); }
int run_time(int, char**) { throw std::runtime_error("time: not built yet"); }
}  // namespace crema::tools
