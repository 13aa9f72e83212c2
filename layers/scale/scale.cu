// SPDX-License-Identifier: BSD-2-Clause
// Scale's CUDA kernels over (outer, D, inner) tensors.
// Elementwise passes find d = (i / inner) % D with Index = uint32_t whenever every index fits
// (32-bit division is several times cheaper than 64-bit). The parameter gradients are sums over
// (outer, inner) per d, in two steps without atomics, so they do not depend on scheduling:
//   1. parts: the values of each d are cut into `parts` runs; one block (inner > 1: a block
//      reduction over contiguous planes) or one thread (inner == 1: rows of D, so neighbouring
//      threads read neighbouring d) sums a run into partial[part][d], in double;
//   2. one thread per d adds its partials in order and writes the gradient.
#include <algorithm>

#include "crema/cuda.hpp"
#include "scale_cuda.h"

namespace {
using crema::cuda::kThreads;

template <class Index>
__global__ void forward(int64_t n, Index D, Index inner, const float* x, const float* s,
                        const float* b, float* y, float* keep) {
  CREMA_CUDA_LOOP(i, n) {
    const Index d = static_cast<Index>(i) / inner % D;
    const float v = x[i];
    if (keep) keep[i] = v;
    y[i] = b ? v * s[d] + b[d] : v * s[d];
  }
}

template <class Index>
__global__ void backward_x(int64_t n, Index D, Index inner, const float* dy, const float* s,
                           float* dx) {
  CREMA_CUDA_LOOP(i, n) dx[i] = dy[i] * s[static_cast<Index>(i) / inner % D];
}

// inner > 1. Part p of channel d: the values j in [p chunk, (p + 1) chunk) of the M = outer
// inner values of d, value j at ((j / inner) D + d) inner + j % inner. s1 = sum dy x, s2 = sum dy
// (each when given).
template <class Index>
__global__ void plane_partials(Index M, Index D, Index inner, Index chunk, const float* dy,
                               const float* x, double* s1, double* s2) {
  const Index part = blockIdx.y;
  const Index lo = part * chunk, hi = min(M, lo + chunk);
  for (Index d = blockIdx.x; d < D; d += gridDim.x) {
    double a1 = 0, a2 = 0;
    for (Index j = lo + threadIdx.x; j < hi; j += blockDim.x) {
      const Index o = j / inner;
      const Index at = (o * D + d) * inner + (j - o * inner);
      const float g = dy[at];
      if (s1) a1 += double(g) * x[at];
      a2 += g;
    }
    if (s1) a1 = crema::cuda::block_sum(a1);
    if (s2) a2 = crema::cuda::block_sum(a2);
    if (threadIdx.x == 0) {
      if (s1) s1[part * D + d] = a1;
      if (s2) s2[part * D + d] = a2;
    }
  }
}

// inner == 1: rows of D values; part p sums rows [p chunk, (p + 1) chunk) for one d per thread.
__global__ void row_partials(int64_t rows, int64_t D, int64_t chunk, const float* dy,
                             const float* x, double* s1, double* s2) {
  const int64_t part = blockIdx.y;
  const int64_t lo = part * chunk, hi = min(rows, lo + chunk);
  for (int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; d < D;
       d += int64_t(gridDim.x) * blockDim.x) {
    double a1 = 0, a2 = 0;
    for (int64_t r = lo; r < hi; ++r) {
      const float g = dy[r * D + d];
      if (s1) a1 += double(g) * x[r * D + d];
      a2 += g;
    }
    if (s1) s1[part * D + d] = a1;
    if (s2) s2[part * D + d] = a2;
  }
}

// dst[d] = (accumulate ? dst[d] : 0) + sum_p partial[p][d], the partials in order.
__global__ void finish(int64_t D, int64_t parts, const double* partial, float* dst,
                       bool accumulate) {
  CREMA_CUDA_LOOP(d, D) {
    double s = 0;
    for (int64_t p = 0; p < parts; ++p) s += partial[p * D + d];
    dst[d] = static_cast<float>((accumulate ? double(dst[d]) : 0.0) + s);
  }
}

// How the sums are cut: enough blocks (or threads) to fill the GPU, runs long enough to be
// worth a block (or a thread).
struct Plan {
  int64_t parts, chunk;
};
Plan plan(int64_t outer, int64_t D, int64_t inner) {
  const int64_t total = inner == 1 ? outer : outer * inner;
  const int64_t wanted = inner == 1 ? 65536 / D : 2048 / D;  // threads resp. blocks in all
  const int64_t longest = inner == 1 ? total / 16 : total / 4096;
  const int64_t cap = inner == 1 ? 32768 : 2048;
  const int64_t parts = std::max<int64_t>(1, std::min({wanted, longest, cap}));
  return {parts, std::max<int64_t>(1, (total + parts - 1) / parts)};
}

int grid_x(int64_t n) {
  return static_cast<int>(std::min<int64_t>(std::max<int64_t>(n, 1), 65535));
}
}  // namespace

