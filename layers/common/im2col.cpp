// SPDX-License-Identifier: BSD-2-Clause
// Pixel-major im2col / col2im and the N,C,H,W <-> N,H,W,C transposes around them; see
// include/crema/layers/im2col.hpp for the index map. Channels are innermost on both sides, so each
// kernel tap moves Cg contiguous floats (one vector for 16 channels).
#include "crema/layers/im2col.hpp"

#include <algorithm>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "crema/layer.hpp"

namespace crema::layers {
namespace {

#if defined(__AVX2__)
// out[k][0..8) = in[0..8)[k] + bias[k] for an 8x8 block (the unpack/shuffle/permute network).
inline void transpose8x8(const float* in, int64_t ldi, const float* bias, float* out, int64_t ldo) {
  __m256 r[8], t[8], s[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(in + k * ldi);
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
    t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    s[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    __m256 lo = _mm256_permute2f128_ps(s[k], s[k + 4], 0x20);
    __m256 hi = _mm256_permute2f128_ps(s[k], s[k + 4], 0x31);
    if (bias) {
      lo = _mm256_add_ps(lo, _mm256_set1_ps(bias[k]));
      hi = _mm256_add_ps(hi, _mm256_set1_ps(bias[k + 4]));
    }
    _mm256_storeu_ps(out + k * ldo, lo);
    _mm256_storeu_ps(out + (k + 4) * ldo, hi);
  }
}
#endif

// out[c][r] = in[r][c] + (bias ? bias[c] : 0) for an in[rows][cols] matrix: 8x8 blocks with AVX2,
// plain loops for the edges (and without AVX2).
void transpose(const float* __restrict in, int64_t rows, int64_t cols, const float* bias,
               float* __restrict out) {
  int64_t r8 = 0, c8 = 0;
#if defined(__AVX2__)
  r8 = rows / 8 * 8;
  c8 = cols / 8 * 8;
  for (int64_t c0 = 0; c0 < c8; c0 += 8)
    for (int64_t r0 = 0; r0 < r8; r0 += 8)
      transpose8x8(in + r0 * cols + c0, cols, bias ? bias + c0 : nullptr, out + c0 * rows + r0,
                   rows);
#endif
  auto edge = [&](int64_t r_lo, int64_t r_hi, int64_t c_lo, int64_t c_hi) {
    for (int64_t c = c_lo; c < c_hi; ++c) {
      const float b = bias ? bias[c] : 0.f;
      for (int64_t r = r_lo; r < r_hi; ++r) out[c * rows + r] = in[r * cols + c] + b;
    }
  };
  edge(r8, rows, 0, cols);  // the rows below the blocks, all columns
  edge(0, r8, c8, cols);    // the columns right of the blocks
}

int64_t image_grain(int64_t floats_per_image) {
  return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, floats_per_image));
}

// One output pixel's row of the column matrix. With one group and dilation 1 the KW taps of a
// kernel row read KW neighbouring pixels: one contiguous run of KW*C floats when inside the image.
template <class T>
inline void im2col_pixel(const T* __restrict img, const ConvGeometry& g, int oh, int ow,
                         T* __restrict dst) {
  const int H = g.height, W = g.width, C = g.channels, KW = g.kernel_w, G = g.groups, cg = C / G;
  const int iw0 = ow * g.stride_w - g.pad_w;
  const bool run = G == 1 && g.dilation_w == 1 && iw0 >= 0 && iw0 + KW <= W;
  for (int grp = 0; grp < G; ++grp) {
    for (int i = 0; i < g.kernel_h; ++i) {
      const int ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
      const int64_t len = int64_t{KW} * cg;
      if (ih < 0 || ih >= H) {
        for (int64_t k = 0; k < len; ++k) dst[k] = T{};
      } else if (run) {
        const T* src = img + (int64_t{ih} * W + iw0) * C;
        for (int64_t k = 0; k < len; ++k) dst[k] = src[k];
      } else {
        for (int j = 0; j < KW; ++j) {
          const int iw = iw0 + j * g.dilation_w;
          T* d = dst + int64_t{j} * cg;
          if (iw < 0 || iw >= W) {
            for (int c = 0; c < cg; ++c) d[c] = T{};
          } else {
            const T* src = img + (int64_t{ih} * W + iw) * C + int64_t{grp} * cg;
            for (int c = 0; c < cg; ++c) d[c] = src[c];
          }
        }
      }
      dst += len;
    }
  }
}

// The adjoint of im2col_pixel: adds the row into the image.
inline void col2im_pixel(const float* __restrict src, const ConvGeometry& g, int oh, int ow,
                         float* __restrict img) {
  const int H = g.height, W = g.width, C = g.channels, KW = g.kernel_w, G = g.groups, cg = C / G;
  const int iw0 = ow * g.stride_w - g.pad_w;
  const bool run = G == 1 && g.dilation_w == 1 && iw0 >= 0 && iw0 + KW <= W;
  for (int grp = 0; grp < G; ++grp) {
    for (int i = 0; i < g.kernel_h; ++i) {
      const int ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
      const int64_t len = int64_t{KW} * cg;
      if (ih < 0 || ih >= H) {
        // the whole kernel row reads padding: nothing to add
      } else if (run) {
        float* dst = img + (int64_t{ih} * W + iw0) * C;
        for (int64_t k = 0; k < len; ++k) dst[k] += src[k];
      } else {
        for (int j = 0; j < KW; ++j) {
          const int iw = iw0 + j * g.dilation_w;
          if (iw < 0 || iw >= W) continue;
          float* dst = img + (int64_t{ih} * W + iw) * C + int64_t{grp} * cg;
          const float* s = src + int64_t{j} * cg;
          for (int c = 0; c < cg; ++c) dst[c] += s[c];
        }
      }
      src += len;
    }
  }
}

}  // namespace

