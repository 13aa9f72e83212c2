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
// whole run faster on a CPU with AVX512_BF16.
#ifndef CREMA_BF16_HPP
#define CREMA_BF16_HPP

#include <cstdint>
#include <cstring>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CREMA_BF16_RUNTIME_AVX512 1
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

#if CREMA_BF16_RUNTIME_AVX512
namespace detail {
// vcvtne2ps2bf16 on 32 values at a time (then vcvtneps2bf16 on 16), compiled for AVX512_BF16
// whatever the build's flags;
// returns how many values it rounded (the rest are the caller's).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) inline int64_t store_bf16_avx512(
    uint16_t* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)  // two registers per instruction, as the host's round_bf16
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(
                                     _mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i))));
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i))));
  return i;
}
}  // namespace detail
#endif

// Whether this CPU rounds runs of fp32 into bf16 with one instruction per 16 values
// (AVX512_BF16, checked once): store_bf16() then beats store() by far, so a loop that writes
// bf16 gains from computing into a small fp32 block and rounding it there.
inline bool bf16_stores_fast() {
#if CREMA_BF16_RUNTIME_AVX512
  static const bool fast = __builtin_cpu_supports("avx512bf16");
  return fast;
#else
  return false;
#endif
}

// n fp32 results rounded into a bf16 tensor at once, to store()'s bits: by vcvtneps2bf16 where
// the CPU has it (bf16_stores_fast()). Loops that write bf16 compute into a small fp32 chunk and
// round it here: store() above, as GCC 12 vectorises it, costs more per element than the bytes
// it saves (measured on ReLU, Eltwise and BatchNorm).
inline void store_bf16(uint16_t* dst, const float* src, int64_t n) {
  int64_t i = 0;
#if CREMA_BF16_RUNTIME_AVX512
  if (bf16_stores_fast()) i = detail::store_bf16_avx512(dst, src, n);
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
