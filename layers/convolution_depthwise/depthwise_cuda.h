// SPDX-License-Identifier: BSD-2-Clause
// Plain launchers for depthwise.cu (the GPU path of ConvolutionDepthwise): nvcc never sees the
// layer class. All pointers are device pointers, all work runs on `stream` (a cudaStream_t).
#pragma once
#include <cstdint>

#include "depthwise_kernels.hpp"  // depthwise::Plane

// y[n][c][oh][ow] = b[c] + sum_{i,j} W[c][i][j] x[n][c][ih][iw] (bias may be null).
void depthwise_forward_cuda(void* stream, const depthwise::Plane& g, int64_t num,
                            int64_t channels, const float* x, const float* w, const float* bias,
                            float* y);
// dx = dE/dx (overwritten).
void depthwise_backward_data_cuda(void* stream, const depthwise::Plane& g, int64_t num,
                                  int64_t channels, const float* dy, const float* w, float* dx);
// dw += dE/dW, and db += dE/db when db is set.
void depthwise_backward_params_cuda(void* stream, const depthwise::Plane& g, int64_t num,
                                    int64_t channels, const float* x, const float* dy, float* dw,
                                    float* db);
