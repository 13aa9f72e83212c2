// SPDX-License-Identifier: BSD-2-Clause
// The optimisers, as Caffe defines them. Each turns a parameter's gradient (already normalised,
// regularised and clipped) into the step that is subtracted from the weights, in place:
//   diff <- step(diff, history, rate),  then the solver does  data -= diff.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "crema.pb.h"
#include "crema/solver/rule_params.hpp"

namespace crema {

class UpdateRule {
 public:
  virtual ~UpdateRule() = default;
  // History tensors per parameter: 1 (SGD, Nesterov, AdaGrad, RMSProp) or 2 (AdaDelta, Adam).
  virtual int history_per_param() const { return 1; }
  // diff, h0, h1 hold n floats on the host; `iter` is the 0-based iteration being applied.
  virtual void compute(int64_t n, float rate, int iter, float* diff, float* h0,
                       float* h1) const = 0;
  // The same rule for the GPU kernel, and the rate it uses at `iter` (Adam folds in its bias
  // correction there).
  virtual RuleParams params() const = 0;
  virtual float kernel_rate(float rate, int) const { return rate; }
};

// SGD, Nesterov, AdaGrad, RMSProp, AdaDelta or Adam, from the solver's `type`.
std::unique_ptr<UpdateRule> make_update_rule(const pb::SolverParameter& p);
// The solver types make_update_rule knows.
const std::vector<std::string>& solver_type_names();

}  // namespace crema
