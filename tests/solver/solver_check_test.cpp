// SPDX-License-Identifier: BSD-2-Clause
// check_solver: what train refuses is an error (and learning_rate / make_update_rule refuse it
// too), a solver that cannot learn is refused by validate only, and every field the chosen type
// or lr_policy ignores is a warning that names it. The solvers crema ships raise nothing.
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/lr_policy.hpp"
#include "crema/solver/solver_check.hpp"
#include "crema/solver/update_rules.hpp"

namespace crema {
namespace {

// A usable SGD solver with `text` merged over it.
pb::SolverParameter solver(const std::string& text) {
  pb::SolverParameter p;
  p.set_base_lr(0.01f);
  p.set_max_iter(100);
  p.set_lr_policy("fixed");
  EXPECT_TRUE(google::protobuf::TextFormat::MergeFromString(text, &p)) << text;
  return p;
}

// The issues about `field`.
std::vector<SolverIssue> about(const std::vector<SolverIssue>& issues, const std::string& field) {
  std::vector<SolverIssue> out;
  for (const SolverIssue& i : issues)
    if (i.field == field) out.push_back(i);
  return out;
}

std::string describe(const std::vector<SolverIssue>& issues) {
  std::string s;
  for (const SolverIssue& i : issues) s += std::to_string(i.level) + " " + i.message + "\n";
  return s;
}

void expect_one(const std::string& text, const std::string& field, SolverIssue::Level level,
                const std::string& words) {
  const std::vector<SolverIssue> all = check_solver(solver(text));
  const std::vector<SolverIssue> issues = about(all, field);
  ASSERT_EQ(issues.size(), 1u) << text << "\n" << describe(all);
  EXPECT_EQ(issues[0].level, level) << text << "\n" << describe(all);
  EXPECT_EQ(issues[0].message.rfind(field + ": ", 0), 0u) << issues[0].message;
  EXPECT_NE(issues[0].message.find(words), std::string::npos) << issues[0].message;
}

TEST(SolverCheck, AGoodSolverRaisesNothing) {
  EXPECT_TRUE(check_solver(solver("momentum: 0.9 weight_decay: 0.0005")).empty())
      << describe(check_solver(solver("momentum: 0.9")));
}

TEST(SolverCheck, EveryPolicyWithItsFieldsRaisesNothing) {
  const std::map<std::string, std::string> fields = {
      {"fixed", ""},
      {"step", "gamma: 0.1 stepsize: 30"},
      {"exp", "gamma: 0.99"},
      {"inv", "gamma: 0.0001 power: 0.75"},
      {"multistep", "gamma: 0.1 stepvalue: 30 stepvalue: 60"},
      {"poly", "power: 0.9"},
      {"sigmoid", "gamma: -0.1 stepsize: 50"},
      {"cosine", ""},
  };
  for (const std::string& policy : lr_policy_names()) {
    ASSERT_TRUE(fields.count(policy)) << "a new policy: say here which fields it reads";
    pb::SolverParameter p = solver(fields.at(policy));
    p.set_lr_policy(policy);
    EXPECT_TRUE(check_solver(p).empty()) << policy << "\n" << describe(check_solver(p));
    int step = 0;
    EXPECT_NO_THROW(learning_rate(p, 10, &step)) << policy;
  }
}

TEST(SolverCheck, EveryTypeWithItsFieldsRaisesNothing) {
  const std::map<std::string, std::string> fields = {
      {"SGD", "momentum: 0.9"},       {"Nesterov", "momentum: 0.9"},
      {"AdaGrad", "delta: 1e-7"},     {"RMSProp", "rms_decay: 0.98 delta: 1e-7"},
      {"AdaDelta", "momentum: 0.95"}, {"Adam", "momentum: 0.9 momentum2: 0.999 delta: 1e-8"},
  };
  for (const std::string& type : solver_type_names()) {
    ASSERT_TRUE(fields.count(type)) << "a new solver type: say here which fields it reads";
    pb::SolverParameter p = solver(fields.at(type));
    p.set_type(type);
    EXPECT_TRUE(check_solver(p).empty()) << type << "\n" << describe(check_solver(p));
    EXPECT_NO_THROW(make_update_rule(p)) << type;
  }
}

// Each error is something training refuses as well.
TEST(SolverCheck, WhatTrainRefusesIsAnError) {
  expect_one("lr_policy: 'stepp'", "lr_policy", SolverIssue::kError, "fixed, step, exp");
  int step = 0;
  EXPECT_THROW(learning_rate(solver("lr_policy: 'stepp'"), 0, &step), std::runtime_error);

  expect_one("type: 'Adamm'", "type", SolverIssue::kError, "SGD, Nesterov");
  EXPECT_THROW(make_update_rule(solver("type: 'Adamm'")), std::runtime_error);

  expect_one("lr_policy: 'step' gamma: 0.1", "stepsize", SolverIssue::kError, "stepsize > 0");
  EXPECT_THROW(learning_rate(solver("lr_policy: 'step' gamma: 0.1"), 0, &step), std::runtime_error);

  expect_one("type: 'AdaGrad' momentum: 0.9", "momentum", SolverIssue::kError, "AdaGrad");
  EXPECT_THROW(make_update_rule(solver("type: 'AdaGrad' momentum: 0.9")), std::runtime_error);
  expect_one("type: 'RMSProp' momentum: 0.9", "momentum", SolverIssue::kError, "rms_decay");

  expect_one("regularization_type: 'L3'", "regularization_type", SolverIssue::kError, "L1 or L2");
  expect_one("iter_size: 0", "iter_size", SolverIssue::kError, "1 or more");
}

TEST(SolverCheck, NoBaseLrCannotLearn) {
  pb::SolverParameter p = solver("");
  p.clear_base_lr();
  const std::vector<SolverIssue> issues = about(check_solver(p), "base_lr");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].level, SolverIssue::kNoLearning);
  EXPECT_NE(issues[0].message.find("not set"), std::string::npos) << issues[0].message;
  expect_one("base_lr: 0", "base_lr", SolverIssue::kNoLearning, "0");
  expect_one("base_lr: -0.1", "base_lr", SolverIssue::kNoLearning, "negative");
  // Training warns and goes on: the solver runs (as Caffe's does), the user is told.
  EXPECT_NO_THROW(check_solver_for_training(p, true));
}

