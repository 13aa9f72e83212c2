// SPDX-License-Identifier: BSD-2-Clause
// Split's backward on the GPU: the tops' gradients summed in one pass. Their pointers travel in
// the kernel's parameters, kMaxTops per launch; with more tops the next launch continues from
// dx, adding in the CPU path's order. The sums are fp32 over tensors of the group's storage type
// (the host gives the bottom and the tops one: fp32, fp16 or bf16).
#include <algorithm>

#include "crema/cuda.hpp"
#include "split_cuda.h"

namespace {
constexpr int kMaxTops = kSplitTopsPerLaunch;

using crema::cuda::Values;

struct Grads {
  Values g[kMaxTops];
  int count;
};

// dx = (first ? 0 : dx) + the launch's gradients; `first` starts from g[0] itself, as the CPU.
__global__ void sum(int64_t n, Grads in, bool first, Values dx) {
  CREMA_CUDA_LOOP(i, n) {
    float acc = first ? in.g[0].load(i) : dx.load(i);
    for (int t = first ? 1 : 0; t < in.count; ++t) acc += in.g[t].load(i);
    dx.store(i, acc);
  }
}
}  // namespace

void split_backward_cuda(void* stream, int64_t n, int tops, const Values* dy, Values dx,
                         float* scratch) {
  if (n <= 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  // Partial sums of a 2-byte dx over several launches stay fp32, rounded once at the end.
  const Values acc = split_needs_scratch(tops, dx) ? crema::cuda::values_of(scratch) : dx;
  for (int base = 0; base < tops; base += kMaxTops) {
    Grads in{};
    in.count = std::min(kMaxTops, tops - base);
    for (int t = 0; t < in.count; ++t) in.g[t] = dy[base + t];
    sum<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, s>>>(n, in, base == 0, acc);
    crema::cuda::check_launch("Split backward");
  }
  if (acc.ptr != dx.ptr) crema::cuda::convert(s, acc, dx, n);
}
