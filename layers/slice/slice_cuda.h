// SPDX-License-Identifier: BSD-2-Clause
// Launcher for slice.cu, called from Slice's CUDA path in slice.cpp.
#pragma once
#include <cstdint>

// dst[o * dst_stride + j] = src[o * src_stride + j] for o < outer, j < rows, on `stream`.
void slice_copy_rows_cuda(void* stream, int64_t outer, int64_t rows, const float* src,
                         int64_t src_stride, float* dst, int64_t dst_stride);
