// SPDX-License-Identifier: BSD-2-Clause
// Row-major GEMM with bf16 products: C = alpha * op(A) * op(B) + beta * C, A, B and C fp32 in
// memory, A and B rounded to bf16 (round to nearest even) on the way in, sums in fp32. Runs on
// oneDNN's matmul (AMX or AVX512_BF16 where the CPU has them); the host offers it to plugins as
// crema_host.gemm_bf16. docs/PRECISION.md.
#pragma once
#include <cstddef>
#include <cstdint>

namespace crema {

// Whether this build and this CPU run bf16 GEMMs natively (oneDNN found; AVX512_BF16).
bool bf16_gemm_available();
// Same arguments as crema_host.sgemm. Falls back to fp32 (sgemm) where bf16_gemm_available()
// is false.
void gemm_bf16(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
               const float* a, int32_t lda, const float* b, int32_t ldb, float beta, float* c,
               int32_t ldc);
// The same GEMM with each operand fp32 (rounded on the way in) or already bf16 (a_type / b_type
// CREMA_BFLOAT16: uint16_t values, read in place with their leading dimension), so that an
// operand shared by several GEMMs is rounded once (crema_host.gemm_bf16_typed).
void gemm_bf16_typed(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                     const void* a, int32_t a_type, int32_t lda, const void* b, int32_t b_type,
                     int32_t ldb, float beta, float* c, int32_t ldc);
// The same GEMM with C fp32 or bf16 (c_type CREMA_BFLOAT16: sums in fp32, rounded once into
// C; beta reads C widened), so that a result bound for a bf16 tensor is written once
// (crema_host.gemm_bf16_to, ABI 1.5).
void gemm_bf16_to(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                  const void* a, int32_t a_type, int32_t lda, const void* b, int32_t b_type,
                  int32_t ldb, float beta, void* c, int32_t c_type, int32_t ldc);
// dst[i] = x[i] rounded to bf16 (the upper 16 bits of the fp32 pattern, nearest even; NaN stays
// NaN; subnormals become zero of their sign, as AVX512_BF16's conversion makes them). For the
// GEMM's operands and for tests.
void round_to_bf16(const float* x, size_t n, uint16_t* dst);
void round_bf16(const float* x, int64_t n, uint16_t* dst);  // crema_host.round_bf16
inline float bf16_to_float(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace crema
