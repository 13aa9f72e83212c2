// SPDX-License-Identifier: BSD-2-Clause
// Direct convolution for layers with few input channels where Winograd does not apply
// (ConvGemm::direct(): the 7x7 stride-2 stem over 3 channels): the forward pass and dE/dW.
//
// Their im2col has only C*KH*KW columns (147 for the stem) and many rows, so the GEMM spent
// about a third of the stem's forward pass copying: im2col itself, OpenBLAS packing the column
// matrix again, and transposes. Here a block of kPix output pixels x 16*V output channels stays
// in registers while it sums over the taps: per tap, V weight vectors and kPix broadcast inputs
// feed kPix*V fused multiply-adds. The input is copied once per image into a zero-padded
// H,W,C layout (so that no tap needs a bounds check), the outputs go to the slot's N,H,W,C
// buffer and from there to N,C,H,W (with the bias) as every other method does.
// dE/dW the same way (per block of output rows, 6 (tap, channel) pairs x 16V outputs held in
// registers); dE/dx keeps the GEMM method.
#include <algorithm>
#include <vector>

#include "conv_gemm.hpp"
#include "crema/layers/vec16.hpp"

namespace crema::layers {
namespace {
// 16 lanes: one AVX-512 register with -march=native (crema/layers/vec16.hpp).
using vec16::kLanes;
using vec16::load;
using vec16::store;
using vec16::Vec;
constexpr int kPix = 6;  // output pixels per block: 6 x 4 accumulators + 4 weights + 1 input

struct Geometry {
  int64_t c, kh, kw, sw;
  int64_t row;  // floats per padded input row (Wp * C)
  int64_t m;    // output channels (the N,H,W,C output's pixel stride and the weights' tap stride)
};

// y[p][0 .. 16V) = sum over taps of x[p's window][tap] * wt[tap][0 .. 16V), for P pixels.
// x: the padded input at the block's first window; wt: the weights at the block's first output.
template <int P, int V>
void block(const Geometry& g, const float* x, const float* wt, float* y) {
  Vec acc[P][V] = {};
  for (int64_t i = 0; i < g.kh; ++i) {
    const float* xr = x + i * g.row;
    for (int64_t j = 0; j < g.kw; ++j)
      for (int64_t ch = 0; ch < g.c; ++ch) {
        const float* w = wt + ((i * g.kw + j) * g.c + ch) * g.m;
        Vec wv[V];
        for (int v = 0; v < V; ++v) wv[v] = load(w + v * kLanes);
        for (int p = 0; p < P; ++p) {
          const float xv = xr[(p * g.sw + j) * g.c + ch];
          for (int v = 0; v < V; ++v) acc[p][v] += xv * wv[v];
        }
      }
  }
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < V; ++v) store(y + p * g.m + v * kLanes, acc[p][v]);
}

// dE/dW[o][k] += sum over the output pixels of rows [oh0, oh1) of x[pixel's window + off[k]] *
// dy[pixel][o], for K (tap, channel) pairs k and 16V outputs o at once; dwk points at the first
// pair and output in the GEMM method's [o][tap * C + c] layout (kc floats per output).
template <int K, int V>
void weight_block(const Geometry& g, const float* xp, const float* dyt, int64_t oh0, int64_t oh1,
                  int64_t ow, int64_t sh, const int64_t* off, float* dwk, int64_t kc) {
  Vec acc[K][V] = {};
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const float* xr = xp + oh * sh * g.row;
    const float* dr = dyt + oh * ow * g.m;
    for (int64_t o = 0; o < ow; ++o) {
      Vec d[V];
      for (int v = 0; v < V; ++v) d[v] = load(dr + o * g.m + v * kLanes);
      const float* xb = xr + o * g.sw * g.c;
      for (int k = 0; k < K; ++k) {
        const float xv = xb[off[k]];
        for (int v = 0; v < V; ++v) acc[k][v] += xv * d[v];
      }
    }
  }
  for (int k = 0; k < K; ++k)
    for (int v = 0; v < V; ++v) {
      float a[kLanes];
      store(a, acc[k][v]);
      for (int l = 0; l < kLanes; ++l) dwk[(v * kLanes + l) * kc + k] += a[l];
    }
}

template <int V>
void weight_rows(const Geometry& g, const float* xp, const float* dyt, int64_t oh0, int64_t oh1,
                 int64_t ow, int64_t sh, const int64_t* off, int64_t pairs, float* dwk,
                 int64_t kc) {
  constexpr int kPairs = 6;  // 6 x 4 accumulators + 4 dE/dy vectors
  int64_t k = 0;
  for (; k + kPairs <= pairs; k += kPairs)
    weight_block<kPairs, V>(g, xp, dyt, oh0, oh1, ow, sh, off + k, dwk + k, kc);
  for (; k < pairs; ++k) weight_block<1, V>(g, xp, dyt, oh0, oh1, ow, sh, off + k, dwk + k, kc);
}

// One output row: kPix pixels at a time, then the rest one by one.
template <int V>
void output_row(const Geometry& g, const float* x, const float* wt, float* y, int64_t ow) {
  int64_t o = 0;
  for (; o + kPix <= ow; o += kPix) block<kPix, V>(g, x + o * g.sw * g.c, wt, y + o * g.m);
  for (; o < ow; ++o) block<1, V>(g, x + o * g.sw * g.c, wt, y + o * g.m);
}
}  // namespace

// The padded H,W,C image n of the chunk: zeros, then the pixels that some window reaches.
// Its height and width reach exactly as far as the last window.
int64_t ConvGemm::direct_padded_width() const {
  return (g_.out_w() - 1) * g_.stride_w + g_.kernel_w;
}