void nchw_to_nhwc(const float* x, int num, int channels, int64_t plane, float* xt) {
  const int64_t n_img = int64_t{channels} * plane;
  crema::parallel_for(num, image_grain(n_img), [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n)
      transpose(x + n * n_img, channels, plane, nullptr, xt + n * n_img);
  });
}

void nhwc_to_nchw(const float* xt, int num, int channels, int64_t plane, const float* bias,
                  float* x) {
  const int64_t n_img = int64_t{channels} * plane;
  crema::parallel_for(num, image_grain(n_img), [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) transpose(xt + n * n_img, plane, channels, bias, x + n * n_img);
  });
}

namespace {
template <class T>
void im2col_nhwc_typed(const T* xt, int num, const ConvGeometry& g, T* col) {
  const int OH = g.out_h(), OW = g.out_w();
  const int64_t K = g.col_width(), img_floats = g.in_plane() * g.channels;
  // Rows (n, oh) of the output are independent.
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const T* img = xt + (t / OH) * img_floats;
      const int oh = static_cast<int>(t % OH);
      T* row = col + t * OW * K;
      for (int ow = 0; ow < OW; ++ow, row += K) im2col_pixel(img, g, oh, ow, row);
    }
  };
  crema::parallel_for(int64_t{num} * OH, std::max<int64_t>(1, 16384 / (OW * K)), rows);
}
}  // namespace

void im2col_nhwc(const float* xt, int num, const ConvGeometry& g, float* col) {
  im2col_nhwc_typed(xt, num, g, col);
}
void im2col_nhwc(const uint16_t* xt, int num, const ConvGeometry& g, uint16_t* col) {
  im2col_nhwc_typed(xt, num, g, col);
}

void col2im_nhwc(const float* col, int num, const ConvGeometry& g, float* xt) {
  const int OH = g.out_h(), OW = g.out_w();
  const int64_t K = g.col_width(), img_floats = g.in_plane() * g.channels;
  // Taps of different output pixels overlap in x: images are the independent unit.
  crema::parallel_for(num, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      float* img = xt + n * img_floats;
      std::fill(img, img + img_floats, 0.f);
      const float* row = col + n * OH * OW * K;
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow, row += K) col2im_pixel(row, g, oh, ow, img);
    }
  });
}

}  // namespace crema::layers
