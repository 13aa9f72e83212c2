// SPDX-License-Identifier: BSD-2-Clause
// fp32 copies of blobs stored in fp16 / bf16, for the GPU methods that take fp32 tensors only
// (the native im2col + GEMM method, and cuDNN computing in fp32): an operand is widened before
// the call, a result rounded into its blob after it. cuDNN in the blobs' own 2-byte math type
// needs none of this (conv_cudnn.hpp). Only compiled in a CUDA build.
#pragma once
#include "crema/cuda.hpp"
#include "crema/layer.hpp"
#include "crema/layers/reduced_cuda.hpp"

namespace crema::layers {

class GpuFp32Staging {
 public:
  // t's data (or diff) as fp32: the tensor itself when it is fp32, else copy `slot` (0-2), filled
  // with its widened values when `fill`.
  float* in(void* stream, const TensorView& t, bool diff, bool fill, int slot) {
    const cuda::Values v = values(t, diff);
    if (v.type == CREMA_FLOAT32) return static_cast<float*>(v.ptr);
    float* copy = copies_[slot].get<float>(static_cast<size_t>(t.count()));
    if (fill) gpu::convert(stream, v, cuda::values_of(copy), t.count());
    return copy;
  }
  // After the call: copy `slot` rounded into t's data (or diff), unless t is fp32.
  void out(void* stream, const TensorView& t, bool diff, int slot) {
    const cuda::Values v = values(t, diff);
    if (v.type != CREMA_FLOAT32)
      gpu::convert(stream, cuda::values_of(copies_[slot].data<float>()), v, t.count());
  }

 private:
  static cuda::Values values(const TensorView& t, bool diff) {
    return diff ? cuda::diff_of(t.raw()) : cuda::data_of(t.raw());
  }
  cuda::DeviceBuffer copies_[3];
};

}  // namespace crema::layers
