// SPDX-License-Identifier: BSD-2-Clause
// Launchers for eltwise.cu, called from Eltwise's CUDA path in eltwise.cpp.
// Everything runs on `stream`; n (elements per bottom) may be 0. x holds the nb bottoms' data.
#pragma once
#include <cstdint>

#include "crema/cuda.hpp"
#include "eltwise_op.h"

// Tensors of any storage type (crema::cuda::Values), each its own. scratch: n floats where
// eltwise_needs_scratch (more bottoms than one launch takes, into a 2-byte result), else unused.
constexpr int kEltwiseInputsPerLaunch = 8;
inline bool eltwise_needs_scratch(int nb, crema::cuda::Values out) {
  return nb > kEltwiseInputsPerLaunch && out.type != CREMA_FLOAT32;
}
// SUM: y = sum_k coeff[k] x_k;  PROD: y = prod_k x_k;  MAX: y = max_k x_k, argmax = first k.
void eltwise_forward_cuda(void* stream, EltwiseOp op, int64_t n, int nb,
                          const crema::cuda::Values* x, const float* coeff, crema::cuda::Values y,
                          int* argmax, float* scratch);
// dE/dx_k into dx: SUM coeff[k] dy; PROD dy prod_{j != k} x_j (stable) or dy y / x_k;
// MAX dy where argmax == k, else 0.
void eltwise_backward_cuda(void* stream, EltwiseOp op, int64_t n, int nb, int k,
                           const crema::cuda::Values* x, const float* coeff, bool stable_prod,
                           crema::cuda::Values y, crema::cuda::Values dy, const int* argmax,
                           crema::cuda::Values dx, float* scratch);
