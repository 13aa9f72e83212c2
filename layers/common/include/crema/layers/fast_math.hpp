// SPDX-License-Identifier: BSD-2-Clause
// Elementwise math that the compiler vectorises (libm's expf/tanhf are scalar calls).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace crema::layers {

// exp(t) for t in [-87, 88] (clamped): exp(t) = 2^n exp(r), n = nearbyint(t / ln 2),
// r = t - n ln 2 (ln 2 in two parts), exp(r) by Cephes' expf polynomial (S. Moshier).
inline float exp_poly(float t) {
  t = std::min(std::max(t, -87.f), 88.f);
  const float n = std::nearbyint(t * 1.44269504088896341f);
  const float r = (t - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.f;
  // 2^n added to the exponent field, in unsigned arithmetic: shifting a negative int is
  // undefined in C++17, the unsigned shift and wrap-around give the same bits.
  const uint32_t scale = static_cast<uint32_t>(static_cast<int32_t>(n)) << 23;
  return __builtin_bit_cast(float, __builtin_bit_cast(uint32_t, e) + scale);
}

}  // namespace crema::layers
