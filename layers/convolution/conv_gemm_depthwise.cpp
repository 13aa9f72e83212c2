// SPDX-License-Identifier: BSD-2-Clause
// ConvGemm::kDepthwise: group == channels == num_output. A GEMM per group would have one row and
// one output: instead im2col the chunk with one group, so col[p][t*C + c] holds tap t of channel
// c for output pixel p, and with Wt[t][c] = W[c][0][t] (t = i*KW + j):
//   Y^T[p][c]  = sum_t col[p][t*C + c] Wt[t][c]
//   dE/dWt[t][c] += sum_p dE/dY^T[p][c] col[p][t*C + c]
//   dE/dcol[p][t*C + c] = dE/dY^T[p][c] Wt[t][c],  dE/dx = col2im(dE/dcol)
// Every inner loop runs over the channels, contiguous on both sides.
#include <algorithm>

#include "conv_gemm.hpp"
#include "crema/layer.hpp"

namespace crema::layers {

void ConvGemm::depthwise_forward(const float* x, const float* w, const float* bias, float* y,
                                 float* ws) const {
  const int64_t C = g_.channels, taps = int64_t{g_.kernel_h} * g_.kernel_w;
  const int64_t out = g_.out_plane(), in = C * g_.in_plane();
  Buffers buf = buffers(ws);
  for (int64_t c = 0; c < C; ++c)  // Wt = W transposed to (tap, channel)
    for (int64_t t = 0; t < taps; ++t) buf.wr[t * C + c] = w[c * taps + t];
  const float* wt = buf.wr;
  for (int64_t n0 = 0; n0 < num_; n0 += chunk_) {
    const int nb = static_cast<int>(std::min(chunk_, num_ - n0));
    nchw_to_nhwc(x + n0 * in, nb, static_cast<int>(C), g_.in_plane(), buf.xt);
    im2col_nhwc(buf.xt, nb, colg_, buf.col);
    crema::parallel_for(nb * out, std::max<int64_t>(1, 4096 / (taps * C)),
                        [&](int64_t b, int64_t e) {
                          for (int64_t p = b; p < e; ++p) {
                            float* __restrict yr = buf.yt + p * C;
                            const float* __restrict cr = buf.col + p * taps * C;
                            std::fill(yr, yr + C, 0.f);
                            for (int64_t t = 0; t < taps; ++t)
                              for (int64_t c = 0; c < C; ++c)
                                yr[c] += cr[t * C + c] * wt[t * C + c];
                          }
                        });
    nhwc_to_nchw(buf.yt, nb, static_cast<int>(C), out, bias, y + n0 * C * out);
  }
}

void ConvGemm::depthwise_backward(const float* x, const float* w, const float* dy, float* dw,
                                  float* dx, float* ws) const {
  const int64_t C = g_.channels, taps = int64_t{g_.kernel_h} * g_.kernel_w;
  const int64_t out = g_.out_plane(), in = C * g_.in_plane();
  Buffers buf = buffers(ws);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < taps; ++t) buf.wr[t * C + c] = w[c * taps + t];
  if (dw) std::fill(buf.dwr, buf.dwr + taps * C, 0.f);
  for (int64_t n0 = 0; n0 < num_; n0 += chunk_) {
    const int nb = static_cast<int>(std::min(chunk_, num_ - n0));
    const int64_t rows = nb * out;
    nchw_to_nhwc(dy + n0 * C * out, nb, static_cast<int>(C), out, buf.yt);  // dY^T
    if (dw) {
      // dE/dWt[t][c] += sum_p dY^T[p][c] col[p][t*C + c]  (threads own taps: no races)
      nchw_to_nhwc(x + n0 * in, nb, static_cast<int>(C), g_.in_plane(), buf.xt);
      im2col_nhwc(buf.xt, nb, colg_, buf.col);
      crema::parallel_for(taps, 1, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          float* __restrict acc = buf.dwr + t * C;
          for (int64_t p = 0; p < rows; ++p) {
            const float* __restrict d = buf.yt + p * C;
            const float* __restrict cr = buf.col + (p * taps + t) * C;
            for (int64_t c = 0; c < C; ++c) acc[c] += d[c] * cr[c];
          }
        }
      });
    }
    if (dx) {
      // dE/dcol[p][t*C + c] = dY^T[p][c] Wt[t][c], then col2im back to N,C,H,W.
      crema::parallel_for(rows, std::max<int64_t>(1, 4096 / (taps * C)), [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          const float* __restrict d = buf.yt + p * C;
          for (int64_t t = 0; t < taps; ++t) {
            float* __restrict cr = buf.col + (p * taps + t) * C;
            const float* __restrict wr = buf.wr + t * C;
            for (int64_t c = 0; c < C; ++c) cr[c] = d[c] * wr[c];
          }
        }
      });
      col2im_nhwc(buf.col, nb, colg_, buf.xt);
      nhwc_to_nchw(buf.xt, nb, static_cast<int>(C), g_.in_plane(), nullptr, dx + n0 * in);
    }
  }
  if (dw)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < taps; ++t) dw[c * taps + t] += buf.dwr[t * C + c];
}

}  // namespace crema::layers
