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

#define CREMA_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

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

// One image: `rows` runs of `cols` floats (in[r * cols + k]) become `cols` runs of `rows` bf16
// values (out[k * rows + r]), in 16 x 16 tiles, row tiles outermost so that the input streams;
// ragged edges load and store under masks.
CREMA_AVX512_BF16 void transpose_image(const float* in, int64_t rows, int64_t cols, uint16_t* out) {
  __m512 r[16];
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int64_t nr = std::min<int64_t>(16, rows - r0);
    const __mmask16 row_mask = tile_mask(nr);
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const __mmask16 m = tile_mask(cols - c0);
      for (int i = 0; i < 16; ++i)
        r[i] = i < nr ? _mm512_maskz_loadu_ps(m, in + (r0 + i) * cols + c0) : _mm512_setzero_ps();
      transpose16(r);
      const int64_t nc = std::min<int64_t>(16, cols - c0);
      for (int j = 0; j < nc; ++j)
        _mm256_mask_storeu_epi16(out + (c0 + j) * rows + r0, row_mask,
                                 reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(r[j])));
    }
  }
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
  const int64_t image = channels * plane;
  crema::parallel_for(num, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n)
      transpose_image(x + n * image, channels, plane, out + n * image);
  });
}

}  // namespace crema::layers
