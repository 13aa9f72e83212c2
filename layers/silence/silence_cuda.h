// SPDX-License-Identifier: BSD-2-Clause
// Launcher for silence.cu, called from Silence's CUDA path in silence.cpp.
#pragma once
#include <cstdint>

// dx = 0 (n floats, device memory) on `stream`.
void silence_zero_cuda(void* stream, float* dx, int64_t n);
