// SPDX-License-Identifier: BSD-2-Clause
// Numbers as the solver's log lines and metrics records write them: six significant digits, the
// way Caffe's log prints a loss or a rate (so its parsers read ours).
#pragma once
#include <iomanip>
#include <sstream>
#include <string>

namespace crema {

inline std::string format_number(double v) {
  std::ostringstream os;
  os << std::setprecision(6) << v;
  return os.str();
}

}  // namespace crema
