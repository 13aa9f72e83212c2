// SPDX-License-Identifier: BSD-2-Clause
// Winograd F(m x m, 3x3), m = 2 or 4 (Lavin & Gray 2016), for 3x3, stride 1, dilation 1, group 1
// convolutions: the forward pass and dE/dx (ConvGemm::winograd()), and optionally dE/dW
// (winograd_dw()).
//
// Each m x m block of outputs ("tile") reads an a x a input patch d (a = m + 2); with the
// transforms B^T (a x a), G (a x 3) and A^T (m x a) of Tile<m> below:
//   Y_tile = A^T [ sum_c (G g_{o,c} G^T) .* (B^T d_c B) ] A
// so per chunk of images (T tiles): V[t][xi][c] = (B^T d_c B)[xi] (vectorised over the channels
// of the N,H,W,C chunk), U[xi][c][o] = (G g_{o,c} G^T)[xi] once per call, then a*a GEMMs
//   M_xi[T][Cout] = V_xi[T][Cin] * U_xi[Cin][Cout]
// (V and M tile-major, leading dimension a*a*C), and Y = A^T M A into the N,H,W,C output, with
// partial tiles at odd output sizes clipped. F(2x2): 16 products per 4 outputs instead of 36;
// F(4x4): 36 per 16 instead of 144, with larger transforms and a little more rounding error.
//
// dE/dx is a convolution of dE/dy with W'[c][o][i][j] = W[o][c][2-i][2-j] and pad 2 - pad (same
// size as x): the same kernel, run with the transposed, rotated weights. The transforms
// themselves: winograd_tiles.hpp.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "conv_gemm.hpp"
#include "crema/layer.hpp"
#include "winograd_tiles.hpp"

