// SPDX-License-Identifier: BSD-2-Clause
// Slice's GPU path: strided copies of (outer, rows) blocks between a part and the whole, one
// launch per part and direction. Contiguous blocks go to cudaMemcpyAsync; the kernel's Index is
// uint32_t whenever every index fits (32-bit division is several times cheaper than 64-bit).
#include <algorithm>

#include "crema/cuda.hpp"
#include "slice_cuda.h"

namespace {
template <class Index>
__global__ void copy_rows(int64_t count, Index rows, const float* src, Index src_stride,
                          float* dst, Index dst_stride) {
  CREMA_CUDA_LOOP(i, count) {
    const Index o = static_cast<Index>(i) / rows, j = static_cast<Index>(i) - o * rows;
    dst[o * dst_stride + j] = src[o * src_stride + j];
  }
}
}  // namespace

void slice_copy_rows_cuda(void* stream, int64_t outer, int64_t rows, const float* src,
                         int64_t src_stride, float* dst, int64_t dst_stride) {
  const int64_t count = outer * rows;
  if (count <= 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  if (outer == 1 || (src_stride == rows && dst_stride == rows)) {
    crema::cuda::check(
        cudaMemcpyAsync(dst, src, sizeof(float) * count, cudaMemcpyDeviceToDevice, s),
        "Slice (copy)");
    return;
  }
  const int grid = crema::cuda::blocks(count), threads = crema::cuda::kThreads;
  if (outer * std::max(src_stride, dst_stride) <= int64_t(INT32_MAX))
    copy_rows<uint32_t><<<grid, threads, 0, s>>>(count, uint32_t(rows), src, uint32_t(src_stride),
                                                 dst, uint32_t(dst_stride));
  else
    copy_rows<uint64_t><<<grid, threads, 0, s>>>(count, uint64_t(rows), src, uint64_t(src_stride),
                                                 dst, uint64_t(dst_stride));
  crema::cuda::check_launch("Slice (strided copy)");
}
