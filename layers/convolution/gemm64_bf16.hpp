// SPDX-License-Identifier: BSD-2-Clause
// A bf16 GEMM whose results come in blocks of 64 columns: C (rows x N) = A (rows x K) . B, A
// bf16 row-major, B given in fp32 and rounded to bf16 once per call into pairs along K (the
// operand layout of AVX512_BF16's vdpbf16ps), fp32 sums, C rounded once into bf16. ResNet's
// 1x1 layers with 64 or 128 outputs (forward) or inputs (dE/dx) have such shapes over every
// pixel of the batch, where oneDNN's matmul ran at 124-186 GFLOP/s on one Zen 4 core; this runs
// them at 174-219. Six rows of C stay in 24 registers over the whole of K (each 64-column block
// in turn), and the rows two tiles ahead are prefetched: without that the strided reads of A
// held it to ~140.
#pragma once
#include <cstdint>
#include <vector>

namespace crema::layers {

class Gemm64Bf16 {
 public:
  static constexpr int kColumns = 64;
  // Whether it can run a shape here: a CPU with AVX512_BF16, N a multiple of 64, K even.
  static bool fits(int64_t n, int64_t k);
  // Whether a layer should use it: where it fits and is faster (N <= 128, K >= 128);
  // CREMA_CONV_GEMM64=0 never, 1 wherever it fits.
  static bool applies(int64_t n, int64_t k);
  // B[k][n] = w[k * k_stride + n * n_stride] for k < K, n < N, rounded as the host rounds.
  void set_b(const float* w, int K, int N, int64_t k_stride, int64_t n_stride);
  // C = A . B on the host's threads; C rows of 64 values ldc apart, A rows of K values lda apart.
  void run(const uint16_t* a, int64_t lda, int64_t rows, uint16_t* c, int64_t ldc) const;

 private:
  int k_ = 0, n_ = 0;
  std::vector<uint16_t> packed_;  // [N / 64][K / 2][64][2]
};

}  // namespace crema::layers