void ConvGemm::direct_pad(const float* xn, float* xp) const {
  const int64_t C = g_.channels, H = g_.height, W = g_.width;
  const int64_t hp = (g_.out_h() - 1) * g_.stride_h + g_.kernel_h, wp = direct_padded_width();
  std::fill(xp, xp + hp * wp * C, 0.f);
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t h = 0; h < H && h + g_.pad_h < hp; ++h)
      for (int64_t c = 0; c < W && c + g_.pad_w < wp; ++c)
        xp[((h + g_.pad_h) * wp + c + g_.pad_w) * C + ch] = xn[(ch * H + h) * W + c];
}

bool ConvGemm::direct_applies(const ConvGeometry& g, int num_output) {
  return g.groups == 1 && g.channels <= 4 && g.kernel_h * g.kernel_w > 1 && g.dilation_h == 1 &&
         g.dilation_w == 1 && num_output % kLanes == 0;
}

void ConvGemm::direct_forward(const float* x, const float* w, const float* bias, float* y,
                              float* ws) const {
  const int64_t C = g_.channels, KH = g_.kernel_h, KW = g_.kernel_w, taps = KH * KW;
  const int64_t H = g_.height, W = g_.width, OH = g_.out_h(), OW = g_.out_w(), out = OH * OW;
  const int64_t wp = direct_padded_width();
  // wt[tap][c][o] = W[o][c][tap]: outputs contiguous, in the dWr buffer (unused by a forward).
  float* wt = buffers(ws).dwr;
  for (int64_t o = 0; o < m_; ++o)
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t t = 0; t < taps; ++t) wt[(t * C + ch) * m_ + o] = w[(o * C + ch) * taps + t];
  const Geometry geo{C, KH, KW, g_.stride_w, wp * C, m_};
  for_each_chunk([&](int slot, int64_t n0, int nb) {
    Buffers buf = buffers(ws, slot);
    float* xp = buf.col;  // the padded H,W,C image (plan() checked that it fits)
    for (int64_t n = 0; n < nb; ++n) {
      direct_pad(x + (n0 + n) * C * H * W, xp);
      float* yn = buf.yt + n * out * m_;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const float* xr = xp + oh * g_.stride_h * wp * C;
        float* yr = yn + oh * OW * m_;
        int64_t o = 0;  // outputs in blocks of 64, then the 16-wide rest
        for (; o + 4 * kLanes <= m_; o += 4 * kLanes) output_row<4>(geo, xr, wt + o, yr + o, OW);
        for (; o < m_; o += kLanes) output_row<1>(geo, xr, wt + o, yr + o, OW);
      }
    }
    nhwc_to_nchw(buf.yt, nb, static_cast<int>(m_), out, bias, y + n0 * m_ * out);
  });
}

// dE/dW += sum over images and output pixels of dy[pixel][o] * x[pixel's window][tap][c], per
// block of rows (their dE/dy stays in the L2 cache while every (tap, channel) pair reads it).
void ConvGemm::direct_backward_weights(const float* x, const float* dy, float* dw,
                                       float* ws) const {
  const int64_t C = g_.channels, KW = g_.kernel_w, taps = g_.kernel_h * KW, kc = taps * C;
  const int64_t H = g_.height, W = g_.width, OH = g_.out_h(), OW = g_.out_w(), out = OH * OW;
  const int64_t wp = direct_padded_width();
  const Geometry geo{C, g_.kernel_h, KW, g_.stride_w, wp * C, m_};
  std::vector<int64_t> off(static_cast<size_t>(kc));  // pair (tap, c) -> offset in the window
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t ch = 0; ch < C; ++ch) off[t * C + ch] = (t / KW) * wp * C + (t % KW) * C + ch;
  const int64_t rows = std::max<int64_t>(1, (int64_t{64} << 10) / std::max<int64_t>(OW * m_, 1));
  float* dwr = reordered() ? buffers(ws).dwr : dw;  // [o][tap * C + c], as the GEMM method's
  if (reordered()) std::fill(dwr, dwr + wk_, 0.f);
  for (int s = 1; s < slots_; ++s) std::fill(partial(ws, s), partial(ws, s) + wk_, 0.f);
  for_each_chunk([&](int slot, int64_t n0, int nb) {
    Buffers buf = buffers(ws, slot);
    float* dwk = slot == 0 ? dwr : partial(ws, slot);
    nchw_to_nhwc(dy + n0 * m_ * out, nb, static_cast<int>(m_), out, buf.yt);  // dY^T
    for (int64_t n = 0; n < nb; ++n) {
      direct_pad(x + (n0 + n) * C * H * W, buf.col);
      const float* dyt = buf.yt + n * out * m_;
      for (int64_t oh0 = 0; oh0 < OH; oh0 += rows) {
        const int64_t oh1 = std::min(OH, oh0 + rows);
        int64_t o = 0;
        for (; o + 4 * kLanes <= m_; o += 4 * kLanes)
          weight_rows<4>(geo, buf.col, dyt + o, oh0, oh1, OW, g_.stride_h, off.data(), kc,
                         dwk + o * kc, kc);
        for (; o < m_; o += kLanes)
          weight_rows<1>(geo, buf.col, dyt + o, oh0, oh1, OW, g_.stride_h, off.data(), kc,
                         dwk + o * kc, kc);
      }
    }
  });
  reduce_partials(ws, dwr);
  if (reordered()) add_reordered_back(dwr, dw);
}

}  // namespace crema::layers
