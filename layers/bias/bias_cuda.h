// SPDX-License-Identifier: BSD-2-Clause
// Launchers for bias.cu, called from Bias's CUDA path in bias.cpp. Tensors are seen as
// (outer, D, inner) with the bias indexed by d. Everything runs on `stream`; sizes may be 0.
#pragma once
#include <cstddef>
#include <cstdint>

// y = x + b[d]; x may be y.
void bias_forward_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, const float* x,
                       const float* b, float* y);
// Workspace bytes bias_grad_cuda needs for these sizes.
size_t bias_grad_workspace(int64_t outer, int64_t D, int64_t inner);
// db[d] = (accumulate ? db[d] : 0) + sum_{o,i} dy[o, d, i].
void bias_grad_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, const float* dy,
                    float* db, bool accumulate, void* workspace);
