// SPDX-License-Identifier: BSD-2-Clause
// Launchers for softmax.cu, the native (engine: CAFFE) softmax kernels, shared by the Softmax
// and SoftmaxWithLoss plugins (each compiles its own copy). Data is (outer, C, inner), the
// softmax runs over C; y may be x and dx may be dy (in place).
#pragma once
#include <cstdint>

void softmax_forward_cuda(void* stream, const float* x, float* y, int64_t outer, int64_t channels,
                          int64_t inner);
// dx = y (dy - sum_c dy_c y_c)
void softmax_backward_cuda(void* stream, const float* y, const float* dy, float* dx, int64_t outer,
                           int64_t channels, int64_t inner);
