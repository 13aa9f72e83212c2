// SPDX-License-Identifier: BSD-2-Clause
// Launcher for flatten.cu, called from Flatten's CUDA path in flatten.cpp.
#pragma once
#include <cstdint>

// dst = src (n floats, device memory) on `stream`; nothing when dst == src (shared memory).
void flatten_copy_cuda(void* stream, float* dst, const float* src, int64_t n);
