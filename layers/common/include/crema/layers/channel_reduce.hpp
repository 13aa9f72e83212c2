// SPDX-License-Identifier: BSD-2-Clause
// Per-channel sums over an (outer, channels, inner) tensor whose result does not depend on the
// thread count (BatchNorm's statistics, the parameter gradients of Scale, Bias and PReLU):
//   totals[k * channels + c] += sum over o, i of term_k(element (o, c, i))        k < K
// in one fixed order. A plane of one channel (inner > 1) is summed in float within blocks of
// kReduceBlock values (so the loop vectorises) and in double across blocks; rows of all channels
// (inner == 1) are summed in double, in kReduceRowParts blocks of rows. The partials, one per
// plane or block of rows, are then added to totals in order; the caller initialises totals
// (zero, or the gradient it accumulates into, which then comes first in the sum).
// The float loops use '#pragma omp simd reduction': compile the including code with
// -fopenmp-simd (no OpenMP runtime needed), or they stay scalar. The GPU's sums:
// channel_reduce.cuh.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "crema/layer.hpp"

namespace crema::layers {

constexpr int64_t kReduceBlock = 512;     // float partial sums over at most this many values
constexpr int64_t kReduceRowParts = 64;   // blocks of rows when inner == 1
constexpr int64_t kReduceWork = 1 << 14;  // elements per parallel task, about

// What channel_reduce runs after each summed run when the caller has nothing to do there.
struct NoAfter {
  template <class... A>
  void operator()(A&&...) const {}
};

// term(e, c, s0[, s1]) adds the K terms of the element at flat offset e, of channel c, to the
// sums s0 (and s1), references to T: float within a plane's blocks, double along rows. Two
// things keep its loop vectorised as a hand-written one: the sums go by reference (returned in a
// std::array, GCC vectorised the reduction otherwise and the last bits changed), and term
// captures what it reads by value ([x, a], not [&]): each task works on its own copy, whose
// pointers the compiler then knows do not change (by reference, the loop gathers).
// after(offset, length, c0, stride) runs on each block of a plane (stride
// std::integral_constant<int, 0>, channel c0) or each row (stride 1, c0 = 0) once its terms are
// summed, with for_channel_runs' arguments: the place to write dE/dx over dE/dy in place.
// partial is scratch, kept by the caller so that repeated calls do not allocate.
template <int K, class Term, class After = NoAfter>
void channel_reduce(int64_t outer, int64_t channels, int64_t inner, const Term& term,
                    std::vector<double>& partial, double* totals, const After& after = {}) {
  static_assert(K == 1 || K == 2, "channel_reduce sums one or two quantities");
  const int64_t C = channels;
  if (outer <= 0 || C <= 0 || inner <= 0) return;
  // partial laid out [part][K][C].
  int64_t parts;
  if (inner > 1) {
    parts = outer;
    partial.resize(parts * K * C);
    double* part = partial.data();
    const int64_t grain = std::max<int64_t>(1, kReduceWork / inner);
    crema::parallel_for(outer * C, grain, [&](int64_t p0, int64_t p1) {
      const Term f = term;
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t o = p / C, c = p % C, base = p * inner;
        std::array<double, K> d{};
        for (int64_t b = base; b < base + inner; b += kReduceBlock) {
          const int64_t e = std::min(base + inner, b + kReduceBlock);
          float a0 = 0.f, a1 = 0.f;
          if constexpr (K == 1) {
#pragma omp simd reduction(+ : a0)
            for (int64_t i = b; i < e; ++i) f(i, c, a0);
          } else {
#pragma omp simd reduction(+ : a0, a1)
            for (int64_t i = b; i < e; ++i) f(i, c, a0, a1);
          }
          after(b, e - b, c, std::integral_constant<int, 0>());
          d[0] += a0;
          if constexpr (K == 2) d[1] += a1;
        }
        for (int k = 0; k < K; ++k) part[(o * K + k) * C + c] = d[k];
      }
    });
  } else {
    parts = std::min(outer, kReduceRowParts);
    partial.assign(parts * K * C, 0.0);
    double* part = partial.data();
    crema::parallel_for(parts, 1, [&](int64_t b0, int64_t b1) {
      const Term f = term;
      for (int64_t b = b0; b < b1; ++b) {
        double* s = part + b * K * C;
        for (int64_t o = outer * b / parts; o < outer * (b + 1) / parts; ++o) {
          const int64_t base = o * C;
          for (int64_t j = 0; j < C; ++j) {
            if constexpr (K == 1)
              f(base + j, j, s[j]);
            else
              f(base + j, j, s[j], s[C + j]);
          }
          after(base, C, int64_t{0}, std::integral_constant<int, 1>());
        }
      }
    });
  }
  for (int64_t b = 0; b < parts; ++b)
    for (int64_t j = 0; j < K * C; ++j) totals[j] += partial[b * K * C + j];
}

}  // namespace crema::layers
