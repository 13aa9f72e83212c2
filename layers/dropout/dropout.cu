// SPDX-License-Identifier: BSD-2-Clause
// Dropout's CUDA kernels. The mask is dropout_mask.h's, the CPU path's, evaluated per element,
// so the GPU mask equals the CPU one bit for bit.
#include "crema/cuda.hpp"
#include "dropout_cuda.h"
#include "dropout_mask.h"

namespace {
__global__ void masked_scale(int64_t n, uint64_t key, uint32_t thr, float kept, const float* in,
                             float* out) {
  CREMA_CUDA_LOOP(i, n) out[i] = in[i] * (dropout_keep(key, i, thr) ? kept : 0.f);
}

__global__ void scale(int64_t n, float s, const float* in, float* out) {
  CREMA_CUDA_LOOP(i, n) out[i] = in[i] * s;
}
}  // namespace

void dropout_mask_cuda(void* stream, int64_t n, uint64_t key, uint32_t thr, float kept,
                       const float* in, float* out) {
  if (n <= 0) return;
  masked_scale<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, key, thr, kept, in, out);
  crema::cuda::check_launch("Dropout mask");
}

void dropout_scale_cuda(void* stream, int64_t n, float s, const float* in, float* out) {
  if (n <= 0) return;
  scale<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(n, s, in,
                                                                                           out);
  crema::cuda::check_launch("Dropout scale");
}
