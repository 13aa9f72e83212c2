// SPDX-License-Identifier: BSD-2-Clause
// Which fields each solver type and lr_policy reads follows Caffe's solvers (sgd_solver.cpp and
// the adaptive ones) and lr_policy.cpp / update_rules.cpp here.
#include "crema/solver/solver_check.hpp"

#include <algorithm>
#include <stdexcept>

#include "crema/core/log.hpp"

#include "crema/solver/lr_policy.hpp"
#include "crema/solver/update_rules.hpp"

namespace crema {

namespace {

bool is_one_of(const std::string& s, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return s == n; });
}

std::string list(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

class Checker {
 public:
  explicit Checker(const pb::SolverParameter& p) : p_(p) {}
  std::vector<SolverIssue> run() {
    check_rate();
    const std::vector<std::string>& policies = lr_policy_names();
    if (p_.lr_policy().empty())
      add(SolverIssue::kWarning, "lr_policy",
          "not set, so the rate stays at base_lr (as \"fixed\"); Caffe refuses a solver "
          "without one");
    else if (std::find(policies.begin(), policies.end(), p_.lr_policy()) == policies.end())
      add(SolverIssue::kError, "lr_policy",
          quoted(p_.lr_policy()) + " is not a learning-rate policy (" + list(policies) + ")");
    else
      check_policy(p_.lr_policy());
    const std::vector<std::string>& types = solver_type_names();
    if (std::find(types.begin(), types.end(), p_.type()) == types.end())
      add(SolverIssue::kError, "type",
          quoted(p_.type()) + " is not a solver type (" + list(types) + ")");
    else
      check_type(p_.type());
    check_rest();
    return std::move(issues_);
  }

 private:
  void add(SolverIssue::Level level, const std::string& field, const std::string& text) {
    issues_.push_back({level, field, field + ": " + text});
  }

  void check_rate() {
    if (!p_.has_base_lr())
      add(SolverIssue::kNoLearning, "base_lr",
          "not set, so every step is 0 and the weights never change; give the starting "
          "learning rate (e.g. base_lr: 0.01)");
    else if (p_.base_lr() == 0)
      add(SolverIssue::kNoLearning, "base_lr",
          "0, so every step is 0 and the weights never change");
    else if (p_.base_lr() < 0)
      add(SolverIssue::kNoLearning, "base_lr",
          std::to_string(p_.base_lr()) + ": a negative rate climbs the loss");
    if (p_.max_iter() <= 0)
      add(SolverIssue::kWarning, "max_iter",
          "not set, so training stops before the first iteration (unless crema train is given "
          "-iterations N)");
  }

  void check_policy(const std::string& policy) {
    const std::string uses = "lr_policy " + quoted(policy);
    // The fields a policy reads (lr_policy.cpp) and what each is for.
    const bool gamma = is_one_of(policy, {"step", "exp", "inv", "multistep", "sigmoid"});
    const bool power = is_one_of(policy, {"inv", "poly"});
    const bool stepsize = is_one_of(policy, {"step", "sigmoid"});
    const bool stepvalue = policy == "multistep";
    if (p_.has_gamma() && !gamma)
      add(SolverIssue::kWarning, "gamma",
          "the decay factor of lr_policy step, exp, inv, multistep and sigmoid; " + uses +
              " ignores it");
    if (p_.has_power() && !power)
      add(SolverIssue::kWarning, "power",
          "the exponent of lr_policy inv and poly; " + uses + " ignores it");
    if (p_.has_stepsize() && !stepsize)
      add(SolverIssue::kWarning, "stepsize",
          "the iterations between the rate's drops in lr_policy step (the midpoint in "
          "sigmoid); " +
              uses + " ignores it");
    if (p_.stepvalue_size() > 0 && !stepvalue)
      add(SolverIssue::kWarning, "stepvalue",
          "the iterations where lr_policy multistep drops the rate; " + uses + " ignores it");

    if (gamma && !p_.has_gamma()) {
      const bool to_zero = is_one_of(policy, {"step", "exp", "multistep"});
      add(SolverIssue::kWarning, "gamma",
          "not set, so it is 0 and " + uses +
              (to_zero ? " drops the rate to 0 at its first step" : " keeps the rate constant") +
              "; give the decay factor (e.g. gamma: 0.1)");
    }
    if (power && !p_.has_power())
      add(SolverIssue::kWarning, "power",
          "not set, so it is 0 and " + uses +
              " keeps the rate at base_lr; give the exponent "
              "(e.g. power: 0.9)");
    if (policy == "step" && p_.stepsize() <= 0)
      add(SolverIssue::kError, "stepsize",
          uses + " multiplies the rate by gamma every stepsize iterations: give stepsize > 0");
    if (stepvalue && p_.stepvalue_size() == 0)
      add(SolverIssue::kWarning, "stepvalue",
          "none, so " + uses +
              " keeps the rate at base_lr; give the iterations where it drops "
              "(stepvalue: 10000 stepvalue: 20000)");
    for (int i = 1; i < p_.stepvalue_size(); ++i)
      if (p_.stepvalue(i) <= p_.stepvalue(i - 1))
        add(SolverIssue::kWarning, "stepvalue",
            std::to_string(p_.stepvalue(i)) + " follows " + std::to_string(p_.stepvalue(i - 1)) +
                ": the values must increase (both drops would happen at iteration " +
                std::to_string(p_.stepvalue(i - 1)) + ")");
    if (p_.has_warmup_start_factor() && p_.warmup_iter() <= 0)
      add(SolverIssue::kWarning, "warmup_start_factor",
          "the rate's factor where the warm-up starts; without warmup_iter > 0 there is no "
          "warm-up");
  }

  void check_type(const std::string& type) {
    const std::string named = "type " + quoted(type);
    // momentum is SGD's and Nesterov's momentum, AdaDelta's decay and Adam's beta1.
    if (is_one_of(type, {"AdaGrad", "RMSProp"}) && p_.momentum() != 0)
      add(SolverIssue::kError, "momentum",
          type + " does not use momentum" +
              (type == "RMSProp" ? "; its decay is rms_decay" : "; remove it"));
    if (type == "Adam" && !p_.has_momentum())
      add(SolverIssue::kWarning, "momentum",
          "Adam's first-moment decay (beta1); not set, so it is 0 (Adam's usual value: "
          "momentum: 0.9)");
    if (type == "AdaDelta" && !p_.has_momentum())
      add(SolverIssue::kWarning, "momentum",
          "AdaDelta's decay; not set, so it is 0 (Caffe's example: momentum: 0.95)");
    if (p_.has_momentum2() && type != "Adam")
      add(SolverIssue::kWarning, "momentum2",
          "Adam's second-moment decay (beta2); " + named + " ignores it");
    if (p_.has_rms_decay() && type != "RMSProp")
      add(SolverIssue::kWarning, "rms_decay",
          "RMSProp's mean-square decay; " + named + " ignores it");
    if (p_.has_delta() && is_one_of(type, {"SGD", "Nesterov"}))
      add(SolverIssue::kWarning, "delta",
          "the numerical-stability epsilon of AdaGrad, RMSProp, AdaDelta and Adam; " + named +
              " ignores it");
  }

  void check_rest() {
    if (p_.regularization_type() != "L2" && p_.regularization_type() != "L1")
      add(SolverIssue::kError, "regularization_type",
          quoted(p_.regularization_type()) + " is not L1 or L2");
    if (p_.iter_size() < 1)
      add(SolverIssue::kError, "iter_size",
          "the batches whose gradients one iteration accumulates: give 1 or more");
  }

  const pb::SolverParameter& p_;
  std::vector<SolverIssue> issues_;
};

}  // namespace

std::vector<SolverIssue> check_solver(const pb::SolverParameter& p) { return Checker(p).run(); }

void check_solver_for_training(const pb::SolverParameter& p, bool quiet) {
  std::string errors;
  for (const SolverIssue& issue : check_solver(p)) {
    if (issue.level == SolverIssue::kError)
      errors += (errors.empty() ? "" : "\n") + issue.message;
    else
      CREMA_LOG_IF(WARNING, !quiet) << "solver " << issue.message;
  }
  if (!errors.empty()) throw std::runtime_error(errors);
}

}  // namespace crema
