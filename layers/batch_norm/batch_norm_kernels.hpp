// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm's CPU loops (batch_norm.cpp): the normalising pass (with or without an absorbed Scale
// and ReLU), the absorbed ReLU's backward mask, and the input gradient. Each runs over one
// contiguous run of a channel-runs split (crema/layers/channel_runs.hpp); the per-channel sums
// are crema/layers/channel_reduce.hpp's.
#pragma once
#include <algorithm>
#include <cstdint>

#include "crema/layers/channel_runs.hpp"

namespace crema::layers::batch_norm {
constexpr int64_t kWork = 1 << 14;  // elements per parallel task, about

// z = relu(((x - mu) * is) * g + b) (kRelu; negative slope `slope`) or without the relu (g = 1,
// b = 0: the plain normalisation); the normalised value also into keep when given.
template <int St, bool kRelu>
inline void normalise_affine(const float* x, float* z, float* keep, Per<St> mu, Per<St> is,
                             Per<St> g, Per<St> b, float slope, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = (x[i] - mu[i]) * is[i];
    if (keep) keep[i] = v;
    const float a = v * g[i] + b[i];
    z[i] = kRelu ? (a > 0.f ? a : a * slope) : a;
  }
}

// dz *= (z > 0 ? 1 : slope): the ReLU's backward, in place.
inline void relu_mask(const float* z, float* dz, float slope, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dz[i] = z[i] > 0.f ? dz[i] : dz[i] * slope;
}

// dx = dy * k0 + k1 + (v - a) * k2 (v == nullptr: dx = dy * k0).
template <int St>
inline void input_grad(const float* dy, const float* v, float* dx, Per<St> k0, Per<St> k1,
                       Per<St> a, Per<St> k2, int64_t n) {
  if (v) {
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * k0[i] + k1[i] + (v[i] - a[i]) * k2[i];
  } else {
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * k0[i];
  }
}

}  // namespace crema::layers::batch_norm
