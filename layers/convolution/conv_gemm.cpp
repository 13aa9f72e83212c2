// SPDX-License-Identifier: BSD-2-Clause
// 2-D convolution as GEMMs, pixel-major (Chellapilla et al. 2006, transposed), per group g with
// M_g = M/G outputs and K_g = C/G*KH*KW weights per output:
//
//   kIm2col:   for a chunk of B images, col[P = B*OH*OW][C*KH*KW] (crema/layers/im2col.hpp) and
//              Y^T[P][M_g] = col_g * Wr_g^T, where Wr is W with each row reordered from
//              (channel, tap) to (tap, channel) to match col's columns.
//   kRowShift: stride_h 1 only. im2col along the width only, over every padded input row:
//              colw[(H+2PH)*OW][KW*C]; kernel row i of output row oh reads padded row oh + i*DH,
//              so per image Y^T = sum_i colw[rows shifted by i*DH*OW] * Wr_g,i^T: KH GEMMs of
//              depth KW*C_g, but a column matrix KH times smaller than kIm2col's.
//   kDepthwise: G = C = M: col as kIm2col with one group, then Y^T[p][c] = sum_t col[p][t*C + c]
//              * W[c][t], vectorised over the channels (conv_gemm_depthwise.cpp).
//   kPointwise: 1x1, pad 0 (not for small planes with many outputs, see pointwise_auto): per image
//               Y_n[M_g][OH*OW] = W_g * X_n[g] on N,C,H,W directly (stride 1)
//              or on the subsampled image X_n[c][oh*SH][ow*SW] (strided projections).
// Winograd F(2x2, 3x3) or F(4x4, 3x3) (conv_gemm_winograd.cpp) replaces kRowShift / kIm2col for the forward pass
// and dE/dx (and, from 16 input channels, dE/dW) of 3x3, stride 1, dilation 1, group 1, pad <= 2
// convolutions with at least 64 output pixels (Tuning::winograd, winograd_dw), in its own chunks.
// Layers with at most 4 input channels (the stem) run their forward pass and dE/dW by direct
// convolution instead (conv_gemm_direct.cpp, Tuning::direct).
//
// The pixel count is the long side of every GEMM: OpenBLAS runs these shapes near its peak even
// for 16 channels, unlike Caffe's W[M][K] * col[K][pixels]. Y^T goes back to N,C,H,W with the
// bias in one transpose. Chunks keep their buffers cache-sized (Tuning::chunk_bytes): measured,
// this beats both Caffe's one image per GEMM and one GEMM over the whole batch (conv_bench).
//
// Backward, per chunk (dY^T = dE/dY^T[P][M], transposed from N,C,H,W the same way):
//   dE/dWr_g += dY^T_g^T * col_g            (summed over chunks, shifted rows per kernel row)
//   dE/dcol_g = dY^T_g * Wr_g,  dE/dx = col2im(dE/dcol)   (col2im is im2col's adjoint)
#include "conv_gemm.hpp"

#include <algorithm>

#include "crema/layer.hpp"