namespace crema::layers {
namespace {
using winograd::separable;
using winograd::Tile;

// Kernels of the transforms over kLanes channels at a time (GCC/Clang vector extensions; with
// -march=native one AVX-512 register), or one (T = float) for the remainder.
constexpr int kLanes = 16;
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
template <class T>
inline T load(const float* p) {
  T v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
inline void store(float* p, T v) {
  __builtin_memcpy(p, &v, sizeof v);
}

// U[xi][c][o] = (G g G^T)[xi], g = the 3x3 kernel of input channel c for output o; `at(o, c, k)`
// gives tap k = i*3 + j. Per input channel the taps are gathered o-contiguous (gt[k][o]) so that
// the transform runs over kLanes outputs at a time: a per-call cost that F(4x4) pays 36 times
// per (c, o) pair, measured 9 ms of 11 on a 256 x 256 layer when done one pair at a time.
template <int M, class At>
void transform_weights(int64_t cin, int64_t cout, const At& at, float* u) {
  constexpr int A = Tile<M>::kA;
  const int64_t plane = cin * cout;
  std::vector<float> gt(static_cast<size_t>(9 * cout));
  auto one = [&](auto lanes, int64_t c, int64_t o) {
    using T = decltype(lanes);
    T g[3][3], r[A][A];
    for (int k = 0; k < 9; ++k) g[k / 3][k % 3] = load<T>(gt.data() + k * cout + o);
    separable(g, r, [](const T(&in)[3], T(&out)[A]) { Tile<M>::weight(in, out); });
    for (int k = 0; k < A * A; ++k) store(u + k * plane + c * cout + o, r[k / A][k % A]);
  };
  for (int64_t c = 0; c < cin; ++c) {
    for (int64_t o = 0; o < cout; ++o)
      for (int k = 0; k < 9; ++k) gt[k * cout + o] = at(o, c, k);
    int64_t o = 0;
    for (; o + kLanes <= cout; o += kLanes) one(Vec{}, c, o);
    for (; o < cout; ++o) one(float{}, c, o);
  }
}

// vt[xi*cin + c..] = (B^T d B)[xi] for the a x a patch p[i][j][c..]
template <int M, class T>
inline void input_tile(const float* const (&p)[Tile<M>::kA][Tile<M>::kA], int64_t c, int64_t cin,
                       float* vt) {
  constexpr int A = Tile<M>::kA;
  T d[A][A], r[A][A];
  for (int i = 0; i < A; ++i)
    for (int j = 0; j < A; ++j) d[i][j] = load<T>(p[i][j] + c);
  separable(d, r, [](const T(&in)[A], T(&out)[A]) { Tile<M>::input(in, out); });
  for (int i = 0; i < A; ++i)
    for (int j = 0; j < A; ++j) store(vt + (i * A + j) * cin + c, r[i][j]);
}

// dst[i*m + j][o..] = (A^T mt A)[i][j], mt[xi] = mt[xi*cout + o..]
template <int M, class T>
inline void output_tile(const float* mt, int64_t o, int64_t cout, float* const (&dst)[M * M]) {
  constexpr int A = Tile<M>::kA;
  T m[A][A], y[M][M];
  for (int i = 0; i < A; ++i)
    for (int j = 0; j < A; ++j) m[i][j] = load<T>(mt + (i * A + j) * cout + o);
  separable(m, y, [](const T(&in)[A], T(&out)[M]) { Tile<M>::output(in, out); });
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < M; ++j) store(dst[i * M + j] + o, y[i][j]);
}

// dE/dM for one tile: dm[xi*cout + o..] = (A dY A^T)[xi], dY the m x m of src[i*m + j][o..] (the
// adjoint of output_tile).
template <int M, class T>
inline void output_tile_adjoint(const float* const (&src)[M * M], int64_t o, int64_t cout,
                                float* dm) {
  constexpr int A = Tile<M>::kA;
  T dy[M][M], r[A][A];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < M; ++j) dy[i][j] = load<T>(src[i * M + j] + o);
  separable(dy, r, [](const T(&in)[M], T(&out)[A]) { Tile<M>::output_adjoint(in, out); });
  for (int i = 0; i < A; ++i)
    for (int j = 0; j < A; ++j) store(dm + (i * A + j) * cout + o, r[i][j]);
}

// V[t][xi][c] = (B^T d B)[xi] for every tile t of `nb` N,H,W,C images, vectorised over c.
template <int M>
void input_transform(const float* xt, int nb, int64_t h, int64_t w, int64_t cin, int64_t ph,
                     int64_t pw, int64_t th, int64_t tw, const float* zero, float* v) {
  constexpr int A = Tile<M>::kA;
  const int64_t vs = A * A * cin;
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx = 0; tx < tw; ++tx) {
        const float* p[A][A];
        for (int i = 0; i < A; ++i) {
          const int64_t ih = M * ty - ph + i;
          for (int j = 0; j < A; ++j) {
            const int64_t iw = M * tx - pw + j;
            p[i][j] = ih >= 0 && ih < h && iw >= 0 && iw < w ? xt + ((n * h + ih) * w + iw) * cin
                                                             : zero;
          }
        }
        float* __restrict vt = v + ((n * th + ty) * tw + tx) * vs;
        int64_t c = 0;
        for (; c + kLanes <= cin; c += kLanes) input_tile<M, Vec>(p, c, cin, vt);
        for (; c < cin; ++c) input_tile<M, float>(p, c, cin, vt);
      }
}

