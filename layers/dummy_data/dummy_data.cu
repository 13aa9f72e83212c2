// SPDX-License-Identifier: BSD-2-Clause
// DummyData's constant filler on the GPU: one fill kernel on the call's stream.
#include "crema/cuda.hpp"
#include "dummy_data_cuda.h"

namespace {
__global__ void fill(int64_t n, float value, float* y) {
  CREMA_CUDA_LOOP(i, n) y[i] = value;
}
}  // namespace

void dummy_data_fill_cuda(void* stream, int64_t n, float value, float* y) {
  if (n <= 0) return;
  fill<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, value, y);
  crema::cuda::check_launch("DummyData fill");
}
