// SPDX-License-Identifier: BSD-2-Clause
// Each optimiser's step against a hand-computed one, two iterations deep (so history matters).
#include <gtest/gtest.h>

#include <cmath>

#include "crema/solver/update_rules.hpp"

namespace crema {
namespace {

pb::SolverParameter solver(const std::string& type) {
  pb::SolverParameter p;
  p.set_type(type);
  return p;
}

// Two steps of the rule on one weight with gradients g1 then g2; returns both steps.
std::pair<float, float> two_steps(const pb::SolverParameter& p, float rate, float g1, float g2) {
  auto rule = make_update_rule(p);
  float h0 = 0, h1 = 0, g = g1;
  rule->compute(1, rate, 0, &g, &h0, &h1);
  float s1 = g;
  g = g2;
  rule->compute(1, rate, 1, &g, &h0, &h1);
  return {s1, g};
}

TEST(UpdateRules, SgdMomentum) {
  auto p = solver("SGD");
  p.set_momentum(0.9f);
  auto [s1, s2] = two_steps(p, 0.1f, 2.f, -1.f);
  EXPECT_FLOAT_EQ(s1, 0.2f);                 // v = 0.1*2
  EXPECT_FLOAT_EQ(s2, 0.9f * 0.2f - 0.1f);   // v = 0.9 v + 0.1*(-1)
}

TEST(UpdateRules, Nesterov) {
  auto p = solver("Nesterov");
  p.set_momentum(0.9f);
  auto [s1, s2] = two_steps(p, 0.1f, 2.f, -1.f);
  EXPECT_FLOAT_EQ(s1, 1.9f * 0.2f);  // (1+mu) v1 - mu * 0
  float v2 = 0.9f * 0.2f - 0.1f;
  EXPECT_NEAR(s2, 1.9f * v2 - 0.9f * 0.2f, 1e-7);
}

TEST(UpdateRules, AdaGrad) {
  auto p = solver("AdaGrad");
  p.set_delta(1e-8f);
  auto [s1, s2] = two_steps(p, 0.5f, 2.f, -1.f);
  EXPECT_NEAR(s1, 0.5f * 2 / (2 + 1e-8f), 1e-6);
  EXPECT_NEAR(s2, 0.5f * -1 / (std::sqrt(5.f) + 1e-8f), 1e-6);
}

TEST(UpdateRules, RmsProp) {
  auto p = solver("RMSProp");
  p.set_rms_decay(0.9f);
  p.set_delta(1e-8f);
  auto [s1, s2] = two_steps(p, 0.01f, 2.f, -1.f);
  float h1 = 0.1f * 4, h2 = 0.9f * h1 + 0.1f * 1;
  EXPECT_NEAR(s1, 0.01f * 2 / (std::sqrt(h1) + 1e-8f), 1e-6);
  EXPECT_NEAR(s2, 0.01f * -1 / (std::sqrt(h2) + 1e-8f), 1e-6);
}

TEST(UpdateRules, AdaDelta) {
  auto p = solver("AdaDelta");
  p.set_momentum(0.95f);
  p.set_delta(1e-6f);
  auto [s1, s2] = two_steps(p, 1.f, 2.f, -1.f);
  float g0 = 0.05f * 4, u1 = 2 * std::sqrt((0 + 1e-6f) / (g0 + 1e-6f)), x0 = 0.05f * u1 * u1;
  EXPECT_NEAR(s1, u1, 1e-6);
  float g1 = 0.95f * g0 + 0.05f * 1, u2 = -1 * std::sqrt((x0 + 1e-6f) / (g1 + 1e-6f));
  EXPECT_NEAR(s2, u2, 1e-6);
}

TEST(UpdateRules, Adam) {
  auto p = solver("Adam");
  p.set_momentum(0.9f);
  p.set_momentum2(0.999f);
  p.set_delta(1e-8f);
  auto [s1, s2] = two_steps(p, 0.001f, 2.f, -1.f);
  float m1 = 0.2f, v1 = 0.001f * 4;
  EXPECT_NEAR(s1, 0.001f * std::sqrt(1 - 0.999f) / (1 - 0.9f) * m1 / (std::sqrt(v1) + 1e-8f), 1e-7);
  float m2 = 0.9f * m1 - 0.1f, v2 = 0.999f * v1 + 0.001f;
  float c2 = std::sqrt(1 - 0.999f * 0.999f) / (1 - 0.81f);
  EXPECT_NEAR(s2, 0.001f * c2 * m2 / (std::sqrt(v2) + 1e-8f), 1e-7);
}

TEST(UpdateRules, UnknownTypeListsTheKnownOnes) {
  try {
    make_update_rule(solver("Lion"));
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("Adam"), std::string::npos);
  }
}

TEST(UpdateRules, RmsPropRefusesMomentum) {
  auto p = solver("RMSProp");
  p.set_momentum(0.9f);
  EXPECT_THROW(make_update_rule(p), std::exception);
}

}  // namespace
}  // namespace crema