namespace crema::layers {
namespace {
int32_t i32(int64_t v) { return static_cast<int32_t>(v); }
// Row-major C = op(A) op(B) + beta C with explicit leading dimensions, products in `math`.
void sgemm(crema_dtype math, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  crema::gemm(math, ta, tb, i32(m), i32(n), i32(k), 1.f, a, i32(lda), b, i32(ldb), beta, c,
              i32(ldc));
}
// Per-image 1x1 GEMMs on N,C,H,W, or (false) im2col, a transpose into pixel rows, and chunk GEMMs.
// Measured (conv_bench, 1 thread): at 7x7 outputs with 512-2048 output channels im2col is
// 1.1-1.2x faster (a 49-column GEMM wastes the kernel's width); at 14x14, or with 64 output
// channels at 8x8, the per-image GEMMs win (the transpose costs 1/M of the GEMM's work).
bool pointwise_auto(const ConvGeometry& g, int num_output) {
  return g.out_plane() >= 100 || num_output < 256;
}
}  // namespace

int64_t ConvGemm::plan(const ConvGeometry& g, int num_output, int64_t num, const Tuning& tuning,
                       int threads) {
  g_ = colg_ = g;
  m_ = num_output;
  num_ = num;
  chunk_ = 1;
  terms_ = 1;
  wk_ = m_ * (g.col_width() / g.groups);
  if (g.groups > 1 && g.groups == g.channels && g.groups == num_output) {
    method_ = Method::kDepthwise;  // im2col with one group: (tap, channel) columns
    colg_.groups = 1;
  } else if (g.kernel_h == 1 && g.kernel_w == 1 && g.pad_h == 0 && g.pad_w == 0 &&
             (tuning.pointwise > 0 || (tuning.pointwise < 0 && pointwise_auto(g, num_output)))) {
    method_ = Method::kPointwise;  // per image; strided ones subsampled first into the slot
  } else if (g.stride_h == 1 && g.kernel_h > 1 && g.out_plane() >= tuning.rowshift_min_plane) {
    method_ = Method::kRowShift;  // one "kernel row" over all H + 2PH padded rows
    colg_.kernel_h = colg_.stride_h = colg_.dilation_h = 1;
    terms_ = g.kernel_h;
  } else {
    method_ = Method::kIm2col;
  }
  if (method_ != Method::kPointwise) {
    // Per image: the N,H,W,C input, its column matrix and Y^T; a chunk keeps them within budget.
    const int64_t img = g.channels * g.in_plane() + colg_.out_plane() * colg_.col_width() +
                        g.out_plane() * m_;
    chunk_ = std::clamp<int64_t>(static_cast<int64_t>(tuning.chunk_bytes / sizeof(float)) / img, 1,
                                 std::max<int64_t>(num, 1));
    // Small planes (ResNet-50's 7x7 and 14x14 stages): a chunk within the cache budget can hold
    // one image, and a GEMM of 49 pixel rows runs at half the sgemm rate. Grow the chunk to
    // tuning.min_gemm_rows pixel rows while every thread still gets a chunk (measured on
    // 512 3x3 7x7, batch 8: 1.5-1.8x faster with all 8 images in one chunk).
    const int64_t per_thread = (num + std::max(threads, 1) - 1) / std::max(threads, 1);
    const int64_t wanted = (tuning.min_gemm_rows + g.out_plane() - 1) /
                           std::max<int64_t>(g.out_plane(), 1);
    if (wanted > chunk_)
      chunk_ = std::clamp<int64_t>(std::min(wanted, per_thread), chunk_, std::max<int64_t>(num, 1));
  }
  // Winograd F(2x2, 3x3) for the forward pass and dE/dx (dE/dx runs with pad 2 - pad).
  const bool wino_ok = (method_ == Method::kRowShift || method_ == Method::kIm2col) &&
                       g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 &&
                       g.dilation_h == 1 && g.dilation_w == 1 && g.groups == 1 && g.pad_h >= 0 &&
                       g.pad_h <= 2 && g.pad_w >= 0 && g.pad_w <= 2;
  // Default: where conv_bench measured it faster than the GEMM methods (ResNet-20's 3x3 stride-1
  // shapes, 3 to 64 channels, 8x8 to 32x32 outputs: forward 1.7-2.8x, backward 1.1-1.3x; and
  // ResNet-50's 7x7 x 512: 1.3x, with the whole batch in one chunk, see below).
  const bool wino_auto = g.out_plane() >= 64 || (g.channels >= 256 && num_output >= 256);
  winograd_ = wino_ok && (tuning.winograd > 0 || (tuning.winograd < 0 && wino_auto));
  // dE/dW by Winograd: measured faster from 16 input channels (16-64: backward 1.3-1.6x over
  // Winograd dE/dx + row-shift dE/dW), slower for 3 (its GEMMs are C x M of depth tiles).
  winograd_dw_ = winograd_ &&
                 (tuning.winograd_dw > 0 || (tuning.winograd_dw < 0 && g.channels >= 16));
  // F(4x4) where its tiles fit the output closely. Measured (conv_bench, 1 thread): 1.3-2.2x
  // faster than F(2x2) on 8x8 to 56x56 outputs with 16 to 128 channels; 1.3x slower on
  // ResNet-50's 14x14 x 256 (16x16 outputs computed, and a 36-plane weight transform per call
  // against few tiles). Growing its chunks past one image made it slower on 28x28 and 56x56.
  auto rounded = [](int64_t v, int64_t t) { return (v + t - 1) / t * t; };
  const bool tile4_fits = rounded(g.out_h(), 4) * rounded(g.out_w(), 4) * 100 <=
                          115 * g.out_plane();
  wtile_ = tuning.winograd_tile == 4 || tuning.winograd_tile == 2 ? tuning.winograd_tile
                                                                  : (tile4_fits ? 4 : 2);
  // Direct forward and dE/dW for few input channels (measured on ResNet-50's 7x7 stride-2 stem:
  // 1.6x forward, 1.9x dE/dW; on ResNet-20's 3x3 conv1 Winograd's forward is faster and kept).
  // Its padded image lives in the column buffer, which holds it when the stride is at most
  // the kernel.
  direct_ = (method_ == Method::kIm2col || method_ == Method::kRowShift) &&
            direct_applies(g, num_output) && g.stride_h <= g.kernel_h && g.stride_w <= g.kernel_w &&
            (tuning.direct > 0 || (tuning.direct < 0 && !winograd_));
  if (direct_) winograd_ = winograd_dw_ = false;
  // bf16 products: the GEMM methods only (Winograd's transforms would add their rounding to
  // bf16's; the direct method stays fp32).
  if (math_ == CREMA_BFLOAT16) winograd_ = winograd_dw_ = false;
  wchunk_ = 1;
  if (winograd_) {
    wchunk_ = std::clamp<int64_t>(
        static_cast<int64_t>(tuning.winograd_chunk_bytes / sizeof(float)) / winograd_image_floats(),
        1, std::max<int64_t>(num, 1));
    // Under 32 tiles per image the GEMMs are short: grow the chunk towards min_gemm_rows tiles
    // (measured, batch 8: 14x14 x 256 and 7x7 x 512 1.1-1.3x faster in one chunk). From 49 tiles
    // up, chunks past one image made F(4x4) slower (28x28 x 128, 56x56 x 64).
    const int64_t tiles = winograd_tiles();
    if (tiles < 32) {
      const int64_t per_thread = (num + std::max(threads, 1) - 1) / std::max(threads, 1);
      const int64_t wanted = (tuning.min_gemm_rows + tiles - 1) / tiles;
      if (wanted > wchunk_)
        wchunk_ =
            std::clamp<int64_t>(std::min(wanted, per_thread), wchunk_, std::max<int64_t>(num, 1));
    }
  }
  bf16_area_ = math_ == CREMA_BFLOAT16 && method_ == Method::kPointwise &&
               crema::host_has_bf16_operands();
  // Depthwise keeps its own (serial) loop over chunks.
  const int64_t chunks =
      std::max((num_ + chunk_ - 1) / chunk_, winograd_ ? (num_ + wchunk_ - 1) / wchunk_ : 0);
  slots_ = method_ == Method::kDepthwise
               ? 1
               : static_cast<int>(std::clamp<int64_t>(threads, 1, std::max<int64_t>(chunks, 1)));
  // Wr and dWr, then per slot: its chunk buffers and a weight-gradient partial.
  return 2 * wk_ + slots_ * (slot_floats() + wk_) +
         (winograd_
              ? (1 + (winograd_dw_ ? slots_ : 0)) * winograd_transform_floats() * g.channels * m_
              : 0);
}

// Only where the plan made room for the rounded copies: a backward pass in bf16 after a forward
// planned in fp32 (per-layer backward_math) takes the GEMMs' own rounding instead.
bool ConvGemm::bf16_operands() const { return bf16_area_ && math_ == CREMA_BFLOAT16; }

int64_t ConvGemm::slot_floats() const {
  if (method_ == Method::kPointwise) {
    const int64_t gathered = g_.is_pointwise() ? 0 : g_.channels * g_.out_plane();
    // bf16 products: the image's (subsampled) input and its output gradient, rounded once each.
    const int64_t rounded = bf16_area_ ? (g_.channels + m_) * g_.out_plane() : 0;
    return gathered + (rounded + 1) / 2 + block_floats();
  }
  const int64_t base = chunk_ * (g_.channels * g_.in_plane() +
                                 colg_.out_plane() * colg_.col_width() + g_.out_plane() * m_);
  return winograd_ ? std::max(base, wchunk_ * winograd_image_floats()) : base;
}

float* ConvGemm::partial(float* ws, int slot) const {
  return ws + 2 * wk_ + slots_ * slot_floats() + slot * wk_;
}

void ConvGemm::reduce_partials(float* ws, float* into) const {
  for (int s = 1; s < slots_; ++s) {
    const float* p = partial(ws, s);
    for (int64_t i = 0; i < wk_; ++i) into[i] += p[i];
  }
}

ConvGemm::Buffers ConvGemm::buffers(float* ws, int slot) const {
  Buffers b;
  b.wr = ws;
  b.dwr = b.wr + wk_;
  b.xt = b.dwr + wk_ + slot * slot_floats();
  b.col = b.xt + chunk_ * g_.channels * g_.in_plane();
  b.yt = b.col + chunk_ * colg_.out_plane() * colg_.col_width();
  return b;
}

// The column order (tap, channel) differs from W's (channel, tap) unless one of them is 1.
bool ConvGemm::reordered() const {
  return g_.kernel_h * g_.kernel_w > 1 && g_.channels / g_.groups > 1;
}

// Wr[o][tap*Cg + c] = W[o][c][tap]
const float* ConvGemm::reorder_weights(const float* w, float* wr) const {
  if (!reordered()) return w;
  const int64_t taps = int64_t{g_.kernel_h} * g_.kernel_w, cg = g_.channels / g_.groups;
  for (int64_t o = 0; o < m_; ++o)
    for (int64_t ch = 0; ch < cg; ++ch)
      for (int64_t t = 0; t < taps; ++t) wr[(o * taps + t) * cg + ch] = w[(o * cg + ch) * taps + t];
  return wr;
}

// dW[o][c][tap] += dWr[o][tap*Cg + c]
void ConvGemm::add_reordered_back(const float* dwr, float* dw) const {
  const int64_t taps = int64_t{g_.kernel_h} * g_.kernel_w, cg = g_.channels / g_.groups;
  for (int64_t o = 0; o < m_; ++o)
    for (int64_t ch = 0; ch < cg; ++ch)
      for (int64_t t = 0; t < taps; ++t)
        dw[(o * cg + ch) * taps + t] += dwr[(o * taps + t) * cg + ch];
}

void ConvGemm::forward(const float* x, const float* w, const float* bias, float* y,
                       float* ws) const {
  if (method_ == Method::kPointwise) return pointwise_forward(x, w, bias, y, ws);
  if (method_ == Method::kDepthwise) return depthwise_forward(x, w, bias, y, ws);
  if (winograd_) return winograd_forward(x, w, bias, y, ws);
  if (direct_) return direct_forward(x, w, bias, y, ws);
  const int64_t out = g_.out_plane(), in = g_.channels * g_.in_plane(), G = g_.groups;
  const int64_t mg = m_ / G, kg = g_.col_width() / G, kt = kg / terms_, kc = colg_.col_width();
  const int64_t col_rows = colg_.out_plane(), shift = int64_t{g_.dilation_h} * g_.out_w();
  const float* wr = reorder_weights(w, buffers(ws).wr);
  for_each_chunk([&](int slot, int64_t n0, int nb) {
    Buffers buf = buffers(ws, slot);
    // kIm2col: one GEMM over the chunk; kRowShift: per image (the shifted rows stay in it).
    const int64_t units = method_ == Method::kRowShift ? nb : 1, rows = nb * out / units;
    nchw_to_nhwc(x + n0 * in, nb, g_.channels, g_.in_plane(), buf.xt);
    im2col_nhwc(buf.xt, nb, colg_, buf.col);
    for (int64_t u = 0; u < units; ++u)
      for (int64_t grp = 0; grp < G; ++grp)
        for (int64_t t = 0; t < terms_; ++t)  // Y^T[:, g] (+)= col_g[rows shifted by t] * Wr_g,t^T
          sgemm(math_, false, true, rows, mg, kt,
                buf.col + (u * col_rows + t * shift) * kc + grp * kt, kc,
                wr + grp * mg * kg + t * kt, kg, t ? 1.f : 0.f, buf.yt + u * out * m_ + grp * mg,
                m_);
    nhwc_to_nchw(buf.yt, nb, static_cast<int>(m_), out, bias, y + n0 * m_ * out);
  });
}

void ConvGemm::backward(const float* x, const float* w, const float* dy, float* dw, float* dx,
                        float* ws) const {
  if (method_ == Method::kPointwise) return pointwise_backward(x, w, dy, dw, dx, ws);
  if (method_ == Method::kDepthwise) return depthwise_backward(x, w, dy, dw, dx, ws);
  if (winograd_dw_) {
    if (dw) winograd_backward_weights(x, dy, dw, ws);
    if (dx) winograd_backward_data(w, dy, dx, ws);
    return;
  }
  if (direct_ && dw) {
    direct_backward_weights(x, dy, dw, ws);
    if (dx) backward_gemm(x, w, dy, nullptr, dx, ws);
    return;
  }
  if (winograd_ && dx) {  // dE/dW through the GEMM method, then dE/dx through Winograd
    if (dw) backward_gemm(x, w, dy, dw, nullptr, ws);
    return winograd_backward_data(w, dy, dx, ws);
  }
  backward_gemm(x, w, dy, dw, dx, ws);
}

void ConvGemm::backward_gemm(const float* x, const float* w, const float* dy, float* dw, float* dx,
                             float* ws) const {
  const int64_t out = g_.out_plane(), in = g_.channels * g_.in_plane(), G = g_.groups;
  const int64_t mg = m_ / G, kg = g_.col_width() / G, kt = kg / terms_, kc = colg_.col_width();
  const int64_t col_rows = colg_.out_plane(), shift = int64_t{g_.dilation_h} * g_.out_w();
  const float* wr = dx ? reorder_weights(w, buffers(ws).wr) : nullptr;
  float* dwr = reordered() ? buffers(ws).dwr : dw;
  if (dw && reordered()) std::fill(dwr, dwr + m_ * kg, 0.f);
  if (dw)
    for (int s = 1; s < slots_; ++s) std::fill(partial(ws, s), partial(ws, s) + wk_, 0.f);
  for_each_chunk([&](int slot, int64_t n0, int nb) {
    Buffers buf = buffers(ws, slot);
    float* dwk = slot == 0 ? dwr : partial(ws, slot);
    const int64_t units = method_ == Method::kRowShift ? nb : 1, rows = nb * out / units;
    nchw_to_nhwc(dy + n0 * m_ * out, nb, static_cast<int>(m_), out, buf.yt);  // dY^T
    if (dw) {
      // dE/dWr_g,t += dY^T_g^T * col_g[rows shifted by t]   (beta = 1: accumulate)
      nchw_to_nhwc(x + n0 * in, nb, g_.channels, g_.in_plane(), buf.xt);
      im2col_nhwc(buf.xt, nb, colg_, buf.col);
      for (int64_t u = 0; u < units; ++u)
        for (int64_t grp = 0; grp < G; ++grp)
          for (int64_t t = 0; t < terms_; ++t)
            sgemm(math_, true, false, mg, kt, rows, buf.yt + u * out * m_ + grp * mg, m_,
                  buf.col + (u * col_rows + t * shift) * kc + grp * kt, kc, 1.f,
                  dwk + grp * mg * kg + t * kt, kg);
    }
    if (dx) {
      // dE/dcol_g[rows shifted by t] (+)= dY^T_g * Wr_g,t ; rows no t = 0 GEMM writes start at 0.
      for (int64_t u = 0; u < units && terms_ > 1; ++u)
        std::fill(buf.col + (u * col_rows + out) * kc, buf.col + (u + 1) * col_rows * kc, 0.f);
      for (int64_t u = 0; u < units; ++u)
        for (int64_t grp = 0; grp < G; ++grp)
          for (int64_t t = 0; t < terms_; ++t)
            sgemm(math_, false, false, rows, kt, mg, buf.yt + u * out * m_ + grp * mg, m_,
                  wr + grp * mg * kg + t * kt, kg, t ? 1.f : 0.f,
                  buf.col + (u * col_rows + t * shift) * kc + grp * kt, kc);
      // dE/dx = col2im(dE/dcol), back to N,C,H,W.
      col2im_nhwc(buf.col, nb, colg_, buf.xt);
      nhwc_to_nchw(buf.xt, nb, g_.channels, g_.in_plane(), nullptr, dx + n0 * in);
    }
  });
  if (dw) reduce_partials(ws, dwr);
  if (dw && reordered()) add_reordered_back(dwr, dw);
}

// The adjoint of gather: x = 0 except x[c][oh*SH][ow*SW] = xs[c][oh][ow].
void ConvGemm::scatter(const float* xs, float* x) const {
  const int64_t OH = g_.out_h(), OW = g_.out_w(), SW = g_.stride_w;
  std::fill(x, x + g_.channels * g_.in_plane(), 0.f);
  for (int64_t ch = 0; ch < g_.channels; ++ch)
    for (int64_t oh = 0; oh < OH; ++oh) {
      float* dst = x + (ch * g_.height + oh * g_.stride_h) * g_.width;
      const float* src = xs + (ch * OH + oh) * OW;
      for (int64_t ow = 0; ow < OW; ++ow) dst[ow * SW] = src[ow];
    }
}

void ConvGemm::pointwise_forward(const float* x, const float* w, const float* bias, float* y,
                                 float* ws) const {
  const int64_t out = g_.out_plane(), in = g_.channels * g_.in_plane(), G = g_.groups, mg = m_ / G,
                cg = g_.channels / G;
  if (bf16_operands()) return pointwise_forward_bf16(x, false, w, bias, y, false, ws);
  for_each_chunk([&](int slot, int64_t n, int) {  // Y_n[g] = W_g * X_n[g] (X_n subsampled first)
    const float* xn = sampled_input(x + n * in, ws, slot);
    for (int64_t grp = 0; grp < G; ++grp)
      sgemm(math_, false, false, mg, out, cg, w + grp * mg * cg, cg, xn + grp * cg * out, out, 0.f,
            y + (n * m_ + grp * mg) * out, out);
  });
  if (!bias) return;
  crema::parallel_for(num_ * m_, std::max<int64_t>(1, 16384 / out), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      float* d = y + t * out;
      const float bo = bias[t % m_];
      for (int64_t k = 0; k < out; ++k) d[k] += bo;
    }
  });
}

