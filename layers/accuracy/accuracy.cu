// SPDX-License-Identifier: BSD-2-Clause
// Accuracy on the GPU: one thread per position judges it as the CPU path does (the rank of the
// true class, ties against it); integer counters gather hits and counts (a block reduction,
// then one atomic per block; per class, one atomic per position), and a one-block kernel
// divides into the tops. Integer sums are exact, so the result does not depend on scheduling.
#include <cmath>

#include "accuracy_cuda.h"
#include "crema/cuda.hpp"

namespace {
using Count = unsigned long long;
// Counter slots: hits, counted, invalid labels, then C class hits and C class counts.
constexpr int kHits = 0, kCounted = 1, kInvalid = 2, kPerClass = 3;

__global__ void judge(int64_t positions, int64_t C, int64_t inner, const float* x,
                      const float* label, int64_t top_k, bool has_ignore, int ignore,
                      bool per_class, Count* counters) {
  Count hits = 0, counted = 0, invalid = 0;
  CREMA_CUDA_LOOP(p, positions) {
    const float lf = label[p];
    const int l = static_cast<int>(lf);
    if (lf == lf && has_ignore && l == ignore) continue;
    if (lf != lf || l < 0 || l >= C) {  // NaN converts to 0 here, to INT_MIN on the CPU
      ++invalid;
      continue;
    }
    const float* xs = x + (p / inner) * C * inner + p % inner;
    const float truth = xs[l * inner];
    int64_t better = -1;  // the true class counts itself once
    for (int64_t k = 0; k < C; ++k) better += xs[k * inner] >= truth;
    const Count hit = better < top_k ? 1 : 0;
    hits += hit, ++counted;
    if (per_class) {
      atomicAdd(&counters[kPerClass + l], hit);
      atomicAdd(&counters[kPerClass + C + l], Count{1});
    }
  }
  hits = crema::cuda::block_sum(hits);
  counted = crema::cuda::block_sum(counted);
  invalid = crema::cuda::block_sum(invalid);
  if (threadIdx.x == 0) {
    if (hits) atomicAdd(&counters[kHits], hits);
    if (counted) atomicAdd(&counters[kCounted], counted);
    if (invalid) atomicAdd(&counters[kInvalid], invalid);
  }
}

__global__ void divide(int64_t C, const Count* counters, float* top0, float* per_class) {
  const bool bad = counters[kInvalid] != 0;
  if (threadIdx.x == 0) {
    const Count hits = counters[kHits], counted = counters[kCounted];
    top0[0] = bad ? NAN : counted ? static_cast<float>(double(hits) / double(counted)) : 0.f;
  }
  if (!per_class) return;
  for (int64_t k = threadIdx.x; k < C; k += blockDim.x) {
    const Count hits = counters[kPerClass + k], counted = counters[kPerClass + C + k];
    per_class[k] = bad ? NAN : counted ? static_cast<float>(double(hits) / double(counted)) : 0.f;
  }
}
}  // namespace

size_t accuracy_workspace(int64_t C) { return sizeof(Count) * (kPerClass + 2 * C); }

void accuracy_forward_cuda(void* stream, int64_t outer, int64_t C, int64_t inner,
                           const float* x, const float* label, int64_t top_k, bool has_ignore,
                           int ignore, float* top0, float* per_class, void* workspace) {
  const cudaStream_t s = crema::cuda::stream(stream);
  Count* counters = static_cast<Count*>(workspace);
  crema::cuda::check(cudaMemsetAsync(counters, 0, accuracy_workspace(C), s),
                     "Accuracy (clear counters)");
  const int64_t positions = outer * inner;
  if (positions > 0) {
    judge<<<crema::cuda::blocks(positions), crema::cuda::kThreads, 0, s>>>(
        positions, C, inner, x, label, top_k, has_ignore, ignore, per_class != nullptr, counters);
    crema::cuda::check_launch("Accuracy forward");
  }
  divide<<<1, crema::cuda::kThreads, 0, s>>>(C, counters, top0, per_class);
  crema::cuda::check_launch("Accuracy forward (division)");
}
