// SPDX-License-Identifier: BSD-2-Clause
// Launchers for sigmoid.cu, called from Sigmoid's CUDA path in sigmoid.cpp.
// Everything runs on `stream`; n may be 0.
#pragma once
#include <cstdint>

// y = 1 / (1 + exp(-x)); x may be y.
void sigmoid_forward_cuda(void* stream, int64_t n, const float* x, float* y);
// dx = dy y (1 - y); dy may be dx.
void sigmoid_backward_cuda(void* stream, int64_t n, const float* y, const float* dy, float* dx);
