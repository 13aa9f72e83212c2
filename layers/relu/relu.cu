// SPDX-License-Identifier: BSD-2-Clause
// ReLU's CUDA kernels: the CPU path's formulas (relu.cpp), one elementwise pass each way.
// max/min are written out as std::max/std::min evaluate them, so NaN and -0 come out as on the
// CPU.
#include "crema/cuda.hpp"
#include "relu_cuda.h"

namespace {
__global__ void forward(int64_t n, float s, const float* x, float* y, uint8_t* mask) {
  CREMA_CUDA_LOOP(i, n) {
    const float v = x[i];
    if (mask) mask[i] = v > 0.f;
    const float pos = v < 0.f ? 0.f : v;  // std::max(v, 0.f)
    const float neg = 0.f < v ? 0.f : v;  // std::min(v, 0.f)
    y[i] = s == 0.f ? pos : pos + s * neg;
  }
}

__global__ void backward(int64_t n, float s, const float* x, const uint8_t* mask, const float* dy,
                         float* dx) {
  CREMA_CUDA_LOOP(i, n) {
    const bool positive = mask ? mask[i] != 0 : x[i] > 0.f;
    dx[i] = positive ? dy[i] : s * dy[i];
  }
}
}  // namespace

void relu_forward_cuda(void* stream, int64_t n, float slope, const float* x, float* y,
                       uint8_t* mask) {
  if (n <= 0) return;
  forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, slope, x, y, mask);
  crema::cuda::check_launch("ReLU forward");
}

void relu_backward_cuda(void* stream, int64_t n, float slope, const float* x,
                        const uint8_t* mask, const float* dy, float* dx) {
  if (n <= 0) return;
  backward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, slope, x, mask, dy, dx);
  crema::cuda::check_launch("ReLU backward");
}
