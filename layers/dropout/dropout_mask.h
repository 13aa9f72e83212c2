// SPDX-License-Identifier: BSD-2-Clause
// Dropout's mask, one definition for dropout.cpp (the CPU) and dropout.cu (the GPU), so the two
// masks are equal by construction:
//   key = mix(seed + mix(counter + G)),   m_i = [high 32 bits of mix(key + (i + 1) G) >= thr]
// with mix = crema_splitmix64 and G = CREMA_SPLITMIX64_GAMMA (plugin_abi.h).
#pragma once
#include <cstdint>

#include "crema/plugin_abi.h"

// One key per (rng_seed, rng_counter), i.e. per forward call.
inline CREMA_HOST_DEVICE uint64_t dropout_key(uint64_t seed, uint64_t counter) {
  return crema_splitmix64(seed + crema_splitmix64(counter + CREMA_SPLITMIX64_GAMMA));
}

// Whether element i is kept, for the threshold thr of the ratio p (about p * 2^32).
inline CREMA_HOST_DEVICE bool dropout_keep(uint64_t key, int64_t i, uint32_t thr) {
  const uint64_t z = crema_splitmix64(key + static_cast<uint64_t>(i + 1) * CREMA_SPLITMIX64_GAMMA);
  return static_cast<uint32_t>(z >> 32) >= thr;
}
