// SPDX-License-Identifier: BSD-2-Clause
// The GEMM formulations of 2-D convolution behind the Convolution plugin (see conv_gemm.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

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
  struct Tuning {
    size_t chunk_bytes = size_t{512} << 10;  // budget of one chunk's buffers (cache-sized)
    int64_t rowshift_min_plane = 64;         // kRowShift when OH*OW is at least this
  };

  // Chooses the method and the chunk for `num` images, and how many chunks run at once (one
  // per thread, each with its own buffers); returns the workspace size in floats.
  int64_t plan(const ConvGeometry& g, int num_output, int64_t num, const Tuning& tuning,
               int threads = 1);
  Method method() const { return method_; }
  int64_t chunk() const { return chunk_; }

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
  void for_each_chunk(const Fn& fn) const;
  // Per-slot weight-gradient partials (slot 0 accumulates straight into `into`), summed at the end.
  float* partial(float* ws, int slot) const;
  void reduce_partials(float* ws, float* into) const;
  int64_t slot_floats() const;  // one slot's chunk buffers
  bool reordered() const;
  const float* reorder_weights(const float* w, float* wr) const;
  void add_reordered_back(const float* dwr, float* dw) const;
  void gather(const float* x, float* xs) const;
  void scatter(const float* xs, float* x) const;
  void pointwise_forward(const float* x, const float* w, const float* bias, float* y,
                         float* ws) const;
  void pointwise_backward(const float* x, const float* w, const float* dy, float* dw, float* dx,
                          float* ws) const;
  void depthwise_forward(const float* x, const float* w, const float* bias, float* y,
                         float* ws) const;
  void depthwise_backward(const float* x, const float* w, const float* dy, float* dw, float* dx,
                          float* ws) const;

  ConvGeometry g_, colg_;  // the convolution, and the geometry im2col runs with
  Method method_ = Method::kIm2col;
  int64_t m_ = 0, num_ = 0, chunk_ = 1;
  int64_t terms_ = 1;  // GEMMs per group: KH for kRowShift, else 1
  int slots_ = 1;       // chunks processed at once, one per thread
  int64_t wk_ = 0;      // floats of one weight (gradient) matrix
};

}  // namespace crema::layers
