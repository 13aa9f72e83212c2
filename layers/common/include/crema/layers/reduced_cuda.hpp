// SPDX-License-Identifier: BSD-2-Clause
// fp16 / bf16 on the GPU (docs/PRECISION.md, "GPU"): convert an operand into a 2-byte copy in
// scratch, multiply the copies on the tensor cores with fp32 sums (cublasGemmEx,
// CUBLAS_COMPUTE_32F), and bring 2-byte results back into fp32 tensors; and conversions between
// any two storage types, for layers whose blobs are stored in 2 bytes. Plain
// launchers on the call's stream (void* = cudaStream_t / cublasHandle_t), so .cpp files compiled
// by the host compiler call them. Only in a CUDA build (crema_layers_cuda_reduced).
#pragma once
#include <cstddef>
#include <cstdint>

#include "crema/cuda.hpp"
#include "crema/plugin_abi.h"

namespace crema::layers::gpu {

// Bytes of one element of `math` (2 for fp16 and bf16, 4 for fp32).
inline size_t element_bytes(crema_dtype math) { return math == CREMA_FLOAT32 ? 4 : 2; }
// Bytes of n elements of `math`, rounded up to 256 so that consecutive scratch slices stay
// aligned for the tensor cores (cuBLAS and cuDNN want 16 bytes; 256 is the allocator's own).
inline size_t scratch_bytes(int64_t n, crema_dtype math) {
  const size_t b = static_cast<size_t>(n < 0 ? 0 : n) * element_bytes(math);
  return (b + 255) / 256 * 256;
}

// dst[i] = src[i] rounded to `math` (fp16 or bf16; round to nearest even, as __float2half_rn /
// __float2bfloat16_rn do: fp16 overflows to +-inf beyond 65504 and keeps subnormals).
void round_to(void* stream, crema_dtype math, const float* src, void* dst, int64_t n);
// dst[i] = float(src[i]) (accumulate false) or dst[i] += float(src[i]) (true): `src` in `math`.
void widen_from(void* stream, crema_dtype math, const void* src, float* dst, int64_t n,
                bool accumulate);

// Between any two storage types (fp32, fp16, bf16; blobs stored in 2 bytes): dst[i] = src[i]
// rounded to dst's type, or dst[i] + src[i] with accumulate (the sum in fp32, rounded once).
void convert(void* stream, crema::cuda::Values src, crema::cuda::Values dst, int64_t n,
             bool accumulate = false);

// Row-major C = alpha * op(A) * op(B) + beta * C with A, B in `math` (fp16 or bf16) and C fp32:
// tensor-core products, fp32 sums (cublasGemmEx, CUBLAS_COMPUTE_32F,
// CUBLAS_GEMM_DEFAULT_TENSOR_OP). op(A) is m x k, op(B) k x n; lda/ldb/ldc in elements. Throws
// with the cuBLAS status and `what` on failure.
void gemm(void* cublas, crema_dtype math, bool trans_a, bool trans_b, int m, int n, int k,
          float alpha, const void* a, int lda, const void* b, int ldb, float beta, float* c,
          int ldc, const char* what);
// The same for `batch` products, operand i at a + i*stride_a elements (likewise b and c):
// cublasGemmStridedBatchedEx.
void gemm_strided_batched(void* cublas, crema_dtype math, bool trans_a, bool trans_b, int m, int n,
                          int k, float alpha, const void* a, int lda, int64_t stride_a,
                          const void* b, int ldb, int64_t stride_b, float beta, float* c, int ldc,
                          int64_t stride_c, int batch, const char* what);

}  // namespace crema::layers::gpu
