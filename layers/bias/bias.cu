// SPDX-License-Identifier: BSD-2-Clause
// Bias's CUDA kernels over (outer, D, inner) tensors.
// The forward pass finds d = (i / inner) % D with Index = uint32_t whenever every index fits
// (32-bit division is several times cheaper than 64-bit). dE/db is a sum over (outer, inner)
// per d, in two steps without atomics (crema/layers/channel_reduce.cuh), so it does not depend
// on scheduling.
#include "bias_cuda.h"
#include "crema/cuda.hpp"
#include "crema/layers/channel_reduce.cuh"

namespace {
using crema::cuda::kThreads;

template <class Index>
__global__ void forward(int64_t n, Index D, Index inner, const float* x, const float* b, float* y) {
  CREMA_CUDA_LOOP(i, n) y[i] = x[i] + b[static_cast<Index>(i) / inner % D];
}

// dE/db's term: dy.
struct DyTerm {
  const float* dy;
  template <class I>
  __device__ void operator()(I at, I, double& s) const {
    s += dy[at];
  }
};

// db[d] = float((accumulate ? db[d] : 0) + the partials), the gradient first as on the CPU.
struct AccumulateFirst {
  float* db;
  bool accumulate;
  __device__ double init(int64_t d) const { return accumulate ? double(db[d]) : 0.0; }
  __device__ void store(int64_t d, double s) const { db[d] = static_cast<float>(s); }
};
}  // namespace

void bias_forward_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, const float* x,
                       const float* b, float* y) {
  const int64_t n = outer * D * inner;
  if (n <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n);
  if (crema::cuda::fits_int32(n))
    forward<uint32_t><<<grid, kThreads, 0, st>>>(n, uint32_t(D), uint32_t(inner), x, b, y);
  else
    forward<uint64_t><<<grid, kThreads, 0, st>>>(n, uint64_t(D), uint64_t(inner), x, b, y);
  crema::cuda::check_launch("Bias forward");
}

size_t bias_grad_workspace(int64_t outer, int64_t D, int64_t inner) {
  return crema::layers::gpu::reduce_workspace(1, outer, D, inner);
}

void bias_grad_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, const float* dy,
                    float* db, bool accumulate, void* workspace) {
  if (D <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  namespace gpu = crema::layers::gpu;
  const gpu::ReducePlan p = gpu::reduce_plan(outer, D, inner);
  double* partial = static_cast<double*>(workspace);
  gpu::channel_partials<1>(st, outer, D, inner, p, DyTerm{dy}, {{partial}}, "Bias backward (sums)");
  gpu::channel_finish(st, D, p, partial, AccumulateFirst{db, accumulate},
                      "Bias backward (gradient)");
}
