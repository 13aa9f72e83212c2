// SPDX-License-Identifier: BSD-2-Clause
// Pooling over N,H,W,C bf16 bottoms (ABI 1.6 channels-last blobs), in that order: every window
// position is a run of C channels, so each output pixel reduces whole runs (vectorised over the
// channels) instead of planes. The windows and divisors are Pooling's own (hs..he, ws..we, and
// hdiv * wdiv for AVE, Caffe's counts over the padded window); MAX keeps Caffe's tie rule (the
// first maximum in row-major order: only a larger value replaces the best) and records the flat
// input index h*W + w of each channel's maximum in the mask, in the top's N,H,W,C order.
// Outputs are stored N,H,W,C, which for a 1x1 output (global pooling) is N,C,H,W as well.
#pragma once
#include <cfloat>
#include <cstdint>
#include <cstring>
#include <vector>

#include "crema/bf16.hpp"
#include "crema/layer.hpp"

namespace crema::layers::pooling {

// n fp32 values into a run of a tensor's type (rounded once where it is bf16).
inline void put(float* dst, const float* src, int64_t n) {
  std::memcpy(dst, src, n * sizeof(float));
}
inline void put(uint16_t* dst, const float* src, int64_t n) { crema::store_bf16(dst, src, n); }

struct Windows {
  int64_t num, channels, h, w, out_h, out_w;
  const int64_t *hs, *he, *hdiv, *ws, *we, *wdiv;
};

// y (and for MAX the mask) of every output pixel; X, Y float or uint16_t (bf16).
template <class X, class Y>
void forward_channels_last(const Windows& g, bool max, const X* x, Y* y, int32_t* mask) {
  const int64_t c = g.channels;
  crema::parallel_for(g.num * g.out_h, 1, [&](int64_t b, int64_t e) {
    std::vector<float> acc(c);
    std::vector<int32_t> at(c);
    for (int64_t r = b; r < e; ++r) {
      const int64_t n = r / g.out_h, oh = r % g.out_h;
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        std::fill(acc.begin(), acc.end(), max ? -FLT_MAX : 0.f);
        std::fill(at.begin(), at.end(), -1);
        for (int64_t h = g.hs[oh]; h < g.he[oh]; ++h)
          for (int64_t w = g.ws[ow]; w < g.we[ow]; ++w) {
            const X* px = x + ((n * g.h + h) * g.w + w) * c;
            const auto flat = static_cast<int32_t>(h * g.w + w);
            if (max) {
              for (int64_t k = 0; k < c; ++k) {  // branch-free so that it vectorises
                const float v = crema::load(px + k);
                const bool gt = v > acc[k];
                acc[k] = gt ? v : acc[k];
                at[k] = gt ? flat : at[k];
              }
            } else {
              for (int64_t k = 0; k < c; ++k) acc[k] += crema::load(px + k);
            }
          }
        const int64_t out = (r * g.out_w + ow) * c;
        if (max) {
          std::memcpy(mask + out, at.data(), c * sizeof(int32_t));
        } else {
          const float inv = 1.f / static_cast<float>(g.hdiv[oh] * g.wdiv[ow]);
          for (int64_t k = 0; k < c; ++k) acc[k] *= inv;
        }
        put(y + out, acc.data(), c);
      }
    }
  });
}

// dE/dx of every image: the outputs' gradients added into an fp32 image (windows overlap), which
// is then stored once.
template <class Y, class X>
void backward_channels_last(const Windows& g, bool max, const Y* dy, X* dx, const int32_t* mask) {
  const int64_t c = g.channels, image = g.h * g.w * c;
  crema::parallel_for(g.num, 1, [&](int64_t b, int64_t e) {
    std::vector<float> grad(image);
    for (int64_t n = b; n < e; ++n) {
      std::fill(grad.begin(), grad.end(), 0.f);
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t out = ((n * g.out_h + oh) * g.out_w + ow) * c;
          if (max) {
            for (int64_t k = 0; k < c; ++k)
              if (mask[out + k] >= 0) grad[mask[out + k] * c + k] += crema::load(dy + out + k);
            continue;
          }
          const float inv = 1.f / static_cast<float>(g.hdiv[oh] * g.wdiv[ow]);
          for (int64_t h = g.hs[oh]; h < g.he[oh]; ++h)
            for (int64_t w = g.ws[ow]; w < g.we[ow]; ++w) {
              float* to = grad.data() + (h * g.w + w) * c;
              for (int64_t k = 0; k < c; ++k) to[k] += crema::load(dy + out + k) * inv;
            }
        }
      put(dx + n * image, grad.data(), image);
    }
  });
}

}  // namespace crema::layers::pooling