TEST(SolverCheck, FieldsThePolicyIgnoresAreWarnings) {
  expect_one("stepsize: 100", "stepsize", SolverIssue::kWarning, "lr_policy \"fixed\" ignores it");
  expect_one("stepvalue: 100", "stepvalue", SolverIssue::kWarning, "multistep");
  expect_one("lr_policy: 'poly' power: 0.9 gamma: 0.1", "gamma", SolverIssue::kWarning,
             "decay factor");
  expect_one("lr_policy: 'step' stepsize: 10 gamma: 0.1 power: 0.75", "power",
             SolverIssue::kWarning, "exponent");
  expect_one("warmup_start_factor: 0.1", "warmup_start_factor", SolverIssue::kWarning,
             "warmup_iter");
}

TEST(SolverCheck, FieldsTheTypeIgnoresAreWarnings) {
  expect_one("momentum2: 0.99", "momentum2", SolverIssue::kWarning, "type \"SGD\" ignores it");
  expect_one("delta: 1e-6", "delta", SolverIssue::kWarning, "epsilon");
  expect_one("type: 'Nesterov' delta: 1e-6", "delta", SolverIssue::kWarning, "Nesterov");
  expect_one("type: 'Adam' momentum: 0.9 rms_decay: 0.9", "rms_decay", SolverIssue::kWarning,
             "RMSProp");
}

TEST(SolverCheck, SurprisingDefaultsAreWarnings) {
  expect_one("lr_policy: 'step' stepsize: 10", "gamma", SolverIssue::kWarning, "to 0");
  expect_one("lr_policy: 'poly'", "power", SolverIssue::kWarning, "not set");
  expect_one("lr_policy: 'multistep' gamma: 0.1", "stepvalue", SolverIssue::kWarning, "none");
  expect_one("lr_policy: 'multistep' gamma: 0.1 stepvalue: 50 stepvalue: 20", "stepvalue",
             SolverIssue::kWarning, "must increase");
  expect_one("type: 'Adam'", "momentum", SolverIssue::kWarning, "beta1");
  pb::SolverParameter p = solver("");
  p.clear_max_iter();
  EXPECT_EQ(about(check_solver(p), "max_iter").size(), 1u);
  p.clear_lr_policy();
  EXPECT_EQ(about(check_solver(p), "lr_policy").size(), 1u);
}

TEST(SolverCheck, TrainingRefusesEveryErrorAtOnce) {
  try {
    check_solver_for_training(solver("lr_policy: 'stepp' type: 'Adamm'"), true);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("lr_policy: \"stepp\""), std::string::npos) << what;
    EXPECT_NE(what.find("type: \"Adamm\""), std::string::npos) << what;
  }
  EXPECT_NO_THROW(check_solver_for_training(solver("stepsize: 10 momentum2: 0.9"), true));
}

TEST(SolverCheck, TheShippedSolversRaiseNothing) {
  namespace fs = std::filesystem;
  int n = 0;
  for (const auto& e :
       fs::directory_iterator(fs::path(CREMA_SOURCE_DIR) / "net_defs" / "fashion_mnist")) {
    const std::string name = e.path().filename().string();
    if (name.find("solver") == std::string::npos) continue;
    const pb::SolverParameter p = read_solver_file(e.path().string());
    EXPECT_TRUE(check_solver(p).empty()) << name << "\n" << describe(check_solver(p));
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace crema
