// SPDX-License-Identifier: BSD-2-Clause
// Launchers for dropout.cu, called from Dropout's CUDA path in dropout.cpp.
// Everything runs on `stream`; n may be 0; in may be out.
#pragma once
#include <cstdint>

// out_i = in_i * (u32(key, i) >= thr ? kept : 0): the CPU path's mask bit for bit.
void dropout_mask_cuda(void* stream, int64_t n, uint64_t key, uint32_t thr, float kept,
                       const float* in, float* out);
// out = in * s.
void dropout_scale_cuda(void* stream, int64_t n, float s, const float* in, float* out);
