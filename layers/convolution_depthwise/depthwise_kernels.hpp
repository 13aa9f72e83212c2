// SPDX-License-Identifier: BSD-2-Clause
// Per-plane loops of the depthwise convolution (one channel of one image at a time).
//
// Stride 1 works on a zero-padded copy of the plane with row pitch P: output pixel (r, c) lives at
// k = r*P + c, and tap (i, j) reads k + i*DH*P + j*DW, so one tap is ONE contiguous loop over the
// whole plane (the columns c >= the output width are computed and dropped):
//   ext[k] = sum_{i,j} w[i][j] pad[k + i*DH*P + j*DW]                (correlate)
//   dW[i][j] = sum_k dyext[k] pad[k + i*DH*P + j*DW]                 (dot per tap)
// The input gradient is the same correlation of the padded dE/dy with the flipped kernel.
// Other strides use per-row loops over the interval of valid output columns (tap_rows).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace depthwise {

// Output indices o in [lo, hi) with 0 <= o*stride + off < size.
struct Span {
  int64_t lo, hi;
};
inline Span valid(int64_t off, int64_t stride, int64_t size, int64_t out) {
  int64_t lo = off < 0 ? (-off + stride - 1) / stride : 0;
  int64_t hi = size - 1 - off < 0 ? 0 : (size - 1 - off) / stride + 1;
  lo = std::min(lo, out);
  return {lo, std::max(lo, std::min(hi, out))};
}

// sum_k a[k] * b[k*stride] (b null: sum_k a[k]) with 16 partial sums, so the compiler vectorises.
inline float dot(const float* __restrict a, const float* __restrict b, int64_t n,
                 int64_t stride = 1) {
  float acc[16] = {};
  int64_t k = 0;
  if (!b) {
    for (; k + 16 <= n; k += 16)
      for (int u = 0; u < 16; ++u) acc[u] += a[k + u];
    for (; k < n; ++k) acc[0] += a[k];
  } else {
    if (stride == 1)
      for (; k + 16 <= n; k += 16)
        for (int u = 0; u < 16; ++u) acc[u] += a[k + u] * b[k + u];
    for (; k < n; ++k) acc[0] += a[k] * b[k * stride];
  }
  float s = 0.f;
  for (float v : acc) s += v;
  return s;
}

// y[k*sy] += a * x[k*sx] for k in [lo, hi) (x and y are different tensors).
inline void axpy(float a, const float* __restrict x, int64_t sx, float* __restrict y, int64_t sy,
                 int64_t lo, int64_t hi) {
  if (sx == 1 && sy == 1)
    for (int64_t k = lo; k < hi; ++k) y[k] += a * x[k];
  else
    for (int64_t k = lo; k < hi; ++k) y[k * sy] += a * x[k * sx];
}

struct Plane {
  int64_t h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
};

// dst (of `total` floats) = 0, except dst[(r + top)*pitch + left + c] = src[r][c].
inline void pad_copy(const float* src, int64_t rows, int64_t cols, int64_t top, int64_t left,
                     int64_t pitch, int64_t total, std::vector<float>* dst) {
  dst->assign(static_cast<size_t>(total), 0.f);
  for (int64_t r = 0; r < rows; ++r)
    std::copy(src + r * cols, src + (r + 1) * cols, dst->data() + (r + top) * pitch + left);
}

// ext[k] = sum_{i,j} w'[i][j] pad[k + i*dh*pitch + j*dw] for k < n; w' = w, or w rotated by 180
// degrees when `flip`. `pad` holds n + (kh-1)*dh*pitch + (kw-1)*dw floats.
inline void correlate(const float* __restrict pad, int64_t pitch, const float* w, const Plane& g,
                      bool flip, float* __restrict ext, int64_t n) {
  std::fill(ext, ext + n, 0.f);
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const float wv = flip ? w[(g.kh - 1 - i) * g.kw + (g.kw - 1 - j)] : w[i * g.kw + j];
      const float* src = pad + i * g.dh * pitch + j * g.dw;
      for (int64_t k = 0; k < n; ++k) ext[k] += wv * src[k];
    }
}

// fn(i, j, oh, ih, valid output columns, iw of output column 0) for every tap and output row that
// reads an input row inside the plane (any stride).
template <class Fn>
void tap_rows(const Plane& g, const Fn& fn) {
  for (int64_t i = 0; i < g.kh; ++i) {
    const Span rows = valid(i * g.dh - g.ph, g.sh, g.h, g.oh);
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t iw0 = j * g.dw - g.pw;
      const Span cols = valid(iw0, g.sw, g.w, g.ow);
      for (int64_t oh = rows.lo; oh < rows.hi; ++oh)
        fn(i, j, oh, oh * g.sh - g.ph + i * g.dh, cols, iw0);
    }
  }
}

}  // namespace depthwise
