// SPDX-License-Identifier: BSD-2-Clause
// PReLU's CUDA kernels over (N, C, S) tensors.
// Elementwise passes find c = (i / S) % C with Index = uint32_t whenever every index fits
// (32-bit division is several times cheaper than 64-bit). dE/da is a sum over (N, S) per
// channel, in two steps without atomics (crema/layers/channel_reduce.cuh), so it does not depend
// on scheduling; with a shared slope one block adds all the partials instead of step 2.
#include "crema/cuda.hpp"
#include "crema/layers/channel_reduce.cuh"
#include "prelu_cuda.h"

namespace {
using crema::cuda::kThreads;

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
__global__ void backward_x(int64_t n, Index C, Index S, bool shared, const float* a, const float* x,
                           const float* dy, float* dx) {
  CREMA_CUDA_LOOP(i, n) {
    const float slope = a[shared ? 0 : static_cast<Index>(i) / S % C];
    dx[i] = x[i] > 0.f ? dy[i] : slope * dy[i];
  }
}

// dE/da's term: dy min(x, 0), the slope's share of one element.
struct NegativePartTerm {
  const float* x;
  const float* dy;
  template <class I>
  __device__ void operator()(I at, I, double& s) const {
    const float v = x[at];
    s += double(dy[at]) * (v < 0.f ? v : 0.f);
  }
};

// da[c] += float(the partials), as on the CPU.
struct AddSum {
  float* da;
  __device__ double init(int64_t) const { return 0.0; }
  __device__ void store(int64_t c, double s) const { da[c] += static_cast<float>(s); }
};

// Shared slope: da[0] += the sum of all partials (one block).
__global__ void finish_shared(int64_t count, const double* partial, float* da) {
  double s = 0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) s += partial[k];
  s = crema::cuda::block_sum(s);
  if (threadIdx.x == 0) da[0] += static_cast<float>(s);
}
}  // namespace

void prelu_forward_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared, const float* a,
                        const float* x, float* y, float* keep) {
  const int64_t n = N * C * S;
  if (n <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n);
  if (crema::cuda::fits_int32(n))
    forward<uint32_t>
        <<<grid, kThreads, 0, st>>>(n, uint32_t(C), uint32_t(S), shared, a, x, y, keep);
  else
    forward<uint64_t>
        <<<grid, kThreads, 0, st>>>(n, uint64_t(C), uint64_t(S), shared, a, x, y, keep);
  crema::cuda::check_launch("PReLU forward");
}

void prelu_backward_x_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared,
                           const float* a, const float* x, const float* dy, float* dx) {
  const int64_t n = N * C * S;
  if (n <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n);
  if (crema::cuda::fits_int32(n))
    backward_x<uint32_t>
        <<<grid, kThreads, 0, st>>>(n, uint32_t(C), uint32_t(S), shared, a, x, dy, dx);
  else
    backward_x<uint64_t>
        <<<grid, kThreads, 0, st>>>(n, uint64_t(C), uint64_t(S), shared, a, x, dy, dx);
  crema::cuda::check_launch("PReLU backward");
}

size_t prelu_slope_grad_workspace(int64_t N, int64_t C, int64_t S) {
  return crema::layers::gpu::reduce_workspace(1, N, C, S);
}

void prelu_slope_grad_cuda(void* stream, int64_t N, int64_t C, int64_t S, bool shared,
                           const float* x, const float* dy, float* da, void* workspace) {
  if (C <= 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  namespace gpu = crema::layers::gpu;
  const gpu::ReducePlan p = gpu::reduce_plan(N, C, S);
  double* partial = static_cast<double*>(workspace);
  gpu::channel_partials<1>(st, N, C, S, p, NegativePartTerm{x, dy}, {{partial}},
                           "PReLU backward (sums)");
  if (shared) {
    finish_shared<<<1, kThreads, 0, st>>>(p.parts * C, partial, da);
    crema::cuda::check_launch("PReLU backward (slope gradient)");
  } else {
    gpu::channel_finish(st, C, p, partial, AddSum{da}, "PReLU backward (slope gradient)");
  }
}
