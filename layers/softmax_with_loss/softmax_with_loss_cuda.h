// SPDX-License-Identifier: BSD-2-Clause
// Launchers for softmax_with_loss.cu (the loss and its gradient; the softmax itself is
// ../softmax/softmax_gpu.hpp). Everything stays on the device: no host synchronisation.
#pragma once
#include <cstddef>
#include <cstdint>

enum class LossNorm { kValid, kBatchSize, kFull, kNone };

// Scratch the forward launcher needs, in bytes (request it in reshape).
size_t softmax_loss_workspace_bytes();

// loss[0] = -sum log(max(p[label], FLT_MIN)) / Z over the positions not ignored; norm[0] = Z
// (kept for backward). A label outside [0, C) that is not ignored makes the loss NaN (the CPU
// path throws; the GPU path cannot without a synchronisation).
void softmax_loss_forward_cuda(void* stream, const float* prob, const float* label, int64_t outer,
                               int64_t channels, int64_t inner, bool has_ignore, int ignore,
                               LossNorm norm, void* workspace, float* loss, double* norm_out);

// dx = (p - [c == label]) * top_diff[0] / norm[0], 0 at ignored positions.
void softmax_loss_backward_cuda(void* stream, const float* prob, const float* label, int64_t outer,
                                int64_t channels, int64_t inner, bool has_ignore, int ignore,
                                const float* top_diff, const double* norm, float* dx);
