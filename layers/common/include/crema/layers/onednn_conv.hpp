// SPDX-License-Identifier: BSD-2-Clause
// A 2-D convolution in bf16 through oneDNN (Convolution's bf16 engine for kernels over 1x1):
// inputs, weights and output gradients are rounded to bf16 (round to nearest even) on the way
// in, products accumulate in fp32, and the layer's tensors are each fp32 or bf16 as the net stores
// them (x and dE/dx in one type, y and dE/dy in one), N,C,H,W or, where bf16, N,H,W,C (ABI 1.6
// channels-last blobs: the primitives read and write those in place, without a transpose). On
// CPUs with AMX or AVX512_BF16 oneDNN runs it on those units. Built only when oneDNN is found
// (available() says so).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "crema/layers/im2col.hpp"

namespace crema::layers {

class OnednnConv {
 public:
  OnednnConv();
  ~OnednnConv();
  OnednnConv(const OnednnConv&) = delete;
  OnednnConv& operator=(const OnednnConv&) = delete;

  // Whether this build has oneDNN (otherwise plan() throws).
  static bool available();
  // Whether the best bf16 instructions oneDNN finds on this CPU are AVX512_BF16's, without AMX:
  // there its direct convolution runs at the dot-product rate, and crema's own bf16 methods
  // between N,H,W,C blobs (Winograd for 3x3 layers, one GEMM for 1x1 forward passes) are faster
  // (measured on an EPYC Zen 4, BENCHMARKS.md). False without oneDNN.
  static bool bf16_without_amx();
  // Builds the primitives for `num` images of geometry g into num_output channels, with a bias
  // when `bias`, for an input (and its gradient) stored in bf16 when x_bf16 and an output (and
  // its gradient) when y_bf16, each N,H,W,C when x_last / y_last (bf16 only); returns the scratch
  // bytes forward and backward need (the layer's workspace).
  size_t plan(const ConvGeometry& g, int num_output, int64_t num, bool bias, bool x_bf16 = false,
              bool y_bf16 = false, bool x_last = false, bool y_last = false);
  // y = conv(x, w) + bias (bias null when planned without); x and y of the planned types.
  void forward(const void* x, const float* w, const float* bias, void* y, void* ws) const;
  // dw += dE/dW when dw is set; dx = dE/dx when dx is set. The bias gradient is the caller's.
  void backward(const void* x, const float* w, const void* dy, float* dw, void* dx, void* ws) const;
  // oneDNN's names of the implementations chosen (forward | dE/dx | dE/dW), for logs and tests.
  const char* implementation() const;

 private:
  struct Plan;
  std::unique_ptr<Plan> plan_;
};

}  // namespace crema::layers
