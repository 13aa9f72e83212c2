// SPDX-License-Identifier: BSD-2-Clause
// IEEE binary16 (fp16) to and from fp32, bit-exact and without hardware: the storage type of a
// GPU fp16 run's blobs, read and written on the host by Tensor::to_float() / from_float().
// Narrowing rounds to nearest, ties to even; subnormals are kept down to 2^-24, magnitudes from
// 65520 on become infinity, NaN stays NaN (quieted, its upper payload bits kept): the bits of
// F16C's vcvtps2ph (CUDA's __float2half_rn rounds numbers alike). Widening is exact.
// docs/PRECISION.md.
#pragma once
#include <cstdint>
#include <cstring>

namespace crema {

inline float fp16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity, or NaN with its payload
  } else if (exponent == 0) {
    // Zero or a subnormal, mantissa * 2^-24: exact in fp32, where it is a normal number.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    std::memcpy(&bits, &magnitude, sizeof bits);
    bits |= sign;
  } else {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint16_t float_to_fp16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u)  // NaN: quiet, with the payload's upper ten bits
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // from 65520 (halfway past 65504) up
  if (magnitude >= 0x38800000u) {                       // 2^-14 up: an fp16 normal number
    // Rebias the exponent (127 to 15) and round the 13 dropped bits to nearest even; a carry out
    // of the mantissa steps the exponent, as it should.
    const uint32_t rebiased = magnitude - ((127u - 15u) << 23);
    const uint32_t rounded = rebiased + 0xfffu + ((rebiased >> 13) & 1u);
    return static_cast<uint16_t>(sign | (rounded >> 13));
  }
  if (magnitude < 0x33000000u) return sign;  // below 2^-25, half the smallest subnormal: zero
  // A subnormal: the value in units of 2^-24, rounded to nearest even (2^-25 itself ties to 0;
  // a result of 1024 is the smallest normal, encoded alike).
  const uint32_t exponent = magnitude >> 23;  // 102 (2^-25) to 112 (2^-15)
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // 14 to 24
  uint32_t units = significand >> shift;
  const uint32_t rest = significand & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (units & 1u))) ++units;
  return static_cast<uint16_t>(sign | units);
}

}  // namespace crema
