// SPDX-License-Identifier: BSD-2-Clause
// See transform.hpp for the formula. The row loops are split into the zero border and a
// contiguous valid span so the common (unpadded, unmirrored) case vectorises.
#include "transform.hpp"

#include <algorithm>

#include "crema/layer.hpp"

namespace crema::data {

Transform Transform::from_params(const crema::Params& p, int pad, const std::string& type) {
  Transform t;
  t.scale = p.get<float>("transform_param.scale");
  for (int i = 0; i < p.size("transform_param.mean_value"); ++i)
    t.mean.push_back(p.get<float>("transform_param.mean_value", i));
  CREMA_CHECK(!p.has("transform_param.mean_file"),
              type << " does not read transform_param.mean_file ('"
                   << p.get<std::string>("transform_param.mean_file")
                   << "'): give the per-channel means as mean_value");
  CREMA_CHECK(!p.get<bool>("transform_param.force_color") &&
                  !p.get<bool>("transform_param.force_gray"),
              type << " reads raw images: force_color/force_gray apply only to encoded images");
  t.mirror = p.get<bool>("transform_param.mirror");
  t.crop = p.get<int>("transform_param.crop_size");
  t.pad = pad;
  CREMA_CHECK(t.pad >= 0 && t.pad <= 1024, "pad " << t.pad << " is out of range");
  return t;
}

void Transform::check(int channels, int height, int width, const std::string& what) const {
  CREMA_CHECK(mean.size() <= 1 || static_cast<int>(mean.size()) == channels,
              "transform_param gives " << mean.size() << " mean_value(s) for " << what << " with "
                                       << channels << " channels: give one, or one per channel");
  CREMA_CHECK(crop <= height + 2 * pad && crop <= width + 2 * pad,
              "crop_size " << crop << " is larger than the " << height << "x" << width << " images of "
                           << what << (pad ? " plus padding " + std::to_string(pad) : ""));
}

template <class T>
void Transform::apply_impl(const T* src, int channels, int height, int width, float* dst, Rng& rng,
                           bool train) const {
  const int oh = out_size(height), ow = out_size(width);
  const int ph = height + 2 * pad, pw = width + 2 * pad;
  int y0 = (ph - oh) / 2, x0 = (pw - ow) / 2;  // centre of the padded image
  if (train && (crop > 0 || pad > 0)) {
    y0 = static_cast<int>(rng.below(static_cast<uint64_t>(ph - oh + 1)));
    x0 = static_cast<int>(rng.below(static_cast<uint64_t>(pw - ow + 1)));
  }
  const bool flip = train && mirror && rng.below(2) == 1;
  // Output columns whose source column lies inside the image: sx = x0 - pad + j (or mirrored).
  const int sx0 = x0 - pad;
  int j_lo = std::max(0, -sx0), j_hi = std::min(ow, width - sx0);
  if (flip) {  // sx = sx0 + ow - 1 - j
    j_lo = std::max(0, sx0 + ow - width);
    j_hi = std::min(ow, sx0 + ow);
  }
  for (int c = 0; c < channels; ++c) {
    const float m = mean.empty() ? 0.f : mean[mean.size() == 1 ? 0 : c];
    const float s = scale;
    for (int i = 0; i < oh; ++i) {
      float* out = dst + (static_cast<int64_t>(c) * oh + i) * ow;
      const int sy = y0 - pad + i;
      if (sy < 0 || sy >= height || j_lo >= j_hi) {
        std::fill(out, out + ow, 0.f);
        continue;
      }
      const T* row = src + (static_cast<int64_t>(c) * height + sy) * width;
      std::fill(out, out + j_lo, 0.f);
      std::fill(out + j_hi, out + ow, 0.f);
      if (!flip) {
        const T* in = row + sx0;
        for (int j = j_lo; j < j_hi; ++j) out[j] = (static_cast<float>(in[j]) - m) * s;
      } else {
        const T* in = row + sx0 + ow - 1;
        for (int j = j_lo; j < j_hi; ++j) out[j] = (static_cast<float>(in[-j]) - m) * s;
      }
    }
  }
}

void Transform::apply(const uint8_t* src, int c, int h, int w, float* dst, Rng& rng,
                      bool train) const {
  apply_impl(src, c, h, w, dst, rng, train);
}
void Transform::apply(const float* src, int c, int h, int w, float* dst, Rng& rng,
                      bool train) const {
  apply_impl(src, c, h, w, dst, rng, train);
}

}  // namespace crema::data
