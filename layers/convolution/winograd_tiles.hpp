// SPDX-License-Identifier: BSD-2-Clause
// The transforms of Winograd F(m x m, 3x3), m = 2 or 4 (Lavin & Gray 2016), as 1-D functions
// (B^T, G, A^T and the adjoints backward needs), and `separable`, which applies one to the
// columns and then the rows of a tile. Used by conv_gemm_winograd.cpp.
#pragma once

namespace crema::layers::winograd {

template <int M>
struct Tile;

// F(2, 3): interpolation points 0, 1, -1 and infinity.
template <>
struct Tile<2> {
  static constexpr int kA = 4;
  template <class T>  // B^T d
  static void input(const T (&d)[4], T (&o)[4]) {
    o[0] = d[0] - d[2];
    o[1] = d[1] + d[2];
    o[2] = d[2] - d[1];
    o[3] = d[1] - d[3];
  }
  template <class T>  // G g
  static void weight(const T (&g)[3], T (&u)[4]) {
    u[0] = g[0];
    u[1] = 0.5f * (g[0] + g[1] + g[2]);
    u[2] = 0.5f * (g[0] - g[1] + g[2]);
    u[3] = g[2];
  }
  template <class T>  // A^T m
  static void output(const T (&m)[4], T (&y)[2]) {
    y[0] = m[0] + m[1] + m[2];
    y[1] = m[1] - m[2] - m[3];
  }
  template <class T>  // A dy: the adjoint of output()
  static void output_adjoint(const T (&dy)[2], T (&dm)[4]) {
    dm[0] = dy[0];
    dm[1] = dy[0] + dy[1];
    dm[2] = dy[0] - dy[1];
    dm[3] = -dy[1];
  }
  template <class T>  // G^T du
  static void weight_adjoint(const T (&du)[4], T (&dg)[3]) {
    dg[0] = du[0] + 0.5f * (du[1] + du[2]);
    dg[1] = 0.5f * (du[1] - du[2]);
    dg[2] = 0.5f * (du[1] + du[2]) + du[3];
  }
};

// F(4, 3): interpolation points 0, 1, -1, 2, -2 and infinity.
template <>
struct Tile<4> {
  static constexpr int kA = 6;
  template <class T>
  static void input(const T (&d)[6], T (&o)[6]) {
    const T four = T{} + 4.f, two = T{} + 2.f, five = T{} + 5.f;
    o[0] = four * d[0] - five * d[2] + d[4];
    o[1] = (d[3] + d[4]) - four * (d[1] + d[2]);
    o[2] = (d[4] - d[3]) + four * (d[1] - d[2]);
    o[3] = (d[4] - d[2]) - two * (d[1] - d[3]);
    o[4] = (d[4] - d[2]) + two * (d[1] - d[3]);
    o[5] = four * d[1] - five * d[3] + d[5];
  }
  template <class T>
  static void weight(const T (&g)[3], T (&u)[6]) {
    u[0] = g[0] / 4.f;
    u[1] = -(g[0] + g[1] + g[2]) / 6.f;
    u[2] = -(g[0] - g[1] + g[2]) / 6.f;
    u[3] = g[0] / 24.f + g[1] / 12.f + g[2] / 6.f;
    u[4] = g[0] / 24.f - g[1] / 12.f + g[2] / 6.f;
    u[5] = g[2];
  }
  template <class T>
  static void output(const T (&m)[6], T (&y)[4]) {
    const T two = T{} + 2.f, four = T{} + 4.f, eight = T{} + 8.f;
    const T s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = d12 + two * d34;
    y[2] = s12 + four * s34;
    y[3] = d12 + eight * d34 + m[5];
  }
  template <class T>
  static void output_adjoint(const T (&dy)[4], T (&dm)[6]) {
    const T two = T{} + 2.f, four = T{} + 4.f, eight = T{} + 8.f;
    const T even = dy[0] + dy[2], odd = dy[1] + dy[3];
    const T even2 = dy[0] + four * dy[2], odd2 = two * dy[1] + eight * dy[3];
    dm[0] = dy[0];
    dm[1] = even + odd;
    dm[2] = even - odd;
    dm[3] = even2 + odd2;
    dm[4] = even2 - odd2;
    dm[5] = dy[3];
  }
  template <class T>
  static void weight_adjoint(const T (&du)[6], T (&dg)[3]) {
    dg[0] = du[0] / 4.f - (du[1] + du[2]) / 6.f + (du[3] + du[4]) / 24.f;
    dg[1] = (du[2] - du[1]) / 6.f + (du[3] - du[4]) / 12.f;
    dg[2] = (du[3] + du[4] - du[1] - du[2]) / 6.f + du[5];
  }
};

// out[N2][N2] = f applied to each column of in[N][N], then to each row (every transform here is
// separable: B^T d B, G g G^T, A^T m A and their adjoints).
template <int N, int N2, class T, class F>
inline void separable(const T (&in)[N][N], T (&out)[N2][N2], const F& f) {
  T mid[N2][N];
  for (int j = 0; j < N; ++j) {
    T col[N], res[N2];
    for (int i = 0; i < N; ++i) col[i] = in[i][j];
    f(col, res);
    for (int i = 0; i < N2; ++i) mid[i][j] = res[i];
  }
  for (int i = 0; i < N2; ++i) f(mid[i], out[i]);
}

}  // namespace crema::layers::winograd
