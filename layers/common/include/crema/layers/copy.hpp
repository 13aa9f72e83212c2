// SPDX-License-Identifier: BSD-2-Clause
// The copy that aliasing layers (Flatten, Reshape) fall back to when the host could not
// share memory between their bottom and top: nothing when it could, a threaded memcpy otherwise.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "crema/layer.hpp"

namespace crema::layers {

inline void copy_floats(float* dst, const float* src, int64_t n) {
  if (dst == src) return;
  constexpr int64_t kChunk = 1 << 16;
  crema::parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t b, int64_t e) {
    const int64_t lo = b * kChunk, hi = std::min(n, e * kChunk);
    std::memcpy(dst + lo, src + lo, sizeof(float) * (hi - lo));
  });
}

}  // namespace crema::layers
