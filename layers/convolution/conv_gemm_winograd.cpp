// SPDX-License-Identifier: BSD-2-Clause
// Winograd F(2x2, 3x3) (Lavin & Gray 2016) for 3x3, stride 1, dilation 1, group 1 convolutions:
// the forward pass and dE/dx (ConvGemm::winograd()), and optionally dE/dW (winograd_dw()).
//
// Each 2x2 block of outputs ("tile") reads a 4x4 input patch d; with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1]:
//   Y_tile = A^T [ sum_c (G g_{o,c} G^T) .* (B^T d_c B) ] A
// so per chunk of images (T tiles): V[t][xi][c] = (B^T d_c B)[xi] (vectorised over the channels
// of the N,H,W,C chunk), U[xi][c][o] = (G g_{o,c} G^T)[xi] once per call, then 16 GEMMs
//   M_xi[T][Cout] = V_xi[T][Cin] * U_xi[Cin][Cout]
// (V and M tile-major, leading dimension 16*C), and Y = A^T M A into the N,H,W,C output, with
// partial tiles at odd output sizes clipped. 16 products per 4 outputs instead of 36.
//
// dE/dx is a convolution of dE/dy with W'[c][o][i][j] = W[o][c][2-i][2-j] and pad 2 - pad (same
// size as x): the same kernel, run with the transposed, rotated weights.
#include <algorithm>
#include <vector>

#include "conv_gemm.hpp"
#include "crema/layer.hpp"

namespace crema::layers {
namespace {
// U[xi][c][o] = (G g G^T)[xi], g = the 3x3 kernel of input channel c for output o; `at(o, c, k)`
// gives tap k = i*3 + j.
template <class At>
void transform_weights(int64_t cin, int64_t cout, const At& at, float* u) {
  const int64_t plane = cin * cout;
  for (int64_t c = 0; c < cin; ++c)
    for (int64_t o = 0; o < cout; ++o) {
      float g[3][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) g[i][j] = at(o, c, i * 3 + j);
      float t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[0][j];
        t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
        t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
        t[3][j] = g[2][j];
      }
      for (int i = 0; i < 4; ++i) {  // (G g) G^T
        float r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                      0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j) u[(i * 4 + j) * plane + c * cout + o] = r[j];
      }
    }
}

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

// vt[xi*cin + c..] = (B^T d B)[xi] for the 4x4 patch p[i][j][c..]
template <class T>
inline void input_tile(const float* const (&p)[4][4], int64_t c, int64_t cin, float* vt) {
  T t[4][4];  // B^T d
  for (int j = 0; j < 4; ++j) {
    const T d0 = load<T>(p[0][j] + c), d1 = load<T>(p[1][j] + c), d2 = load<T>(p[2][j] + c),
            d3 = load<T>(p[3][j] + c);
    t[0][j] = d0 - d2;
    t[1][j] = d1 + d2;
    t[2][j] = d2 - d1;
    t[3][j] = d1 - d3;
  }
  for (int i = 0; i < 4; ++i) {  // (B^T d) B
    store(vt + (i * 4 + 0) * cin + c, t[i][0] - t[i][2]);
    store(vt + (i * 4 + 1) * cin + c, t[i][1] + t[i][2]);
    store(vt + (i * 4 + 2) * cin + c, t[i][2] - t[i][1]);
    store(vt + (i * 4 + 3) * cin + c, t[i][1] - t[i][3]);
  }
}

// dst[i*2 + j][o..] = (A^T m A)[i][j], m[xi] = mt[xi*cout + o..]
template <class T>
inline void output_tile(const float* mt, int64_t o, int64_t cout, float* const (&dst)[4]) {
  T t0[4], t1[4];  // A^T m
  for (int j = 0; j < 4; ++j) {
    const T s0 = load<T>(mt + (0 * 4 + j) * cout + o), s1 = load<T>(mt + (1 * 4 + j) * cout + o),
            s2 = load<T>(mt + (2 * 4 + j) * cout + o), s3 = load<T>(mt + (3 * 4 + j) * cout + o);
    t0[j] = s0 + s1 + s2;
    t1[j] = s1 - s2 - s3;
  }
  store(dst[0] + o, t0[0] + t0[1] + t0[2]);
  store(dst[1] + o, t0[1] - t0[2] - t0[3]);
  store(dst[2] + o, t1[0] + t1[1] + t1[2]);
  store(dst[3] + o, t1[1] - t1[2] - t1[3]);
}

