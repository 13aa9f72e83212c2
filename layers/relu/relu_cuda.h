// SPDX-License-Identifier: BSD-2-Clause
// Launchers for relu.cu, called from ReLU's CUDA path in relu.cpp (nvcc never sees the class).
// All run on `stream`; n may be 0.
#pragma once
#include <cstdint>

// y = max(x, 0) + s min(x, 0); mask (when given) = x > 0. x may be y.
void relu_forward_cuda(void* stream, int64_t n, float slope, const float* x, float* y,
                       uint8_t* mask);
// dx = dy where x > 0 (or mask), s dy elsewhere. dy may be dx.
void relu_backward_cuda(void* stream, int64_t n, float slope, const float* x,
                        const uint8_t* mask, const float* dy, float* dx);
