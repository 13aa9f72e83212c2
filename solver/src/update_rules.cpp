// SPDX-License-Identifier: BSD-2-Clause
// g is the gradient, r the local rate (base rate x lr_mult), h the history.
#include "crema/solver/update_rules.hpp"

#include <cmath>
#include <stdexcept>

namespace crema {

namespace {

// v = mu v + r g;  step = v
class Sgd : public UpdateRule {
 public:
  explicit Sgd(float momentum) : mu_(momentum) {}
  RuleParams params() const override { return {RuleKind::kSgd, mu_, 0, 0}; }
  void compute(int64_t n, float r, int, float* g, float* h, float*) const override {
    for (int64_t i = 0; i < n; ++i) g[i] = h[i] = mu_ * h[i] + r * g[i];
  }

 private:
  float mu_;
};

// v' = mu v + r g;  step = (1 + mu) v' - mu v
class Nesterov : public UpdateRule {
 public:
  explicit Nesterov(float momentum) : mu_(momentum) {}
  RuleParams params() const override { return {RuleKind::kNesterov, mu_, 0, 0}; }
  void compute(int64_t n, float r, int, float* g, float* h, float*) const override {
    for (int64_t i = 0; i < n; ++i) {
      float prev = h[i];
      h[i] = mu_ * h[i] + r * g[i];
      g[i] = (1 + mu_) * h[i] - mu_ * prev;
    }
  }

 private:
  float mu_;
};

// h += g^2;  step = r g / (sqrt(h) + delta)
class AdaGrad : public UpdateRule {
 public:
  explicit AdaGrad(float delta) : delta_(delta) {}
  RuleParams params() const override { return {RuleKind::kAdaGrad, 0, 0, delta_}; }
  void compute(int64_t n, float r, int, float* g, float* h, float*) const override {
    for (int64_t i = 0; i < n; ++i) {
      h[i] += g[i] * g[i];
      g[i] = r * g[i] / (std::sqrt(h[i]) + delta_);
    }
  }

 private:
  float delta_;
};

// h = d h + (1 - d) g^2;  step = r g / (sqrt(h) + delta)
class RmsProp : public UpdateRule {
 public:
  RmsProp(float decay, float delta) : decay_(decay), delta_(delta) {}
  RuleParams params() const override { return {RuleKind::kRmsProp, 0, decay_, delta_}; }
  void compute(int64_t n, float r, int, float* g, float* h, float*) const override {
    for (int64_t i = 0; i < n; ++i) {
      h[i] = decay_ * h[i] + (1 - decay_) * g[i] * g[i];
      g[i] = r * g[i] / (std::sqrt(h[i]) + delta_);
    }
  }

 private:
  float decay_, delta_;
};

// h0 = mu h0 + (1-mu) g^2;  u = g sqrt((h1 + delta) / (h0 + delta));
// h1 = mu h1 + (1-mu) u^2;  step = r u            (Zeiler 2012, as Caffe)
class AdaDelta : public UpdateRule {
 public:
  AdaDelta(float momentum, float delta) : mu_(momentum), delta_(delta) {}
  RuleParams params() const override { return {RuleKind::kAdaDelta, mu_, 0, delta_}; }
  int history_per_param() const override { return 2; }
  void compute(int64_t n, float r, int, float* g, float* h0, float* h1) const override {
    for (int64_t i = 0; i < n; ++i) {
      h0[i] = mu_ * h0[i] + (1 - mu_) * g[i] * g[i];
      float u = g[i] * std::sqrt((h1[i] + delta_) / (h0[i] + delta_));
      h1[i] = mu_ * h1[i] + (1 - mu_) * u * u;
      g[i] = r * u;
    }
  }

 private:
  float mu_, delta_;
};

// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
// step = r sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps),  t = iter + 1   (Kingma & Ba)
class Adam : public UpdateRule {
 public:
  Adam(float b1, float b2, float eps) : b1_(b1), b2_(b2), eps_(eps) {}
  int history_per_param() const override { return 2; }
  RuleParams params() const override { return {RuleKind::kAdam, b1_, b2_, eps_}; }
  float kernel_rate(float r, int iter) const override {
    const double t = iter + 1;
    return static_cast<float>(r * std::sqrt(1 - std::pow(b2_, t)) / (1 - std::pow(b1_, t)));
  }
  void compute(int64_t n, float r, int iter, float* g, float* m, float* v) const override {
    const float corrected = kernel_rate(r, iter);
    for (int64_t i = 0; i < n; ++i) {
      m[i] = b1_ * m[i] + (1 - b1_) * g[i];
      v[i] = b2_ * v[i] + (1 - b2_) * g[i] * g[i];
      g[i] = corrected * m[i] / (std::sqrt(v[i]) + eps_);
    }
  }

 private:
  float b1_, b2_, eps_;
};

}  // namespace

const std::vector<std::string>& solver_type_names() {
  static const std::vector<std::string> names = {"SGD",     "Nesterov", "AdaGrad",
                                                 "RMSProp", "AdaDelta", "Adam"};
  return names;
}

std::unique_ptr<UpdateRule> make_update_rule(const pb::SolverParameter& p) {
  const std::string& t = p.type();
  if (t == "SGD") return std::make_unique<Sgd>(p.momentum());
  if (t == "Nesterov") return std::make_unique<Nesterov>(p.momentum());
  if (t == "AdaGrad") {
    if (p.momentum() != 0) throw std::runtime_error("AdaGrad does not use momentum; remove it");
    return std::make_unique<AdaGrad>(p.delta());
  }
  if (t == "RMSProp") {
    if (p.momentum() != 0) throw std::runtime_error("RMSProp does not use momentum; use rms_decay");
    return std::make_unique<RmsProp>(p.rms_decay(), p.delta());
  }
  if (t == "AdaDelta") return std::make_unique<AdaDelta>(p.momentum(), p.delta());
  if (t == "Adam") return std::make_unique<Adam>(p.momentum(), p.momentum2(), p.delta());
  std::string known;
  for (const std::string& n : solver_type_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::runtime_error("unknown solver type '" + t + "' (" + known + ")");
}

}  // namespace crema