// dE/dM for one tile: dm[xi*cout + o..] = (A dY A^T)[xi], dY the 2x2 of src[i*2 + j][o..] (the
// adjoint of output_tile).
template <class T>
inline void output_tile_adjoint(const float* const (&src)[4], int64_t o, int64_t cout,
                                float* dm) {
  const T a = load<T>(src[0] + o), b = load<T>(src[1] + o), c = load<T>(src[2] + o),
          d = load<T>(src[3] + o);
  const T r[4][2] = {{a, b}, {a + c, b + d}, {a - c, b - d}, {-c, -d}};  // A dY
  for (int i = 0; i < 4; ++i) {                                         // (A dY) A^T
    store(dm + (i * 4 + 0) * cout + o, r[i][0]);
    store(dm + (i * 4 + 1) * cout + o, r[i][0] + r[i][1]);
    store(dm + (i * 4 + 2) * cout + o, r[i][0] - r[i][1]);
    store(dm + (i * 4 + 3) * cout + o, -r[i][1]);
  }
}

// V[t][xi][c] = (B^T d B)[xi] for every tile t of `nb` N,H,W,C images, vectorised over c.
void input_transform(const float* xt, int nb, int64_t h, int64_t w, int64_t cin, int64_t ph,
                     int64_t pw, int64_t th, int64_t tw, const float* zero, float* v) {
  const int64_t vs = 16 * cin;
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx = 0; tx < tw; ++tx) {
        const float* p[4][4];
        for (int i = 0; i < 4; ++i) {
          const int64_t ih = 2 * ty - ph + i;
          for (int j = 0; j < 4; ++j) {
            const int64_t iw = 2 * tx - pw + j;
            p[i][j] = ih >= 0 && ih < h && iw >= 0 && iw < w ? xt + ((n * h + ih) * w + iw) * cin
                                                             : zero;
          }
        }
        float* __restrict vt = v + ((n * th + ty) * tw + tx) * vs;
        int64_t c = 0;
        for (; c + kLanes <= cin; c += kLanes) input_tile<Vec>(p, c, cin, vt);
        for (; c < cin; ++c) input_tile<float>(p, c, cin, vt);
      }
}

// For `nb` N,H,W,C images xt of h x w x cin: y (N,H,W,C, oh x ow x cout) = the 3x3 correlation
// with pads ph, pw (may be negative: a crop), through U from transform_weights. v and m: 16 * nb *
// tiles * cin and * cout floats; zero: cin zeros; scratch: 4 * cout floats.
void winograd_core(const float* xt, int nb, int64_t h, int64_t w, int64_t cin, int64_t ph,
                   int64_t pw, int64_t oh, int64_t ow, int64_t cout, const float* u, float* v,
                   float* m, float* y, const float* zero, float* scratch) {
  const int64_t th = (oh + 1) / 2, tw = (ow + 1) / 2, tiles = nb * th * tw;
  const int64_t vs = 16 * cin, ms = 16 * cout;
  input_transform(xt, nb, h, w, cin, ph, pw, th, tw, zero, v);
  // M_xi[T][cout] = V_xi[T][cin] * U_xi[cin][cout]
  for (int xi = 0; xi < 16; ++xi)
    crema::host().sgemm(false, false, static_cast<int32_t>(tiles), static_cast<int32_t>(cout),
                        static_cast<int32_t>(cin), 1.f, v + xi * cin, static_cast<int32_t>(vs),
                        u + xi * cin * cout, static_cast<int32_t>(cout), 0.f, m + xi * cout,
                        static_cast<int32_t>(ms));
  // Output transform: Y = A^T M A, clipped at the bottom and right edges.
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx = 0; tx < tw; ++tx) {
        const float* __restrict mt = m + ((n * th + ty) * tw + tx) * ms;
        const int64_t y0 = 2 * ty, x0 = 2 * tx;
        float* y00 = y + ((n * oh + y0) * ow + x0) * cout;
        if (y0 + 1 < oh && x0 + 1 < ow) {
          float* dst[4] = {y00, y00 + cout, y00 + ow * cout, y00 + (ow + 1) * cout};
          int64_t o = 0;
          for (; o + kLanes <= cout; o += kLanes) output_tile<Vec>(mt, o, cout, dst);
          for (; o < cout; ++o) output_tile<float>(mt, o, cout, dst);
        } else {  // a partial tile: into a scratch 2x2, then the pixels inside
          float* part = scratch;
          float* dst[4] = {part, part + cout, part + 2 * cout, part + 3 * cout};
          for (int64_t o = 0; o < cout; ++o) output_tile<float>(mt, o, cout, dst);
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j)
              if (y0 + i < oh && x0 + j < ow)
                std::copy(dst[i * 2 + j], dst[i * 2 + j] + cout, y00 + (i * ow + j) * cout);
        }
      }
}
}  // namespace

