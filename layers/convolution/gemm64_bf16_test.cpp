// SPDX-License-Identifier: BSD-2-Clause
// gemm64_bf16.hpp against a double-precision product of the same bf16-rounded operands, over
// row counts that leave partial tiles, 64 and 128 columns, both ways of reading B out of a
// weight matrix (the forward's W^T and dE/dx's W), A and C with leading dimensions wider than
// their rows, and on the host's two threads (as inside the plugin).
#include "gemm64_bf16.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "crema/bf16.hpp"
#include "crema/core/host.hpp"
#include "crema/layer.hpp"

namespace crema::layers {
namespace {

class Gemm64Bf16Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    crema::detail::host_ref() = crema::host_table();
    crema::set_num_threads(2);
  }
  void SetUp() override {
    if (!__builtin_cpu_supports("avx512bf16")) GTEST_SKIP() << "this CPU lacks AVX512_BF16";
  }
};

struct Case {
  int64_t rows;
  int k, n;
  bool b_transposed;  // B[k][n] = W[n][k] (the forward) rather than W[k][n] (dE/dx)
  int64_t lda_extra, ldc_extra;
};

float bf16(float v) { return crema::bf16_to_float(crema::float_to_bf16(v)); }

TEST_F(Gemm64Bf16Test, MatchesADoubleProductOfTheRoundedOperands) {
  const Case cases[] = {{1, 128, 64, true, 0, 0},     {6, 128, 64, false, 0, 0},
                        {77, 256, 64, true, 0, 0},    {200, 130, 128, false, 6, 64},
                        {1001, 512, 128, true, 0, 0}, {13, 64, 192, false, 2, 0}};
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const Case& t : cases) {
    SCOPED_TRACE(testing::Message() << t.rows << " rows, K " << t.k << ", N " << t.n
                                    << (t.b_transposed ? ", B = W^T" : ", B = W"));
    const int64_t lda = t.k + t.lda_extra, ldc = t.n + t.ldc_extra;
    std::vector<float> a32(t.rows * lda), w(static_cast<size_t>(t.k) * t.n);
    for (float& v : a32) v = normal(rng);
    for (float& v : w) v = normal(rng);
    std::vector<uint16_t> a(a32.size()), c(t.rows * ldc, 0x7fc0);  // NaN: untouched shows
    for (size_t i = 0; i < a.size(); ++i) a[i] = crema::float_to_bf16(a32[i]);
    // B[k][n] at w[k * ks + n * ns].
    const int64_t ks = t.b_transposed ? 1 : t.n, ns = t.b_transposed ? t.k : 1;
    Gemm64Bf16 gemm;
    gemm.set_b(w.data(), t.k, t.n, ks, ns);
    gemm.run(a.data(), lda, t.rows, c.data(), ldc);
    int worst_row = -1;
    double worst = 0;
    for (int64_t r = 0; r < t.rows; ++r)
      for (int n = 0; n < t.n; ++n) {
        double want = 0, scale = 0;
        for (int k = 0; k < t.k; ++k) {
          const double p = double(crema::bf16_to_float(a[r * lda + k])) * bf16(w[k * ks + n * ns]);
          want += p;
          scale += std::fabs(p);
        }
        // fp32 sums in another order, then one rounding to bf16 (2^-8 of the value).
        const double got = crema::bf16_to_float(c[r * ldc + n]);
        const double err = std::fabs(got - want) / (std::fabs(want) * 0x1p-8 + scale * 1e-6);
        if (!(err <= worst)) worst = err, worst_row = static_cast<int>(r);
      }
    EXPECT_LE(worst, 1.0) << "worst at row " << worst_row;
    for (int64_t r = 0; r < t.rows; ++r)  // the padding between rows of C is left alone
      for (int64_t j = t.n; j < ldc; ++j) ASSERT_EQ(c[r * ldc + j], 0x7fc0);
  }
}

TEST_F(Gemm64Bf16Test, AppliesOnlyToShapesItRuns) {
  EXPECT_TRUE(Gemm64Bf16::applies(64, 256));
  EXPECT_TRUE(Gemm64Bf16::applies(128, 512));
  EXPECT_FALSE(Gemm64Bf16::applies(96, 256));  // not whole blocks of 64
  EXPECT_FALSE(Gemm64Bf16::applies(64, 255));  // odd K: pairs along K
  EXPECT_FALSE(Gemm64Bf16::applies(64, 64));   // oneDNN measured faster
  EXPECT_FALSE(Gemm64Bf16::applies(256, 256));
}

}  // namespace
}  // namespace crema::layers
