// SPDX-License-Identifier: BSD-2-Clause
// PReLU's CUDA kernels over (N, C, S) tensors.
// Elementwise passes find c = (i / S) % C with Index = uint32_t whenever every index fits
// (32-bit division is several times cheaper than 64-bit). dE/da is a sum over (N, S) per
// channel, in two steps without atomics, so it does not depend on scheduling:
//   1. parts: the values of each channel are cut into `parts` runs; one block (S > 1: a block
//      reduction over contiguous planes) or one thread (S == 1: rows of C, so neighbouring
//      threads read neighbouring channels) sums a run into partial[part][c], in double;
//   2. one thread per channel adds its partials in order (shared: one block adds them all).
#include <algorithm>

#include "crema/cuda.hpp"
#include "prelu_cuda.h"

namespace {
using crema::cuda::kThreads;

// dy * min(x, 0), the slope's share of one element.
__device__ __forceinline__ double negative_part(float g, float x) {
  return double(g) * (x < 0.f ? x : 0.f);
}

// max/min written out as std::max/std::min evaluate them, so NaN and -0 come out as on the CPU.
template <class Index>
__global__ void forward(int64_t n, Index C, Index S, bool shared, const float* a, const float* x,
                        float* y, float* keep) {
  CREMA_CUDA_LOOP(i, n) {
    const float slope = a[shared ? 0 : static_cast<Index>(i) / S % C];
    const float v = x[i];
    if (keep) keep[i] = v;
    y[i] = (v < 0.f ? 0.f : v) + slope * (0.f < v ? 0.f : v);
  }
}

template <class Index>
__global__ void backward_x(int64_t n, Index C, Index S, bool shared, const float* a,
                           const float* x, const float* dy, float* dx) {
  CREMA_CUDA_LOOP(i, n) {
    const float slope = a[shared ? 0 : static_cast<Index>(i) / S % C];
    dx[i] = x[i] > 0.f ? dy[i] : slope * dy[i];
  }
}

// S > 1. Part p of channel c: the values j in [p chunk, (p + 1) chunk) of the M = N S values
// of c, value j at ((j / S) C + c) S + j % S.
template <class Index>
__global__ void plane_partials(Index M, Index C, Index S, Index chunk, const float* x,
                               const float* dy, double* partial) {
  const Index part = blockIdx.y;
  const Index lo = part * chunk, hi = min(M, lo + chunk);
  for (Index c = blockIdx.x; c < C; c += gridDim.x) {
    double acc = 0;
    for (Index j = lo + threadIdx.x; j < hi; j += blockDim.x) {
      const Index o = j / S;
      const Index at = (o * C + c) * S + (j - o * S);
      acc += negative_part(dy[at], x[at]);
    }
    acc = crema::cuda::block_sum(acc);
    if (threadIdx.x == 0) partial[part * C + c] = acc;
  }
}

// S == 1: rows of C values; part p sums rows [p chunk, (p + 1) chunk) for one c per thread.
__global__ void row_partials(int64_t rows, int64_t C, int64_t chunk, const float* x,
                             const float* dy, double* partial) {
  const int64_t part = blockIdx.y;
  const int64_t lo = part * chunk, hi = min(rows, lo + chunk);
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    double acc = 0;
    for (int64_t r = lo; r < hi; ++r) acc += negative_part(dy[r * C + c], x[r * C + c]);
    partial[part * C + c] = acc;
  }
}

// da[c] += sum_p partial[p][c], the partials in order.
__global__ void finish(int64_t C, int64_t parts, const double* partial, float* da) {
  CREMA_CUDA_LOOP(c, C) {
    double s = 0;
    for (int64_t p = 0; p < parts; ++p) s += partial[p * C + c];
    da[c] += static_cast<float>(s);
  }
}

