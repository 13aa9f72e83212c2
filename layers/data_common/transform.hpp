// SPDX-License-Identifier: BSD-2-Clause
// Caffe's DataTransformer for raw images, plus zero padding before the crop:
//   out[c][i][j] = (x[c][y0 + i - pad][x0 + j' - pad] - mean[c]) * scale,  j' = mirrored ? ow-1-j : j
// and 0 where the source position falls in the padding. TRAIN draws (y0, x0) uniformly over the
// padded image and mirrors with probability 1/2 (when mirror is set); TEST takes the centre
// window and never mirrors. The zero border is in the OUTPUT domain (after mean and scale), i.e.
// the padding is "mean colour", like zero-padding a convolution input.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rng.hpp"

namespace crema {
class Params;
}

namespace crema::data {

struct Transform {
  float scale = 1.f;
  std::vector<float> mean;  // empty, one value, or one per channel
  bool mirror = false;
  int crop = 0;  // 0: output keeps the source size (see out_size)
  int pad = 0;

  // Reads `transform_param` of the layer; refuses what raw-image readers cannot do.
  static Transform from_params(const crema::Params& p, int pad, const std::string& layer_type);

  // Output side for a source side: crop_size when set, else the source side (a pad without a
  // crop translates the image randomly and keeps its size).
  int out_size(int side) const { return crop > 0 ? crop : side; }
  // Throws unless the crop fits into the padded image and mean_value matches `channels`.
  void check(int channels, int height, int width, const std::string& what) const;

  // src: one image (C,H,W); dst: (C, out_size(H), out_size(W)).
  void apply(const uint8_t* src, int channels, int height, int width, float* dst, Rng& rng,
             bool train) const;
  void apply(const float* src, int channels, int height, int width, float* dst, Rng& rng,
             bool train) const;

 private:
  template <class T>
  void apply_impl(const T* src, int channels, int height, int width, float* dst, Rng& rng,
                  bool train) const;
};

}  // namespace crema::data
