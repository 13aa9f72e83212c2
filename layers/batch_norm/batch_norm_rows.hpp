// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm's passes over rows of C contiguous channels (batch_norm.cpp): a 2-D (N, C) input, or
// an N,H,W,C one, which is the (N*H*W, C) rows of channels byte for byte. A row of a few channels
// is too short a loop, so the rows are cut into units of U whole rows, W = U * C values (U = the
// rows that fit kRowTile values, at least one). The per-channel constants of the passes are laid
// out over W lanes (lane l holds channel l % C's), so a unit, or a part of at most kRowTile
// values of one where C > kRowTile, is one contiguous run with its constants from lane j0 on:
// the kernels of batch_norm_kernels.hpp (stride 1) run over it unchanged. (Runs of 512 values
// measured slower than N,C,H,W on 256 channels; of 2048, not.) The sums keep one float per lane
// over at most kRowSumUnits units (as a plane's sums keep 512 values in float), four units at a
// time in registers, then add the lanes into their channels and the blocks in double, in one
// fixed order: the result does not depend on the thread count.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "crema/layer.hpp"

namespace crema::layers::batch_norm {
constexpr int64_t kRowTile = 2048;     // values per run of a pass over rows, at most
constexpr int64_t kRowSumUnits = 128;  // units whose values each lane sums in float
constexpr int64_t kUnitsAtOnce = 4;    // whole units whose terms are summed in registers first

// How `rows` rows of `channels` values are cut into units of U rows (W values).
struct RowUnits {
  int64_t rows = 0, channels = 1, U = 1, W = 1, units = 0;
  RowUnits() = default;
  RowUnits(int64_t r, int64_t c)
      : rows(r),
        channels(c),
        U(c >= kRowTile ? 1 : kRowTile / c),
        W(U * c),
        units((r + U - 1) / U) {}
  int64_t count() const { return rows * channels; }
  // The values of unit u: W but in the last unit.
  int64_t length(int64_t u) const { return std::min(W, count() - u * W); }
};

// fn(offset, length, j0, stride 1) on the host's threads over runs of at most kRowTile values (a
// unit, or a part of one from lane j0): the per-channel constants of the run's values start at
// lane j0. `work` is the element count worth one task.
template <class Fn>
void for_row_runs(const RowUnits& r, int64_t work, const Fn& fn) {
  if (r.units <= 0) return;
  crema::parallel_for(r.units, std::max<int64_t>(1, work / r.W), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t base = u * r.W, n = r.length(u);
      for (int64_t j0 = 0; j0 < n; j0 += kRowTile)
        fn(base + j0, std::min(kRowTile, n - j0), j0, std::integral_constant<int, 1>());
    }
  });
}

// totals[k * channels + c] += sum over the rows of term_k(value of channel c), k < K:
// term(e, l, s0[, s1]) adds the K terms of the value at flat offset e, lane l, to the float sums
// s0 (and s1). As in crema/layers/channel_reduce.hpp, term captures what it reads by value and
// the sums go by reference, so the loop vectorises. partial is scratch kept by the caller.
template <int K, class Term>
void row_reduce(const RowUnits& r, const Term& term, std::vector<double>& partial, double* totals) {
  static_assert(K == 1 || K == 2, "row_reduce sums one or two quantities");
  const int64_t C = r.channels, W = r.W;
  if (r.units <= 0) return;
  const int64_t blocks = (r.units + kRowSumUnits - 1) / kRowSumUnits;
  partial.assign(blocks * K * C, 0.0);
  crema::parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    const Term f = term;
    std::vector<float> lanes(K * W);
    for (int64_t b = b0; b < b1; ++b) {
      std::fill(lanes.begin(), lanes.end(), 0.f);
      float* a0 = lanes.data();
      float* a1 = a0 + (K == 2 ? W : 0);
      const int64_t u1 = std::min(r.units, (b + 1) * kRowSumUnits);
      int64_t u = b * kRowSumUnits;
      // kUnitsAtOnce whole units at a time: their terms summed in registers, then into the lanes
      // (a fraction of the lanes' loads and stores).
      for (; u + kUnitsAtOnce <= u1 && r.length(u + kUnitsAtOnce - 1) == W; u += kUnitsAtOnce) {
        const int64_t base = u * W;
#pragma omp simd
        for (int64_t i = 0; i < W; ++i) {
          float s0 = 0.f, s1 = 0.f;
          for (int64_t q = 0; q < kUnitsAtOnce; ++q) {
            if constexpr (K == 1)
              f(base + q * W + i, i, s0);
            else
              f(base + q * W + i, i, s0, s1);
          }
          a0[i] += s0;
          if constexpr (K == 2) a1[i] += s1;
        }
      }
      for (; u < u1; ++u) {
        const int64_t base = u * W, n = r.length(u);
        if constexpr (K == 1) {
#pragma omp simd
          for (int64_t i = 0; i < n; ++i) f(base + i, i, a0[i]);
        } else {
#pragma omp simd
          for (int64_t i = 0; i < n; ++i) f(base + i, i, a0[i], a1[i]);
        }
      }
      // Lanes into channels in lane order (lane q * C + c is channel c).
      double* p = partial.data() + b * K * C;
      for (int k = 0; k < K; ++k)
        for (int64_t q = 0; q < r.U; ++q)
          for (int64_t c = 0; c < C; ++c) p[k * C + c] += lanes[(k * r.U + q) * C + c];
    }
  });
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t j = 0; j < K * C; ++j) totals[j] += partial[b * K * C + j];
}

}  // namespace crema::layers::batch_norm
