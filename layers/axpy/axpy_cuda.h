// SPDX-License-Identifier: BSD-2-Clause
// Launchers for axpy.cu, called from Axpy's CUDA path in axpy.cpp. planes = N * C planes of S
// values each; everything runs on `stream`; sizes may be 0.
#pragma once
#include <cstdint>

// top[p, s] = a[p] x[p, s] + y[p, s]
void axpy_forward_cuda(void* stream, int64_t planes, int64_t S, const float* a, const float* x,
                       const float* y, float* top);
// da[p] = sum_s g[p, s] x[p, s] (da given), dx = a[p] g (dx given), dy = g (dy given).
void axpy_backward_cuda(void* stream, int64_t planes, int64_t S, const float* a, const float* x,
                        const float* g, float* da, float* dx, float* dy);
