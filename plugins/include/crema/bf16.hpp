// SPDX-License-Identifier: BSD-2-Clause
//
// bf16 values as tensors store them (ABI 1.5 storage types): the upper 16 bits of an fp32 pattern,
// held in uint16_t. Widening is exact; narrowing rounds to nearest even as the host's bf16 GEMMs
// and AVX512_BF16's vcvtneps2bf16 do (NaN stays NaN, subnormals become zero of their sign), so a
// value stored by a layer and one rounded by the host are the same bits.
//
// A kernel written once over the storage type reads and writes through load() and store():
//   template <class T> void scale(const T* x, T* y, float a, int64_t n) {
//     for (int64_t i = 0; i < n; ++i) crema::store(y + i, a * crema::load(x + i));
//   }
// Both are branch-free bit operations that GCC and Clang vectorise; store_bf16() below rounds a
// whole run faster where the build targets AVX512_BF16.
#ifndef CREMA_BF16_HPP
#define CREMA_BF16_HPP

#include <cstdint>
#include <cstring>
#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

namespace crema {

inline float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t magnitude = u & 0x7fffffffu;
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t nan = (u >> 16) | 0x40u;
  const uint32_t zero = (u >> 16) & 0x8000u;
  return static_cast<uint16_t>(magnitude > 0x7f800000u  ? nan
                               : (u & 0x7f800000u) == 0 ? zero
                                                        : rounded);
}

// Element access over either storage type: fp32 tensors hold float, bf16 tensors uint16_t.
inline float load(const float* p) { return *p; }
inline float load(const uint16_t* p) { return bf16_to_float(*p); }
inline void store(float* p, float v) { *p = v; }
inline void store(uint16_t* p, float v) { *p = float_to_bf16(v); }

// n fp32 results rounded into a bf16 tensor at once: on a build for AVX512_BF16
// (-march=native on such a CPU) by vcvtneps2bf16, 16 at a time, to the same bits. Loops that
// write bf16 compute into a small fp32 chunk and round it here: store() above, as GCC 12
// vectorises it, costs more per element than the bytes it saves (measured on ReLU and Eltwise).
inline void store_bf16(uint16_t* dst, const float* src, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512BF16__)
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i))));
#endif
  for (; i < n; ++i) dst[i] = float_to_bf16(src[i]);
}

// Where a chunk of fp32 results goes before store_results: the tensor itself when it is fp32,
// else the caller's scratch (then rounded once into the bf16 tensor).
inline float* results_in(float* tensor, float*) { return tensor; }
inline float* results_in(uint16_t*, float* scratch) { return scratch; }
inline void store_results(const float*, float*, int64_t) {}  // already in place
inline void store_results(const float* results, uint16_t* tensor, int64_t n) {
  store_bf16(tensor, results, n);
}

}  // namespace crema

#endif  // CREMA_BF16_HPP
