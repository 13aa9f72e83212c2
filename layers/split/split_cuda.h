// SPDX-License-Identifier: BSD-2-Clause
// Launcher for split.cu, called from Split's CUDA path in split.cpp. On `stream`; n may be 0.
#pragma once
#include <cstdint>

// dx = dy[0] + dy[1] + ... + dy[tops - 1], added in that order.
void split_backward_cuda(void* stream, int64_t n, int tops, const float* const* dy, float* dx);
