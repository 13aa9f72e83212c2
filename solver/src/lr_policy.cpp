// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/lr_policy.hpp"

#include <cmath>
#include <stdexcept>

namespace crema {

const std::vector<std::string>& lr_policy_names() {
  static const std::vector<std::string> names = {"fixed",     "step", "exp",     "inv",
                                                 "multistep", "poly", "sigmoid", "cosine"};
  return names;
}

float learning_rate(const pb::SolverParameter& p, int iter, int* current_step) {
  const std::string& policy = p.lr_policy();
  const double base = p.base_lr(), gamma = p.gamma(), power = p.power();
  double rate;
  if (policy == "fixed" || policy.empty()) {
    rate = base;
  } else if (policy == "step") {
    if (p.stepsize() <= 0) throw std::runtime_error("lr_policy step needs stepsize > 0");
    rate = base * std::pow(gamma, std::floor(double(iter) / p.stepsize()));
  } else if (policy == "exp") {
    rate = base * std::pow(gamma, iter);
  } else if (policy == "inv") {
    rate = base * std::pow(1.0 + gamma * iter, -power);
  } else if (policy == "multistep") {
    while (*current_step < p.stepvalue_size() && iter >= p.stepvalue(*current_step))
      ++*current_step;
    rate = base * std::pow(gamma, *current_step);
  } else if (policy == "poly") {
    if (p.max_iter() <= 0) throw std::runtime_error("lr_policy poly needs max_iter > 0");
    rate = base * std::pow(1.0 - double(iter) / p.max_iter(), power);
  } else if (policy == "sigmoid") {
    rate = base * (1.0 / (1.0 + std::exp(-gamma * (double(iter) - p.stepsize()))));
  } else if (policy == "cosine") {
    if (p.max_iter() <= 0) throw std::runtime_error("lr_policy cosine needs max_iter > 0");
    rate = base * 0.5 * (1.0 + std::cos(M_PI * double(iter) / p.max_iter()));
  } else {
    std::string known;
    for (const std::string& n : lr_policy_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::runtime_error("unknown lr_policy '" + policy + "' (" + known + ")");
  }
  if (p.warmup_iter() > 0 && iter < p.warmup_iter()) {
    double f = p.warmup_start_factor();
    rate *= f + (1.0 - f) * double(iter) / p.warmup_iter();
  }
  return static_cast<float>(rate);
}

}  // namespace crema