// For `nb` N,H,W,C images xt of h x w x cin: y (N,H,W,C, oh x ow x cout) = the 3x3 correlation
// with pads ph, pw (may be negative: a crop), through U from transform_weights. v and m: a*a * nb
// * tiles * cin and * cout floats; zero: cin zeros; scratch: m*m * cout floats.
template <int M>
void winograd_core(const float* xt, int nb, int64_t h, int64_t w, int64_t cin, int64_t ph,
                   int64_t pw, int64_t oh, int64_t ow, int64_t cout, const float* u, float* v,
                   float* m, float* y, const float* zero, float* scratch) {
  constexpr int A = Tile<M>::kA, AA = A * A;
  const int64_t th = (oh + M - 1) / M, tw = (ow + M - 1) / M, tiles = nb * th * tw;
  const int64_t vs = AA * cin, ms = AA * cout;
  input_transform<M>(xt, nb, h, w, cin, ph, pw, th, tw, zero, v);
  // M_xi[T][cout] = V_xi[T][cin] * U_xi[cin][cout]
  for (int xi = 0; xi < AA; ++xi)
    crema::host().sgemm(false, false, static_cast<int32_t>(tiles), static_cast<int32_t>(cout),
                        static_cast<int32_t>(cin), 1.f, v + xi * cin, static_cast<int32_t>(vs),
                        u + xi * cin * cout, static_cast<int32_t>(cout), 0.f, m + xi * cout,
                        static_cast<int32_t>(ms));
  // Output transform: Y = A^T M A, clipped at the bottom and right edges.
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx = 0; tx < tw; ++tx) {
        const float* __restrict mt = m + ((n * th + ty) * tw + tx) * ms;
        const int64_t y0 = M * ty, x0 = M * tx;
        float* y00 = y + ((n * oh + y0) * ow + x0) * cout;
        if (y0 + M <= oh && x0 + M <= ow) {
          float* dst[M * M];
          for (int i = 0; i < M; ++i)
            for (int j = 0; j < M; ++j) dst[i * M + j] = y00 + (i * ow + j) * cout;
          int64_t o = 0;
          for (; o + kLanes <= cout; o += kLanes) output_tile<M, Vec>(mt, o, cout, dst);
          for (; o < cout; ++o) output_tile<M, float>(mt, o, cout, dst);
        } else {  // a partial tile: into a scratch m x m, then the pixels inside
          float* dst[M * M];
          for (int k = 0; k < M * M; ++k) dst[k] = scratch + k * cout;
          for (int64_t o = 0; o < cout; ++o) output_tile<M, float>(mt, o, cout, dst);
          for (int i = 0; i < M; ++i)
            for (int j = 0; j < M; ++j)
              if (y0 + i < oh && x0 + j < ow)
                std::copy(dst[i * M + j], dst[i * M + j] + cout, y00 + (i * ow + j) * cout);
        }
      }
}

// Calls fn(std::integral_constant<int, m>) for the tile size m (2 or 4).
template <class Fn>
void with_tile(int m, const Fn& fn) {
  if (m == 4) return fn(std::integral_constant<int, 4>{});
  fn(std::integral_constant<int, 2>{});
}
}  // namespace

int64_t ConvGemm::winograd_transform_floats() const {
  const int64_t a = wtile_ + 2;
  return a * a;
}

// Per image: the N,H,W,C input (either pass), V, M, the N,H,W,C output; tiles and channels the
// larger of the two passes'.
int64_t ConvGemm::winograd_image_floats() const {
  const int64_t C = g_.channels, in = C * g_.in_plane(), out = m_ * g_.out_plane();
  return 2 * std::max(in, out) +
         2 * winograd_transform_floats() * winograd_tiles() * std::max<int64_t>(C, m_);
}

int64_t ConvGemm::winograd_tiles() const {
  const int64_t t = wtile_;
  return std::max(((g_.out_h() + t - 1) / t) * ((g_.out_w() + t - 1) / t),
                  ((g_.height + t - 1) / t) * ((g_.width + t - 1) / t));
}

// A slot's chunk: the N,H,W,C input, V, M (or dE/dM), the N,H,W,C output (or dE/dy).
void ConvGemm::winograd_buffers(float* ws, int slot, float** in, float** v, float** m,
                                float** out) const {
  const int64_t io = std::max(g_.channels * g_.in_plane(), m_ * g_.out_plane());
  const int64_t vm = winograd_transform_floats() * winograd_tiles() * std::max<int64_t>(g_.channels, m_);
  *in = buffers(ws, slot).xt;
  *v = *in + wchunk_ * io;
  *m = *v + wchunk_ * vm;
  *out = *m + wchunk_ * vm;
}

