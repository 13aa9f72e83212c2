// SPDX-License-Identifier: BSD-2-Clause
// Launchers for prelu.cu, called from PReLU's CUDA path in prelu.cpp. Tensors are (N, C, S)
// with slope a[c] (a[0] for every channel when shared). Everything runs on `stream`; sizes may
// be 0.
#pragma once
#include <cstddef>
#include <cstdint>

// y = max(x, 0) + a min(x, 0); keep = x when given. x may be y (keep never is).
void prelu_forward_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared,
                        const float* a, const float* x, float* y, float* keep);
// dx = dy where x > 0, a dy elsewhere. dy may be dx.
void prelu_backward_x_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared,
                           const float* a, const float* x, const float* dy, float* dx);
// Workspace bytes prelu_slope_grad_cuda needs for these sizes.
size_t prelu_slope_grad_workspace(int64_t N, int64_t C, int64_t S);
// da[c] += sum_{n,s} dy min(x, 0)  (shared: da[0] += the sum over every c). Reads dy and x
// only: run it before an in-place dx.
void prelu_slope_grad_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared,
                           const float* x, const float* dy, float* da, void* workspace);
