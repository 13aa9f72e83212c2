// SPDX-License-Identifier: BSD-2-Clause
// Launchers for inner_product.cu: nvcc never sees the C++ layer wrapper.
#pragma once
#include <cstdint>

// x[0, n) = 1 on the stream (the ones vector of the bias GEMMs).
void inner_product_fill_ones(void* stream, float* x, int64_t n);
