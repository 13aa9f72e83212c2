// SPDX-License-Identifier: BSD-2-Clause
// SoftmaxWithLoss on the GPU: the loss is reduced in two fixed-shape passes (per-block partial
// sums in double, then one block adds the partials and divides by the normaliser), so the
// result is deterministic and lands in the scalar top on the device, with no host round trip.
// The normaliser (VALID counts the positions not ignored) stays on the device for backward.
#include <algorithm>
#include <cfloat>

#include "crema/cuda.hpp"
#include "softmax_with_loss_cuda.h"

namespace {
constexpr int kParts = 256;  // blocks of the first pass, at most

// partial[block] = summed loss, partial[gridDim.x + block] = positions counted.
__global__ void loss_partials(int64_t positions, int64_t C, int64_t inner, const float* prob,
                              const float* label, bool has_ignore, int ignore, double* partial) {
  double loss = 0, valid = 0;
  CREMA_CUDA_LOOP(p, positions) {
    const int l = static_cast<int>(label[p]);
    if (has_ignore && l == ignore) continue;
    valid += 1;
    if (l < 0 || l >= C) {
      loss = __longlong_as_double(0x7ff8000000000000ll);  // NaN: an invalid label
      continue;
    }
    const int64_t o = p / inner, j = p % inner;
    loss -= logf(fmaxf(prob[(o * C + l) * inner + j], FLT_MIN));
  }
  loss = crema::cuda::block_sum(loss);
  valid = crema::cuda::block_sum(valid);
  if (threadIdx.x == 0) {
    partial[blockIdx.x] = loss;
    partial[gridDim.x + blockIdx.x] = valid;
  }
}

__global__ void loss_finalize(int parts, const double* partial, int64_t outer, int64_t inner,
                              LossNorm norm, float* loss, double* norm_out) {
  double l = 0, valid = 0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) {
    l += partial[i];
    valid += partial[parts + i];
  }
  l = crema::cuda::block_sum(l);
  valid = crema::cuda::block_sum(valid);
  if (threadIdx.x == 0) {
    double z = 1;
    if (norm == LossNorm::kFull)
      z = double(outer * inner);
    else if (norm == LossNorm::kValid)
      z = valid;
    else if (norm == LossNorm::kBatchSize)
      z = double(outer);
    z = z > 1.0 ? z : 1.0;
    loss[0] = static_cast<float>(l / z);
    norm_out[0] = z;
  }
}

__global__ void loss_backward(int64_t n, int64_t C, int64_t inner, const float* prob,
                              const float* label, bool has_ignore, int ignore,
                              const float* top_diff, const double* norm, float* dx) {
  const float scale = static_cast<float>(double(top_diff[0]) / norm[0]);
  CREMA_CUDA_LOOP(i, n) {
    const int64_t j = i % inner, oc = i / inner, c = oc % C, o = oc / C;
    const int l = static_cast<int>(label[o * inner + j]);
    float d = 0.f;
    if (!(has_ignore && l == ignore)) d = (prob[i] - (c == l ? 1.f : 0.f)) * scale;
    dx[i] = d;
  }
}
}  // namespace

size_t softmax_loss_workspace_bytes() { return 2 * kParts * sizeof(double); }

void softmax_loss_forward_cuda(void* stream, const float* prob, const float* label, int64_t outer,
                               int64_t channels, int64_t inner, bool has_ignore, int ignore,
                               LossNorm norm, void* workspace, float* loss, double* norm_out) {
  const cudaStream_t s = crema::cuda::stream(stream);
  const int64_t positions = outer * inner;
  const int parts = std::min(crema::cuda::blocks(positions), kParts);
  double* partial = static_cast<double*>(workspace);
  loss_partials<<<parts, crema::cuda::kThreads, 0, s>>>(positions, channels, inner, prob, label,
                                                         has_ignore, ignore, partial);
  crema::cuda::check_launch("SoftmaxWithLoss forward (partial sums)");
  loss_finalize<<<1, crema::cuda::kThreads, 0, s>>>(parts, partial, outer, inner, norm, loss,
                                                     norm_out);
  crema::cuda::check_launch("SoftmaxWithLoss forward (total)");
}

void softmax_loss_backward_cuda(void* stream, const float* prob, const float* label, int64_t outer,
                                int64_t channels, int64_t inner, bool has_ignore, int ignore,
                                const float* top_diff, const double* norm, float* dx) {
  const int64_t n = outer * channels * inner;
  if (n == 0) return;
  loss_backward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, channels, inner, prob, label, has_ignore, ignore, top_diff, norm, dx);
  crema::cuda::check_launch("SoftmaxWithLoss backward");
}
