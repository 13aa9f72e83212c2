// SPDX-License-Identifier: BSD-2-Clause
// ScaledTanh's CUDA kernels: the CPU path's formulas (scaled_tanh.cpp), one elementwise pass each
// way, with the SDK's grid-stride loop, launch sizes and launch check (crema/cuda.hpp).
#include "crema/cuda.hpp"
#include "scaled_tanh_cuda.h"

namespace {
__global__ void forward(int64_t n, float a, float b, const float* x, float* y) {
  CREMA_CUDA_LOOP(i, n) y[i] = a * tanhf(b * x[i]);
}

// dx = dy * b * (a - y^2 / a)
__global__ void backward(int64_t n, float a, float b, const float* y, const float* dy, float* dx) {
  CREMA_CUDA_LOOP(i, n) dx[i] = dy[i] * b * (a - y[i] * y[i] / a);
}
}  // namespace

void scaled_tanh_forward_cuda(void* stream, int64_t n, float a, float b, const float* x, float* y) {
  if (n <= 0) return;
  forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, a, b, x, y);
  crema::cuda::check_launch("ScaledTanh forward");
}

void scaled_tanh_backward_cuda(void* stream, int64_t n, float a, float b, const float* y,
                               const float* dy, float* dx) {
  if (n <= 0) return;
  backward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, a, b, y, dy, dx);
  crema::cuda::check_launch("ScaledTanh backward");
}
