// SPDX-License-Identifier: BSD-2-Clause
// The one kernel InnerProduct needs besides cuBLAS: the ones vector through which the bias is
// broadcast over rows (forward) and summed over rows (backward) as GEMMs, as Caffe does.
#include "crema/cuda.hpp"
#include "inner_product_cuda.h"

namespace {
__global__ void fill_ones(int64_t n, float* x) {
  CREMA_CUDA_LOOP(i, n) x[i] = 1.f;
}
}  // namespace

void inner_product_fill_ones(void* stream, float* x, int64_t n) {
  if (n <= 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  fill_ones<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, s>>>(n, x);
  crema::cuda::check_launch("InnerProduct ones vector");
}
