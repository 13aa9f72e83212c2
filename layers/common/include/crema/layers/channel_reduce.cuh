// SPDX-License-Identifier: BSD-2-Clause
// The GPU's per-channel sums over an (outer, D, inner) tensor (the parameter gradients of
// Scale, Bias and PReLU), K of them at once, in two steps without atomics, so they do not depend
// on scheduling:
//   1. channel_partials: the values of each d are cut into `parts` runs; one block (inner > 1:
//      a block reduction over contiguous planes) or one thread (inner == 1: rows of D, so
//      neighbouring threads read neighbouring d) sums a run into partial_k[part][d], in double;
//   2. channel_finish: one thread per d adds its partials in order, s = out.init(d) + p_0 + ...,
//      and calls out.store(d, s).
// The terms come from a functor, as on the CPU (channel_reduce.hpp):
//   struct Term { const float* dy;
//     template <class I> __device__ void operator()(I at, I d, double& s) const { s += dy[at]; } };
// with one double& per sum; `at` is the element's offset, `d` its channel. Header-only kernels
// for .cu files.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "crema/cuda.hpp"

namespace crema::layers::gpu {

// How the sums are cut: enough blocks (or threads) to fill the GPU, runs long enough to be
// worth a block (or a thread).
struct ReducePlan {
  int64_t parts, chunk;
};
inline ReducePlan reduce_plan(int64_t outer, int64_t D, int64_t inner) {
  const int64_t total = inner == 1 ? outer : outer * inner;
  const int64_t wanted = inner == 1 ? 65536 / D : 2048 / D;  // threads resp. blocks in all
  const int64_t longest = inner == 1 ? total / 16 : total / 4096;
  const int64_t cap = inner == 1 ? 32768 : 2048;
  const int64_t parts = std::max<int64_t>(1, std::min({wanted, longest, cap}));
  return {parts, std::max<int64_t>(1, (total + parts - 1) / parts)};
}

// Workspace bytes for `sums` sums' partials (D > 0).
inline size_t reduce_workspace(int sums, int64_t outer, int64_t D, int64_t inner) {
  return D <= 0 ? 0 : sums * sizeof(double) * reduce_plan(outer, D, inner).parts * D;
}

// Where step 1 puts sum k's partials (parts * D doubles); nullptr: sum k is not wanted (no
// block reduction, no store; its term is still called).
template <int K>
struct Partials {
  double* sum[K];
};

namespace reduce_detail {
template <int K, class Term, class I>
__device__ __forceinline__ void add_terms(const Term& term, I at, I d, double (&s)[K]) {
  if constexpr (K == 1)
    term(at, d, s[0]);
  else
    term(at, d, s[0], s[1]);
}

// inner > 1. Part p of channel d: the values j in [p chunk, (p + 1) chunk) of the M = outer
// inner values of d, value j at ((j / inner) D + d) inner + j % inner.
template <int K, class Index, class Term>
__global__ void plane_partials(Index M, Index D, Index inner, Index chunk, Term term,
                               Partials<K> out) {
  const Index part = blockIdx.y;
  const Index lo = part * chunk, hi = min(M, lo + chunk);
  for (Index d = blockIdx.x; d < D; d += gridDim.x) {
    double s[K] = {};
    for (Index j = lo + threadIdx.x; j < hi; j += blockDim.x) {
      const Index o = j / inner;
      add_terms<K>(term, (o * D + d) * inner + (j - o * inner), d, s);
    }
    for (int k = 0; k < K; ++k)
      if (out.sum[k]) s[k] = crema::cuda::block_sum(s[k]);
    if (threadIdx.x == 0)
      for (int k = 0; k < K; ++k)
        if (out.sum[k]) out.sum[k][part * D + d] = s[k];
  }
}

// inner == 1: rows of D values; part p sums rows [p chunk, (p + 1) chunk) for one d per thread.
template <int K, class Term>
__global__ void row_partials(int64_t rows, int64_t D, int64_t chunk, Term term, Partials<K> out) {
  const int64_t part = blockIdx.y;
  const int64_t lo = part * chunk, hi = min(rows, lo + chunk);
  for (int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; d < D;
       d += int64_t(gridDim.x) * blockDim.x) {
    double s[K] = {};
    for (int64_t r = lo; r < hi; ++r) add_terms<K>(term, r * D + d, d, s);
    for (int k = 0; k < K; ++k)
      if (out.sum[k]) out.sum[k][part * D + d] = s[k];
  }
}

template <class Out>
__global__ void finish(int64_t D, int64_t parts, const double* partial, Out out) {
  CREMA_CUDA_LOOP(d, D) {
    double s = out.init(d);
    for (int64_t p = 0; p < parts; ++p) s += partial[p * D + d];
    out.store(d, s);
  }
}

inline int grid_x(int64_t n) {
  return static_cast<int>(std::min<int64_t>(std::max<int64_t>(n, 1), 65535));
}
}  // namespace reduce_detail

// Step 1 on `stream` for the plan p of (outer, D, inner); D > 0.
template <int K, class Term>
void channel_partials(cudaStream_t stream, int64_t outer, int64_t D, int64_t inner,
                      const ReducePlan& p, const Term& term, Partials<K> out, const char* what) {
  using crema::cuda::kThreads;
  using reduce_detail::grid_x;
  if (inner == 1) {
    const dim3 grid(grid_x((D + kThreads - 1) / kThreads), static_cast<unsigned>(p.parts));
    reduce_detail::row_partials<K><<<grid, kThreads, 0, stream>>>(outer, D, p.chunk, term, out);
  } else {
    const int64_t M = outer * inner;
    const dim3 grid(grid_x(D), static_cast<unsigned>(p.parts));
    if (crema::cuda::fits_int32(outer * D * inner))
      reduce_detail::plane_partials<K, uint32_t><<<grid, kThreads, 0, stream>>>(
          uint32_t(M), uint32_t(D), uint32_t(inner), uint32_t(p.chunk), term, out);
    else
      reduce_detail::plane_partials<K, uint64_t><<<grid, kThreads, 0, stream>>>(
          uint64_t(M), uint64_t(D), uint64_t(inner), uint64_t(p.chunk), term, out);
  }
  crema::cuda::check_launch(what);
}

// Step 2 for one sum's partials: out.store(d, out.init(d) + its partials in order), where Out
// has __device__ double init(int64_t d) const and void store(int64_t d, double s) const.
template <class Out>
void channel_finish(cudaStream_t stream, int64_t D, const ReducePlan& p, const double* partial,
                    const Out& out, const char* what) {
  const int grid = crema::cuda::blocks(D);
  reduce_detail::finish<<<grid, crema::cuda::kThreads, 0, stream>>>(D, p.parts, partial, out);
  crema::cuda::check_launch(what);
}

}  // namespace crema::layers::gpu
