// SPDX-License-Identifier: BSD-2-Clause
// bf16 GEMM on oneDNN's matmul (gemm_bf16.hpp). Each call rounds its operands into per-thread
// bf16 buffers (the conversion is one pass over data a convolution hands over in cache-sized
// chunks) and runs a matmul primitive; oneDNN keeps created primitives in its own cache, so a
// shape seen before costs microseconds to set up. Inside a parallel region oneDNN runs on the
// calling thread alone, as OpenBLAS does.
#include "crema/core/gemm_bf16.hpp"

#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <vector>

#include "crema/core/host.hpp"
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
  if (cpu_has_avx512_bf16()) return round_avx512(x, n, dst);
  for (size_t i = 0; i < n; ++i) dst[i] = round_one(x[i]);
}

namespace {
// A bf16 matrix widened to fp32 (exact) into a dense buffer, for the fp32 fallback.
const float* widen(const void* src, int64_t rows, int64_t cols, int64_t ld,
                   std::vector<float>* buf) {
  const auto* x = static_cast<const uint16_t*>(src);
  buf->resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      (*buf)[static_cast<size_t>(r * cols + c)] = bf16_to_float(x[r * ld + c]);
  return buf->data();
}

// Without bf16 dot products: the same products in fp32 (operands given in bf16 are exact in
// fp32, operands given in fp32 are not rounded).
void gemm_fp32(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
               const void* a, bool a16, int32_t lda, const void* b, bool b16, int32_t ldb,
               float beta, float* c, int32_t ldc) {
  std::vector<float> a32, b32;
  const float* pa = static_cast<const float*>(a);
  const float* pb = static_cast<const float*>(b);
  if (a16) {
    pa = widen(a, trans_a ? k : m, trans_a ? m : k, lda, &a32);
    lda = trans_a ? m : k;
  }
  if (b16) {
    pb = widen(b, trans_b ? n : k, trans_b ? k : n, ldb, &b32);
    ldb = trans_b ? k : n;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, pa, lda, pb, ldb, beta, c, ldc);
}

// The same into a bf16 C: through fp32 (C widened first when beta is not 0), rounded once.
void gemm_fp32_into_bf16(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                         float alpha, const void* a, bool a16, int32_t lda, const void* b, bool b16,
                         int32_t ldb, float beta, uint16_t* c, int32_t ldc) {
  std::vector<float> c32(static_cast<size_t>(m) * static_cast<size_t>(n));
  if (beta != 0.f) widen(c, m, n, ldc, &c32);
  gemm_fp32(trans_a, trans_b, m, n, k, alpha, a, a16, lda, b, b16, ldb, beta, c32.data(), n);
  for (int64_t r = 0; r < m; ++r)
    round_to_bf16(c32.data() + r * n, static_cast<size_t>(n), c + r * ldc);
}
}  // namespace

#if CREMA_WITH_ONEDNN
namespace {
using dnnl::memory;
using dt = memory::data_type;

// Rounds the rows x cols matrix at src (leading dimension ld) into a dense bf16 buffer, on the
// host's threads: a layer's fp32 weights come here whole, twice a step, while the other threads
// would wait (inside a parallel region this runs on the calling thread alone).
const uint16_t* to_bf16(const float* src, int64_t rows, int64_t cols, int64_t ld,
                        std::vector<uint16_t>* buf) {
  buf->resize(static_cast<size_t>(rows * cols));
  uint16_t* dst = buf->data();
  constexpr int64_t kValuesPerChunk = int64_t{1} << 16;
  parallel_for_on_host(rows, std::max<int64_t>(1, kValuesPerChunk / std::max<int64_t>(cols, 1)),
                       [&](int64_t b, int64_t e) {
                         for (int64_t r = b; r < e; ++r)
                           round_to_bf16(src + r * ld, static_cast<size_t>(cols), dst + r * cols);
                       });
  return buf->data();
}

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// What a matmul primitive depends on: shapes, the operands' strides, alpha and beta.
struct MatmulKey {
  int64_t m, n, k, a_rows, a_cols, b_rows, b_cols, ldc;
  float alpha, beta;
  int64_t c_bf16;
  bool operator==(const MatmulKey& o) const {
    return m == o.m && n == o.n && k == o.k && a_rows == o.a_rows && a_cols == o.a_cols &&
           b_rows == o.b_rows && b_cols == o.b_cols && ldc == o.ldc && alpha == o.alpha &&
           beta == o.beta && c_bf16 == o.c_bf16;
  }
};
struct MatmulKeyHash {
  size_t operator()(const MatmulKey& key) const {
    size_t h = 1469598103934665603ull;
    for (int64_t v :
         {key.m, key.n, key.k, key.a_rows, key.a_cols, key.b_rows, key.b_cols, key.ldc, key.c_bf16})
      h = (h ^ std::hash<int64_t>()(v)) * 1099511628211ull;
    for (float v : {key.alpha, key.beta}) h = (h ^ std::hash<float>()(v)) * 1099511628211ull;
    return h;
  }
};

// A matmul primitive and the operands' descriptors it was made for.
struct Matmul {
  memory::desc a, b, c;
  dnnl::matmul primitive;
};

// Per thread, the primitives of the shapes seen: creating a primitive descriptor costs tens of
// microseconds even when oneDNN's own cache holds the primitive, and a convolution makes one
// GEMM call per image.
const Matmul& matmul_for(const MatmulKey& key) {
  thread_local std::unordered_map<MatmulKey, Matmul, MatmulKeyHash> cache;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= 512) cache.clear();  // a net reshaped many times: start again
  const memory::desc ad({key.m, key.k}, dt::bf16, {key.a_rows, key.a_cols});
  const memory::desc bd({key.k, key.n}, dt::bf16, {key.b_rows, key.b_cols});
  const memory::desc cd({key.m, key.n}, key.c_bf16 ? dt::bf16 : dt::f32, {key.ldc, 1});
  dnnl::primitive_attr attr;
  if (key.alpha != 1.f) attr.set_output_scales(0, {key.alpha});
  if (key.beta != 0.f) {
    dnnl::post_ops sum;
    sum.append_sum(key.beta);
    attr.set_post_ops(sum);
  }
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), attr, engine());
  return cache.emplace(key, Matmul{ad, bd, cd, dnnl::matmul(pd)}).first->second;
}
}  // namespace

