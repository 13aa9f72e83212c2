// SPDX-License-Identifier: BSD-2-Clause
// fp16 (IEEE binary16) storage on the host: crema/core/fp16.hpp's conversions against the
// format's definition (every pattern, every halfway point, the range's ends), against the
// testing library's rounding by definition and, where the compiler offers F16C, against the CPU's
// own conversion; and a Tensor stored in fp16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "crema/core/fp16.hpp"
#include "crema/core/tensor.hpp"
#include "crema/testing/harness.hpp"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace crema {
namespace {

bool is_fp16_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

// The value of an fp16 pattern by the format's definition: sign, 5 exponent bits (bias 15),
// 10 mantissa bits; exponent 0 holds the subnormals, mantissa * 2^-24.
double fp16_value(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0x1f) return mantissa ? NAN : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(Fp16, EveryPatternWidensToItsValueAndNarrowsBackToItself) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = fp16_to_float(h);
    if (is_fp16_nan(h)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << i;
      const uint16_t back = float_to_fp16(f);
      EXPECT_TRUE(is_fp16_nan(back)) << std::hex << i << " -> " << back;
      EXPECT_EQ(back & 0x8000, h & 0x8000) << std::hex << i;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), fp16_value(h)) << std::hex << i;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << i;  // -0 stays -0
    ASSERT_EQ(float_to_fp16(f), h) << std::hex << i;
  }
}

// Between each two neighbours (subnormals, normals, and 65504 and the next step, 65536, which
// is infinity): the midpoint goes to the one with an even mantissa, anything above it up,
// anything below it down; of either sign.
TEST(Fp16, RoundsToNearestTiesToEvenBetweenEveryTwoNeighbours) {
  for (uint32_t i = 0; i < 0x7c00; ++i) {
    for (uint16_t sign : {uint16_t{0}, uint16_t{0x8000}}) {
      const auto lo = static_cast<uint16_t>(i | sign), hi = static_cast<uint16_t>((i + 1) | sign);
      const float a = fp16_to_float(lo);
      // The upper neighbour of 65504 is 65536, past the range: fp16 writes it as infinity.
      const float b = i + 1 == 0x7c00 ? std::copysign(65536.f, a) : fp16_to_float(hi);
      const float mid = (a + b) / 2;  // exact: 12 significant bits
      ASSERT_EQ(float_to_fp16(mid), (i & 1) ? hi : lo) << std::hex << i << " " << sign;
      ASSERT_EQ(float_to_fp16(std::nextafter(mid, b)), hi) << std::hex << i << " " << sign;
      ASSERT_EQ(float_to_fp16(std::nextafter(mid, a)), lo) << std::hex << i << " " << sign;
    }
  }
}

TEST(Fp16, RangeEndsAndSigns) {
  EXPECT_EQ(float_to_fp16(1.f), 0x3c00);
  EXPECT_EQ(float_to_fp16(-1.f), 0xbc00);
  EXPECT_EQ(float_to_fp16(-2.5f), 0xc100);
  EXPECT_EQ(float_to_fp16(1.f + 1.f / 2048), 0x3c00);  // halfway: to the even 1.0
  EXPECT_EQ(float_to_fp16(1.f + 3.f / 2048), 0x3c02);  // halfway: to the even 1 + 2^-9
  EXPECT_EQ(float_to_fp16(65504.f), 0x7bff);           // the largest finite value
  EXPECT_EQ(float_to_fp16(65519.f), 0x7bff);           // below halfway to 65536
  EXPECT_EQ(float_to_fp16(65520.f), 0x7c00);           // halfway, to the even: infinity
  EXPECT_EQ(float_to_fp16(-65520.f), 0xfc00);
  EXPECT_EQ(float_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(float_to_fp16(INFINITY), 0x7c00);
  EXPECT_EQ(float_to_fp16(-INFINITY), 0xfc00);
  EXPECT_EQ(float_to_fp16(std::ldexp(1.f, -14)), 0x0400);     // the smallest normal
  EXPECT_EQ(float_to_fp16(std::ldexp(1023.f, -24)), 0x03ff);  // the largest subnormal
  EXPECT_EQ(float_to_fp16(std::ldexp(1.f, -24)), 0x0001);     // the smallest subnormal
  EXPECT_EQ(float_to_fp16(-std::ldexp(1.f, -24)), 0x8001);
  EXPECT_EQ(float_to_fp16(std::ldexp(3.f, -25)), 0x0002);  // 1.5 steps: to the even 2
  EXPECT_EQ(float_to_fp16(std::ldexp(1.f, -25)), 0x0000);  // half a step: to the even 0
  EXPECT_EQ(float_to_fp16(-std::ldexp(1.f, -25)), 0x8000);
  EXPECT_EQ(float_to_fp16(std::nextafter(std::ldexp(1.f, -25), 1.f)), 0x0001);
  EXPECT_EQ(float_to_fp16(std::ldexp(1.f, -26)), 0x0000);
  EXPECT_EQ(float_to_fp16(1e-45f), 0x0000);  // an fp32 subnormal
  EXPECT_EQ(float_to_fp16(0.f), 0x0000);
  EXPECT_EQ(float_to_fp16(-0.f), 0x8000);
  EXPECT_TRUE(is_fp16_nan(float_to_fp16(NAN)));
  EXPECT_TRUE(is_fp16_nan(float_to_fp16(-NAN)));
  // A NaN whose payload lies only in the bits fp16 drops stays a NaN.
  uint32_t low_payload = 0x7f800001u;
  float nan_low;
  std::memcpy(&nan_low, &low_payload, sizeof nan_low);
  EXPECT_TRUE(is_fp16_nan(float_to_fp16(nan_low)));
}

// Floats across fp16's whole range and beyond: random significands with exponents from 2^-30
// to 2^18, and random bit patterns.
std::vector<float> sweep() {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_int_distribution<int> exponent(127 - 30, 127 + 18);
  std::vector<float> out;
  for (int i = 0; i < 1 << 20; ++i) {
    uint32_t b = bits(rng);
    if (i % 4 != 0) b = (b & 0x807fffffu) | (static_cast<uint32_t>(exponent(rng)) << 23);
    float f;
    std::memcpy(&f, &b, sizeof f);
    out.push_back(f);
  }
  return out;
}

TEST(Fp16, AgreesWithRoundingByDefinition) {
  for (float f : sweep()) {
    if (std::isnan(f)) continue;
    const double want = crema::testing::round_to_math(f, CREMA_FLOAT16);
    const float got = fp16_to_float(float_to_fp16(f));
    ASSERT_EQ(static_cast<double>(got), want) << f;
    if (got == 0) {
      ASSERT_EQ(std::signbit(got), std::signbit(f)) << f;
    }
  }
}

TEST(Fp16, AgreesWithTheCpusConversion) {
#if defined(__F16C__)
  for (float f : sweep()) {
    const auto want = static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
    ASSERT_EQ(float_to_fp16(f), want) << f;
  }
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    if (is_fp16_nan(h)) continue;  // F16C quiets a signalling NaN as it widens; both are NaN
    ASSERT_EQ(fp16_to_float(h), _cvtsh_ss(h)) << std::hex << i;
  }
#else
  GTEST_SKIP() << "this build does not target F16C (-mf16c): nothing to compare against";
#endif
}

