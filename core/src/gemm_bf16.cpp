// SPDX-License-Identifier: BSD-2-Clause
// bf16 GEMM on oneDNN's matmul (gemm_bf16.hpp). Each call rounds its operands into per-thread
// bf16 buffers (the conversion is one pass over data a convolution hands over in cache-sized
// chunks) and runs a matmul primitive; oneDNN keeps created primitives in its own cache, so a
// shape seen before costs microseconds to set up. Inside a parallel region oneDNN runs on the
// calling thread alone, as OpenBLAS does.
#include "crema/core/gemm_bf16.hpp"

#include <cblas.h>
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "crema/core/precision.hpp"
#if CREMA_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace crema {

namespace {
uint16_t round_one(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN
  if ((u & 0x7f800000u) == 0)
    return static_cast<uint16_t>((u >> 16) & 0x8000u);  // as vcvtne2ps2bf16
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) void round_avx512(const float* x, size_t n,
                                                                         uint16_t* dst) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(v));
  }
  for (; i < n; ++i) dst[i] = round_one(x[i]);
}
}  // namespace

void round_to_bf16(const float* x, size_t n, uint16_t* dst) {
  if (cpu_has_bf16()) return round_avx512(x, n, dst);
  for (size_t i = 0; i < n; ++i) dst[i] = round_one(x[i]);
}

#if CREMA_WITH_ONEDNN
namespace {
using dnnl::memory;
using dt = memory::data_type;

// Rounds the rows x cols matrix at src (leading dimension ld) into a dense bf16 buffer.
const uint16_t* to_bf16(const float* src, int64_t rows, int64_t cols, int64_t ld,
                        std::vector<uint16_t>* buf) {
  buf->resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    round_to_bf16(src + r * ld, static_cast<size_t>(cols), buf->data() + r * cols);
  return buf->data();
}

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
}  // namespace

bool bf16_gemm_available() { return cpu_has_bf16(); }

void gemm_bf16(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
               const float* a, int32_t lda, const float* b, int32_t ldb, float beta, float* c,
               int32_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (!bf16_gemm_available() || k <= 0) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  thread_local std::vector<uint16_t> a16, b16;
  // op(A) is m x k: stored m x k (rows m) or, transposed, k x m (rows k); likewise B.
  const uint16_t* pa = trans_a ? to_bf16(a, k, m, lda, &a16) : to_bf16(a, m, k, lda, &a16);
  const uint16_t* pb = trans_b ? to_bf16(b, n, k, ldb, &b16) : to_bf16(b, k, n, ldb, &b16);
  const memory::desc ad({m, k}, dt::bf16, trans_a ? memory::dims{1, m} : memory::dims{k, 1});
  const memory::desc bd({k, n}, dt::bf16, trans_b ? memory::dims{1, k} : memory::dims{n, 1});
  const memory::desc cd({m, n}, dt::f32, memory::dims{ldc, 1});
  dnnl::primitive_attr attr;
  if (alpha != 1.f) attr.set_output_scales(0, {alpha});
  if (beta != 0.f) {
    dnnl::post_ops sum;
    sum.append_sum(beta);
    attr.set_post_ops(sum);
  }
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), attr, engine());
  dnnl::stream s(engine());
  dnnl::matmul(pd).execute(s, {{DNNL_ARG_SRC, memory(ad, engine(), const_cast<uint16_t*>(pa))},
                               {DNNL_ARG_WEIGHTS, memory(bd, engine(), const_cast<uint16_t*>(pb))},
                               {DNNL_ARG_DST, memory(cd, engine(), c)}});
  s.wait();
}
#else
bool bf16_gemm_available() { return false; }

void gemm_bf16(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
               const float* a, int32_t lda, const float* b, int32_t ldb, float beta, float* c,
               int32_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#endif

}  // namespace crema