// Per image: the N,H,W,C input (either pass), V, M, the N,H,W,C output; tiles and channels the
// larger of the two passes'.
int64_t ConvGemm::winograd_image_floats() const {
  const int64_t C = g_.channels, in = C * g_.in_plane(), out = m_ * g_.out_plane();
  return 2 * std::max(in, out) + 2 * 16 * winograd_tiles() * std::max<int64_t>(C, m_);
}

int64_t ConvGemm::winograd_tiles() const {
  return std::max(int64_t{(g_.out_h() + 1) / 2} * ((g_.out_w() + 1) / 2),
                  int64_t{(g_.height + 1) / 2} * ((g_.width + 1) / 2));
}

// A slot's chunk: the N,H,W,C input, V, M (or dE/dM), the N,H,W,C output (or dE/dy).
void ConvGemm::winograd_buffers(float* ws, int slot, float** in, float** v, float** m,
                                float** out) const {
  const int64_t io = std::max(g_.channels * g_.in_plane(), m_ * g_.out_plane());
  const int64_t vm = 16 * winograd_tiles() * std::max<int64_t>(g_.channels, m_);
  *in = buffers(ws, slot).xt;
  *v = *in + wchunk_ * io;
  *m = *v + wchunk_ * vm;
  *out = *m + wchunk_ * vm;
}

float* ConvGemm::winograd_weights(float* ws) const {
  return ws + 2 * wk_ + slots_ * (slot_floats() + wk_);
}

void ConvGemm::winograd_forward(const float* x, const float* w, const float* bias, float* y,
                                float* ws) const {
  const int64_t C = g_.channels, in = C * g_.in_plane(), out = g_.out_plane();
  float* u = winograd_weights(ws);
  transform_weights(C, m_, [&](int64_t o, int64_t c, int k) { return w[(o * C + c) * 9 + k]; },
                    u);
  const int64_t cmax = std::max<int64_t>(C, m_);
  const std::vector<float> zero(static_cast<size_t>(cmax), 0.f);
  std::vector<float> scratch(static_cast<size_t>(4 * cmax * slots_));
  for_each_chunk(
      [&](int slot, int64_t n0, int nb) {
        float *xt, *v, *mb, *yt;
        winograd_buffers(ws, slot, &xt, &v, &mb, &yt);
        nchw_to_nhwc(x + n0 * in, nb, static_cast<int>(C), g_.in_plane(), xt);
        winograd_core(xt, nb, g_.height, g_.width, C, g_.pad_h, g_.pad_w, g_.out_h(), g_.out_w(),
                      m_, u, v, mb, yt, zero.data(), scratch.data() + slot * 4 * cmax);
        nhwc_to_nchw(yt, nb, static_cast<int>(m_), out, bias, y + n0 * m_ * out);
      },
      wchunk_);
}

void ConvGemm::winograd_backward_data(const float* w, const float* dy, float* dx,
                                      float* ws) const {
  const int64_t C = g_.channels, in = C * g_.in_plane(), out = g_.out_plane();
  float* u = winograd_weights(ws);
  // W'[c][o][k] = W[o][c][8 - k]: channels swapped, kernel rotated by 180 degrees.
  transform_weights(m_, C, [&](int64_t c, int64_t o, int k) { return w[(o * C + c) * 9 + 8 - k]; },
                    u);
  const int64_t cmax = std::max<int64_t>(C, m_);
  const std::vector<float> zero(static_cast<size_t>(cmax), 0.f);
  std::vector<float> scratch(static_cast<size_t>(4 * cmax * slots_));
  for_each_chunk(
      [&](int slot, int64_t n0, int nb) {
        float *xt, *v, *mb, *yt;
        winograd_buffers(ws, slot, &xt, &v, &mb, &yt);
        nchw_to_nhwc(dy + n0 * m_ * out, nb, static_cast<int>(m_), out, xt);
        winograd_core(xt, nb, g_.out_h(), g_.out_w(), m_, 2 - g_.pad_h, 2 - g_.pad_w, g_.height,
                      g_.width, C, u, v, mb, yt, zero.data(),
                      scratch.data() + slot * 4 * cmax);
        nhwc_to_nchw(yt, nb, static_cast<int>(C), g_.in_plane(), nullptr, dx + n0 * in);
      },
      wchunk_);
}

