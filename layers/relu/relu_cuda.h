// SPDX-License-Identifier: BSD-2-Clause
// Launchers for relu.cu, called from ReLU's CUDA path in relu.cpp (nvcc never sees the class).
// All run on `stream`; n may be 0. Tensors in any storage type (crema::cuda::Values).
#pragma once
#include <cstdint>

#include "crema/cuda.hpp"

// y = max(x, 0) + s min(x, 0); mask (when given) = x > 0. x may be y.
void relu_forward_cuda(void* stream, int64_t n, float slope, crema::cuda::Values x,
                       crema::cuda::Values y, uint8_t* mask);
// dx = dy where x > 0 (or mask), s dy elsewhere. dy may be dx.
void relu_backward_cuda(void* stream, int64_t n, float slope, crema::cuda::Values x,
                        const uint8_t* mask, crema::cuda::Values dy, crema::cuda::Values dx);