void ConvGemm::pointwise_backward(const float* x, const float* w, const float* dy, float* dw,
                                  float* dx, float* ws) const {
  const int64_t out = g_.out_plane(), in = g_.channels * g_.in_plane(), G = g_.groups, mg = m_ / G,
                cg = g_.channels / G;
  const bool strided = !g_.is_pointwise();
  if (bf16_operands()) return pointwise_backward_bf16(x, false, w, dy, false, dw, dx, ws);
  if (dw)
    for (int s = 1; s < slots_; ++s) std::fill(partial(ws, s), partial(ws, s) + wk_, 0.f);
  for_each_chunk([&](int slot, int64_t n, int) {
    float* xs = buffers(ws, slot).xt;
    // dE/dW_g += dY_n[g] * X_n[g]^T
    if (dw) {
      float* dwk = slot == 0 ? dw : partial(ws, slot);
      const float* xn = sampled_input(x + n * in, ws, slot);
      for (int64_t grp = 0; grp < G; ++grp)
        sgemm(math_, false, true, mg, cg, out, dy + (n * m_ + grp * mg) * out, out,
              xn + grp * cg * out, out, 1.f, dwk + grp * mg * cg, cg);
    }
    // dE/dX_n[g] = W_g^T * dY_n[g]; strided: into the sampled positions, 0 elsewhere.
    if (dx) {
      float* dxn = strided ? xs : dx + n * in;
      for (int64_t grp = 0; grp < G; ++grp)
        sgemm(math_, true, false, cg, out, mg, w + grp * mg * cg, cg,
              dy + (n * m_ + grp * mg) * out, out, 0.f, dxn + grp * cg * out, out);
      if (strided) scatter(xs, dx + n * in);
    }
  });
  if (dw) reduce_partials(ws, dw);
}

}  // namespace crema::layers
