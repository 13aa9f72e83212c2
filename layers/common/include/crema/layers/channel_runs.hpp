// SPDX-License-Identifier: BSD-2-Clause
// Per-channel elementwise passes (BatchNorm, Scale, PReLU) over an (outer, channels, inner)
// tensor, cut into contiguous runs that each see one channel's constants (inner > 1) or a row
// of all channels (inner == 1), so the inner loops vectorise.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "crema/layer.hpp"

namespace crema::layers {

// A per-channel constant along one run: a value for a plane of one channel (St = 0), an array
// for a row of all channels (St = 1). Passed by value, so stores into the run cannot alias it
// and the loops vectorise without runtime alias checks (which fail in place).
template <int St>
struct Per {
  const float* p;
  float operator[](int64_t i) const { return p[i]; }
};
template <>
struct Per<0> {
  float v;
  float operator[](int64_t) const { return v; }
};
template <int St>
Per<St> per(const float* p) {
  if constexpr (St == 0)
    return {*p};
  else
    return {p};
}

// fn(offset, length, c0, stride) on the host's threads: a plane of channel c0 (stride
// std::integral_constant<int, 0>) when inner > 1, else a row of all channels from c0 = 0
// (stride 1). `work` is the element count worth one task.
template <class Fn>
void for_channel_runs(int64_t outer, int64_t channels, int64_t inner, int64_t work, const Fn& fn) {
  if (outer <= 0 || channels <= 0 || inner <= 0) return;  // an empty tensor has no runs
  if (inner > 1) {
    crema::parallel_for(outer * channels, std::max<int64_t>(1, work / inner),
                        [&](int64_t p0, int64_t p1) {
                          for (int64_t p = p0; p < p1; ++p)
                            fn(p * inner, inner, p % channels, std::integral_constant<int, 0>());
                        });
  } else {
    crema::parallel_for(outer, std::max<int64_t>(1, work / std::max<int64_t>(channels, 1)),
                        [&](int64_t o0, int64_t o1) {
                          for (int64_t o = o0; o < o1; ++o)
                            fn(o * channels, channels, int64_t{0},
                               std::integral_constant<int, 1>());
                        });
  }
}

}  // namespace crema::layers
