// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm's CPU loops (batch_norm.cpp): the normalising pass (with or without an absorbed Scale
// and ReLU), the absorbed ReLU's backward mask, and the input gradient. Each runs over one
// contiguous run of a channel-runs split (crema/layers/channel_runs.hpp); the per-channel sums
// are crema/layers/channel_reduce.hpp's. Each is a template over the storage types of the
// tensors it reads and writes (float, or uint16_t for bf16: crema/bf16.hpp), computing in float;
// with float storage crema::load and crema::store are plain reads and writes. Their callers
// write bf16 results through write_blocks, which rounds float blocks with crema::store_bf16 where
// the CPU converts fast.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "crema/bf16.hpp"
#include "crema/layers/channel_runs.hpp"

namespace crema::layers::batch_norm {
constexpr int64_t kWork = 1 << 14;    // elements per parallel task, about
constexpr int64_t kRoundBlock = 512;  // float results per block rounded into a bf16 run

// Runs a kernel over n elements whose results go to dst (and dst2, when not null; the same type):
// fn(out, out2, o, m) writes the results of elements o .. o + m - 1 to out[0 .. m). fp32 runs, and
// bf16 ones on a CPU without fast bf16 stores, are written directly (one call); otherwise fn
// writes float blocks that crema::store_bf16 rounds into the run (GCC's vectorised crema::store
// made the normalising pass and the input gradient slower on bf16 than on fp32).
template <class T, class Fn>
inline void write_blocks(T* dst, T* dst2, int64_t n, const Fn& fn) {
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (crema::bf16_stores_fast()) {
      float out[kRoundBlock], second[kRoundBlock];
      float* out2 = dst2 ? second : nullptr;
      for (int64_t o = 0; o < n; o += kRoundBlock) {
        const int64_t m = std::min(kRoundBlock, n - o);
        fn(out, out2, o, m);
        crema::store_bf16(dst + o, out, m);
        if (out2) crema::store_bf16(dst2 + o, out2, m);
      }
      return;
    }
  }
  fn(dst, dst2, int64_t{0}, n);
}

// z = relu(((x - mu) * is) * g + b) (kRelu; negative slope `slope`) or without the relu (g = 1,
// b = 0: the plain normalisation); the normalised value also into keep (kKeep; stored as z is:
// y is kept in place, where x and z are one tensor). Without kAffine g and b are not read (g = 1,
// b = 0): over rows they are arrays, two loads per value.
template <int St, bool kRelu, bool kKeep, bool kAffine, class X, class Z>
inline void normalise_affine(const X* x, Z* z, Z* keep, Per<St> mu, Per<St> is, Per<St> g,
                             Per<St> b, float slope, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = (crema::load(x + i) - mu[i]) * is[i];
    if constexpr (kKeep) crema::store(keep + i, v);
    const float a = kAffine ? v * g[i] + b[i] : v;
    crema::store(z + i, kRelu ? (a > 0.f ? a : a * slope) : a);
  }
}

// dz *= (z > 0 ? 1 : slope): the ReLU's backward, in place (z and dz: one tensor's data and diff).
template <class T>
inline void relu_mask(const T* z, T* dz, float slope, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float d = crema::load(dz + i);
    crema::store(dz + i, crema::load(z + i) > 0.f ? d : d * slope);
  }
}

// dE/dy as the input gradient reads it: dy, or (kMask) dy masked by the absorbed ReLU whose
// output is z (dy where z > 0, else dy * slope), where dy was not masked in place.
template <bool kMask, class T>
struct Grad {
  const T* dy;
  const T* z;
  float slope;
  float operator[](int64_t i) const {
    const float d = crema::load(dy + i);
    if constexpr (kMask) return crema::load(z + i) > 0.f ? d : d * slope;
    return d;
  }
};

// dx = dy * k0 + k1 + (v - a) * k2. dx may be dy (in place).
template <int St, bool kMask, class G, class V, class D>
inline void input_grad(Grad<kMask, G> dy, const V* v, D* dx, Per<St> k0, Per<St> k1, Per<St> a,
                       Per<St> k2, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    crema::store(dx + i, dy[i] * k0[i] + k1[i] + (crema::load(v + i) - a[i]) * k2[i]);
}

// The same with a = 0 (the kept y): over rows, where the constants are arrays, a load fewer.
template <int St, bool kMask, class G, class V, class D>
inline void input_grad(Grad<kMask, G> dy, const V* v, D* dx, Per<St> k0, Per<St> k1, Per<St> k2,
                       int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    crema::store(dx + i, dy[i] * k0[i] + k1[i] + crema::load(v + i) * k2[i]);
}

// dx = dy * k0 (global statistics: constants).
template <int St, bool kMask, class G, class D>
inline void input_grad(Grad<kMask, G> dy, D* dx, Per<St> k0, int64_t n) {
  for (int64_t i = 0; i < n; ++i) crema::store(dx + i, dy[i] * k0[i]);
}

}  // namespace crema::layers::batch_norm