void scale_forward_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, const float* x,
                        const float* s, const float* b, float* y, float* keep) {
  const int64_t n = outer * D * inner;
  if (n <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n);
  if (crema::cuda::fits_int32(n))
    forward<uint32_t><<<grid, kThreads, 0, st>>>(n, uint32_t(D), uint32_t(inner), x, s, b, y, keep);
  else
    forward<uint64_t><<<grid, kThreads, 0, st>>>(n, uint64_t(D), uint64_t(inner), x, s, b, y, keep);
  crema::cuda::check_launch("Scale forward");
}

void scale_backward_x_cuda(void* stream, int64_t outer, int64_t D, int64_t inner,
                           const float* dy, const float* s, float* dx) {
  const int64_t n = outer * D * inner;
  if (n <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n);
  if (crema::cuda::fits_int32(n))
    backward_x<uint32_t><<<grid, kThreads, 0, st>>>(n, uint32_t(D), uint32_t(inner), dy, s, dx);
  else
    backward_x<uint64_t><<<grid, kThreads, 0, st>>>(n, uint64_t(D), uint64_t(inner), dy, s, dx);
  crema::cuda::check_launch("Scale backward");
}

size_t scale_param_grads_workspace(int64_t outer, int64_t D, int64_t inner) {
  if (D <= 0) return 0;
  return 2 * sizeof(double) * plan(outer, D, inner).parts * D;
}

void scale_param_grads_cuda(void* stream, int64_t outer, int64_t D, int64_t inner,
                            const float* dy, const float* x, float* ds, bool accumulate_s,
                            float* db, void* workspace) {
  if (D <= 0 || (!ds && !db)) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const Plan p = plan(outer, D, inner);
  double* s1 = ds ? static_cast<double*>(workspace) : nullptr;
  double* s2 = db ? static_cast<double*>(workspace) + p.parts * D : nullptr;
  if (inner == 1) {
    const dim3 grid(grid_x((D + kThreads - 1) / kThreads), static_cast<unsigned>(p.parts));
    row_partials<<<grid, kThreads, 0, st>>>(outer, D, p.chunk, dy, x, s1, s2);
  } else {
    const int64_t M = outer * inner;
    const dim3 grid(grid_x(D), static_cast<unsigned>(p.parts));
    if (crema::cuda::fits_int32(outer * D * inner))
      plane_partials<uint32_t><<<grid, kThreads, 0, st>>>(
          uint32_t(M), uint32_t(D), uint32_t(inner), uint32_t(p.chunk), dy, x, s1, s2);
    else
      plane_partials<uint64_t><<<grid, kThreads, 0, st>>>(
          uint64_t(M), uint64_t(D), uint64_t(inner), uint64_t(p.chunk), dy, x, s1, s2);
  }
  crema::cuda::check_launch("Scale backward (sums)");
  if (ds) {
    finish<<<crema::cuda::blocks(D), kThreads, 0, st>>>(D, p.parts, s1, ds, accumulate_s);
    crema::cuda::check_launch("Scale backward (scale gradient)");
  }
  if (db) {
    finish<<<crema::cuda::blocks(D), kThreads, 0, st>>>(D, p.parts, s2, db, true);
    crema::cuda::check_launch("Scale backward (bias gradient)");
  }
}
