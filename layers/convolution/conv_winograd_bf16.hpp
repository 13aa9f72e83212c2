// SPDX-License-Identifier: BSD-2-Clause
// Winograd F(2x2, 3x3) with bf16 products, for 3x3, stride 1 convolutions between N,H,W,C bf16
// blobs (ABI 1.6 channels-last storage): the forward pass, dE/dx and dE/dW. On CPUs with AVX512_BF16
// but no AMX the direct bf16 convolution already runs at the bf16 dot-product rate, so only
// fewer products make it faster: 16 per 2x2 outputs instead of 36.
//
// Per chunk of tiles (sized to stay in the L2 cache; each thread takes whole chunks): V = B^T d B of each 4x4 input patch,
// rounded to bf16 (vectorised over 16 channels); 16 GEMMs M_xi = V_xi U_xi in one batched
// oneDNN matmul (bf16 operands, fp32 sums), U = G g G^T of the weights rounded to bf16 once per
// pass; then Y = A^T M A (+ bias) rounded once into the bf16 output. dE/dx is the same
// correlation of dE/dy with the transposed, rotated kernel and pad 2 - pad.
//
// Error: F(2x2)'s transforms have coefficients 1 and 1/2, so rounding V and U to bf16 moves each
// product by at most about 2^-8 of itself, as the direct bf16 convolution's rounding of x and w
// does; the products are four times as many terms per output (the transformed patches sum up to
// four inputs each), so the bound is in terms of the transformed operands (the test checks it).
// F(4x4), whose output transform sums with coefficients up to 8, was measured at 5-7% of the
// largest output on ResNet-50's layers, past the 2% the bf16 tests allow; F(2x2) at 0.4%.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "crema/layers/im2col.hpp"

namespace crema::layers {

class WinogradBf16 {
 public:
  WinogradBf16();
  ~WinogradBf16();
  WinogradBf16(const WinogradBf16&) = delete;
  WinogradBf16& operator=(const WinogradBf16&) = delete;

  // Whether it takes g into num_output channels for `num` images. It can: a 3x3 kernel, stride
  // 1, no dilation, one group, pads of 0-2, channels in multiples of 16 on both sides, a CPU
  // with AVX512_BF16 and a build with oneDNN. It does, where measured faster than oneDNN's
  // direct convolution: 64 channels or more on both sides, at least 8 x 8 outputs, at least
  // 256 tiles of 2 x 2 outputs over the batch, and no AMX.
  // CREMA_CONV_WINOGRAD_BF16=1 or 0 takes the second part's place (docs/CONFIGURATION.md).
  static bool applies(const ConvGeometry& g, int num_output, int64_t num);
  // For `num` images on up to `threads` threads (each with chunk buffers of its own); returns
  // the workspace bytes the passes need. `chunk_tiles` > 0 sets the tiles per chunk of every
  // pass (tests; else measured sizes).
  size_t plan(const ConvGeometry& g, int num_output, int64_t num, int threads,
              int64_t chunk_tiles = 0);
  // y = conv(x, w) + bias (bias may be null); x and y N,H,W,C bf16, w fp32 (O,C,3,3).
  void forward(const uint16_t* x, const float* w, const float* bias, uint16_t* y, void* ws) const;
  // dx = dE/dx from dy; both N,H,W,C bf16.
  void backward_data(const float* w, const uint16_t* dy, uint16_t* dx, void* ws) const;
  // dw += dE/dW (fp32, O,C,3,3) from x and dy, N,H,W,C bf16: per tile V = B^T x B and
  // dM = A dy A^T rounded to bf16, dE/dU = sum over tiles of V^T dM in fp32, dw += G^T dE/dU G.
  void backward_weights(const uint16_t* x, const uint16_t* dy, float* dw, void* ws) const;

 private:
  struct Plan;
  std::unique_ptr<Plan> plan_;
};

}  // namespace crema::layers
