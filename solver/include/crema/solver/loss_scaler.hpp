// SPDX-License-Identifier: BSD-2-Clause
// Loss scaling (NetParameter.global_grad_scale, global_grad_scale_adaptive): the backward pass
// starts from the loss gradient times a scale, so that small gradients survive a narrow type
// (fp16's smallest normal is 6e-5), and the parameter gradients are divided by it before the
// update. Dynamic scaling skips a step whose gradients overflowed (inf or NaN), halves the
// scale, and doubles it again after `window` steps in a row without overflow (the scheme of
// Micikevicius et al., "Mixed Precision Training", ICLR 2018; PyTorch's GradScaler).
#pragma once
#include <string>
#include <vector>

#include "crema/core/net.hpp"

namespace crema {

class LossScaler {
 public:
  LossScaler() = default;
  LossScaler(float initial, bool dynamic, int window);
  // Scaling does anything at all (a scale other than 1, or dynamic).
  bool active() const { return dynamic_ || scale_ != 1.f; }
  bool dynamic() const { return dynamic_; }
  float scale() const { return scale_; }
  int good_steps() const { return good_steps_; }
  // After backward: divides every gradient by the scale and returns true, or, when one holds inf
  // or NaN (dynamic scaling only: with a static scale the update runs and a NaN loss stops
  // training later), leaves the gradients, lowers the scale and returns false (skip the step).
  // `event` gets a line for the log when the scale changed.
  bool unscale(std::vector<LearnableParam>& params, std::string* event);
  // unscale() for gradients the caller checks and divides itself (the GPU's update folds the
  // division into its normalisation, so the gradients never leave the device): `finite` says
  // whether every gradient is finite. Returns whether to apply the step, and then *inverse is
  // the factor to multiply the gradients by (1 / the scale they carry).
  bool decide(bool finite, float* inverse, std::string* event);
  // A snapshot carries the scale and the count of good steps, so that a resumed run goes on
  // with them.
  void restore(float scale, int good_steps);

 private:
  float scale_ = 1.f;
  bool dynamic_ = false;
  int window_ = 2000;
  int good_steps_ = 0;
};

}  // namespace crema
