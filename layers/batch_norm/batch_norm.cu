// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm kernels (the math of batch_norm.cpp). Per-channel sums: one block per channel,
// its threads laid out as (along S) x (along N) so that rows of a plane are read contiguously,
// each thread summing in double, then a warp-shuffle block reduction; the block's thread 0
// turns the sums into the channel's statistics or gradient coefficients (and, forward, the
// running averages: one writer per channel, block 0 also for the factor f). The elementwise
// passes read and write element i only, so they work in place. x, y and their gradients in any
// storage type (crema::cuda::Values: fp32, fp16 or bf16, each its own); the statistics, the sums
// and the arithmetic stay fp32 / double, and a forward in place keeps y in y's type.
#include "batch_norm_cuda.h"
#include "crema/cuda.hpp"

namespace {
using crema::cuda::Values;
constexpr int kSumThreads = 512;

// Over channel k of (N, C, S): kStats: s1 = sum(u - a), s2 = sum((u - a)^2);
// else s1 = sum(u), s2 = sum(u (v - a)).
template <bool kStats>
__device__ void channel_sums(Values u, Values v, float a, int64_t N, int64_t C, int64_t S,
                             int64_t k, double& s1, double& s2) {
  double d1 = 0, d2 = 0;
  for (int64_t n = threadIdx.y; n < N; n += blockDim.y) {
    const int64_t off = (n * C + k) * S;
    for (int64_t s = threadIdx.x; s < S; s += blockDim.x) {
      if constexpr (kStats) {
        const float t = u.load(off + s) - a;
        d1 += t;
        d2 += t * t;
      } else {
        const float g = u.load(off + s);
        d1 += g;
        d2 += g * (v.load(off + s) - a);
      }
    }
  }
  d1 = crema::cuda::block_sum(d1);
  d2 = crema::cuda::block_sum(d2);
  s1 = d1;
  s2 = d2;
}

// The shift a = the channel's first value keeps a large mean from cancelling in s2/m - d^2.
__global__ void batch_stats(Values x, int64_t N, int64_t C, int64_t S, float eps, float maf,
                            float* M, float* V, float* f, float* mean, float* inv_std) {
  const int64_t k = blockIdx.x;
  const float a = x.load(k * S);
  double s1, s2;
  channel_sums<true>(x, Values{}, a, N, C, S, k, s1, s2);
  if (threadIdx.x != 0 || threadIdx.y != 0) return;
  const int64_t m = N * S;
  const double d = s1 / m;
  const double var = fmax(0.0, s2 / m - d * d);
  const double bias_correction = m > 1 ? double(m) / double(m - 1) : 1.0;
  const float mu = static_cast<float>(a + d);
  mean[k] = mu;
  inv_std[k] = static_cast<float>(1.0 / sqrt(var + eps));
  M[k] = maf * M[k] + mu;
  V[k] = static_cast<float>(maf * V[k] + bias_correction * var);
  if (k == 0) f[0] = f[0] * maf + 1.f;
}

__global__ void global_stats(int64_t C, const float* M, const float* V, const float* f, float eps,
                             float* mean, float* inv_std) {
  CREMA_CUDA_LOOP(k, C) {
    const float factor = f[0];
    const double sf = factor == 0.f ? 0.0 : 1.0 / factor;
    mean[k] = static_cast<float>(sf * M[k]);
    inv_std[k] = static_cast<float>(1.0 / sqrt(sf * V[k] + eps));
  }
}

// k1 = -mean(dy) inv_std, k2 = -b^2 mean(dy (v - a)) inv_std, b = inv_std when v is x.
__global__ void backward_coefficients(Values dy, Values v, const float* a, int64_t N, int64_t C,
                                      int64_t S, const float* inv_std, float* k1, float* k2) {
  const int64_t k = blockIdx.x;
  double s1, s2;
  channel_sums<false>(dy, v, a ? a[k] : 0.f, N, C, S, k, s1, s2);
  if (threadIdx.x != 0 || threadIdx.y != 0) return;
  const int64_t m = N * S;
  const double b = a ? double(inv_std[k]) : 1.0;
  k1[k] = static_cast<float>(-s1 / m * inv_std[k]);
  k2[k] = static_cast<float>(-b * b * s2 / m * inv_std[k]);
}

// I: 32-bit indices when the tensor allows (cheaper channel arithmetic), else int64_t.
template <class I>
__global__ void normalise(I n, I C, I S, Values x, Values y, Values keep, const float* mean,
                          const float* inv_std) {
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    const I c = (i / S) % C;
    const float v = (x.load(i) - mean[c]) * inv_std[c];
    y.store(i, v);
    if (keep) keep.store(i, v);
  }
}

