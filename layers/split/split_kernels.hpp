// SPDX-License-Identifier: BSD-2-Clause
// Split's CPU loops over the storage types (float, or uint16_t for bf16).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "crema/bf16.hpp"
#include "crema/layer.hpp"

// crema::layers::copy_floats for either storage type: nothing when the host shared the memory,
// a threaded memcpy otherwise (bottom and top hold one type: the values are copied as they are).
template <class T>
void copy_values(T* dst, const T* src, int64_t n) {
  if (dst == src) return;
  constexpr int64_t kChunk = 1 << 16;
  crema::parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t b, int64_t e) {
    const int64_t lo = b * kChunk, hi = std::min(n, e * kChunk);
    std::memcpy(dst + lo, src + lo, sizeof(T) * (hi - lo));
  });
}

// Elements per chunk of the gradient sum: an fp32 accumulator of 8 KB stays in L1.
constexpr int64_t kSplitChunk = 2048;

// The sum of the tops' gradients accumulates in place when the bottom's is fp32, else in scratch
// that a bf16 bottom gradient then takes rounded once (crema::results_in / store_results).
template <class T>
void gradient_first(const T* dy, float* acc, int64_t m) {
  for (int64_t i = 0; i < m; ++i) acc[i] = crema::load(dy + i);
}
template <class T>
void gradient_add(const T* dy, float* acc, int64_t m) {
  for (int64_t i = 0; i < m; ++i) acc[i] += crema::load(dy + i);
}
