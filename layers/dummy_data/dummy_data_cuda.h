// SPDX-License-Identifier: BSD-2-Clause
// Launcher for dummy_data.cu, called from DummyData's CUDA path in dummy_data.cpp.
#pragma once
#include <cstdint>

// y = value (n floats, device memory) on `stream`.
void dummy_data_fill_cuda(void* stream, int64_t n, float value, float* y);
