// SPDX-License-Identifier: BSD-2-Clause
// Scale's CUDA kernels over (outer, D, inner) tensors.
// Elementwise passes find d = (i / inner) % D with Index = uint32_t whenever every index fits
// (32-bit division is several times cheaper than 64-bit). The parameter gradients are sums over
// (outer, inner) per d, in two steps without atomics (crema/layers/channel_reduce.cuh), so they
// do not depend on scheduling. Tensors in any storage type (crema::cuda::Values: a bottom, a top
// or a bottom scale in fp16 or bf16, each its own), the arithmetic and the sums in fp32 / double.
#include "crema/cuda.hpp"
#include "crema/layers/channel_reduce.cuh"
#include "scale_cuda.h"

namespace {
using crema::cuda::kThreads;
using crema::cuda::Values;

template <class Index>
__global__ void forward(int64_t n, Index D, Index inner, Values x, Values s, const float* b,
                        Values y, Values keep) {
  CREMA_CUDA_LOOP(i, n) {
    const Index d = static_cast<Index>(i) / inner % D;
    const float v = x.load(i);
    if (keep) keep.store(i, v);
    y.store(i, b ? v * s.load(d) + b[d] : v * s.load(d));
  }
}

template <class Index>
__global__ void backward_x(int64_t n, Index D, Index inner, Values dy, Values s, Values dx) {
  CREMA_CUDA_LOOP(i, n) dx.store(i, dy.load(i) * s.load(static_cast<Index>(i) / inner % D));
}

// The parameter gradients' terms: s1 = dy x (only when with_x), s2 = dy.
struct DyXTerm {
  Values dy, x;
  bool with_x;
  template <class I>
  __device__ void operator()(I at, I, double& s1, double& s2) const {
    const float g = dy.load(at);
    if (with_x) s1 += double(g) * x.load(at);
    s2 += g;
  }
};

// dst[d] = (accumulate ? dst[d] : 0) + the partials, as on the CPU (dst fp32, or a bottom scale's
// 2-byte gradient).
struct AccumulateAfter {
  Values dst;
  bool accumulate;
  __device__ double init(int64_t) const { return 0.0; }
  __device__ void store(int64_t d, double s) const {
    dst.store(d, static_cast<float>((accumulate ? double(dst.load(d)) : 0.0) + s));
  }
};
}  // namespace

void scale_forward_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, Values x, Values s,
                        const float* b, Values y, Values keep) {
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

void scale_backward_x_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, Values dy,
                           Values s, Values dx) {
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
  return crema::layers::gpu::reduce_workspace(2, outer, D, inner);
}

void scale_param_grads_cuda(void* stream, int64_t outer, int64_t D, int64_t inner, Values dy,
                            Values x, Values ds, bool accumulate_s, float* db, void* workspace) {
  if (D <= 0 || (!ds && !db)) return;
  const cudaStream_t st = crema::cuda::stream(stream);
  namespace gpu = crema::layers::gpu;
  const gpu::ReducePlan p = gpu::reduce_plan(outer, D, inner);
  double* s1 = ds ? static_cast<double*>(workspace) : nullptr;
  double* s2 = db ? static_cast<double*>(workspace) + p.parts * D : nullptr;
  gpu::channel_partials<2>(st, outer, D, inner, p, DyXTerm{dy, x, bool(ds)}, {{s1, s2}},
                           "Scale backward (sums)");
  if (ds)
    gpu::channel_finish(st, D, p, s1, AccumulateAfter{ds, accumulate_s},
                        "Scale backward (scale gradient)");
  if (db)
    gpu::channel_finish(st, D, p, s2, AccumulateAfter{crema::cuda::values_of(db), true},
                        "Scale backward (bias gradient)");
}
