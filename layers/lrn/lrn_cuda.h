// SPDX-License-Identifier: BSD-2-Clause
// Launchers for lrn.cu, the native (engine: CAFFE, and WITHIN_CHANNEL) LRN kernels on
// (N, C, H, W); pad = (local_size - 1) / 2.
#pragma once
#include <cstdint>

// ACROSS_CHANNELS: s = k + a * window sum of x^2 over channels (a = alpha / n), y = x s^-beta.
void lrn_across_forward_cuda(void* stream, const float* x, float* s, float* y, int64_t N,
                             int64_t C, int64_t H, int64_t W, int pad, float k, float a,
                             float beta);
// WITHIN_CHANNEL: s = 1 + a * (2 pad + 1)^2 window sum of x^2 in the plane (a = alpha / n^2).
void lrn_within_forward_cuda(void* stream, const float* x, float* s, float* y, int64_t N,
                             int64_t C, int64_t H, int64_t W, int pad, float a, float beta);
// dx = dy s^-beta - ratio x * window sum of r, r = dy x s^-beta / s (scratch, count floats);
// across: the channel window, else the spatial one.
void lrn_backward_cuda(void* stream, bool across, const float* x, const float* s, const float* dy,
                       float* dx, float* r, int64_t N, int64_t C, int64_t H, int64_t W, int pad,
                       float beta, float ratio);
