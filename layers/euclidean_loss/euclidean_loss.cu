// SPDX-License-Identifier: BSD-2-Clause
// EuclideanLoss's CUDA kernels. The loss stays on the device: a grid of blocks writes one
// partial sum each (double, a shuffle-and-shared-memory reduction), then one block adds the
// partials in a fixed order into the top. No atomics and no host round trip; backward reads
// dE/dloss on the device too.
#include <algorithm>

#include "crema/cuda.hpp"
#include "euclidean_loss_cuda.h"

namespace {
constexpr int kMaxParts = static_cast<int>(kEuclideanLossWorkspaceBytes / sizeof(double));

__global__ void difference(int64_t n, const float* a, const float* b, float* d, double* partial) {
  double acc = 0;
  CREMA_CUDA_LOOP(i, n) {
    const float v = a[i] - b[i];
    d[i] = v;
    acc += double(v) * v;
  }
  acc = crema::cuda::block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void total(int parts, const double* partial, double num, float* loss) {
  double acc = 0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) acc += partial[i];
  acc = crema::cuda::block_sum(acc);
  if (threadIdx.x == 0) loss[0] = static_cast<float>(acc / num / 2.0);
}

__global__ void gradient(int64_t n, float sign, const float* dloss, float num, const float* d,
                         float* g) {
  const float alpha = sign * dloss[0] / num;
  CREMA_CUDA_LOOP(i, n) g[i] = alpha * d[i];
}
}  // namespace

void euclidean_loss_forward_cuda(void* stream, int64_t n, const float* a, const float* b,
                                 float* d, double num, void* partials, float* loss) {
  const cudaStream_t s = crema::cuda::stream(stream);
  double* partial = static_cast<double*>(partials);
  const int parts = n > 0 ? std::min(crema::cuda::blocks(n), kMaxParts) : 0;
  if (parts > 0) {
    difference<<<parts, crema::cuda::kThreads, 0, s>>>(n, a, b, d, partial);
    crema::cuda::check_launch("EuclideanLoss forward");
  }
  total<<<1, crema::cuda::kThreads, 0, s>>>(parts, partial, num, loss);
  crema::cuda::check_launch("EuclideanLoss forward (total)");
}

void euclidean_loss_backward_cuda(void* stream, int64_t n, float sign, const float* dloss,
                                  float num, const float* d, float* g) {
  if (n <= 0) return;
  gradient<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, sign, dloss, num, d, g);
  crema::cuda::check_launch("EuclideanLoss backward");
}
