// SPDX-License-Identifier: BSD-2-Clause
// Native LRN kernels (the math of lrn.cpp): one thread per element takes its window sum
// directly (n reads across channels, n^2 within a plane, all neighbouring in cache), adding in
// the CPU's order. Backward first writes r = dy x s^-beta / s for every element, then each
// element gathers r over its window (the windows are symmetric).
#include "crema/cuda.hpp"
#include "lrn_cuda.h"

namespace {
// s^-beta; beta = 0.75 through square roots, as the CPU does.
__device__ __forceinline__ float neg_pow(float s, float beta) {
  return beta == 0.75f ? 1.f / (sqrtf(s) * sqrtf(sqrtf(s))) : powf(s, -beta);
}
__device__ __forceinline__ int64_t lo(int64_t i, int pad) { return i - pad > 0 ? i - pad : 0; }
__device__ __forceinline__ int64_t hi(int64_t i, int pad, int64_t n) {
  return i + pad < n - 1 ? i + pad : n - 1;
}

// Sum of v (or v^2) over the channel window of element i, whose channel is c.
__device__ __forceinline__ float channel_window_sum(const float* v, int64_t i, int64_t c,
                                                    int64_t C, int64_t hw, int pad, bool square) {
  const int64_t base = i - c * hw;
  float sum = 0.f;
  for (int64_t q = lo(c, pad); q <= hi(c, pad, C); ++q) {
    const float t = v[base + q * hw];
    sum += square ? t * t : t;
  }
  return sum;
}

// Sum of v (or v^2) over the spatial window of element i: along w within each row first,
// then over rows (the CPU's box_sum order).
__device__ __forceinline__ float plane_window_sum(const float* v, int64_t i, int64_t H, int64_t W,
                                                  int pad, bool square) {
  const int64_t hw = i % (H * W), h = hw / W, w = hw % W;
  const float* p = v + (i - hw);
  float sum = 0.f;
  for (int64_t y = lo(h, pad); y <= hi(h, pad, H); ++y) {
    float row = 0.f;
    for (int64_t x = lo(w, pad); x <= hi(w, pad, W); ++x) {
      const float t = p[y * W + x];
      row += square ? t * t : t;
    }
    sum += row;
  }
  return sum;
}

__global__ void across_forward(int64_t n, int64_t C, int64_t hw, int pad, float k, float a,
                               float beta, const float* x, float* s, float* y) {
  CREMA_CUDA_LOOP(i, n) {
    const float sc = k + a * channel_window_sum(x, i, (i / hw) % C, C, hw, pad, true);
    s[i] = sc;
    y[i] = neg_pow(sc, beta) * x[i];
  }
}

__global__ void within_forward(int64_t n, int64_t H, int64_t W, int pad, float a, float beta,
                               const float* x, float* s, float* y) {
  CREMA_CUDA_LOOP(i, n) {
    const float sc = 1.f + a * plane_window_sum(x, i, H, W, pad, true);
    s[i] = sc;
    y[i] = neg_pow(sc, beta) * x[i];
  }
}

__global__ void backward_terms(int64_t n, float beta, const float* x, const float* s,
                               const float* dy, float* r) {
  CREMA_CUDA_LOOP(i, n) r[i] = dy[i] * x[i] * neg_pow(s[i], beta) / s[i];
}

__global__ void across_backward(int64_t n, int64_t C, int64_t hw, int pad, float beta,
                                float ratio, const float* x, const float* s, const float* dy,
                                const float* r, float* dx) {
  CREMA_CUDA_LOOP(i, n) {
    const int64_t c = (i / hw) % C, base = i - c * hw;
    float d = dy[i] * neg_pow(s[i], beta);
    for (int64_t q = lo(c, pad); q <= hi(c, pad, C); ++q) d -= ratio * x[i] * r[base + q * hw];
    dx[i] = d;
  }
}

__global__ void within_backward(int64_t n, int64_t H, int64_t W, int pad, float beta, float ratio,
                                const float* x, const float* s, const float* dy, const float* r,
                                float* dx) {
  CREMA_CUDA_LOOP(i, n) {
    const float d = dy[i] * neg_pow(s[i], beta);
    dx[i] = d - ratio * x[i] * plane_window_sum(r, i, H, W, pad, false);
  }
}
}  // namespace

void lrn_across_forward_cuda(void* stream, const float* x, float* s, float* y, int64_t N,
                             int64_t C, int64_t H, int64_t W, int pad, float k, float a,
                             float beta) {
  const int64_t n = N * C * H * W;
  if (n == 0) return;
  across_forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0,
                   crema::cuda::stream(stream)>>>(n, C, H * W, pad, k, a, beta, x, s, y);
  crema::cuda::check_launch("LRN forward (across channels)");
}

void lrn_within_forward_cuda(void* stream, const float* x, float* s, float* y, int64_t N,
                             int64_t C, int64_t H, int64_t W, int pad, float a, float beta) {
  const int64_t n = N * C * H * W;
  if (n == 0) return;
  within_forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0,
                   crema::cuda::stream(stream)>>>(n, H, W, pad, a, beta, x, s, y);
  crema::cuda::check_launch("LRN forward (within channel)");
}

void lrn_backward_cuda(void* stream, bool across, const float* x, const float* s, const float* dy,
                       float* dx, float* r, int64_t N, int64_t C, int64_t H, int64_t W, int pad,
                       float beta, float ratio) {
  const int64_t n = N * C * H * W;
  if (n == 0) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  const int b = crema::cuda::blocks(n);
  backward_terms<<<b, crema::cuda::kThreads, 0, st>>>(n, beta, x, s, dy, r);
  crema::cuda::check_launch("LRN backward (terms)");
  if (across)
    across_backward<<<b, crema::cuda::kThreads, 0, st>>>(n, C, H * W, pad, beta, ratio, x, s, dy,
                                                         r, dx);
  else
    within_backward<<<b, crema::cuda::kThreads, 0, st>>>(n, H, W, pad, beta, ratio, x, s, dy, r,
                                                         dx);
  crema::cuda::check_launch("LRN backward");
}
