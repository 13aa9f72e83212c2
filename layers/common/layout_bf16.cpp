// SPDX-License-Identifier: BSD-2-Clause
// layout_bf16.hpp: 16 x 16 tiles (16 channels by 16 pixels) transposed in AVX-512 registers;
// ragged edges (49-pixel planes, 3-channel stems) through masked loads and stores.
#include "crema/layers/layout_bf16.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "crema/layer.hpp"

// GCC 12 flags the self-initialised placeholder inside its own AVX-512 shuffle intrinsics
// (_mm512_undefined_ps) as maybe uninitialised; every value here is defined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace crema::layers {
namespace {

// avx512vl: the 256-bit masked loads and stores of bf16 runs.
#define CREMA_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// r[i] holds row i of a 16 x 16 tile; afterwards r[j] holds column j.
CREMA_AVX512_BF16 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (std::ptrdiff_t i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (std::ptrdiff_t i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // r[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j.
  for (std::ptrdiff_t j = 0; j < 4; ++j) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);      // lanes 0, 2 of rows 0-7
    t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);  // lanes 1, 3
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
  }
  for (std::ptrdiff_t j = 0; j < 4; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);            // column j
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);        // column 8 + j
    r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);   // column 4 + j
    r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd);  // column 12 + j
  }
}

// The first k of 16 lanes (all from 16 up).
inline __mmask16 tile_mask(int64_t k) {
  return static_cast<__mmask16>(k >= 16 ? 0xffff : (1u << k) - 1u);
}

// 16 lanes of a run, widened to fp32 where the run is bf16 (exact), zero past mask m.
CREMA_AVX512_BF16 inline __m512 load16(const float* p, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, p);
}
CREMA_AVX512_BF16 inline __m512 load16(const uint16_t* p, __mmask16 m) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}
// The first lanes (mask m) of v into a run, rounded to nearest even where it is bf16.
CREMA_AVX512_BF16 inline void store16(float* p, __mmask16 m, __m512 v) {
  _mm512_mask_storeu_ps(p, m, v);
}
CREMA_AVX512_BF16 inline void store16(uint16_t* p, __mmask16 m, __m512 v) {
  _mm256_mask_storeu_epi16(p, m, reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
}

// One image: `rows` runs of `cols` values (in[r * cols + k]) become `cols` runs of `rows` values
// (out[k * rows + r]), in 16 x 16 tiles, row tiles outermost so that the input streams; ragged
// edges load and store under masks.
template <class In, class Out>
CREMA_AVX512_BF16 void transpose_image(const In* in, int64_t rows, int64_t cols, Out* out) {
  __m512 r[16];
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int64_t nr = std::min<int64_t>(16, rows - r0);
    const __mmask16 row_mask = tile_mask(nr);
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const __mmask16 m = tile_mask(cols - c0);
      for (int i = 0; i < 16; ++i)
        r[i] = i < nr ? load16(in + (r0 + i) * cols + c0, m) : _mm512_setzero_ps();
      transpose16(r);
      const int64_t nc = std::min<int64_t>(16, cols - c0);
      for (int j = 0; j < nc; ++j) store16(out + (c0 + j) * rows + r0, row_mask, r[j]);
    }
  }
}

template <class In, class Out>
void transpose_images(const In* in, int64_t num, int64_t rows, int64_t cols, Out* out) {
  const int64_t image = rows * cols;
  crema::parallel_for(num, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) transpose_image(in + n * image, rows, cols, out + n * image);
  });
}

bool cpu_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}

}  // namespace

bool layout_bf16_available() { return cpu_avx512_bf16(); }

void nchw_to_nhwc_bf16(const float* x, int64_t num, int64_t channels, int64_t plane,
                       uint16_t* out) {
  CREMA_CHECK(cpu_avx512_bf16(), "nchw_to_nhwc_bf16 needs AVX512_BF16");
  // Per image, rows are channels and columns pixels: column p becomes pixel p's channels.
  transpose_images(x, num, channels, plane, out);
}

void transpose_planes(const void* in, bool in_bf16, int64_t num, int64_t rows, int64_t cols,
                      void* out, bool out_bf16) {
  CREMA_CHECK(cpu_avx512_bf16(), "transpose_planes needs AVX512_BF16");
  const auto* f = static_cast<const float*>(in);
  const auto* h = static_cast<const uint16_t*>(in);
  auto* of = static_cast<float*>(out);
  auto* oh = static_cast<uint16_t*>(out);
  if (in_bf16 && out_bf16) return transpose_images(h, num, rows, cols, oh);
  if (in_bf16) return transpose_images(h, num, rows, cols, of);
  if (out_bf16) return transpose_images(f, num, rows, cols, oh);
  transpose_images(f, num, rows, cols, of);
}

}  // namespace crema::layers
