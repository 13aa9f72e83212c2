// SPDX-License-Identifier: BSD-2-Clause
// crema's fp32 N,C,H,W tensors into the bf16 N,H,W,C buffers oneDNN's bf16 convolutions run on,
// in one pass: the transpose and the rounding together (the way back, fp32 N,H,W,C to N,C,H,W,
// is im2col.hpp's nhwc_to_nchw). Measured on ResNet-20 and ResNet-50 (BENCHMARKS.md), oneDNN's
// own reorders between these layouts took as long as the convolutions they fed.
#pragma once
#include <cstdint>

namespace crema::layers {

// Whether this CPU runs nchw_to_nhwc_bf16 (AVX512_BF16).
bool layout_bf16_available();
// out[n][p][c] = bf16(x[n][c][p]) for p < plane: round to nearest even, as crema's bf16 GEMMs
// round (NaN stays NaN, subnormals become zero of their sign). Needs layout_bf16_available().
void nchw_to_nhwc_bf16(const float* x, int64_t num, int64_t channels, int64_t plane, uint16_t* out);
// Per image of `num`, `rows` runs of `cols` values become `cols` runs of `rows` values
// (N,C,H,W <-> N,H,W,C), each side fp32 (float) or bf16 (uint16_t, the upper half of an fp32
// pattern; written rounded as above, read exactly). Needs layout_bf16_available(). For the
// bf16-stored blobs a convolution reads and writes (ABI 1.5 storage types).
void transpose_planes(const void* in, bool in_bf16, int64_t num, int64_t rows, int64_t cols,
                      void* out, bool out_bf16);

}  // namespace crema::layers
