// SPDX-License-Identifier: BSD-2-Clause
// fp16 / bf16 conversions and tensor-core GEMMs with fp32 sums (see reduced_cuda.hpp).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <sstream>
#include <stdexcept>

#include "crema/cuda.hpp"
#include "crema/layers/reduced_cuda.hpp"

namespace crema::layers::gpu {
namespace {
using crema::cuda::Values;

template <class T>
__device__ T narrow(float v);
template <>
__device__ __half narrow<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __nv_bfloat16 narrow<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

template <class T>
__global__ void round_kernel(int64_t n, const float* src, T* dst) {
  CREMA_CUDA_LOOP(i, n) dst[i] = narrow<T>(src[i]);
}

template <class T>
__global__ void widen_kernel(int64_t n, const T* src, float* dst, bool accumulate) {
  CREMA_CUDA_LOOP(i, n) {
    const float v = static_cast<float>(src[i]);
    dst[i] = accumulate ? dst[i] + v : v;
  }
}

void require_reduced(crema_dtype math, const char* what) {
  if (math != CREMA_FLOAT16 && math != CREMA_BFLOAT16) {
    std::ostringstream os;
    os << what << ": type " << math << " is not fp16 or bf16";
    throw std::runtime_error(os.str());
  }
}

cudaDataType_t cuda_type(crema_dtype math) {
  return math == CREMA_BFLOAT16 ? CUDA_R_16BF : CUDA_R_16F;
}

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + " failed: " + cublasGetStatusName(s) + " (" +
                             cublasGetStatusString(s) + ")");
}

}  // namespace

void round_to(void* stream, crema_dtype math, const float* src, void* dst, int64_t n) {
  require_reduced(math, "round_to");
  if (n <= 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  if (math == CREMA_BFLOAT16)
    round_kernel<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, s>>>(
        n, src, static_cast<__nv_bfloat16*>(dst));
  else
    round_kernel<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, s>>>(
        n, src, static_cast<__half*>(dst));
  crema::cuda::check_launch("fp32 -> fp16/bf16 conversion");
}

void widen_from(void* stream, crema_dtype math, const void* src, float* dst, int64_t n,
                bool accumulate) {
  require_reduced(math, "widen_from");
  if (n <= 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  if (math == CREMA_BFLOAT16)
    widen_kernel<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, s>>>(
        n, static_cast<const __nv_bfloat16*>(src), dst, accumulate);
  else
    widen_kernel<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, s>>>(
        n, static_cast<const __half*>(src), dst, accumulate);
  crema::cuda::check_launch("fp16/bf16 -> fp32 conversion");
}

void convert(void* stream, Values src, Values dst, int64_t n, bool accumulate) {
  crema::cuda::convert(stream, src, dst, n, accumulate);
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the operands swap, the flags
// stay (as the host's gpu_sgemm does).
void gemm(void* cublas, crema_dtype math, bool trans_a, bool trans_b, int m, int n, int k,
          float alpha, const void* a, int lda, const void* b, int ldb, float beta, float* c,
          int ldc, const char* what) {
  require_reduced(math, what);
  const cudaDataType_t t = cuda_type(math);
  check(cublasGemmEx(static_cast<cublasHandle_t>(cublas), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                     trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, t, ldb, a, t, lda,
                     &beta, c, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT_TENSOR_OP),
        what);
}

void gemm_strided_batched(void* cublas, crema_dtype math, bool trans_a, bool trans_b, int m, int n,
                          int k, float alpha, const void* a, int lda, int64_t stride_a,
                          const void* b, int ldb, int64_t stride_b, float beta, float* c, int ldc,
                          int64_t stride_c, int batch, const char* what) {
  require_reduced(math, what);
  const cudaDataType_t t = cuda_type(math);
  check(cublasGemmStridedBatchedEx(
            static_cast<cublasHandle_t>(cublas), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
            trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, t, ldb, stride_b, a, t, lda,
            stride_a, &beta, c, CUDA_R_32F, ldc, stride_c, batch, CUBLAS_COMPUTE_32F,
            CUBLAS_GEMM_DEFAULT_TENSOR_OP),
        what);
}

}  // namespace crema::layers::gpu
