// SPDX-License-Identifier: BSD-2-Clause
// fp32 copies of blobs stored in fp16 / bf16, for the GPU methods that take fp32 tensors only
// (the native im2col + GEMM method, and cuDNN computing in fp32): an operand is widened before
// the call, a result rounded into its blob after it. The copies live in the net's shared
// workspace after the method's own bytes, planned in reshape for the blobs' types. cuDNN in the
// blobs' own 2-byte math type needs none of this (conv_cudnn.hpp). Only in a CUDA build.
#pragma once
#include <cstddef>
#include <cstdint>

#include "crema/cuda.hpp"
#include "crema/layer.hpp"
#include "crema/layers/reduced_cuda.hpp"

namespace crema::layers {

class GpuFp32Staging {
 public:
  enum Slot { kX, kY, kDx };  // x; y or dE/dy; dE/dx

  // Copies for the bottom (x and dE/dx, x_count elements) and the top (y and dE/dy) where they
  // are stored in 2 bytes and the method `needs_fp32`, after `method_bytes` of workspace; returns
  // the workspace bytes in all.
  size_t plan(size_t method_bytes, crema_dtype x_type, int64_t x_count, crema_dtype y_type,
              int64_t y_count, bool needs_fp32) {
    const bool x_copy = needs_fp32 && x_type != CREMA_FLOAT32;
    const bool y_copy = needs_fp32 && y_type != CREMA_FLOAT32;
    size_t at = (method_bytes + 255) / 256 * 256;
    const int64_t counts[3] = {x_copy ? x_count : 0, y_copy ? y_count : 0, x_copy ? x_count : 0};
    for (int s = 0; s < 3; ++s) {
      at_[s] = at;
      planned_[s] = counts[s];
      at += (static_cast<size_t>(counts[s]) * sizeof(float) + 255) / 256 * 256;
    }
    return x_copy || y_copy ? at : method_bytes;
  }

  // t's data (or diff) as fp32: the tensor itself when it is fp32, else the slot's copy, filled
  // with its widened values when `fill`.
  float* in(const Context& c, const TensorView& t, bool diff, bool fill, Slot slot) const {
    const cuda::Values v = values(t, diff);
    if (v.type == CREMA_FLOAT32) return static_cast<float*>(v.ptr);
    float* copy = copy_of(c, t, slot);
    if (fill) gpu::convert(c.cuda_stream(), v, cuda::values_of(copy), t.count());
    return copy;
  }
  // After the call: the slot's copy rounded into t's data (or diff), unless t is fp32.
  void out(const Context& c, const TensorView& t, bool diff, Slot slot) const {
    const cuda::Values v = values(t, diff);
    if (v.type != CREMA_FLOAT32)
      gpu::convert(c.cuda_stream(), cuda::values_of(copy_of(c, t, slot)), v, t.count());
  }

 private:
  static cuda::Values values(const TensorView& t, bool diff) {
    return diff ? cuda::diff_of(t.raw()) : cuda::data_of(t.raw());
  }
  float* copy_of(const Context& c, const TensorView& t, Slot slot) const {
    CREMA_CHECK(planned_[slot] >= t.count(),
                "Convolution: a 2-byte blob of "
                    << t.count() << " elements has no fp32 copy planned in reshape");
    return reinterpret_cast<float*>(c.workspace<char>() + at_[slot]);
  }

  size_t at_[3] = {0, 0, 0};
  int64_t planned_[3] = {0, 0, 0};
};

}  // namespace crema::layers
