// SPDX-License-Identifier: BSD-2-Clause
// Pooling's access to tensors of either storage type (float, or uint16_t for bf16): results are
// reduced in fp32 (in place when the tensor is fp32, else in scratch) and a bf16 tensor takes
// them rounded once; the MAX mask holds flat indices as int32 (member), float or bf16 (top 1).
#pragma once
#include <cstdint>
#include <type_traits>

#include "crema/bf16.hpp"

// Where fp32 results accumulate: the tensor itself when it is fp32, else scratch.
template <class T>
float* fp32_or(T* p, float* scratch) {
  if constexpr (std::is_same_v<T, float>)
    return p;
  else
    return scratch;
}
// A bf16 tensor takes the fp32 results rounded once (an fp32 one already holds them).
template <class T>
void store_results(const float* acc, T* p, int64_t n) {
  if constexpr (!std::is_same_v<T, float>) crema::store_bf16(p, acc, n);
}

// A flat index (-1: none) into the mask, and back.
template <class M>
void put_index(M* m, int32_t at) {
  if constexpr (std::is_same_v<M, uint16_t>)
    crema::store(m, static_cast<float>(at));  // exact up to 256 (8 significant bits)
  else
    *m = static_cast<M>(at);
}
template <class M>
int64_t index_at(const M* m) {
  if constexpr (std::is_same_v<M, int32_t>) {
    return *m;
  } else {
    const float v = crema::load(m);
    return v >= 0 ? static_cast<int64_t>(v) : -1;
  }
}