float* ConvGemm::winograd_weights(float* ws) const {
  return ws + 2 * wk_ + slots_ * (slot_floats() + wk_);
}

// The forward pass and dE/dx share everything but the weights (dE/dx: W'[c][o][k] =
// W[o][c][8 - k], channels swapped, kernel rotated by 180 degrees) and the geometry.
void ConvGemm::winograd_forward(const float* x, const float* w, const float* bias, float* y,
                                float* ws) const {
  const int64_t C = g_.channels;
  with_tile(wtile_, [&](auto tile) {
    transform_weights<decltype(tile)::value>(
        C, m_, [&](int64_t o, int64_t c, int k) { return w[(o * C + c) * 9 + k]; },
        winograd_weights(ws));
  });
  winograd_convolve(x, C, g_.height, g_.width, g_.pad_h, g_.pad_w, m_, g_.out_h(), g_.out_w(), bias,
                    y, ws);
}

void ConvGemm::winograd_backward_data(const float* w, const float* dy, float* dx,
                                      float* ws) const {
  const int64_t C = g_.channels;
  with_tile(wtile_, [&](auto tile) {
    transform_weights<decltype(tile)::value>(
        m_, C, [&](int64_t c, int64_t o, int k) { return w[(o * C + c) * 9 + 8 - k]; },
        winograd_weights(ws));
  });
  winograd_convolve(dy, m_, g_.out_h(), g_.out_w(), 2 - g_.pad_h, 2 - g_.pad_w, C, g_.height,
                    g_.width, nullptr, dx, ws);
}

// out (N, cout, oh, ow) = the 3x3 correlation of in (N, cin, h, w) with pads ph, pw (+ bias),
// through the transformed weights already in winograd_weights(ws).
void ConvGemm::winograd_convolve(const float* in, int64_t cin, int64_t h, int64_t w, int64_t ph,
                                 int64_t pw, int64_t cout, int64_t oh, int64_t ow,
                                 const float* bias, float* out, float* ws) const {
  with_tile(wtile_, [&](auto tile) {
    constexpr int M = decltype(tile)::value;
    const float* u = winograd_weights(ws);
    const int64_t cmax = std::max(cin, cout), in_img = cin * h * w, out_img = cout * oh * ow;
    const std::vector<float> zero(static_cast<size_t>(cmax), 0.f);
    std::vector<float> scratch(static_cast<size_t>(M * M * cmax * slots_));
    for_each_chunk(
        [&](int slot, int64_t n0, int nb) {
          float *xt, *v, *mb, *yt;
          winograd_buffers(ws, slot, &xt, &v, &mb, &yt);
          nchw_to_nhwc(in + n0 * in_img, nb, static_cast<int>(cin), h * w, xt);
          winograd_core<M>(xt, nb, h, w, cin, ph, pw, oh, ow, cout, u, v, mb, yt, zero.data(),
                           scratch.data() + slot * M * M * cmax);
          nhwc_to_nchw(yt, nb, static_cast<int>(cout), oh * ow, bias, out + n0 * out_img);
        },
        wchunk_);
  });
}

