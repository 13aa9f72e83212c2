// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>

#include "crema/solver/lr_policy.hpp"

namespace crema {
namespace {

float rate(pb::SolverParameter p, int iter) {
  int step = 0;
  return learning_rate(p, iter, &step);
}

pb::SolverParameter policy(const std::string& name) {
  pb::SolverParameter p;
  p.set_base_lr(0.1f);
  p.set_lr_policy(name);
  return p;
}

TEST(LrPolicy, Fixed) { EXPECT_FLOAT_EQ(rate(policy("fixed"), 1234), 0.1f); }

TEST(LrPolicy, Step) {
  auto p = policy("step");
  p.set_gamma(0.1f);
  p.set_stepsize(100);
  EXPECT_FLOAT_EQ(rate(p, 99), 0.1f);
  EXPECT_FLOAT_EQ(rate(p, 100), 0.01f);
  EXPECT_NEAR(rate(p, 250), 0.001f, 1e-9);
}

TEST(LrPolicy, Exp) {
  auto p = policy("exp");
  p.set_gamma(0.9f);
  EXPECT_NEAR(rate(p, 3), 0.1f * 0.729f, 1e-7);
}

TEST(LrPolicy, Inv) {
  auto p = policy("inv");
  p.set_gamma(1e-4f);
  p.set_power(0.75f);
  EXPECT_NEAR(rate(p, 1000), 0.1 * std::pow(1.1, -0.75), 1e-7);
}

TEST(LrPolicy, MultistepAdvancesAndRemembers) {
  auto p = policy("multistep");
  p.set_gamma(0.5f);
  p.add_stepvalue(10);
  p.add_stepvalue(20);
  int step = 0;
  EXPECT_FLOAT_EQ(learning_rate(p, 9, &step), 0.1f);
  EXPECT_FLOAT_EQ(learning_rate(p, 10, &step), 0.05f);
  EXPECT_FLOAT_EQ(learning_rate(p, 25, &step), 0.025f);
  EXPECT_EQ(step, 2);
}

TEST(LrPolicy, Poly) {
  auto p = policy("poly");
  p.set_power(2);
  p.set_max_iter(100);
  EXPECT_NEAR(rate(p, 50), 0.1f * 0.25f, 1e-7);
}

TEST(LrPolicy, Sigmoid) {
  auto p = policy("sigmoid");
  p.set_gamma(-0.1f);
  p.set_stepsize(50);
  EXPECT_NEAR(rate(p, 50), 0.05f, 1e-7);
  EXPECT_NEAR(rate(p, 60), 0.1 / (1 + std::exp(1.0)), 1e-7);
}

TEST(LrPolicy, CosineWithWarmup) {
  auto p = policy("cosine");
  p.set_max_iter(100);
  EXPECT_NEAR(rate(p, 50), 0.05f, 1e-7);
  EXPECT_NEAR(rate(p, 100), 0.f, 1e-7);
  p.set_warmup_iter(10);
  p.set_warmup_start_factor(0.1f);
  EXPECT_NEAR(rate(p, 0), 0.1 * 0.1, 1e-7);
  EXPECT_NEAR(rate(p, 5), 0.1 * 0.5 * (1 + std::cos(M_PI * 0.05)) * 0.55, 1e-7);
  EXPECT_NEAR(rate(p, 10), 0.1 * 0.5 * (1 + std::cos(M_PI * 0.1)), 1e-7);
}

TEST(LrPolicy, UnknownPolicyIsAnError) { EXPECT_THROW(rate(policy("triangle"), 0), std::exception); }

}  // namespace
}  // namespace crema
