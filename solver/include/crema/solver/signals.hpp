// SPDX-License-Identifier: BSD-2-Clause
// SIGINT/SIGHUP turned into requests the training loop polls between iterations.
#pragma once
#include "crema/solver/solver.hpp"

namespace crema {
SignalAction signal_requested();
void clear_signal_request();
}  // namespace crema
