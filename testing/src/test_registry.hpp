// SPDX-License-Identifier: BSD-2-Clause
// The registry the harness loads layers through: the process-wide one, with `extra` and
// CREMA_TEST_PLUGIN_DIR added to the directories it searches (CREMA_PLUGIN_PATH, the -plugin_dir
// flags and lib/crema/plugins beside the binary's folder stay).
#pragma once
#include <string>
#include <vector>

namespace crema {
class Registry;
namespace testing {
Registry& test_registry(const std::vector<std::string>& extra);
}  // namespace testing
}  // namespace crema