// dE/dW: with V of x and dM = A dY A^T per tile (dY 0 outside the output),
//   dE/dU_xi[C][M] = sum_t V_xi[t]^T dM_xi[t]   (16 GEMMs per chunk of depth T, per slot)
//   dE/dW[o][c] += G^T dE/dU[.][c][o] G
void ConvGemm::winograd_backward_weights(const float* x, const float* dy, float* dw,
                                         float* ws) const {
  const int64_t C = g_.channels, in = C * g_.in_plane(), out = g_.out_plane();
  const int64_t OH = g_.out_h(), OW = g_.out_w(), th = (OH + 1) / 2, tw = (OW + 1) / 2;
  const int64_t wu = 16 * C * m_;
  float* du0 = winograd_weights(ws) + wu;  // per slot: dE/dU
  std::fill(du0, du0 + slots_ * wu, 0.f);
  const std::vector<float> zero(static_cast<size_t>(std::max<int64_t>(C, m_)), 0.f);
  for_each_chunk(
      [&](int slot, int64_t n0, int nb) {
        float *xt, *v, *dm, *dyt;
        winograd_buffers(ws, slot, &xt, &v, &dm, &dyt);
        float* du = du0 + slot * wu;
        nchw_to_nhwc(x + n0 * in, nb, static_cast<int>(C), g_.in_plane(), xt);
        input_transform(xt, nb, g_.height, g_.width, C, g_.pad_h, g_.pad_w, th, tw, zero.data(), v);
        nchw_to_nhwc(dy + n0 * m_ * out, nb, static_cast<int>(m_), out, dyt);
        for (int64_t n = 0; n < nb; ++n)
          for (int64_t ty = 0; ty < th; ++ty)
            for (int64_t tx = 0; tx < tw; ++tx) {
              const int64_t y0 = 2 * ty, x0 = 2 * tx;
              const float* src[4];
              for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 2; ++j)
                  src[i * 2 + j] = y0 + i < OH && x0 + j < OW
                                       ? dyt + ((n * OH + y0 + i) * OW + x0 + j) * m_
                                       : zero.data();
              float* __restrict dmt = dm + ((n * th + ty) * tw + tx) * 16 * m_;
              int64_t o = 0;
              for (; o + kLanes <= m_; o += kLanes) output_tile_adjoint<Vec>(src, o, m_, dmt);
              for (; o < m_; ++o) output_tile_adjoint<float>(src, o, m_, dmt);
            }
        const int64_t t = nb * th * tw;
        for (int xi = 0; xi < 16; ++xi)
          crema::host().sgemm(true, false, static_cast<int32_t>(C), static_cast<int32_t>(m_),
                              static_cast<int32_t>(t), 1.f, v + xi * C,
                              static_cast<int32_t>(16 * C), dm + xi * m_,
                              static_cast<int32_t>(16 * m_), 1.f, du + xi * C * m_,
                              static_cast<int32_t>(m_));
      },
      wchunk_);
  for (int s = 1; s < slots_; ++s)
    for (int64_t i = 0; i < wu; ++i) du0[i] += du0[s * wu + i];
  // dW[o][c] += G^T dU G, G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]
  const int64_t plane = C * m_;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t o = 0; o < m_; ++o) {
      float d[4][4];
      for (int k = 0; k < 16; ++k) d[k / 4][k % 4] = du0[k * plane + c * m_ + o];
      float r[3][4];  // G^T dU
      for (int j = 0; j < 4; ++j) {
        r[0][j] = d[0][j] + 0.5f * (d[1][j] + d[2][j]);
        r[1][j] = 0.5f * (d[1][j] - d[2][j]);
        r[2][j] = 0.5f * (d[1][j] + d[2][j]) + d[3][j];
      }
      float* dwo = dw + (o * C + c) * 9;
      for (int i = 0; i < 3; ++i) {  // (G^T dU) G
        dwo[i * 3 + 0] += r[i][0] + 0.5f * (r[i][1] + r[i][2]);
        dwo[i * 3 + 1] += 0.5f * (r[i][1] - r[i][2]);
        dwo[i * 3 + 2] += 0.5f * (r[i][1] + r[i][2]) + r[i][3];
      }
    }
}

}  // namespace crema::layers