// dE/dW: with V of x and dM = A dY A^T per tile (dY 0 outside the output),
//   dE/dU_xi[C][M] = sum_t V_xi[t]^T dM_xi[t]   (a*a GEMMs per chunk of depth T, per slot)
//   dE/dW[o][c] += G^T dE/dU[.][c][o] G
void ConvGemm::winograd_backward_weights(const float* x, const float* dy, float* dw,
                                         float* ws) const {
  with_tile(wtile_, [&](auto tile) {
    constexpr int M = decltype(tile)::value, A = Tile<M>::kA, AA = A * A;
    const int64_t C = g_.channels, in = C * g_.in_plane(), out = g_.out_plane();
    const int64_t OH = g_.out_h(), OW = g_.out_w(), th = (OH + M - 1) / M,
                  tw = (OW + M - 1) / M;
    const int64_t wu = AA * C * m_;
    float* du0 = winograd_weights(ws) + wu;  // per slot: dE/dU
    std::fill(du0, du0 + slots_ * wu, 0.f);
    const std::vector<float> zero(static_cast<size_t>(std::max<int64_t>(C, m_)), 0.f);
    for_each_chunk(
        [&](int slot, int64_t n0, int nb) {
          float *xt, *v, *dm, *dyt;
          winograd_buffers(ws, slot, &xt, &v, &dm, &dyt);
          float* du = du0 + slot * wu;
          nchw_to_nhwc(x + n0 * in, nb, static_cast<int>(C), g_.in_plane(), xt);
          input_transform<M>(xt, nb, g_.height, g_.width, C, g_.pad_h, g_.pad_w, th, tw,
                             zero.data(), v);
          nchw_to_nhwc(dy + n0 * m_ * out, nb, static_cast<int>(m_), out, dyt);
          for (int64_t n = 0; n < nb; ++n)
            for (int64_t ty = 0; ty < th; ++ty)
              for (int64_t tx = 0; tx < tw; ++tx) {
                const int64_t y0 = M * ty, x0 = M * tx;
                const float* src[M * M];
                for (int i = 0; i < M; ++i)
                  for (int j = 0; j < M; ++j)
                    src[i * M + j] = y0 + i < OH && x0 + j < OW
                                         ? dyt + ((n * OH + y0 + i) * OW + x0 + j) * m_
                                         : zero.data();
                float* __restrict dmt = dm + ((n * th + ty) * tw + tx) * AA * m_;
                int64_t o = 0;
                for (; o + kLanes <= m_; o += kLanes) output_tile_adjoint<M, Vec>(src, o, m_, dmt);
                for (; o < m_; ++o) output_tile_adjoint<M, float>(src, o, m_, dmt);
              }
          const int64_t t = nb * th * tw;
          for (int xi = 0; xi < AA; ++xi)
            crema::host().sgemm(true, false, static_cast<int32_t>(C), static_cast<int32_t>(m_),
                                static_cast<int32_t>(t), 1.f, v + xi * C,
                                static_cast<int32_t>(AA * C), dm + xi * m_,
                                static_cast<int32_t>(AA * m_), 1.f, du + xi * C * m_,
                                static_cast<int32_t>(m_));
        },
        wchunk_);
    for (int s = 1; s < slots_; ++s)
      for (int64_t i = 0; i < wu; ++i) du0[i] += du0[s * wu + i];
    // dW[o][c] += G^T dU G, over kLanes outputs at a time (dU is o-contiguous), through an
    // o-contiguous dwt[k][o] per input channel.
    const int64_t plane = C * m_;
    std::vector<float> dwt(static_cast<size_t>(9 * m_));
    auto one = [&](auto lanes, int64_t c, int64_t o) {
      using T = decltype(lanes);
      T d[A][A], r[3][3];
      for (int k = 0; k < AA; ++k) d[k / A][k % A] = load<T>(du0 + k * plane + c * m_ + o);
      separable(d, r, [](const T(&in)[A], T(&res)[3]) { Tile<M>::weight_adjoint(in, res); });
      for (int k = 0; k < 9; ++k) store(dwt.data() + k * m_ + o, r[k / 3][k % 3]);
    };
    for (int64_t c = 0; c < C; ++c) {
      int64_t o = 0;
      for (; o + kLanes <= m_; o += kLanes) one(Vec{}, c, o);
      for (; o < m_; ++o) one(float{}, c, o);
      for (o = 0; o < m_; ++o)
        for (int k = 0; k < 9; ++k) dw[(o * C + c) * 9 + k] += dwt[k * m_ + o];
    }
  });
}

}  // namespace crema::layers
