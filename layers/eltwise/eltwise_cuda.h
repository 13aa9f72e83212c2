// SPDX-License-Identifier: BSD-2-Clause
// Launchers for eltwise.cu, called from Eltwise's CUDA path in eltwise.cpp.
// Everything runs on `stream`; n (elements per bottom) may be 0. x holds the nb bottoms' data.
#pragma once
#include <cstdint>

#include "eltwise_op.h"

// SUM: y = sum_k coeff[k] x_k;  PROD: y = prod_k x_k;  MAX: y = max_k x_k, argmax = first k.
void eltwise_forward_cuda(void* stream, EltwiseOp op, int64_t n, int nb, const float* const* x,
                          const float* coeff, float* y, int* argmax);
// dE/dx_k into dx: SUM coeff[k] dy; PROD dy prod_{j != k} x_j (stable) or dy y / x_k;
// MAX dy where argmax == k, else 0.
void eltwise_backward_cuda(void* stream, EltwiseOp op, int64_t n, int nb, int k,
                           const float* const* x, const float* coeff, bool stable_prod,
                           const float* y, const float* dy, const int* argmax, float* dx);