TEST(Fp16, TensorStoredInFp16RoundTripsThroughFloat) {
  Tensor t(Shape{2, 4});
  t.set_dtype(CREMA_FLOAT16);
  EXPECT_EQ(t.dtype(), CREMA_FLOAT16);
  EXPECT_EQ(t.element_bytes(), 2u);
  EXPECT_EQ(t.buffer_bytes(), 8u * 2u);
  const std::vector<float> in = {1.f,  -2.5f, 0.1f, 65504.f,
                                 1e5f, 1e-8f, -0.f, std::ldexp(1.f, -24)};
  t.from_float(in.data());
  // The stored patterns themselves.
  const auto* raw = static_cast<const uint16_t*>(t.host_raw());
  EXPECT_EQ(raw[0], 0x3c00);
  EXPECT_EQ(raw[1], 0xc100);
  EXPECT_EQ(raw[2], 0x2e66);  // 0.1 = 1.6 * 2^-4: mantissa 0.6 * 1024 = 614.4, to 614
  EXPECT_EQ(raw[3], 0x7bff);
  EXPECT_EQ(raw[4], 0x7c00);
  EXPECT_EQ(raw[5], 0x0000);
  EXPECT_EQ(raw[6], 0x8000);
  EXPECT_EQ(raw[7], 0x0001);
  const std::vector<float> out = t.to_float();
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[0], 1.f);
  EXPECT_EQ(out[1], -2.5f);
  EXPECT_EQ(out[2], 0.0999755859375f);  // 1638 * 2^-14
  EXPECT_EQ(out[3], 65504.f);
  EXPECT_EQ(out[4], INFINITY);
  EXPECT_EQ(out[5], 0.f);
  EXPECT_TRUE(std::signbit(out[6]));
  EXPECT_EQ(out[7], std::ldexp(1.f, -24));
  // The diff is stored alike, apart from the data.
  const std::vector<float> grad = {0.5f, 0.25f, -8.f, 3.f, 2048.f, 2049.f, 2051.f, -1.f};
  t.from_float(grad.data(), true);
  const std::vector<float> grad_back = t.to_float(true);
  EXPECT_EQ(grad_back[4], 2048.f);
  EXPECT_EQ(grad_back[5], 2048.f);  // halfway between 2048 and 2050: to the even 2048
  EXPECT_EQ(grad_back[6], 2052.f);  // halfway between 2050 and 2052: to the even 2052
  EXPECT_EQ(t.to_float()[1], -2.5f);
  // Copies go between tensors of one type only.
  Tensor same(Shape{2, 4}), bf16(Shape{2, 4});
  same.set_dtype(CREMA_FLOAT16);
  bf16.set_dtype(CREMA_BFLOAT16);
  same.copy_from(t);
  EXPECT_EQ(same.to_float()[2], out[2]);
  EXPECT_THROW(bf16.copy_from(t), std::runtime_error);
  EXPECT_THROW(bf16.share_data(t), std::runtime_error);
}

TEST(Fp16, Fp32ReadsOfAnFp16TensorAreRefusedNamingTheType) {
  Tensor t(Shape{3});
  t.set_dtype(CREMA_FLOAT16);
  try {
    t.host_data();
    FAIL() << "an fp16 tensor was read as fp32";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is stored in fp16"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.mutable_host_diff(), std::runtime_error);
  // N,H,W,C is a bf16 order only.
  Tensor four(Shape{1, 2, 2, 2});
  four.set_dtype(CREMA_FLOAT16);
  EXPECT_THROW(four.set_channels_last(true), std::runtime_error);
  EXPECT_FALSE(four.channels_last());
  EXPECT_THROW(t.set_dtype(static_cast<crema_dtype>(7)), std::runtime_error);
}

}  // namespace
}  // namespace crema
