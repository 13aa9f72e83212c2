// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm's CPU loops (batch_norm.cpp): shifted per-plane sums, the normalising pass (with or
// without an absorbed Scale and ReLU), the absorbed ReLU's backward mask, and the input gradient.
// Each runs over one contiguous run of a channel-runs split (crema/layers/channel_runs.hpp).
#pragma once
#include <algorithm>
#include <cstdint>

#include "crema/layers/channel_runs.hpp"

namespace crema::layers::batch_norm {
constexpr int64_t kBlock = 512;     // float partial sums over at most this many values
constexpr int64_t kWork = 1 << 14;  // elements per parallel task, about

// Over n values: s1 = sum(u - a), s2 = sum((u - a)^2) (kStats), else s1 = sum(u),
// s2 = sum(u * (v - a)).
template <bool kStats>
inline void plane_sums(const float* u, const float* v, float a, int64_t n, double* s1, double* s2) {
  double d1 = 0, d2 = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    float a1 = 0.f, a2 = 0.f;
    if constexpr (kStats) {
#pragma omp simd reduction(+ : a1, a2)
      for (int64_t i = b; i < e; ++i) {
        const float t = u[i] - a;
        a1 += t;
        a2 += t * t;
      }
    } else {
#pragma omp simd reduction(+ : a1, a2)
      for (int64_t i = b; i < e; ++i) {
        a1 += u[i];
        a2 += u[i] * (v[i] - a);
      }
    }
    d1 += a1;
    d2 += a2;
  }
  *s1 = d1;
  *s2 = d2;
}

// z = relu(((x - mu) * is) * g + b) (kRelu; negative slope `slope`) or without the relu (g = 1,
// b = 0: the plain normalisation); the normalised value also into keep when given.
template <int St, bool kRelu>
inline void normalise_affine(const float* x, float* z, float* keep, Per<St> mu, Per<St> is, Per<St> g,
                      Per<St> b, float slope, int64_t n) {
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
inline void input_grad(const float* dy, const float* v, float* dx, Per<St> k0, Per<St> k1, Per<St> a,
                Per<St> k2, int64_t n) {
  if (v) {
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * k0[i] + k1[i] + (v[i] - a[i]) * k2[i];
  } else {
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * k0[i];
  }
}

}  // namespace crema::layers::batch_norm
