// SPDX-License-Identifier: BSD-2-Clause
// Launchers for batch_norm.cu. The input is (N, C, S) with S the product of the axes after C
// (1 for a 2-d input); per-channel vectors have C floats. x, y and their gradients in any
// storage type (crema::cuda::Values), each its own.
#pragma once
#include <cstdint>

#include "crema/cuda.hpp"

using crema::cuda::Values;

// Batch statistics (one block per channel, shifted sums in double): mean, inv_std, and the
// running sums updated in place: M = maf M + mean, V = maf V + m/(m-1) var, f = maf f + 1.
void batch_norm_batch_stats_cuda(void* stream, Values x, int64_t N, int64_t C, int64_t S, float eps,
                                 float maf, float* M, float* V, float* f, float* mean,
                                 float* inv_std);
// Stored statistics: mean = M / f, inv_std = 1 / sqrt(V / f + eps) (0 / 0 when f = 0).
void batch_norm_global_stats_cuda(void* stream, int64_t C, const float* M, const float* V,
                                  const float* f, float eps, float* mean, float* inv_std);
// y = (x - mean_c) * inv_std_c, also into keep when set (y's type: the same values); y may be x.
void batch_norm_normalise_cuda(void* stream, Values x, Values y, Values keep, int64_t N, int64_t C,
                               int64_t S, const float* mean, const float* inv_std);
// Backward with batch statistics, from v = the kept y (a = nullptr) or v = x (a = mean):
//   k1 = -mean(dy) * inv_std,  k2 = -b^2 mean(dy (v - a)) * inv_std  (b = 1 or inv_std),
//   dx = dy * inv_std + k1 + (v - a) * k2.
// k (2C floats) is scratch; dx may be dy.
void batch_norm_backward_cuda(void* stream, Values dy, Values v, const float* a, Values dx,
                              int64_t N, int64_t C, int64_t S, const float* inv_std, float* k);
// Backward with fixed statistics: dx = dy * inv_std_c; dx may be dy.
void batch_norm_backward_global_cuda(void* stream, Values dy, Values dx, int64_t N, int64_t C,
                                     int64_t S, const float* inv_std);
