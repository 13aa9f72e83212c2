// SPDX-License-Identifier: BSD-2-Clause
// Slice's GPU path: strided copies of (outer, rows) blocks between a part and the whole, one
// cudaMemcpy2DAsync per part and direction (crema::cuda::copy_rows).
#include "crema/cuda.hpp"
#include "slice_cuda.h"

void slice_copy_rows_cuda(void* stream, int64_t outer, int64_t rows, const float* src,
                         int64_t src_stride, float* dst, int64_t dst_stride) {
  crema::cuda::copy_rows(stream, outer, rows, src, src_stride, dst, dst_stride, "Slice (copy)");
}
