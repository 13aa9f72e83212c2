// SPDX-License-Identifier: BSD-2-Clause
// The training loop: determinism, exact resume for every solver, NaN stop with the last good
// snapshot intact, atomic snapshots, iter_size, lr_mult, clipping, early errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "crema/core/host.hpp"
#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/solver/solver.hpp"
#include "crema/core/registry.hpp"
#include "tiny_net.hpp"

namespace crema {
namespace {

namespace fs = std::filesystem;

std::string tiny_net() { return test_nets::kTinyNet; }

pb::SolverParameter solver_for(const std::string& type, const std::string& dir) {
  pb::SolverParameter p = parse_solver_text("base_lr: 0.05 lr_policy: 'fixed' momentum: 0.9 "
                                            "weight_decay: 0.001 random_seed: 7 display: 0 "
                                            "snapshot_after_train: false solver_mode: CPU",
                                            "<test>", Registry::global());
  *p.mutable_net_param() = parse_net_text(tiny_net(), "<tiny>", Registry::global());
  p.set_type(type);
  if (type == "AdaGrad" || type == "RMSProp") p.clear_momentum();
  if (type == "AdaDelta") p.set_base_lr(1.0f), p.set_momentum(0.95f);
  if (type == "Adam") p.set_base_lr(0.01f), p.set_momentum2(0.999f);
  p.set_snapshot_prefix(dir + "/snap");
  return p;
}

std::vector<float> weights(Solver& s) {
  std::vector<float> out;
  for (Tensor* t : s.net().all_params()) out.insert(out.end(), t->host_data(), t->host_data() + t->count());
  return out;
}

SolverOptions quiet() {
  SolverOptions o;
  o.quiet = true;
  return o;
}

class SolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_num_threads(1);
    dir_ = fs::temp_directory_path() / ("crema_solver_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SolverTest, FixedSeedGivesIdenticalRuns) {
  auto p = solver_for("SGD", dir_.string());
  Solver a(p, quiet()), b(p, quiet());
  a.step(5);
  b.step(5);
  EXPECT_EQ(weights(a), weights(b));
  auto q = p;
  q.set_random_seed(8);
  Solver c(q, quiet());
  c.step(5);
  EXPECT_NE(weights(a), weights(c));
}

TEST_F(SolverTest, ResumeEqualsUninterruptedForEverySolver) {
  for (const char* type : {"SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"}) {
    auto p = solver_for(type, dir_.string());
    p.set_lr_policy("multistep");
    p.set_gamma(0.5f);
    p.add_stepvalue(2);
    p.add_stepvalue(4);
    Solver straight(p, quiet());
    straight.step(6);
    Solver first(p, quiet());
    first.step(3);
    first.snapshot();
    Solver resumed(p, quiet());
    resumed.restore(dir_.string() + "/snap_iter_3.solverstate");
    EXPECT_EQ(resumed.iter(), 3);
    resumed.step(3);
    EXPECT_EQ(weights(straight), weights(resumed)) << type;
  }
}

TEST_F(SolverTest, NanLossStopsAndKeepsTheLastGoodSnapshot) {
  auto p = solver_for("SGD", dir_.string());
  p.set_snapshot(2);
  Solver s(p, quiet());
  s.step(2);  // writes snap_iter_2
  // A weight turned NaN (as a diverging run does) poisons the next loss.
  s.net().learnable_params()[0].tensor->mutable_host_data()[0] = std::nanf("");
  try {
    s.step(5);
    FAIL() << "a NaN loss did not stop training";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("Iteration 2: loss is"), std::string::npos) << m;
    EXPECT_NE(m.find("Last good snapshot: " + dir_.string() + "/snap_iter_2.caffemodel"), std::string::npos) << m;
  }
  EXPECT_EQ(s.iter(), 2);
  // The snapshot named in the message still loads, and holds only finite weights.
  pb::NetParameter w = read_weights_file(s.last_snapshot());
  int values = 0;
  for (const auto& l : w.layer())
    for (const auto& b : l.blobs())
      for (float v : b.data()) {
        EXPECT_TRUE(std::isfinite(v));
        ++values;
      }
  EXPECT_GT(values, 0);
}

TEST_F(SolverTest, SnapshotsAreWholeFilesWithNoTemporariesLeft) {
  auto p = solver_for("SGD", dir_.string());
  Solver s(p, quiet());
  s.step(2);
  std::string w = s.snapshot();
  s.step(1);
  s.snapshot();
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  pb::NetParameter net;
  read_binary_proto(w, &net);
  EXPECT_EQ(net.layer_size(), 6);
}

TEST_F(SolverTest, UnwritableSnapshotDirectoryIsRefusedBeforeTraining) {
  auto p = solver_for("SGD", dir_.string());
  std::ofstream(dir_ / "file") << "x";
  p.set_snapshot_prefix((dir_ / "file" / "sub" / "snap").string());
  p.set_snapshot(10);
  try {
    Solver s(p, quiet());
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("not writable"), std::string::npos) << e.what();
  }
}

TEST_F(SolverTest, LrMultZeroFreezesAParameter) {
  auto p = solver_for("SGD", dir_.string());
  auto* fc2 = p.mutable_net_param()->mutable_layer(4);
  ASSERT_EQ(fc2->name(), "fc2");
  fc2->mutable_param(0)->set_lr_mult(0);
  fc2->mutable_param(0)->set_decay_mult(0);
  Solver s(p, quiet());
  Tensor* w = s.net().layer(s.net().layer_index("fc2")).params()[0].tensor.get();
  std::vector<float> before(w->host_data(), w->host_data() + w->count());
  s.step(3);
  EXPECT_EQ(before, std::vector<float>(w->host_data(), w->host_data() + w->count()));
}

TEST_F(SolverTest, ClipGradientsBoundsTheFirstStep) {
  auto p = solver_for("SGD", dir_.string());
  p.set_momentum(0);
  p.set_weight_decay(0);
  p.set_clip_gradients(1e-3f);
  Solver s(p, quiet());
  std::vector<float> before = weights(s);
  s.step(1);
  std::vector<float> after = weights(s);
  double sq = 0;
  for (size_t i = 0; i < before.size(); ++i) sq += double(after[i] - before[i]) * (after[i] - before[i]);
  // The step is lr * lr_mult * clipped gradient; fc2's bias has lr_mult 2, so bound loosely.
  EXPECT_LE(std::sqrt(sq), 2 * 0.05 * 1e-3 * 1.0001);
  EXPECT_GT(std::sqrt(sq), 0.05 * 1e-3 * 0.5);
}

TEST_F(SolverTest, IterSizeAccumulatesAndNormalises) {
  // With constant data every sub-iteration sees the same batch: iter_size 2 equals iter_size 1.
  auto p = solver_for("SGD", dir_.string());
  auto* data = p.mutable_net_param()->mutable_layer(0)->mutable_dummy_data_param();
  data->mutable_data_filler(0)->set_type("constant");
  data->mutable_data_filler(0)->set_value(0.5f);
  data->mutable_data_filler(1)->set_type("constant");
  data->mutable_data_filler(1)->set_value(1);
  p.mutable_net_param()->mutable_layer(3)->mutable_dropout_param()->set_dropout_ratio(0);
  Solver one(p, quiet());
  p.set_iter_size(2);
  Solver two(p, quiet());
  one.step(3);
  two.step(3);
  auto a = weights(one), b = weights(two);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6);
}

}  // namespace
}  // namespace crema
