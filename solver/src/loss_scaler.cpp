// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/loss_scaler.hpp"

#include <cmath>
#include <stdexcept>

#include "number_format.hpp"

namespace crema {

// Bounds that keep the scale a normal float and its inverse exact (powers of two).
constexpr float kMinScale = 1.f / 65536, kMaxScale = 16777216.f;

LossScaler::LossScaler(float initial, bool dynamic, int window)
    : scale_(initial), dynamic_(dynamic), window_(window) {
  if (!(initial > 0) || !std::isfinite(initial))
    throw std::runtime_error("global_grad_scale must be a positive number, got " +
                             format_number(initial));
  if (dynamic && window < 1)
    throw std::runtime_error("loss_scale_window must be at least 1, got " + std::to_string(window));
}

void LossScaler::restore(float scale, int good_steps) {
  if (scale > 0 && std::isfinite(scale)) scale_ = scale;
  good_steps_ = good_steps;
}

bool LossScaler::unscale(std::vector<LearnableParam>& params, std::string* event) {
  if (!active()) return true;
  bool finite = true;
  if (dynamic_) {
    for (const LearnableParam& p : params) {
      const float* d = p.tensor->host_diff();
      for (int64_t i = 0, n = p.tensor->count(); i < n && finite; ++i) finite = std::isfinite(d[i]);
      if (!finite) break;
    }
  }
  float inverse = 1.f;
  if (!decide(finite, &inverse, event)) return false;
  for (LearnableParam& p : params) {
    float* d = p.tensor->mutable_host_diff();
    for (int64_t i = 0, n = p.tensor->count(); i < n; ++i) d[i] *= inverse;
  }
  return true;
}

bool LossScaler::decide(bool finite, float* inverse, std::string* event) {
  *inverse = 1.f;
  if (!active()) return true;
  if (dynamic_ && !finite) {
    const float lowered = std::max(scale_ / 2, kMinScale);
    *event = "loss scale " + format_number(scale_) + " -> " + format_number(lowered) +
             ": the gradients overflowed, the step is skipped";
    scale_ = lowered;
    good_steps_ = 0;
    return false;
  }
  *inverse = 1.f / scale_;
  if (dynamic_ && ++good_steps_ >= window_) {
    good_steps_ = 0;
    if (scale_ < kMaxScale) {
      *event = "loss scale " + format_number(scale_) + " -> " + format_number(scale_ * 2) +
               " after " + std::to_string(window_) + " steps without overflow";
      scale_ *= 2;
    }
  }
  return true;
}

}  // namespace crema
