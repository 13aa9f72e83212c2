// SPDX-License-Identifier: BSD-2-Clause
// Native softmax kernels, the same math as softmax_cpu.hpp:
//   y = exp(x - max_c x) * (1 / sum_c exp(x - max_c x)),   dx = y (dy - sum_c dy_c y_c).
// inner == 1 (rows of C contiguous values, the classifier case): one warp per row, the
// reductions by warp shuffles. inner > 1: one thread per (outer, inner) position walking C, so
// neighbouring threads read neighbouring addresses. Every element is read and written by the
// same thread, after the row's reductions, so y == x and dx == dy are safe.
#include <cfloat>

#include "crema/cuda.hpp"
#include "softmax_cuda.h"

namespace {
constexpr int kWarp = 32;

__device__ __forceinline__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The row loop bound is the same for the whole warp, so every lane reaches the shuffles.
__global__ void forward_rows(int64_t rows, int64_t C, const float* x, float* y) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp; r < rows;
       r += warps) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    float m = -FLT_MAX;
    for (int64_t c = lane; c < C; c += kWarp) m = fmaxf(m, xr[c]);
    m = warp_max(m);
    float s = 0.f;
    for (int64_t c = lane; c < C; c += kWarp) {
      const float e = expf(xr[c] - m);
      yr[c] = e;
      s += e;
    }
    const float inv = 1.f / warp_sum(s);
    for (int64_t c = lane; c < C; c += kWarp) yr[c] *= inv;
  }
}

__global__ void backward_rows(int64_t rows, int64_t C, const float* y, const float* dy,
                              float* dx) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp; r < rows;
       r += warps) {
    const float* yr = y + r * C;
    const float* gr = dy + r * C;
    float* xr = dx + r * C;
    float dot = 0.f;
    for (int64_t c = lane; c < C; c += kWarp) dot += gr[c] * yr[c];
    dot = warp_sum(dot);
    for (int64_t c = lane; c < C; c += kWarp) xr[c] = yr[c] * (gr[c] - dot);
  }
}

__global__ void forward_strided(int64_t positions, int64_t C, int64_t inner, const float* x,
                                float* y) {
  CREMA_CUDA_LOOP(t, positions) {
    const int64_t base = (t / inner) * C * inner + t % inner;
    float m = x[base];
    for (int64_t c = 1; c < C; ++c) m = fmaxf(m, x[base + c * inner]);
    float s = 0.f;
    for (int64_t c = 0; c < C; ++c) {
      const float e = expf(x[base + c * inner] - m);
      y[base + c * inner] = e;
      s += e;
    }
    const float inv = 1.f / s;
    for (int64_t c = 0; c < C; ++c) y[base + c * inner] *= inv;
  }
}

__global__ void backward_strided(int64_t positions, int64_t C, int64_t inner, const float* y,
                                 const float* dy, float* dx) {
  CREMA_CUDA_LOOP(t, positions) {
    const int64_t base = (t / inner) * C * inner + t % inner;
    float dot = 0.f;
    for (int64_t c = 0; c < C; ++c) dot += dy[base + c * inner] * y[base + c * inner];
    for (int64_t c = 0; c < C; ++c) {
      const int64_t i = base + c * inner;
      dx[i] = y[i] * (dy[i] - dot);
    }
  }
}

int row_blocks(int64_t rows) {
  return crema::cuda::blocks(rows, crema::cuda::kThreads / kWarp);
}
}  // namespace

void softmax_forward_cuda(void* stream, const float* x, float* y, int64_t outer, int64_t channels,
                          int64_t inner) {
  if (outer == 0 || channels == 0 || inner == 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  if (inner == 1)
    forward_rows<<<row_blocks(outer), crema::cuda::kThreads, 0, s>>>(outer, channels, x, y);
  else
    forward_strided<<<crema::cuda::blocks(outer * inner), crema::cuda::kThreads, 0, s>>>(
        outer * inner, channels, inner, x, y);
  crema::cuda::check_launch("Softmax forward");
}

void softmax_backward_cuda(void* stream, const float* y, const float* dy, float* dx, int64_t outer,
                           int64_t channels, int64_t inner) {
  if (outer == 0 || channels == 0 || inner == 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  if (inner == 1)
    backward_rows<<<row_blocks(outer), crema::cuda::kThreads, 0, s>>>(outer, channels, y, dy, dx);
  else
    backward_strided<<<crema::cuda::blocks(outer * inner), crema::cuda::kThreads, 0, s>>>(
        outer * inner, channels, inner, y, dy, dx);
  crema::cuda::check_launch("Softmax backward");
}
