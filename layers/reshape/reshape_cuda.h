// SPDX-License-Identifier: BSD-2-Clause
// Launcher for reshape.cu, called from Reshape's CUDA path in reshape.cpp.
#pragma once
#include <cstdint>

// dst = src (n floats, device memory) on `stream`; nothing when dst == src (shared memory).
void reshape_copy_cuda(void* stream, float* dst, const float* src, int64_t n);
