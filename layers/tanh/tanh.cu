// SPDX-License-Identifier: BSD-2-Clause
// TanH's CUDA kernels: the CPU path's math (tanh.cpp) with CUDA's tanhf (within 2 ulp) in
// place of the vectorised polynomial, so the two agree to a few ulp. NaN stays NaN.
#include "crema/cuda.hpp"
#include "tanh_cuda.h"

namespace {
__global__ void forward(int64_t n, const float* x, float* y) {
  CREMA_CUDA_LOOP(i, n) y[i] = tanhf(x[i]);
}

__global__ void backward(int64_t n, const float* y, const float* dy, float* dx) {
  CREMA_CUDA_LOOP(i, n) dx[i] = dy[i] * (1.f - y[i] * y[i]);
}
}  // namespace

void tanh_forward_cuda(void* stream, int64_t n, const float* x, float* y) {
  if (n <= 0) return;
  forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, x, y);
  crema::cuda::check_launch("TanH forward");
}

void tanh_backward_cuda(void* stream, int64_t n, const float* y, const float* dy, float* dx) {
  if (n <= 0) return;
  backward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, y, dy, dx);
  crema::cuda::check_launch("TanH backward");
}
