// SPDX-License-Identifier: BSD-2-Clause
// A small random generator for the data layers: SplitMix64 (crema_splitmix64, plugin_abi.h)
// rather than std::mt19937 + std::uniform_int_distribution because the distributions are not
// specified bit-for-bit by the standard: the same seed must give the same epoch order everywhere.
#pragma once
#include <cstdint>

#include "crema/plugin_abi.h"

namespace crema::data {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next() { return crema_splitmix64(state_ += CREMA_SPLITMIX64_GAMMA); }
  // Uniform in [0, n) for n > 0 (multiply-shift; the bias is below 2^-32 for our n).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

// Independent streams from one layer seed (epoch order vs. crop/mirror draws), so that
// switching augmentation on does not change the order images come in.
inline uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  Rng r(seed ^ (stream * 0xD6E8FEB86659FD93ull));
  return r.next();
}

}  // namespace crema::data
