// SPDX-License-Identifier: BSD-2-Clause
// Launchers for pooling.cu, the native (engine: CAFFE) pooling kernels.
#pragma once
#include <cstdint>

// planes = N * C of H x W in, PH x PW out; kernel, stride and pad per axis.
struct PoolGeometry {
  int64_t planes, H, W, PH, PW, kh, kw, sh, sw, ph, pw;
};

// MAX: y and the flat index h * W + w of the first maximum, into mask (int) or mask_f (float,
// the second top); exactly one of them non-null.
void pooling_max_forward_cuda(void* stream, const PoolGeometry& g, const float* x, float* y,
                              int32_t* mask, float* mask_f);
void pooling_max_backward_cuda(void* stream, const PoolGeometry& g, const float* dy,
                               const int32_t* mask, const float* mask_f, float* dx);
// AVE with Caffe's divisor (the window clipped to the padded input, before clipping to the input).
void pooling_ave_forward_cuda(void* stream, const PoolGeometry& g, const float* x, float* y);
void pooling_ave_backward_cuda(void* stream, const PoolGeometry& g, const float* dy, float* dx);
