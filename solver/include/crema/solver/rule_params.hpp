// SPDX-License-Identifier: BSD-2-Clause
// An update rule as plain numbers, for the GPU update kernel (which cannot call virtuals).
#pragma once

namespace crema {

enum class RuleKind { kSgd, kNesterov, kAdaGrad, kRmsProp, kAdaDelta, kAdam };

struct RuleParams {
  RuleKind rule = RuleKind::kSgd;
  float momentum = 0;  // SGD, Nesterov, AdaDelta (decay); Adam beta1
  float decay2 = 0;    // RMSProp rms_decay; Adam beta2
  float delta = 0;     // AdaGrad, RMSProp, AdaDelta, Adam epsilon
};

}  // namespace crema
