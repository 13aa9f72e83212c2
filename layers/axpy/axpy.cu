// SPDX-License-Identifier: BSD-2-Clause
// Axpy's CUDA kernels: elementwise passes over the (N C, S) planes and, for dE/da, one warp per
// plane summing g x (double accumulators, a shuffle reduction; no atomics, so the result does
// not depend on scheduling). Index is uint32_t whenever every index fits: the plane of element
// i is i / S, and 32-bit division is several times cheaper than 64-bit.
#include "crema/cuda.hpp"
#include "axpy_cuda.h"

namespace {
template <class Index>
__global__ void forward(int64_t n, Index S, const float* a, const float* x, const float* y,
                        float* top) {
  CREMA_CUDA_LOOP(i, n) top[i] = a[static_cast<Index>(i) / S] * x[i] + y[i];
}

template <class Index>
__global__ void scale_by_plane(int64_t n, Index S, const float* a, const float* g, float* dx) {
  CREMA_CUDA_LOOP(i, n) dx[i] = a[static_cast<Index>(i) / S] * g[i];
}

// One warp per plane: da[p] = sum_s g[p, s] x[p, s]. Every lane of a warp runs the same planes,
// so the full-mask shuffles are safe.
__global__ void plane_dots(int64_t planes, int64_t S, const float* g, const float* x, float* da) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) >> 5;
  const int64_t warps = (int64_t(gridDim.x) * blockDim.x) >> 5;
  for (int64_t p = warp; p < planes; p += warps) {
    const float* gp = g + p * S;
    const float* xp = x + p * S;
    double acc = 0;
    for (int64_t s = lane; s < S; s += 32) acc += double(gp[s]) * xp[s];
    for (int offset = 16; offset > 0; offset >>= 1)
      acc += __shfl_down_sync(0xffffffffu, acc, offset);
    if (lane == 0) da[p] = static_cast<float>(acc);
  }
}

bool fits32(int64_t n) { return n <= int64_t(UINT32_MAX); }
}  // namespace

void axpy_forward_cuda(void* stream, int64_t planes, int64_t S, const float* a, const float* x,
                       const float* y, float* top) {
  const int64_t n = planes * S;
  if (n <= 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n), threads = crema::cuda::kThreads;
  if (fits32(n))
    forward<uint32_t><<<grid, threads, 0, s>>>(n, static_cast<uint32_t>(S), a, x, y, top);
  else
    forward<uint64_t><<<grid, threads, 0, s>>>(n, static_cast<uint64_t>(S), a, x, y, top);
  crema::cuda::check_launch("Axpy forward");
}

void axpy_backward_cuda(void* stream, int64_t planes, int64_t S, const float* a, const float* x,
                        const float* g, float* da, float* dx, float* dy) {
  const int64_t n = planes * S;
  const cudaStream_t s = crema::cuda::stream(stream);
  const int threads = crema::cuda::kThreads;
  if (da && planes > 0) {
    plane_dots<<<crema::cuda::blocks(planes * 32), threads, 0, s>>>(planes, S, g, x, da);
    crema::cuda::check_launch("Axpy backward (da)");
  }
  if (n <= 0) return;
  if (dx) {
    const int grid = crema::cuda::blocks(n);
    if (fits32(n))
      scale_by_plane<uint32_t><<<grid, threads, 0, s>>>(n, static_cast<uint32_t>(S), a, g, dx);
    else
      scale_by_plane<uint64_t><<<grid, threads, 0, s>>>(n, static_cast<uint64_t>(S), a, g, dx);
    crema::cuda::check_launch("Axpy backward (dx)");
  }
  if (dy)
    crema::cuda::check(cudaMemcpyAsync(dy, g, sizeof(float) * n, cudaMemcpyDeviceToDevice, s),
                       "Axpy backward (dy)");
}
