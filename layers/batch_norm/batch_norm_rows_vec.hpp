// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm's passes over rows whose channel count C is a multiple of 16 (the N,H,W,C blobs of
// ResNets; batch_norm.cpp): each row is read in order, 16 channels at a time
// (crema/layers/vec16.hpp), with those channels' constants loaded from C-long arrays that stay
// in the L1 cache, and bf16 values widened and rounded in registers. batch_norm_rows.hpp
// instead spreads the constants over the 2048 lanes of a run (32 KiB for four of them) and
// rounds a float block into bf16 in a second step. Measured on ResNet-50's 8x256x56x56, one
// thread: BatchNorm with its Scale and ReLU 2.35-2.51 ms forward and 3.67-3.69 ms backward here,
// 3.64-3.68 and 4.59-4.73 ms there (BENCHMARKS.md). Orders that walk a 16-channel group down
// several rows, with its constants in registers, were slower on tensors that do not fit the
// caches (backward 2.5-3x): the hardware prefetchers follow one stream per tensor, not a stride
// of C.
// Sums: per block of rows and channel in float (rows of fewer than 64 channels a few rows at a
// time in registers first), in double over the blocks in block order: the result does not depend
// on the thread count.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/vec16.hpp"

namespace crema::layers::batch_norm {
using vec16::Vec;
constexpr int64_t kBlockValues = 1 << 14;  // values per block of rows, about
constexpr int64_t kSumValuesAtOnce = 64;   // values of short rows the sums add in registers first

// Blocks of R whole rows, R from the channel count alone (so the sums' order is fixed).
struct RowBlocks {
  int64_t rows = 0, channels = 0, R = 1, count = 0;
  RowBlocks() = default;
  RowBlocks(int64_t r, int64_t c)
      : rows(r), channels(c), R(std::max<int64_t>(1, kBlockValues / c)), count((r + R - 1) / R) {}
  // Whether the rows' channels come in whole 16-channel groups.
  static bool applies(int64_t channels) { return channels > 0 && channels % vec16::kLanes == 0; }
};

// fn(r0, r1) for each block of rows, on the host's threads.
template <class Fn>
void for_row_blocks(const RowBlocks& b, const Fn& fn) {
  if (b.count <= 0) return;
  crema::parallel_for(b.count, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t k = b0; k < b1; ++k) fn(k * b.R, std::min(b.rows, (k + 1) * b.R));
  });
}

// totals[c] += sum over the rows of p, totals[C + c] += sum of p * q, where term(e, c, p, q) sets
// the 16 lanes of p and q for the values at flat offset e, channels c .. c + 15. partial is
// scratch kept by the caller.
template <class Term>
void row_group_sums(const RowBlocks& b, const Term& term, std::vector<double>& partial,
                    double* totals) {
  const int64_t C = b.channels;
  if (b.count <= 0) return;
  partial.resize(b.count * 2 * C);  // every block writes all of its 2 C sums
  // Rows of fewer than 64 channels go a few rows (64 values, in order) at a time through
  // registers, so the float sums are not loaded and stored for every 16 values.
  const int64_t at_once = std::max<int64_t>(1, kSumValuesAtOnce / C);
  crema::parallel_for(b.count, 1, [&](int64_t b0, int64_t b1) {
    // A copy: the stores into the sums cannot alias what it captured (as in row_reduce).
    const Term f = term;
    std::vector<float> block_sums(2 * C);
    for (int64_t k = b0; k < b1; ++k) {
      std::fill(block_sums.begin(), block_sums.end(), 0.f);
      float* const a1 = block_sums.data();
      float* const a2 = a1 + C;
      const int64_t end = std::min(b.rows, (k + 1) * b.R);
      for (int64_t r = k * b.R; r < end; r += at_once) {
        const int64_t n = std::min(at_once, end - r);
        if (n == 1) {  // a row of 64 channels or more (or a block's last short row)
          for (int64_t c = 0, e = r * C; c < C; c += vec16::kLanes) {
            Vec p, q;
            f(e + c, c, p, q);
            vec16::store(a1 + c, vec16::load(a1 + c) + p);
            vec16::store(a2 + c, vec16::load(a2 + c) + p * q);
          }
          continue;
        }
        for (int64_t c = 0; c < C; c += vec16::kLanes) {
          Vec s1 = {}, s2 = {};
          for (int64_t i = 0; i < n; ++i) {
            Vec p, q;
            f((r + i) * C + c, c, p, q);
            s1 += p;
            s2 += p * q;
          }
          vec16::store(a1 + c, vec16::load(a1 + c) + s1);
          vec16::store(a2 + c, vec16::load(a2 + c) + s2);
        }
      }
      double* out = partial.data() + k * 2 * C;
      for (int64_t j = 0; j < 2 * C; ++j) out[j] = block_sums[j];
    }
  });
  for (int64_t k = 0; k < b.count; ++k)
    for (int64_t j = 0; j < 2 * C; ++j) totals[j] += partial[k * 2 * C + j];
}

