// SPDX-License-Identifier: BSD-2-Clause
// Launchers for pooling.cu, the native (engine: CAFFE) pooling kernels.
#pragma once
#include <cstdint>

#include "crema/cuda.hpp"

// planes = N * C of H x W in, PH x PW out; kernel, stride and pad per axis.
struct PoolGeometry {
  int64_t planes, H, W, PH, PW, kh, kw, sh, sw, ph, pw;
};

// Tensors in any storage type (crema::cuda::Values), each its own.
// MAX: y and the flat index h * W + w of the first maximum, into mask (int) or mask_f (the second
// top, its values the indices); exactly one of them set.
void pooling_max_forward_cuda(void* stream, const PoolGeometry& g, crema::cuda::Values x,
                              crema::cuda::Values y, int32_t* mask, crema::cuda::Values mask_f);
void pooling_max_backward_cuda(void* stream, const PoolGeometry& g, crema::cuda::Values dy,
                               const int32_t* mask, crema::cuda::Values mask_f,
                               crema::cuda::Values dx);
// AVE with Caffe's divisor (the window clipped to the padded input, before clipping to the input).
void pooling_ave_forward_cuda(void* stream, const PoolGeometry& g, crema::cuda::Values x,
                              crema::cuda::Values y);
void pooling_ave_backward_cuda(void* stream, const PoolGeometry& g, crema::cuda::Values dy,
                               crema::cuda::Values dx);