bool bf16_gemm_available() { return cpu_has_avx512_bf16(); }

void gemm_bf16_to(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                  const void* a, int32_t a_type, int32_t lda, const void* b, int32_t b_type,
                  int32_t ldb, float beta, void* c, int32_t c_type, int32_t ldc) {
  if (m <= 0 || n <= 0) return;
  const bool a16 = a_type == CREMA_BFLOAT16, b16 = b_type == CREMA_BFLOAT16;
  const bool c16 = c_type == CREMA_BFLOAT16;
  if (!bf16_gemm_available() || k <= 0) {
    if (!c16)
      return gemm_fp32(trans_a, trans_b, m, n, k, alpha, a, a16, lda, b, b16, ldb, beta,
                       static_cast<float*>(c), ldc);
    return gemm_fp32_into_bf16(trans_a, trans_b, m, n, k, alpha, a, a16, lda, b, b16, ldb, beta,
                               static_cast<uint16_t*>(c), ldc);
  }
  thread_local std::vector<uint16_t> a_buf, b_buf;
  // op(A) is m x k: stored m x k (rows m) or, transposed, k x m (rows k); likewise B. fp32
  // operands are rounded into dense buffers; bf16 ones are read where they are.
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  const uint16_t* pa = a16 ? static_cast<const uint16_t*>(a)
                           : to_bf16(static_cast<const float*>(a), a_rows, a_cols, lda, &a_buf);
  const uint16_t* pb = b16 ? static_cast<const uint16_t*>(b)
                           : to_bf16(static_cast<const float*>(b), b_rows, b_cols, ldb, &b_buf);
  const int64_t a_ld = a16 ? lda : a_cols, b_ld = b16 ? ldb : b_cols;
  const MatmulKey key{m,
                      n,
                      k,
                      trans_a ? 1 : a_ld,
                      trans_a ? a_ld : 1,
                      trans_b ? 1 : b_ld,
                      trans_b ? b_ld : 1,
                      ldc,
                      alpha,
                      beta,
                      c16 ? 1 : 0};
  const Matmul& mm = matmul_for(key);
  thread_local dnnl::stream s(engine());
  mm.primitive.execute(s, {{DNNL_ARG_SRC, memory(mm.a, engine(), const_cast<uint16_t*>(pa))},
                           {DNNL_ARG_WEIGHTS, memory(mm.b, engine(), const_cast<uint16_t*>(pb))},
                           {DNNL_ARG_DST, memory(mm.c, engine(), c)}});
  s.wait();
}
#else
bool bf16_gemm_available() { return false; }

void gemm_bf16_to(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                  const void* a, int32_t a_type, int32_t lda, const void* b, int32_t b_type,
                  int32_t ldb, float beta, void* c, int32_t c_type, int32_t ldc) {
  if (m <= 0 || n <= 0) return;
  const bool a16 = a_type == CREMA_BFLOAT16, b16 = b_type == CREMA_BFLOAT16;
  if (c_type != CREMA_BFLOAT16)
    return gemm_fp32(trans_a, trans_b, m, n, k, alpha, a, a16, lda, b, b16, ldb, beta,
                     static_cast<float*>(c), ldc);
  gemm_fp32_into_bf16(trans_a, trans_b, m, n, k, alpha, a, a16, lda, b, b16, ldb, beta,
                      static_cast<uint16_t*>(c), ldc);
}
#endif

void gemm_bf16_typed(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                     const void* a, int32_t a_type, int32_t lda, const void* b, int32_t b_type,
                     int32_t ldb, float beta, float* c, int32_t ldc) {
  gemm_bf16_to(trans_a, trans_b, m, n, k, alpha, a, a_type, lda, b, b_type, ldb, beta, c,
               CREMA_FLOAT32, ldc);
}

void gemm_bf16(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
               const float* a, int32_t lda, const float* b, int32_t ldb, float beta, float* c,
               int32_t ldc) {
  gemm_bf16_typed(trans_a, trans_b, m, n, k, alpha, a, CREMA_FLOAT32, lda, b, CREMA_FLOAT32, ldb,
                  beta, c, ldc);
}

void round_bf16(const float* x, int64_t n, uint16_t* dst) {
  round_to_bf16(x, static_cast<size_t>(n), dst);
}

}  // namespace crema