// v == nullptr: dx = dy inv_std (fixed statistics); else dx = dy inv_std + k1 + (v - a) k2.
template <class I>
__global__ void input_grad(I n, I C, I S, Values dy, Values v, const float* a, Values dx,
                           const float* inv_std, const float* k1, const float* k2) {
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    const I c = (i / S) % C;
    if (v)
      dx.store(i, dy.load(i) * inv_std[c] + k1[c] + (v.load(i) - (a ? a[c] : 0.f)) * k2[c]);
    else
      dx.store(i, dy.load(i) * inv_std[c]);
  }
}

dim3 sum_block(int64_t S) {
  int tx = 1;
  while (tx < S && tx < kSumThreads) tx *= 2;
  return dim3(tx, kSumThreads / tx);
}
// Below 2^31 elements the grid-stride index cannot overflow 32 bits.
bool small(int64_t n) { return n < (int64_t{1} << 31); }
}  // namespace

void batch_norm_batch_stats_cuda(void* stream, Values x, int64_t N, int64_t C, int64_t S, float eps,
                                 float maf, float* M, float* V, float* f, float* mean,
                                 float* inv_std) {
  if (N * C * S == 0) return;
  batch_stats<<<static_cast<unsigned>(C), sum_block(S), 0, crema::cuda::stream(stream)>>>(
      x, N, C, S, eps, maf, M, V, f, mean, inv_std);
  crema::cuda::check_launch("BatchNorm forward (batch statistics)");
}

void batch_norm_global_stats_cuda(void* stream, int64_t C, const float* M, const float* V,
                                  const float* f, float eps, float* mean, float* inv_std) {
  if (C == 0) return;
  global_stats<<<crema::cuda::blocks(C), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      C, M, V, f, eps, mean, inv_std);
  crema::cuda::check_launch("BatchNorm forward (stored statistics)");
}

void batch_norm_normalise_cuda(void* stream, Values x, Values y, Values keep, int64_t N, int64_t C,
                               int64_t S, const float* mean, const float* inv_std) {
  const int64_t n = N * C * S;
  if (n == 0) return;
  const int b = crema::cuda::blocks(n);
  const cudaStream_t s = crema::cuda::stream(stream);
  if (small(n))
    normalise<uint32_t><<<b, crema::cuda::kThreads, 0, s>>>(uint32_t(n), uint32_t(C), uint32_t(S),
                                                            x, y, keep, mean, inv_std);
  else
    normalise<int64_t><<<b, crema::cuda::kThreads, 0, s>>>(n, C, S, x, y, keep, mean, inv_std);
  crema::cuda::check_launch("BatchNorm forward (normalise)");
}

namespace {
void launch_input_grad(cudaStream_t s, Values dy, Values v, const float* a, Values dx, int64_t N,
                       int64_t C, int64_t S, const float* inv_std, const float* k1,
                       const float* k2) {
  const int64_t n = N * C * S;
  const int b = crema::cuda::blocks(n);
  if (small(n))
    input_grad<uint32_t><<<b, crema::cuda::kThreads, 0, s>>>(uint32_t(n), uint32_t(C), uint32_t(S),
                                                             dy, v, a, dx, inv_std, k1, k2);
  else
    input_grad<int64_t><<<b, crema::cuda::kThreads, 0, s>>>(n, C, S, dy, v, a, dx, inv_std, k1, k2);
  crema::cuda::check_launch("BatchNorm backward (input gradient)");
}
}  // namespace

void batch_norm_backward_cuda(void* stream, Values dy, Values v, const float* a, Values dx,
                              int64_t N, int64_t C, int64_t S, const float* inv_std, float* k) {
  if (N * C * S == 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  backward_coefficients<<<static_cast<unsigned>(C), sum_block(S), 0, s>>>(dy, v, a, N, C, S,
                                                                          inv_std, k, k + C);
  crema::cuda::check_launch("BatchNorm backward (channel sums)");
  launch_input_grad(s, dy, v, a, dx, N, C, S, inv_std, k, k + C);
}

void batch_norm_backward_global_cuda(void* stream, Values dy, Values dx, int64_t N, int64_t C,
                                     int64_t S, const float* inv_std) {
  if (N * C * S == 0) return;
  launch_input_grad(crema::cuda::stream(stream), dy, Values{}, nullptr, dx, N, C, S, inv_std,
                    nullptr, nullptr);
}
