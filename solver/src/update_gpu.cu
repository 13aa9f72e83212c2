// SPDX-License-Identifier: BSD-2-Clause
// Kernels of update_gpu.hpp. Each formula is the CPU one of update_rules.cpp, element by element,
// so CPU and GPU training agree to float rounding.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "update_gpu.hpp"

namespace crema::gpu_update {

namespace {
constexpr int kThreads = 256;

int blocks(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 1 ? 1 : (b > 4096 ? 4096 : b));
}

void check(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

#define LOOP(i, n)                                                          \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

__global__ void regularize_kernel(int64_t n, float norm, float decay, bool l1, const float* w,
                                  float* g) {
  LOOP(i, n) {
    float gi = g[i] * norm;
    if (decay != 0) gi += decay * (l1 ? float((w[i] > 0) - (w[i] < 0)) : w[i]);
    g[i] = gi;
  }
}

__global__ void sumsq_kernel(int64_t n, const float* g, double* out) {
  __shared__ double partial[kThreads];
  double s = 0;
  LOOP(i, n) s += double(g[i]) * g[i];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int k = kThreads / 2; k > 0; k >>= 1) {
    if (threadIdx.x < k) partial[threadIdx.x] += partial[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(out, partial[0]);
}

__global__ void apply_kernel(RuleParams r, int64_t n, float scale, float rate, float* w, float* g,
                             float* h0, float* h1) {
  LOOP(i, n) {
    const float gi = g[i] * scale;
    float step;
    switch (r.rule) {
      case RuleKind::kSgd: step = h0[i] = r.momentum * h0[i] + rate * gi; break;
      case RuleKind::kNesterov: {
        const float prev = h0[i];
        h0[i] = r.momentum * h0[i] + rate * gi;
        step = (1 + r.momentum) * h0[i] - r.momentum * prev;
        break;
      }
      case RuleKind::kAdaGrad:
        h0[i] += gi * gi;
        step = rate * gi / (sqrtf(h0[i]) + r.delta);
        break;
      case RuleKind::kRmsProp:
        h0[i] = r.decay2 * h0[i] + (1 - r.decay2) * gi * gi;
        step = rate * gi / (sqrtf(h0[i]) + r.delta);
        break;
      case RuleKind::kAdaDelta: {
        h0[i] = r.momentum * h0[i] + (1 - r.momentum) * gi * gi;
        const float u = gi * sqrtf((h1[i] + r.delta) / (h0[i] + r.delta));
        h1[i] = r.momentum * h1[i] + (1 - r.momentum) * u * u;
        step = rate * u;
        break;
      }
      default:  // Adam; `rate` carries the bias correction, computed on the host
        h0[i] = r.momentum * h0[i] + (1 - r.momentum) * gi;
        h1[i] = r.decay2 * h1[i] + (1 - r.decay2) * gi * gi;
        step = rate * h0[i] / (sqrtf(h1[i]) + r.delta);
        break;
    }
    g[i] = step;
    w[i] -= step;
  }
}
}  // namespace

void regularize(void* stream, int64_t n, float norm, float decay, bool l1, const float* w,
                float* g) {
  if (n == 0) return;
  regularize_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, norm, decay,
                                                                                   l1, w, g);
  check("solver regularize");
}

void sumsq_accumulate(void* stream, int64_t n, const float* g, double* out) {
  if (n == 0) return;
  sumsq_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, g, out);
  check("solver gradient norm");
}

namespace {
__global__ void nonfinite_kernel(int64_t n, const float* g, int* flag) {
  LOOP(i, n) {
    if (!isfinite(g[i])) *flag = 1;  // every writer writes the same value
  }
}
}  // namespace

void flag_nonfinite(void* stream, int64_t n, const float* g, int* flag) {
  if (n == 0) return;
  nonfinite_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, g, flag);
  check("solver gradient overflow check");
}

void apply(void* stream, const RuleParams& r, int64_t n, float scale, float rate, float* w,
           float* g, float* h0, float* h1) {
  if (n == 0) return;
  apply_kernel<<<blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(r, n, scale, rate, w,
                                                                              g, h0, h1);
  check("solver update");
}

}  // namespace crema::gpu_update
