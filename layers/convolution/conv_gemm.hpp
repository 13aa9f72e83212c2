// SPDX-License-Identifier: BSD-2-Clause
// The GEMM formulations of 2-D convolution behind the Convolution plugin (see conv_gemm.cpp).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "chunk_slots.hpp"
#include "crema/layer.hpp"
#include "crema/layers/im2col.hpp"

namespace crema::layers {

class ConvGemm {
 public:
  enum class Method {
    kPointwise,  // 1x1, pad 0: GEMMs straight on N,C,H,W (subsampled first when strided)
    kIm2col,     // full pixel-major im2col of a chunk of images, one GEMM per group
    kRowShift,   // stride_h 1: im2col along the width only, one GEMM per kernel row (shifted rows)
    kDepthwise,  // group == channels == num_output: im2col, then per-channel products, no GEMM
  };
  // On top of kRowShift / kIm2col, 3x3 stride-1 convolutions may run Winograd F(2x2, 3x3) or
  // F(4x4, 3x3) for the forward pass and dE/dx, and dE/dW (winograd(), winograd_dw();
  // conv_gemm_winograd.cpp).
  struct Tuning {
    size_t chunk_bytes = size_t{512} << 10;  // budget of one chunk's buffers (cache-sized)
    int64_t rowshift_min_plane = 64;         // kRowShift when OH*OW is at least this
    int64_t min_gemm_rows = 384;             // a chunk grows past the budget to this many pixels
    int pointwise =
        -1;  // 1x1 by per-image GEMMs on N,C,H,W: -1 measured, 0 never (im2col), 1 always
    // Winograd F(2x2, 3x3) for the forward pass and dE/dx of 3x3, stride 1, dilation 1, group 1,
    // pad <= 2 convolutions (conv_gemm_winograd.cpp): -1 where measured faster, 0 never, 1 always.
    int winograd = -1;
    size_t winograd_chunk_bytes = size_t{512} << 10;  // its own chunk budget
    int winograd_dw = -1;   // dE/dW by Winograd too (with winograd): -1 measured, 0 never, 1 always
    int winograd_tile = 0;  // outputs per tile side, F(m x m, 3x3): 0 measured, 2 or 4
    // The forward pass and dE/dW of few-channel layers by direct convolution
    // (conv_gemm_direct.cpp): -1 where it applies and Winograd does not, 0 never, 1 wherever
    // it applies.
    int direct = -1;
  };

  // Chooses the method and the chunk for `num` images, and how many chunks run at once (one
  // per thread, each with its own buffers); returns the workspace size in floats.
  int64_t plan(const ConvGeometry& g, int num_output, int64_t num, const Tuning& tuning,
               int threads = 1);
  // The type the GEMMs compute in (crema_exec.math); set before plan(), which keeps Winograd
  // to fp32.
  void set_math(crema_dtype math) { math_ = math; }
  // Whether the input (and dE/dx) and the output (and dE/dy) are stored in bf16 (ABI 1.5
  // storage types); set before plan(), which makes room to round results in cache-sized blocks.
  void set_storage(bool x_bf16, bool y_bf16) { x_bf16_ = x_bf16, y_bf16_ = y_bf16; }
  // Whether forward_stored / backward_stored take the tensors in their stored types: the 1x1
  // bf16 GEMMs, whose operands are bf16 anyway. Otherwise the caller converts around
  // forward / backward.
  bool takes_storage() const { return bf16_operands() && crema::host_has_bf16_results(); }
  // forward / backward on tensors of the types given to set_storage (float or uint16_t).
  void forward_stored(const void* x, const float* w, const float* bias, void* y, float* ws) const;
  void backward_stored(const void* x, const float* w, const void* dy, float* dw, void* dx,
                       float* ws) const;
  crema_dtype math() const { return math_; }
  Method method() const { return method_; }
  int64_t chunk() const { return chunk_; }
  // Forward and dE/dx through Winograd (dE/dW still through method()); its chunk of images.
  bool winograd() const { return winograd_; }
  bool winograd_dw() const { return winograd_dw_; }
  int64_t winograd_chunk() const { return wchunk_; }
  int winograd_tile() const { return wtile_; }
  // The forward pass and dE/dW by direct convolution (dE/dx still through method()).
  bool direct() const { return direct_; }
  static bool direct_applies(const ConvGeometry& g, int num_output);

  // y = conv(x, w) + bias (bias may be null). ws: the plan's workspace.
  void forward(const float* x, const float* w, const float* bias, float* y, float* ws) const;
  // dw += dE/dw when dw is set; dx = dE/dx when dx is set.
  void backward(const float* x, const float* w, const float* dy, float* dw, float* dx,
                float* ws) const;