// v where z > 0, else v * slope: the ReLU (z = v), or its backward on v = dy (z its output).
inline Vec leaky_where(Vec v, Vec z, float slope) { return z > 0.f ? v : v * slope; }

// z = relu((x - mu) * is * g + b) over the rows r0 .. r1 of C channels (see normalise_affine in
// batch_norm_kernels.hpp for the flags); x and z may be one tensor (in place).
template <bool kRelu, bool kKeep, bool kAffine, class X, class Z>
void normalise_rows(const X* x, Z* z, Z* keep, const float* mu, const float* is, const float* g,
                    const float* b, float slope, int64_t C, int64_t r0, int64_t r1) {
  for (int64_t e0 = r0 * C; e0 < r1 * C; e0 += C)
    for (int64_t c = 0; c < C; c += vec16::kLanes) {
      const int64_t e = e0 + c;
      const Vec v = (vec16::load(x + e) - vec16::load(mu + c)) * vec16::load(is + c);
      if constexpr (kKeep) vec16::store(keep + e, v);
      const Vec a = kAffine ? v * vec16::load(g + c) + vec16::load(b + c) : v;
      vec16::store(z + e, kRelu ? leaky_where(a, a, slope) : a);
    }
}

// dE/dx over the rows r0 .. r1 of C channels from dy (masked by the absorbed ReLU's output z
// where kMask):
//   kForm 0: dx = dy * k0                            (global statistics)
//   kForm 1: dx = dy * k0 + k1 + v * k2              (v the kept y)
//   kForm 2: dx = dy * k0 + k1 + (v - a) * k2        (v the bottom x, a its mean)
// dx may be dy (in place): each value is read, then written.
template <bool kMask, int kForm, class G, class V, class D>
void input_grad_rows(const G* dy, const G* z, const V* v, D* dx, const float* k0, const float* k1,
                     const float* a, const float* k2, float slope, int64_t C, int64_t r0,
                     int64_t r1) {
  for (int64_t e0 = r0 * C; e0 < r1 * C; e0 += C)
    for (int64_t c = 0; c < C; c += vec16::kLanes) {
      const int64_t e = e0 + c;
      Vec d = vec16::load(dy + e);
      if constexpr (kMask) d = leaky_where(d, vec16::load(z + e), slope);
      Vec out = d * vec16::load(k0 + c);
      if constexpr (kForm == 1)
        out += vec16::load(k1 + c) + vec16::load(v + e) * vec16::load(k2 + c);
      if constexpr (kForm == 2)
        out += vec16::load(k1 + c) +
               (vec16::load(v + e) - vec16::load(a + c)) * vec16::load(k2 + c);
      vec16::store(dx + e, out);
    }
}

}  // namespace crema::layers::batch_norm
