// SPDX-License-Identifier: BSD-2-Clause
// Launchers for scale.cu, called from Scale's CUDA path in scale.cpp. Tensors are seen as
// (outer, D, inner) with the scale (and bias) indexed by d. Everything runs on `stream`; sizes
// may be 0.
#pragma once
#include <cstddef>
#include <cstdint>

#include "crema/cuda.hpp"

// Tensors in any storage type (crema::cuda::Values), each its own; b and db are fp32.
using crema::cuda::Values;

// y = x s[d] (+ b[d] when b is given); keep = x when set (in x's type: exact). x may be y (keep
// never is).
void scale_forward_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, Values x, Values s,
                        const float* b, Values y, Values keep);
// dx = dy s[d]; dy may be dx.
void scale_backward_x_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, Values dy,
                           Values s, Values dx);
// Workspace bytes scale_param_grads_cuda needs for these sizes.
size_t scale_param_grads_workspace(int64_t outer, int64_t D, int64_t inner);
// ds[d] = (accumulate_s ? ds[d] : 0) + sum_{o,i} dy x  (when ds is set);
// db[d] += sum_{o,i} dy  (when db is given). Reads dy and x only: run it before an in-place dx.
void scale_param_grads_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, Values dy,
                            Values x, Values ds, bool accumulate_s, float* db, void* workspace);
