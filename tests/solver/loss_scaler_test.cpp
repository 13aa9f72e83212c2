// SPDX-License-Identifier: BSD-2-Clause
// Loss scaling: gradients come out multiplied by the scale and are divided back before the
// update; dynamic scaling skips an overflowed step and halves the scale, doubles it after a
// window of good steps; the state survives a snapshot. In a real training run, a forced overflow
// (a scale of 2^120 on top of the loss gradient) skips steps, leaves the weights alone and logs
// each back-off, after which training goes on.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "crema/core/host.hpp"
#include "crema/core/log.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/loss_scaler.hpp"
#include "crema/solver/solver.hpp"
#include "tiny_net.hpp"

namespace crema {
namespace {

namespace fs = std::filesystem;

struct Grads {
  std::vector<std::shared_ptr<Tensor>> tensors;
  std::vector<LearnableParam> params;
  explicit Grads(std::vector<float> values) {
    auto t = std::make_shared<Tensor>(Shape{static_cast<int64_t>(values.size())});
    std::copy(values.begin(), values.end(), t->mutable_host_diff());
    tensors.push_back(t);
    params.push_back({t.get(), 1.f, 1.f, "w[0]"});
  }
  float at(int i) const { return tensors[0]->host_diff()[i]; }
};

TEST(LossScaler, StaticScaleDividesAndNeverSkips) {
  LossScaler s(64, false, 2000);
  Grads g({64, -128, std::numeric_limits<float>::infinity()});
  std::string event;
  EXPECT_TRUE(s.unscale(g.params, &event));  // a static scale leaves overflow to the NaN check
  EXPECT_EQ(g.at(0), 1.f);
  EXPECT_EQ(g.at(1), -2.f);
  EXPECT_TRUE(event.empty());
  EXPECT_EQ(s.scale(), 64.f);
}

TEST(LossScaler, OverflowSkipsTheStepAndHalvesTheScale) {
  LossScaler s(1024, true, 3);
  Grads g({2048, std::numeric_limits<float>::quiet_NaN()});
  std::string event;
  EXPECT_FALSE(s.unscale(g.params, &event));
  EXPECT_EQ(s.scale(), 512.f);
  EXPECT_EQ(g.at(0), 2048.f);  // left alone: the step is skipped
  EXPECT_NE(event.find("1024 -> 512"), std::string::npos) << event;
  EXPECT_NE(event.find("skipped"), std::string::npos) << event;
}

TEST(LossScaler, GrowsAfterAWindowOfGoodStepsAndTheCountRestartsOnOverflow) {
  LossScaler s(8, true, 3);
  std::string event;
  for (int step = 0; step < 2; ++step) {
    Grads g({8});
    EXPECT_TRUE(s.unscale(g.params, &event));
    EXPECT_EQ(g.at(0), 1.f);
  }
  EXPECT_TRUE(event.empty());
  Grads inf({std::numeric_limits<float>::infinity()});
  EXPECT_FALSE(s.unscale(inf.params, &event));  // the run of good steps starts again
  EXPECT_EQ(s.scale(), 4.f);
  event.clear();
  for (int step = 0; step < 2; ++step) {
    Grads g({4});
    EXPECT_TRUE(s.unscale(g.params, &event));
  }
  EXPECT_EQ(s.scale(), 4.f);
  Grads g({4});
  EXPECT_TRUE(s.unscale(g.params, &event));  // the third good step in a row
  EXPECT_EQ(g.at(0), 1.f);                   // divided by the scale it was computed with
  EXPECT_EQ(s.scale(), 8.f);
  EXPECT_NE(event.find("4 -> 8"), std::string::npos) << event;
}

// decide() is unscale() for gradients checked and divided elsewhere (the GPU's update): fed the
// same overflow verdicts it changes the scale, skips and logs as unscale() does, and hands out
// the factor unscale() divides by.
TEST(LossScaler, DecideFollowsUnscale) {
  LossScaler a(16, true, 2), b(16, true, 2);
  const float inf = std::numeric_limits<float>::infinity();
  for (const std::vector<float>& grads :
       std::vector<std::vector<float>>{{16}, {inf}, {8}, {8}, {-inf}, {16}, {4, 8}}) {
    Grads g(grads);
    bool finite = true;
    for (float v : grads) finite = finite && std::isfinite(v);
    const float carried = b.scale();
    std::string ea, eb;
    float inverse = 0;
    ASSERT_EQ(a.unscale(g.params, &ea), b.decide(finite, &inverse, &eb));
    EXPECT_EQ(ea, eb);
    EXPECT_EQ(a.scale(), b.scale());
    if (finite) {
      EXPECT_EQ(inverse, 1.f / carried);
      EXPECT_EQ(g.at(0), grads[0] * inverse);
    }
  }
  LossScaler off(1, false, 10);  // no scaling: every step applies, nothing to divide
  float inverse = 0;
  std::string event;
  EXPECT_TRUE(off.decide(false, &inverse, &event));
  EXPECT_EQ(inverse, 1.f);
}

TEST(LossScaler, RefusesNonsense) {
  EXPECT_THROW(LossScaler(0, false, 10), std::runtime_error);
  EXPECT_THROW(LossScaler(std::numeric_limits<float>::infinity(), true, 10), std::runtime_error);
  EXPECT_THROW(LossScaler(8, true, 0), std::runtime_error);
}

class LossScalingRun : public ::testing::Test {
 protected:
  void SetUp() override {
    set_num_threads(1);
    dir_ = fs::temp_directory_path() / ("crema_loss_scaler_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  pb::SolverParameter solver(const std::string& net_header, const std::string& extra = "") const {
    pb::SolverParameter p = parse_solver_text(
        "base_lr: 0.05 lr_policy: 'fixed' momentum: 0.9 random_seed: 7 display: 0 "
        "snapshot_after_train: false solver_mode: CPU " +
            extra,
        "<test>", Registry::global());
    *p.mutable_net_param() =
        parse_net_text(net_header + test_nets::kTinyNet, "<tiny>", Registry::global());
    p.set_snapshot_prefix((dir_ / "snap").string());
    return p;
  }
  static std::vector<float> weights(Solver& s) {
    std::vector<float> out;
    for (Tensor* t : s.net().all_params())
      out.insert(out.end(), t->host_data(), t->host_data() + t->count());
    return out;
  }
  fs::path dir_;
};

TEST_F(LossScalingRun, ExactScaleGivesTheUnscaledRun) {
  // A power of two scales and unscales exactly: the weights equal the run without scaling.
  Solver plain(solver(""), {}), scaled(solver("global_grad_scale: 1024\n"), {});
  plain.step(4);
  scaled.step(4);
  EXPECT_EQ(weights(plain), weights(scaled));
}

// A net whose loss weight of 4 times a scale near FLT_MAX makes the loss gradient itself inf.
const char* kOverflowNet = R"(
  global_grad_scale: 3.4e38 global_grad_scale_adaptive: true
  layer { name: "data" type: "DummyData" top: "x" top: "label"
    dummy_data_param { shape { dim: 8 dim: 6 } shape { dim: 8 }
                       data_filler { type: "gaussian" std: 1 }
                       data_filler { type: "uniform" min: 0 max: 2.99 } } }
  layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
    inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss"
          loss_weight: 4 }
)";

TEST_F(LossScalingRun, ForcedOverflowSkipsStepsThenTrains) {
  // Each step until the scale is small enough is skipped (weights unchanged, the scale halved,
  // a line in the log), then training proceeds.
  const std::string log_path = (dir_ / "run.log").string();
  set_log_file(log_path);
  SolverOptions o;
  pb::SolverParameter p = solver("", "loss_scale_window: 1000");
  *p.mutable_net_param() = parse_net_text(kOverflowNet, "<overflow>", Registry::global());
  Solver s(p, o);
  const std::vector<float> start = weights(s);
  s.step(1);
  EXPECT_EQ(weights(s), start) << "an overflowed step changed the weights";
  EXPECT_EQ(s.iter(), 1);
  set_log_file("");
  std::ifstream in(log_path);
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("the gradients overflowed, the step is skipped"), std::string::npos) << log;
  s.step(200);
  EXPECT_NE(weights(s), start) << "training never resumed";
  for (float w : weights(s)) ASSERT_TRUE(std::isfinite(w));
}

TEST_F(LossScalingRun, ScaleSurvivesASnapshot) {
  // Overflowing at first, so that the snapshot falls among skipped steps and scale changes.
  pb::SolverParameter p = solver("", "loss_scale_window: 2");
  *p.mutable_net_param() = parse_net_text(kOverflowNet, "<overflow>", Registry::global());
  SolverOptions quiet;
  quiet.quiet = true;
  Solver straight(p, quiet);
  straight.step(60);
  Solver first(p, quiet);
  first.step(3);
  first.snapshot();
  Solver resumed(p, quiet);
  resumed.restore((dir_ / "snap_iter_3.solverstate").string());
  resumed.step(57);
  EXPECT_NE(weights(straight), weights(first)) << "no step was applied: nothing compared";
  EXPECT_EQ(weights(straight), weights(resumed));
}

}  // namespace
}  // namespace crema
