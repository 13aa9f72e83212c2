// SPDX-License-Identifier: BSD-2-Clause
// Dropout's CUDA kernels. The mask is the counter-based stream of dropout.cpp evaluated per
// element (the same uint64 arithmetic, so the GPU mask equals the CPU one bit for bit):
//   u32(key, i) = high 32 bits of mix(key + (i + 1) G), mix = SplitMix64's finaliser.
#include "crema/cuda.hpp"
#include "dropout_cuda.h"

namespace {
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

__device__ __forceinline__ uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__global__ void masked_scale(int64_t n, uint64_t key, uint32_t thr, float kept, const float* in,
                             float* out) {
  CREMA_CUDA_LOOP(i, n) {
    const uint32_t u =
        static_cast<uint32_t>(mix(key + static_cast<uint64_t>(i + 1) * kGolden) >> 32);
    out[i] = in[i] * (u >= thr ? kept : 0.f);
  }
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
  scale<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, s, in, out);
  crema::cuda::check_launch("Dropout scale");
}
