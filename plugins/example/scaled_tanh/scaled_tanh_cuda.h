// SPDX-License-Identifier: BSD-2-Clause
// Plain launchers for scaled_tanh.cu: nvcc never sees the C++ layer wrapper.
#pragma once
#include <cstdint>

void scaled_tanh_forward_cuda(void* stream, int64_t n, float a, float b, const float* x, float* y);
void scaled_tanh_backward_cuda(void* stream, int64_t n, float a, float b, const float* y,
                               const float* dy, float* dx);