 private:
  struct Buffers {
    float *wr, *dwr, *xt, *col, *yt;
  };
  Buffers buffers(float* ws, int slot = 0) const;
  // Runs fn(slot, first image, image count) over every chunk, `slots_` chunks at a time.
  template <class Fn>
  void for_each_chunk(const Fn& fn) const {
    for_each_chunk(fn, chunk_);
  }
  template <class Fn>
  void for_each_chunk(const Fn& fn, int64_t chunk) const;
  // Per-slot weight-gradient partials (slot 0 accumulates straight into `into`), summed at the end.
  float* partial(float* ws, int slot) const;
  void reduce_partials(float* ws, float* into) const;
  int64_t slot_floats() const;  // one slot's chunk buffers
  bool reordered() const;
  const float* reorder_weights(const float* w, float* wr) const;
  void add_reordered_back(const float* dwr, float* dw) const;
  // xs[c][oh][ow] = x[c][oh*SH][ow*SW]: a strided 1x1 kernel's channel-major im2col, over
  // either storage type.
  template <class T>
  void gather(const T* x, T* xs) const {
    const int64_t OH = g_.out_h(), OW = g_.out_w(), SW = g_.stride_w;
    for (int64_t ch = 0; ch < g_.channels; ++ch)
      for (int64_t oh = 0; oh < OH; ++oh) {
        const T* src = x + (ch * g_.height + oh * g_.stride_h) * g_.width;
        T* dst = xs + (ch * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[ow * SW];
      }
  }
  void scatter(const float* xs, float* x) const;
  void pointwise_forward(const float* x, const float* w, const float* bias, float* y,
                         float* ws) const;
  void pointwise_backward(const float* x, const float* w, const float* dy, float* dw, float* dx,
                          float* ws) const;
  bool bf16_operands() const;  // bf16 products on operands rounded once (pointwise only)
  uint16_t* rounded_input(float* ws, int slot) const;
  uint16_t* rounded_output_grad(float* ws, int slot) const;
  const uint16_t* rounded_weights(const float* w, float* ws) const;
  const float* sampled_input(const float* xn, float* ws, int slot) const;
  const uint16_t* image_input_bf16(const void* x, bool x_bf16, int64_t n, float* ws,
                                   int slot) const;
  int64_t block_pixels() const;  // pixels of one block of results rounded into bf16 tensors
  int64_t block_floats() const;  // a slot's room for such a block (0 unless planned for one)
  float* block(float* ws, int slot) const;
  // The 1x1 bf16 GEMMs (conv_gemm_pointwise_bf16.cpp) on tensors of either storage type, the
  // bias (forward) and the slots' weight-gradient partials (backward) included.
  void pointwise_forward_bf16(const void* x, bool x_bf16, const float* w, const float* bias,
                              void* y, bool y_bf16, float* ws) const;
  void pointwise_backward_bf16(const void* x, bool x_bf16, const float* w, const void* dy,
                               bool y_bf16, float* dw, void* dx, float* ws) const;
  void depthwise_forward(const float* x, const float* w, const float* bias, float* y,
                         float* ws) const;
  void backward_gemm(const float* x, const float* w, const float* dy, float* dw, float* dx,
                     float* ws) const;
  int64_t winograd_transform_floats() const;  // (m + 2)^2: the GEMMs per Winograd pass
  int64_t winograd_image_floats() const;
  int64_t winograd_tiles() const;  // per image, the larger of the forward's and dE/dx's
  void winograd_buffers(float* ws, int slot, float** in, float** v, float** m, float** out) const;
  float* winograd_weights(float* ws) const;  // U[a*a][C][M] after the partials, then dU per slot
  void winograd_forward(const float* x, const float* w, const float* bias, float* y,
                        float* ws) const;
  void winograd_backward_weights(const float* x, const float* dy, float* dw, float* ws) const;
  void winograd_backward_data(const float* w, const float* dy, float* dx, float* ws) const;
  void winograd_convolve(const float* in, int64_t cin, int64_t h, int64_t w, int64_t ph, int64_t pw,
                         int64_t cout, int64_t oh, int64_t ow, const float* bias, float* out,
                         float* ws) const;
  void direct_forward(const float* x, const float* w, const float* bias, float* y, float* ws) const;
  void direct_backward_weights(const float* x, const float* dy, float* dw, float* ws) const;
  void direct_pad(const float* xn, float* xp) const;
  int64_t direct_padded_width() const;
  void depthwise_backward(const float* x, const float* w, const float* dy, float* dw, float* dx,
                          float* ws) const;

  ConvGeometry g_, colg_;  // the convolution, and the geometry im2col runs with
  Method method_ = Method::kIm2col;
  int64_t m_ = 0, num_ = 0, chunk_ = 1;
  int64_t terms_ = 1;  // GEMMs per group: KH for kRowShift, else 1
  int slots_ = 1;      // chunks processed at once, one per thread
  int64_t wk_ = 0;     // floats of one weight (gradient) matrix
  bool winograd_ = false, winograd_dw_ = false, direct_ = false;
  int64_t wchunk_ = 1;  // images per Winograd chunk
  int wtile_ = 2;       // Winograd outputs per tile side
  crema_dtype math_ = CREMA_FLOAT32;
  bool bf16_area_ = false;  // the plan holds bf16 copies of an image's input and dE/dy (1x1)
  bool x_bf16_ = false, y_bf16_ = false;  // set_storage
};

template <class Fn>
void ConvGemm::for_each_chunk(const Fn& fn, int64_t chunk) const {
  crema::layers::for_each_chunk(num_, chunk, slots_, [&](int slot, int64_t n0, int64_t nb) {
    fn(slot, n0, static_cast<int>(nb));
  });
}

}  // namespace crema::layers
