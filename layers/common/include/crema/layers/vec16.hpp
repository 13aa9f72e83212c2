// SPDX-License-Identifier: BSD-2-Clause
// Sixteen fp32 lanes as one GCC vector (an AVX-512 register where the build targets it), loaded
// from and stored to fp32 or bf16 storage: for kernels that work on 16 channels of N,H,W,C rows
// at a time (Winograd's transforms, BatchNorm's passes over rows). Arithmetic is the vector
// extension's (+, -, *, ?: with a comparison).
#pragma once
#include <cstdint>
#include <cstring>
#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

#include "crema/bf16.hpp"

namespace crema::layers::vec16 {
constexpr int64_t kLanes = 16;
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef uint16_t Half16 __attribute__((vector_size(kLanes * sizeof(uint16_t))));
typedef uint32_t Word16 __attribute__((vector_size(kLanes * sizeof(uint32_t))));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }

// bf16 <-> fp32 lanes: a widening shift (vpmovzxwd and vpslld where the build targets AVX-512),
// and vcvtneps2bf16 where it targets AVX512_BF16 (crema's default -march=native on the CPUs that
// have it), else the portable rounding (the same bits: crema::store_bf16 rounds as the
// instruction does).
inline Vec load(const uint16_t* p) {
  Half16 h;
  std::memcpy(&h, p, sizeof h);
  const Word16 u = __builtin_convertvector(h, Word16) << 16;
  Vec v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}
inline void store(uint16_t* p, Vec v) {
#if defined(__AVX512BF16__)
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                      reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(reinterpret_cast<__m512>(v))));
#else
  float f[kLanes];
  std::memcpy(f, &v, sizeof f);
  crema::store_bf16(p, f, kLanes);
#endif
}

}  // namespace crema::layers::vec16
