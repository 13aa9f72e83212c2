// SPDX-License-Identifier: BSD-2-Clause
// Learning-rate policies: Caffe's fixed, step, exp, inv, multistep, poly, sigmoid, plus cosine
// and a linear warm-up, which Caffe lacks.
#pragma once
#include <string>
#include <vector>

#include "crema.pb.h"

namespace crema {

// The rate at `iter`. `current_step` is multistep's position; it advances as iter passes each
// stepvalue and is saved in the solver state.
float learning_rate(const pb::SolverParameter& p, int iter, int* current_step);

// The lr_policy names learning_rate knows ("" reads as "fixed").
const std::vector<std::string>& lr_policy_names();

}  // namespace crema
