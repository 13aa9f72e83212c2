// SPDX-License-Identifier: BSD-2-Clause
// The GPU kernels read and write fp16 and bf16 blobs through crema::cuda::Values (CUDA's
// __half / __nv_bfloat16 conversions); the host reads and writes the same blobs (Tensor::to_float
// and from_float, the test harness's rounded references) with its own conversions. They must
// agree bit for bit, or a GPU run and its checks would differ by a rounding. Runs on the CPU:
// Values' load and store are host functions too (cuda_values_host.cu, compiled by nvcc); the
// last test runs them in a kernel, on the device's own conversion instructions (skipped without
// a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "crema/core/device.hpp"
#include "crema/core/fp16.hpp"
#include "crema/core/gemm_bf16.hpp"
#include "crema/plugin_abi.h"

float values_load(const void* p, int type, int64_t i);
void values_store(void* p, int type, int64_t i, float v);
void values_on_device(int type, const float* in, int64_t n, uint16_t* stored, float* loaded);

namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

uint16_t host_bf16(float f) {
  uint16_t out;
  crema::round_to_bf16(&f, 1, &out);
  return out;
}

// Every pattern widens to the host's value (NaN to a NaN).
TEST(CudaValues, LoadWidensEveryPatternAsTheHost) {
  for (uint32_t p = 0; p <= 0xffff; ++p) {
    const auto h = static_cast<uint16_t>(p);
    const float fp16 = values_load(&h, CREMA_FLOAT16, 0), bf16 = values_load(&h, CREMA_BFLOAT16, 0);
    if (std::isnan(crema::fp16_to_float(h)))
      EXPECT_TRUE(std::isnan(fp16)) << std::hex << p;
    else
      EXPECT_EQ(bits_of(fp16), bits_of(crema::fp16_to_float(h))) << std::hex << p;
    if (std::isnan(crema::bf16_to_float(h)))
      EXPECT_TRUE(std::isnan(bf16)) << std::hex << p;
    else
      EXPECT_EQ(bits_of(bf16), bits_of(crema::bf16_to_float(h))) << std::hex << p;
  }
}

// Values near every kind of boundary: ties between neighbours, fp16's overflow at 65520 and its
// subnormals, bf16's subnormal inputs, and random magnitudes over fp32's range.
std::vector<float> samples() {
  std::vector<float> v = {0.f,
                          -0.f,
                          1.f,
                          65504.f,
                          65519.f,
                          65520.f,
                          1e6f,
                          0x1p-14f,
                          0x1p-24f,
                          0x1p-25f,
                          0x1.8p-25f,
                          0x1.0p-26f,
                          1.00048828125f,  // 1 + 2^-11: fp16's tie, to even (1)
                          1.00146484375f,  // 1 + 3 * 2^-11: fp16's tie, to even (1 + 2^-9)
                          1.00390625f,     // 1 + 2^-8: bf16's tie
                          std::numeric_limits<float>::infinity(),
                          3.4e38f,
                          1e-40f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-30.f, 30.f), unit(-1.f, 1.f);
  for (int i = 0; i < 200000; ++i) v.push_back(unit(rng) * std::exp2(exponent(rng)));
  std::uniform_int_distribution<int> deep(0, 149);  // down through fp32's subnormals
  for (int i = 0; i < 20000; ++i) v.push_back(std::ldexp(unit(rng), -deep(rng)));
  const size_t n = v.size();
  for (size_t i = 0; i < n; ++i) v.push_back(-v[i]);
  return v;
}

TEST(CudaValues, StoreRoundsAsTheHost) {
  for (float f : samples()) {
    uint16_t fp16 = 0, bf16 = 0;
    values_store(&fp16, CREMA_FLOAT16, 0, f);
    values_store(&bf16, CREMA_BFLOAT16, 0, f);
    EXPECT_EQ(fp16, crema::float_to_fp16(f)) << f;
    // The host's bf16 flushes subnormal inputs to zero, as the CPU's conversion instruction does;
    // CUDA keeps them. Both are within bf16's rounding of the value; only normal ones must agree.
    if (f == 0.f || std::fabs(f) >= std::numeric_limits<float>::min()) {
      EXPECT_EQ(bf16, host_bf16(f)) << f;
    }
  }
}

TEST(CudaValues, KernelsRoundAsTheHost) {
  if (crema::device::count() == 0)
    GTEST_SKIP() << "no CUDA device: " << crema::device::unavailable_reason();
  const std::vector<float> in = samples();
  const auto n = static_cast<int64_t>(in.size());
  std::vector<uint16_t> stored(in.size());
  std::vector<float> loaded(in.size());
  for (int type : {CREMA_FLOAT16, CREMA_BFLOAT16}) {
    values_on_device(type, in.data(), n, stored.data(), loaded.data());
    int mismatches = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const float f = in[i];
      const bool fp16 = type == CREMA_FLOAT16;
      // bf16: the host flushes fp32 subnormals (see StoreRoundsAsTheHost).
      if (!fp16 && f != 0.f && std::fabs(f) < std::numeric_limits<float>::min()) continue;
      const uint16_t want = fp16 ? crema::float_to_fp16(f) : host_bf16(f);
      const float widened = fp16 ? crema::fp16_to_float(want) : crema::bf16_to_float(want);
      if (stored[i] != want || bits_of(loaded[i]) != bits_of(widened)) {
        if (++mismatches <= 5)
          ADD_FAILURE() << (fp16 ? "fp16" : "bf16") << " of " << f << ": device " << stored[i]
                        << ", host " << want;
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(CudaValues, NanStaysNanAndFp32PassesThrough) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  uint16_t h = 0;
  values_store(&h, CREMA_FLOAT16, 0, nan);
  EXPECT_TRUE(std::isnan(crema::fp16_to_float(h)));
  values_store(&h, CREMA_BFLOAT16, 0, nan);
  EXPECT_TRUE(std::isnan(crema::bf16_to_float(h)));
  float values[3] = {0.f, 0.f, 0.f};
  values_store(values, CREMA_FLOAT32, 2, 0.1f);
  EXPECT_EQ(values[2], 0.1f);
  EXPECT_EQ(values_load(values, CREMA_FLOAT32, 2), 0.1f);
  const uint16_t pair[2] = {0x3c00, 0xc000};  // fp16 1 and -2: the index steps 2 bytes
  EXPECT_EQ(values_load(pair, CREMA_FLOAT16, 1), -2.f);
}

}  // namespace
