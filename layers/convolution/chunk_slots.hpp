// SPDX-License-Identifier: BSD-2-Clause
// Whole chunks of work on the host's threads, each thread with buffers of its own (a slot):
// ConvGemm's chunks of images and the bf16 Winograd's chunks of tiles. Small GEMMs do not split
// well across threads, so each chunk runs on one, and BLAS or oneDNN called inside runs
// single-threaded there.
#pragma once
#include <algorithm>
#include <cstdint>

#include "crema/layer.hpp"

namespace crema::layers {

// The slots `items` in chunks of `chunk` take on `threads` threads: one per thread, no more
// than there are chunks, at least one.
inline int slot_count(int64_t items, int64_t chunk, int threads) {
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(threads, (items + chunk - 1) / chunk)));
}

// Calls fn(slot, first, count) for every chunk of `chunk` items out of `items`, chunk k on slot
// k % slots; the slots one range each on the host's threads.
template <class Fn>
void for_each_chunk(int64_t items, int64_t chunk, int slots, const Fn& fn) {
  const int64_t chunks = (items + chunk - 1) / chunk;
  auto run_slot = [&](int slot) {
    for (int64_t k = slot; k < chunks; k += slots)
      fn(slot, k * chunk, std::min(chunk, items - k * chunk));
  };
  if (slots == 1) return run_slot(0);
  crema::parallel_for(slots, 1, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s) run_slot(static_cast<int>(s));
  });
}

}  // namespace crema::layers
