// SPDX-License-Identifier: BSD-2-Clause
// dE/dW of a KxK convolution on N,H,W,C bf16 tensors (ABI 1.6 channels-last blobs) as one GEMM
// over the whole batch on the host's bf16 GEMM (AMX where the CPU has it):
//   cols = im2col(x)  (one row of KH*KW*C taps per output pixel, bf16)
//   dE/dW[o][c][i][j] += sum_p dy[p][o] cols[p][(i*KW + j)*C + c]
// Used for layers of many channels, where oneDNN 2.6's dE/dW took 3-7x its forward (ResNet-50's
// 3x3 layers of 128-512 channels, BENCHMARKS.md); on few channels oneDNN's stays faster.
#pragma once
#include <cstddef>
#include <cstdint>

#include "crema/layers/im2col.hpp"

namespace crema::layers {

class WeightGradChannelsLast {
 public:
  // Whether this method takes g: one group, no dilation, at least kMinChannels input channels,
  // and the host's bf16 GEMM on bf16 operands. CREMA_CONV_DW_GEMM=0 or 1 overrides the channel
  // rule (docs/CONFIGURATION.md).
  static bool applies(const ConvGeometry& g);
  static constexpr int kMinChannels = 128;
  // For `num` images into num_output channels; returns the workspace bytes it needs.
  size_t plan(const ConvGeometry& g, int num_output, int64_t num);
  // dw += dE/dW; x and dy N,H,W,C bf16, dw fp32 (Caffe's O,C,KH,KW).
  void accumulate(const uint16_t* x, const uint16_t* dy, float* dw, void* ws) const;

 private:
  ConvGeometry g_;
  int num_output_ = 0;
  int64_t num_ = 0;
};

}  // namespace crema::layers
