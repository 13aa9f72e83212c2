// SPDX-License-Identifier: BSD-2-Clause
// Launcher for split.cu, called from Split's CUDA path in split.cpp. On `stream`; n may be 0.
#pragma once
#include <cstdint>

#include "crema/cuda.hpp"

// dx = dy[0] + dy[1] + ... + dy[tops - 1], added in that order in fp32 (tensors of any storage
// type). scratch: n floats where split_needs_scratch (more tops than one launch takes, into a
// 2-byte dx), else unused.
constexpr int kSplitTopsPerLaunch = 8;
inline bool split_needs_scratch(int tops, crema::cuda::Values dx) {
  return tops > kSplitTopsPerLaunch && dx.type != CREMA_FLOAT32;
}
void split_backward_cuda(void* stream, int64_t n, int tops, const crema::cuda::Values* dy,
                         crema::cuda::Values dx, float* scratch);
