// SPDX-License-Identifier: BSD-2-Clause
// The CPU softmax shared by the Softmax and SoftmaxWithLoss plugins (header-only: each plugin
// compiles its own copy). Data is viewed as (outer, C, inner), the softmax runs over C:
//   y[o,c,j] = exp(x[o,c,j] - m[o,j]) / sum_c' exp(x[o,c',j] - m[o,j]),  m[o,j] = max_c x[o,c,j]
//   dE/dx[o,c,j] = y[o,c,j] (dE/dy[o,c,j] - sum_c' dE/dy[o,c',j] y[o,c',j])
// With inner > 1 the work is done on blocks of up to kBlock positions j, one channel row at a
// time, so every inner loop is contiguous; in place (y == x, dx == dy) is safe.
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "crema/layer.hpp"

namespace crema_softmax {

constexpr int64_t kBlock = 512;

inline int64_t grain_for(int64_t work_per_task) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work_per_task));
}

inline void forward(const float* x, float* y, int64_t outer, int64_t channels, int64_t inner) {
  if (outer == 0 || channels == 0 || inner == 0) return;
  if (inner == 1) {
    crema::parallel_for(outer, grain_for(channels), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const float* xr = x + o * channels;
        float* yr = y + o * channels;
        float m = -FLT_MAX, s = 0.f;
        for (int64_t c = 0; c < channels; ++c) m = std::max(m, xr[c]);
        for (int64_t c = 0; c < channels; ++c) s += (yr[c] = std::exp(xr[c] - m));
        const float inv = 1.f / s;
        for (int64_t c = 0; c < channels; ++c) yr[c] *= inv;
      }
    });
    return;
  }
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  auto task = [&](int64_t b, int64_t e) {
    float m[kBlock], s[kBlock];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / blocks, j0 = (t % blocks) * kBlock, n = std::min(kBlock, inner - j0);
      const float* xo = x + o * channels * inner + j0;
      float* yo = y + o * channels * inner + j0;
      for (int64_t j = 0; j < n; ++j) m[j] = xo[j], s[j] = 0.f;
      for (int64_t c = 1; c < channels; ++c) {
        const float* xr = xo + c * inner;
        for (int64_t j = 0; j < n; ++j) {  // not std::max: this form vectorises
          const float a = m[j], v = xr[j];
          m[j] = v > a ? v : a;
        }
      }
      for (int64_t c = 0; c < channels; ++c) {
        const float* xr = xo + c * inner;
        float* yr = yo + c * inner;
        for (int64_t j = 0; j < n; ++j) {
          yr[j] = std::exp(xr[j] - m[j]);
          s[j] += yr[j];
        }
      }
      for (int64_t j = 0; j < n; ++j) s[j] = 1.f / s[j];
      for (int64_t c = 0; c < channels; ++c) {
        float* yr = yo + c * inner;
        for (int64_t j = 0; j < n; ++j) yr[j] *= s[j];
      }
    }
  };
  crema::parallel_for(outer * blocks, grain_for(channels * std::min(inner, kBlock)), task);
}

inline void backward(const float* y, const float* dy, float* dx, int64_t outer, int64_t channels,
                     int64_t inner) {
  if (outer == 0 || channels == 0 || inner == 0) return;
  const int64_t blk = std::min(inner, kBlock), blocks = (inner + blk - 1) / blk;
  crema::parallel_for(outer * blocks, grain_for(channels * blk), [&](int64_t b, int64_t e) {
    float dot[kBlock];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / blocks, j0 = (t % blocks) * blk, n = std::min(blk, inner - j0);
      const int64_t base = o * channels * inner + j0;
      for (int64_t j = 0; j < n; ++j) dot[j] = 0.f;
      for (int64_t c = 0; c < channels; ++c) {
        const float* yr = y + base + c * inner;
        const float* gr = dy + base + c * inner;
        for (int64_t j = 0; j < n; ++j) dot[j] += gr[j] * yr[j];
      }
      for (int64_t c = 0; c < channels; ++c) {
        const float* yr = y + base + c * inner;
        const float* gr = dy + base + c * inner;
        float* xr = dx + base + c * inner;
        for (int64_t j = 0; j < n; ++j) xr[j] = yr[j] * (gr[j] - dot[j]);
      }
    }
  });
}

}  // namespace crema_softmax
