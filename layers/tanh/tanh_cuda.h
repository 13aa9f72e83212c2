// SPDX-License-Identifier: BSD-2-Clause
// Launchers for tanh.cu, called from TanH's CUDA path in tanh.cpp.
// Everything runs on `stream`; n may be 0.
#pragma once
#include <cstdint>

// y = tanh(x); x may be y.
void tanh_forward_cuda(void* stream, int64_t n, const float* x, float* y);
// dx = dy (1 - y^2); dy may be dx.
void tanh_backward_cuda(void* stream, int64_t n, const float* y, const float* dy, float* dx);
