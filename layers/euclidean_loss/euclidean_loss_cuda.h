// SPDX-License-Identifier: BSD-2-Clause
// Launchers for euclidean_loss.cu, called from EuclideanLoss's CUDA path in euclidean_loss.cpp.
// Everything runs on `stream`; n may be 0.
#pragma once
#include <cstddef>
#include <cstdint>

// Scratch the forward needs (partial sums), in the host's workspace.
constexpr size_t kEuclideanLossWorkspaceBytes = 1024 * sizeof(double);

// d = a - b;  loss[0] = sum d^2 / num / 2. `partials`: kEuclideanLossWorkspaceBytes of scratch.
void euclidean_loss_forward_cuda(void* stream, int64_t n, const float* a, const float* b,
                                 float* d, double num, void* partials, float* loss);
// g = (sign * dloss[0] / num) * d, dloss read on the device.
void euclidean_loss_backward_cuda(void* stream, int64_t n, float sign, const float* dloss,
                                  float num, const float* d, float* g);