// Shared slope: da[0] += the sum of all partials (one block).
__global__ void finish_shared(int64_t count, const double* partial, float* da) {
  double s = 0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) s += partial[k];
  s = crema::cuda::block_sum(s);
  if (threadIdx.x == 0) da[0] += static_cast<float>(s);
}

// How the sums are cut: enough blocks (or threads) to fill the GPU, runs long enough to be
// worth a block (or a thread).
struct Plan {
  int64_t parts, chunk;
};
Plan plan(int64_t N, int64_t C, int64_t S) {
  const int64_t total = S == 1 ? N : N * S;
  const int64_t wanted = S == 1 ? 65536 / C : 2048 / C;  // threads resp. blocks in all
  const int64_t longest = S == 1 ? total / 16 : total / 4096;
  const int64_t cap = S == 1 ? 32768 : 2048;
  const int64_t parts = std::max<int64_t>(1, std::min({wanted, longest, cap}));
  return {parts, std::max<int64_t>(1, (total + parts - 1) / parts)};
}

int grid_x(int64_t n) {
  return static_cast<int>(std::min<int64_t>(std::max<int64_t>(n, 1), 65535));
}
}  // namespace

void prelu_forward_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared,
                        const float* a, const float* x, float* y, float* keep) {
  const int64_t n = N * C * S;
  if (n <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n);
  if (crema::cuda::fits_int32(n))
    forward<uint32_t><<<grid, kThreads, 0, st>>>(n, uint32_t(C), uint32_t(S), shared, a, x, y,
                                                 keep);
  else
    forward<uint64_t><<<grid, kThreads, 0, st>>>(n, uint64_t(C), uint64_t(S), shared, a, x, y,
                                                 keep);
  crema::cuda::check_launch("PReLU forward");
}

void prelu_backward_x_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared,
                           const float* a, const float* x, const float* dy, float* dx) {
  const int64_t n = N * C * S;
  if (n <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n);
  if (crema::cuda::fits_int32(n))
    backward_x<uint32_t><<<grid, kThreads, 0, st>>>(n, uint32_t(C), uint32_t(S), shared, a, x,
                                                    dy, dx);
  else
    backward_x<uint64_t><<<grid, kThreads, 0, st>>>(n, uint64_t(C), uint64_t(S), shared, a, x,
                                                    dy, dx);
  crema::cuda::check_launch("PReLU backward");
}

size_t prelu_slope_grad_workspace(int64_t N, int64_t C, int64_t S) {
  if (C <= 0) return 0;
  return sizeof(double) * plan(N, C, S).parts * C;
}

void prelu_slope_grad_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared,
                           const float* x, const float* dy, float* da, void* workspace) {
  if (C <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const Plan p = plan(N, C, S);
  double* partial = static_cast<double*>(workspace);
  if (S == 1) {
    const dim3 grid(grid_x((C + kThreads - 1) / kThreads), static_cast<unsigned>(p.parts));
    row_partials<<<grid, kThreads, 0, st>>>(N, C, p.chunk, x, dy, partial);
  } else {
    const int64_t M = N * S;
    const dim3 grid(grid_x(C), static_cast<unsigned>(p.parts));
    if (crema::cuda::fits_int32(N * C * S))
      plane_partials<uint32_t><<<grid, kThreads, 0, st>>>(
          uint32_t(M), uint32_t(C), uint32_t(S), uint32_t(p.chunk), x, dy, partial);
    else
      plane_partials<uint64_t><<<grid, kThreads, 0, st>>>(
          uint64_t(M), uint64_t(C), uint64_t(S), uint64_t(p.chunk), x, dy, partial);
  }
  crema::cuda::check_launch("PReLU backward (sums)");
  if (shared)
    finish_shared<<<1, kThreads, 0, st>>>(p.parts * C, partial, da);
  else
    finish<<<crema::cuda::blocks(C), kThreads, 0, st>>>(C, p.parts, partial, da);
  crema::cuda::check_launch("PReLU backward (slope gradient)");
}
