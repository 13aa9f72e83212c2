// SPDX-License-Identifier: BSD-2-Clause
// Pooling's access to tensors of either storage type (float, or uint16_t for bf16): results are
// reduced in fp32 (in place when the tensor is fp32, else in scratch) and a bf16 tensor takes
// them rounded once; the MAX mask holds flat indices as int32 (member), float or bf16 (top 1).
#pragma once
#include <cstdint>
#include <type_traits>

#include "crema/bf16.hpp"

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
