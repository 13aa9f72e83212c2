// SPDX-License-Identifier: BSD-2-Clause
// ReLU's CUDA kernels: the CPU path's formulas (relu.cpp), one elementwise pass each way, over
// tensors stored in fp32, fp16 or bf16 (crema::cuda::Values; the arithmetic in fp32).
// max/min are written out as std::max/std::min evaluate them, so NaN and -0 come out as on the
// CPU.
#include "crema/cuda.hpp"
#include "relu_cuda.h"

namespace {
using crema::cuda::Values;

__global__ void forward(int64_t n, float s, Values x, Values y, uint8_t* mask) {
  CREMA_CUDA_LOOP(i, n) {
    const float v = x.load(i);
    if (mask) mask[i] = v > 0.f;
    const float pos = v < 0.f ? 0.f : v;  // std::max(v, 0.f)
    const float neg = 0.f < v ? 0.f : v;  // std::min(v, 0.f)
    y.store(i, s == 0.f ? pos : pos + s * neg);
  }
}

__global__ void backward(int64_t n, float s, Values x, const uint8_t* mask, Values dy, Values dx) {
  CREMA_CUDA_LOOP(i, n) {
    const bool positive = mask ? mask[i] != 0 : x.load(i) > 0.f;
    const float g = dy.load(i);
    dx.store(i, positive ? g : s * g);
  }
}
}  // namespace

void relu_forward_cuda(void* stream, int64_t n, float slope, Values x, Values y, uint8_t* mask) {
  if (n <= 0) return;
  forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, slope, x, y, mask);
  crema::cuda::check_launch("ReLU forward");
}

void relu_backward_cuda(void* stream, int64_t n, float slope, Values x, const uint8_t* mask,
                        Values dy, Values dx) {
  if (n <= 0) return;
  backward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, slope, x, mask, dy, dx);
  crema::cuda::check_launch("ReLU backward");
}
