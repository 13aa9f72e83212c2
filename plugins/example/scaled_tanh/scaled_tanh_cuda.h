// SPDX-License-Identifier: BSD-2-Clause
// Plain launchers for scaled_tanh.cu: nvcc never sees the C++ layer wrapper. Both run on
// `stream` (the call's cuda_stream); n may be 0; y may be x, dx may be dy.
#pragma once
#include <cstdint>

void scaled_tanh_forward_cuda(void* stream, int64_t n, float a, float b, const float* x, float* y);
void scaled_tanh_backward_cuda(void* stream, int64_t n, float a, float b, const float* y,
                               const float* dy, float* dx);
