// SPDX-License-Identifier: BSD-2-Clause
// Two runs' values compared the way the storage tests bound them: the largest difference against
// the largest magnitude of the reference run.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace crema {

struct LargestDifference {
  double worst = 0;  // max |a[i] - b[i]|
  double scale = 0;  // max |b[i]|
};

inline LargestDifference largest_difference(const float* a, const float* b, int64_t n) {
  LargestDifference d;
  for (int64_t i = 0; i < n; ++i) {
    d.worst = std::max(d.worst, double(std::fabs(a[i] - b[i])));
    d.scale = std::max(d.scale, double(std::fabs(b[i])));
  }
  return d;
}

}  // namespace crema
