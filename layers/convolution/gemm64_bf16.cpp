// SPDX-License-Identifier: BSD-2-Clause
// gemm64_bf16.hpp: tiles of six rows of C, each 4 x 16 fp32 sums per row in registers.
#include "gemm64_bf16.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "crema/layer.hpp"

namespace crema::layers {
namespace {
constexpr int kRows = 6;  // 24 accumulators, 4 B vectors and a broadcast: 29 of 32 registers
#define CREMA_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

CREMA_AVX512_BF16 inline __m512bh pair_of(const uint16_t* a) {
  uint32_t pair;
  std::memcpy(&pair, a, sizeof pair);
  return reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(pair)));
}

CREMA_AVX512_BF16 inline __m512bh b_at(const uint16_t* bp, int64_t kp, int64_t j) {
  return reinterpret_cast<__m512bh>(_mm512_loadu_si512(bp + kp * 128 + j * 32));
}

CREMA_AVX512_BF16 inline void store_row(const __m512* acc, uint16_t* c) {
  for (int64_t j = 0; j < 4; j += 2)
    _mm512_storeu_si512(c + j * 16,
                        reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(acc[j + 1], acc[j])));
}

// Six full rows of C from rows r0.. of A.
CREMA_AVX512_BF16 void tile(const uint16_t* a, int64_t lda, const uint16_t* bp, int K, uint16_t* c,
                            int64_t ldc, const char* prefetch, int prefetch_lines) {
  __m512 acc[kRows][4];
  for (auto& row : acc)
    for (__m512& v : row) v = _mm512_setzero_ps();
  for (int64_t kp = 0; kp < K / 2; ++kp) {
    if (kp < prefetch_lines) _mm_prefetch(prefetch + kp * 64, _MM_HINT_T0);
    const __m512bh b0 = b_at(bp, kp, 0), b1 = b_at(bp, kp, 1), b2 = b_at(bp, kp, 2),
                   b3 = b_at(bp, kp, 3);
#pragma GCC unroll 6
    for (int64_t r = 0; r < kRows; ++r) {
      const __m512bh x = pair_of(a + r * lda + 2 * kp);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], x, b2);
      acc[r][3] = _mm512_dpbf16_ps(acc[r][3], x, b3);
    }
  }
  for (int64_t r = 0; r < kRows; ++r) store_row(acc[r], c + r * ldc);
}

// The last rows (fewer than six), one at a time.
CREMA_AVX512_BF16 void row(const uint16_t* a, const uint16_t* bp, int K, uint16_t* c) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  for (int64_t kp = 0; kp < K / 2; ++kp) {
    const __m512bh x = pair_of(a + 2 * kp);
    for (int j = 0; j < 4; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], x, b_at(bp, kp, j));
  }
  store_row(acc, c);
}
}  // namespace

bool Gemm64Bf16::fits(int64_t n, int64_t k) {
  static const bool cpu = __builtin_cpu_supports("avx512bf16");
  return cpu && n > 0 && n % kColumns == 0 && k > 0 && k % 2 == 0;
}

bool Gemm64Bf16::applies(int64_t n, int64_t k) {
  // -1 unset, 0 never, 1 wherever the shape fits (read per call: layers ask when they plan).
  const char* env = std::getenv("CREMA_CONV_GEMM64");
  const int forced = env ? std::atoi(env) : -1;
  if (forced == 0 || !fits(n, k)) return false;
  // Measured against oneDNN's matmul on one Zen 4 core (BENCHMARKS.md): faster for 64 and 128
  // columns over K from 128, slower for K = 64 and from 256 columns (B outgrows the caches).
  return forced == 1 || (n <= int64_t{2} * kColumns && k >= 128);
}

void Gemm64Bf16::set_b(const float* w, int K, int N, int64_t k_stride, int64_t n_stride) {
  CREMA_CHECK(fits(N, K), "Gemm64Bf16: K = " << K << ", N = " << N << " on this CPU");
  k_ = K;
  n_ = N;
  // Block by block of 64 columns: [N / 64][K / 2][64][2].
  std::vector<float> pairs(static_cast<size_t>(K) * N);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      pairs[((n / kColumns * (K / 2) + k / 2) * kColumns + n % kColumns) * 2 + k % 2] =
          w[k * k_stride + n * n_stride];
  packed_.resize(pairs.size());
  crema::round_bf16(pairs.data(), static_cast<int64_t>(pairs.size()), packed_.data());
}

void Gemm64Bf16::run(const uint16_t* a, int64_t lda, int64_t rows, uint16_t* c, int64_t ldc) const {
  const int K = k_, blocks = n_ / kColumns;
  const int64_t block_values = int64_t{K} * kColumns;
  const int64_t tiles = rows / kRows;
  // The rows two tiles ahead, a cache line per step of K (all of them: 6 K / 32 <= K / 2),
  // while the first block of columns runs.
  const int lines = static_cast<int>(kRows * lda * 2 / 64);
  crema::parallel_for(tiles, 16, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const uint16_t* at = a + t * kRows * lda;
      const bool ahead = t + 2 < tiles;
      for (int64_t b = 0; b < blocks; ++b)
        tile(at, lda, packed_.data() + b * block_values, K, c + t * kRows * ldc + b * kColumns, ldc,
             ahead ? reinterpret_cast<const char*>(at + int64_t{2} * kRows * lda) : nullptr,
             ahead && b == 0 ? lines : 0);
    }
  });
  for (int64_t r = tiles * kRows; r < rows; ++r)
    for (int64_t b = 0; b < blocks; ++b)
      row(a + r * lda, packed_.data() + b * block_values, K, c + r * ldc + b * kColumns);
}

}  // namespace crema::layers
