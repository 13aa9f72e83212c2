// SPDX-License-Identifier: BSD-2-Clause
// The training loop: determinism, exact resume for every solver, NaN stop with the last good
// snapshot intact, atomic snapshots, iter_size, lr_mult, clipping, early errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "crema/core/host.hpp"
#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/solver.hpp"
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
  for (Tensor* t : s.net().all_params())
    out.insert(out.end(), t->host_data(), t->host_data() + t->count());
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

// A damaged or foreign solverstate is refused with the field, and the solver is left unchanged
// (a negative current_step once indexed stepvalue out of bounds).
TEST_F(SolverTest, RestoredFieldsAreCheckedAgainstTheSolver) {
  auto p = solver_for("SGD", dir_.string());
  p.set_lr_policy("multistep");
  p.set_gamma(0.5f);
  p.add_stepvalue(2);
  Solver first(p, quiet());
  first.step(3);
  first.snapshot();
  const std::string state_path = dir_.string() + "/snap_iter_3.solverstate";
  pb::SolverState state;
  read_binary_proto(state_path, &state);
  auto expect_refused = [&](const pb::SolverState& bad, const std::string& field) {
    const std::string bad_path = dir_.string() + "/bad.solverstate";
    write_binary_proto_atomic(bad_path, bad);
    Solver s(p, quiet());
    const std::vector<float> before = weights(s);
    try {
      s.restore(bad_path);
      ADD_FAILURE() << "accepted " << field;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
    EXPECT_EQ(s.iter(), 0) << field;
    EXPECT_EQ(weights(s), before) << field;
  };
  for (int step : {-3, INT32_MIN, 2}) {
    pb::SolverState bad = state;
    bad.set_current_step(step);
    expect_refused(bad, "learning-rate step");
  }
  pb::SolverState negative_iter = state;
  negative_iter.set_iter(-1);
  expect_refused(negative_iter, "iteration -1");
  pb::SolverState short_history = state;
  short_history.mutable_history(0)->mutable_data()->RemoveLast();
  expect_refused(short_history, "history blob 0");
  Solver resumed(p, quiet());
  resumed.restore(state_path);
  EXPECT_EQ(resumed.iter(), 3);
}

// The final snapshot holds the weights and BatchNorm statistics the final display and test saw
// (the closing TRAIN forward moved the running statistics after the snapshot was written).
TEST_F(SolverTest, FinalSnapshotHoldsWhatTheLastPassesSaw) {
  auto p = solver_for("SGD", dir_.string());
  std::string net = tiny_net();
  const std::string relu = "layer { name: \"relu\"";
  net.insert(net.find(relu),
             "layer { name: \"bn\" type: \"BatchNorm\" bottom: \"h\" top: \"h\" }\n");
  *p.mutable_net_param() = parse_net_text(net, "<tiny+bn>", Registry::global());
  p.set_max_iter(3);
  p.set_display(1);
  p.set_snapshot_after_train(true);
  Solver s(p, quiet());
  ASSERT_TRUE(s.solve());
  pb::NetParameter saved;
  read_binary_proto(dir_.string() + "/snap_iter_3.caffemodel", &saved);
  std::vector<float> in_file;
  for (const auto& layer : saved.layer())
    for (const auto& blob : layer.blobs())
      in_file.insert(in_file.end(), blob.data().begin(), blob.data().end());
  EXPECT_EQ(in_file, weights(s));
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
    EXPECT_NE(m.find("Last good snapshot: " + dir_.string() + "/snap_iter_2.caffemodel"),
              std::string::npos)
        << m;
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

// Temporaries a killed writer left are removed when the next run starts; a live writer's stay.
TEST_F(SolverTest, StaleSnapshotTemporariesAreRemovedAtStart) {
  auto p = solver_for("SGD", dir_.string());
  p.set_snapshot(5);
  const fs::path dead = dir_ / "snap_iter_4.caffemodel.tmp.999999999";  // beyond any pid_max
  const fs::path dead_state = dir_ / "snap_iter_4.solverstate.tmp.999999999";
  const fs::path live = dir_ / ("snap_iter_4.caffemodel.tmp." + std::to_string(getppid()));
  const fs::path other = dir_ / "other_iter_4.caffemodel.tmp.999999999";  // another prefix
  for (const fs::path& f : {dead, dead_state, live, other}) std::ofstream(f) << "partial";
  Solver s(p, quiet());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(dead_state));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
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
  for (size_t i = 0; i < before.size(); ++i)
    sq += double(after[i] - before[i]) * (after[i] - before[i]);
  // The step is lr * lr_mult * clipped gradient; fc2's bias has lr_mult 2, so bound loosely.
  EXPECT_LE(std::sqrt(sq), 2 * 0.05 * 1e-3 * 1.0001);
  EXPECT_GT(std::sqrt(sq), 0.05 * 1e-3 * 0.5);
}

// A net whose weights span many of the update's chunks (48 x 700 = 33,600 values): fixed data,
// no dropout, so the gradient of iteration 0 can be taken from the net beforehand.
pb::SolverParameter wide_solver(const std::string& dir) {
  pb::SolverParameter p = parse_solver_text(
      "base_lr: 0.05 lr_policy: 'fixed' momentum: 0.9 weight_decay: 0.01 random_seed: 7 "
      "display: 0 snapshot_after_train: false solver_mode: CPU",
      "<test>", Registry::global());
  *p.mutable_net_param() = parse_net_text(R"(
    name: "wide"
    layer { name: "data" type: "DummyData" top: "x" top: "label"
      dummy_data_param { shape { dim: 4 dim: 48 } shape { dim: 4 }
                         data_filler { type: "gaussian" std: 1 }
                         data_filler { type: "uniform" min: 0 max: 6.99 } } }
    layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y" param { lr_mult: 1 }
      param { lr_mult: 2 decay_mult: 0 }
      inner_product_param { num_output: 700 weight_filler { type: "gaussian" std: 0.1 }
                            bias_filler { type: "constant" value: 0.1 } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
  )",
                                          "<wide>", Registry::global());
  p.set_snapshot_prefix(dir + "/snap");
  return p;
}

// The update's arithmetic, element by element as Caffe's: the first SGD step is
// lr * lr_mult * (gradient + weight_decay * decay_mult * w) (the momentum history starts at 0),
// on one thread and on two (the update runs in chunks shared among the threads).
TEST_F(SolverTest, UpdateIsCaffesArithmeticOnAnyThreadCount) {
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    set_num_threads(threads);
    Solver s(wide_solver(dir_.string()), quiet());
    Net& net = s.net();
    std::vector<float> w0 = weights(s), grad;
    net.clear_param_diffs();
    net.set_rng_counter(0);  // iteration 0's data, as step() draws it
    net.forward_backward();
    for (Tensor* t : net.all_params())
      grad.insert(grad.end(), t->host_diff(), t->host_diff() + t->count());
    s.step(1);
    const std::vector<float> w1 = weights(s);
    ASSERT_EQ(w1.size(), w0.size());
    const int64_t weights_count = int64_t{48} * 700;  // then 700 biases: lr_mult 2, decay_mult 0
    for (size_t i = 0; i < w0.size(); ++i) {
      const bool bias = static_cast<int64_t>(i) >= weights_count;
      const float g = grad[i] + (bias ? 0.f : 0.01f * w0[i]);
      const float want = w0[i] - (0.9f * 0.f + 0.05f * (bias ? 2.f : 1.f) * g);
      ASSERT_EQ(w1[i], want) << "value " << i;
    }
  }
  set_num_threads(1);
}

// With clipping (a pass of its own before the steps), L1 decay and momentum, several steps on one
// and on two threads give the same weights.
TEST_F(SolverTest, ClippedL1UpdateIsTheSameOnAnyThreadCount) {
  auto p = wide_solver(dir_.string());
  p.set_clip_gradients(0.5f);
  p.set_regularization_type("L1");
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Solver s(p, quiet());
    s.step(3);
    runs.push_back(weights(s));
  }
  set_num_threads(1);
  EXPECT_EQ(runs[0], runs[1]);
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

// The progress line's rate and ETA come from each iteration's wall time: another solver's
// iterations, or a pause between step() calls, are no part of it.
TEST_F(SolverTest, EachSolverTimesItsOwnIterations) {
  auto p = solver_for("SGD", dir_.string());
  Solver a(p, quiet()), b(p, quiet());
  a.step(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  b.step(1);
  EXPECT_GT(b.seconds_per_iter(), 0);
  EXPECT_LT(b.seconds_per_iter(), 0.15) << "b's first iteration was timed from a's last one";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  a.step(1);
  EXPECT_LT(a.seconds_per_iter(), 0.15) << "the pause between step() calls was timed";
}

// Caffe's wording (parse_log.py, train_e2e.sh and tools/experiments read it) in glog lines that
// name the solver's source file and line.
TEST_F(SolverTest, LogLinesKeepCaffesWordingAndNameTheirSource) {
  auto p = solver_for("SGD", dir_.string());
  p.set_display(1);
  p.add_test_iter(2);
  p.set_test_interval(2);
  Solver s(p);
  ::testing::internal::CaptureStderr();
  s.step(3);
  s.snapshot();
  const std::string out = ::testing::internal::GetCapturedStderr();
  std::istringstream lines(out);
  std::string line;
  const std::regex shape(R"(^I\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ [a-z_]+\.cpp:[1-9]\d*\] )");
  int n = 0;
  while (std::getline(lines, line)) {
    if (line.find('\r') != std::string::npos) continue;  // a terminal's progress line
    ++n;
    EXPECT_TRUE(std::regex_search(line, shape)) << line;
  }
  EXPECT_GE(n, 10) << out;
  for (const char* want :
       {R"(\] Iteration 0 \([0-9.e+-]+ iter/s, [0-9.e+-]+s/1 iters\), loss = [0-9.e+-]+\n)",
        R"(\]     Train net output #0: loss = [0-9.e+-]+ \(\* 1 = [0-9.e+-]+ loss\)\n)",
        R"(\] Iteration 2, lr = 0\.05\n)", R"(\] Iteration 2, Testing net \(#0\)\n)",
        R"(\]     Test net output #0: loss = [0-9.e+-]+ \(\* 1 = [0-9.e+-]+ loss\)\n)",
        R"(\] Snapshotting to binary proto file .*snap_iter_3\.caffemodel\n)"})
    EXPECT_TRUE(std::regex_search(out, std::regex(want))) << want << "\n" << out;
}

// One JSON object a line: a record per display, one per test pass
// (tools/experiments/expmetrics.py reads them).
TEST_F(SolverTest, MetricsFileRecordsDisplaysAndTestPasses) {
  auto p = solver_for("SGD", dir_.string());
  p.set_display(2);
  p.add_test_iter(1);
  p.set_test_interval(2);
  p.set_test_initialization(false);
  {
    Solver s(p, quiet());
    s.step(4);
  }
  std::ifstream f(dir_ / "snap_metrics.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  const std::string num = R"([0-9.e+-]+)";
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex(R"(\{"iter":0,"lr":0\.05,"loss":)" + num + R"(,"images_per_s":0\})")))
      << lines[0];
  EXPECT_TRUE(
      std::regex_match(lines[1], std::regex(R"(\{"iter":2,"test_net":0,"loss":)" + num + R"(\})")))
      << lines[1];
  EXPECT_TRUE(std::regex_match(lines[2], std::regex(R"(\{"iter":2,"lr":0\.05,"loss":)" + num +
                                                    R"(,"images_per_s":)" + num + R"(\})")))
      << lines[2];
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  return lines;
}

// A resumed run keeps the records before its snapshot's iteration and drops those the first run
// wrote past it: the file reads as one run (it was started afresh, losing iterations 0-2).
TEST_F(SolverTest, ResumedRunKeepsTheMetricsBeforeItsSnapshot) {
  auto p = solver_for("SGD", dir_.string());
  p.set_display(1);
  {
    Solver first(p, quiet());
    first.step(3);
    first.snapshot();
    first.step(2);  // records 3 and 4, past the snapshot
  }
  Solver resumed(p, quiet());
  resumed.restore((dir_ / "snap_iter_3.solverstate").string());
  resumed.step(3);
  std::vector<int> iters;
  for (const std::string& l : read_lines(dir_ / "snap_metrics.jsonl"))
    iters.push_back(std::stoi(l.substr(std::string("{\"iter\":").size())));
  EXPECT_EQ(iters, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

// The metrics file is touched at the first record: a start that fails after the solver was
// built (a state file that is none) leaves an earlier run's file as it was, and a solver that
// records nothing leaves no empty file behind.
TEST_F(SolverTest, AStartThatFailsLeavesTheMetricsFileAlone) {
  auto p = solver_for("SGD", dir_.string());
  p.set_display(1);
  const fs::path metrics = dir_ / "snap_metrics.jsonl";
  const std::string earlier = "{\"iter\":0,\"lr\":0.05,\"loss\":1.1,\"images_per_s\":0}";
  std::ofstream(metrics) << earlier << "\n";
  std::ofstream(dir_ / "junk.solverstate") << "not a solver state";
  {
    Solver s(p, quiet());
    EXPECT_ANY_THROW(s.restore((dir_ / "junk.solverstate").string()));
  }
  EXPECT_EQ(read_lines(metrics), std::vector<std::string>{earlier});
  p.set_snapshot_prefix((dir_ / "fresh").string());
  { Solver s(p, quiet()); }
  EXPECT_FALSE(fs::exists(dir_ / "fresh_metrics.jsonl"));
}

// The start lines say what runs on what, for how long and where its files go; a progress line
// follows each display. None of crema's lines reads as one of Caffe's to its parsers
// (parse_log.py's "Iteration (\d+)" and "lr = ", parse_log.sh's ", loss = ").
TEST_F(SolverTest, StartAndProgressLinesSayWhatRunsAndLeaveCaffesLinesAlone) {
  auto p = solver_for("SGD", dir_.string());
  p.set_display(2);
  p.set_max_iter(4);
  Solver s(p);
  s.set_epoch_images(16);  // two iterations of 8
  ::testing::internal::CaptureStderr();
  s.solve();
  const std::string out = ::testing::internal::GetCapturedStderr();
  const char* const wanted[] = {
      R"(\] Device: CPU, 1 thread; precision fp32\n)",
      R"(\] Solver: inline; train net: inline\n)",
      R"(\] Batch: 8 images an iteration \(batch size 8\)\n)",
      // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one line's regex, split at 100 columns
      R"(\] Training: max_iter 4 = 2 epochs of 16 images \(2 iterations an epoch\); )"
      R"(this run: iterations 0 to 4\n)",
      R"(\] Snapshots: none \(snapshot 0, snapshot_after_train false\)\n)",
      R"(\] Metrics: .*snap_metrics\.jsonl\n)",
      R"(\] Progress: 0/4 iterations \(0\.0%\), epoch 0\.00 of 2\n)",
      R"(\] Progress: 2/4 iterations \(50\.0%\), epoch 1\.00 of 2, [0-9]+ images/s, ETA 0:00:00\n)",
  };
  for (const char* want : wanted)
    EXPECT_TRUE(std::regex_search(out, std::regex(want))) << want << "\n" << out;
  const std::regex caffe(
      R"(\] (Iteration \d+( \(.* iter/s, .*s/\d+ iters\), loss = |, lr = |, loss = |, Testing net )|)"
      R"(    (Train|Test) net output #))");
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_search(line, caffe) || line.find('\r') != std::string::npos) continue;
    EXPECT_FALSE(std::regex_search(line, std::regex(R"(Iteration \d)"))) << line;
    EXPECT_EQ(line.find(", loss = "), std::string::npos) << line;
    EXPECT_EQ(line.find("lr = "), std::string::npos) << line;
  }
}

// SolverOptions::fuse reaches the train and the test nets (crema train -fuse=false).
TEST_F(SolverTest, FuseOptionReachesEveryNet) {
  auto p = solver_for("SGD", dir_.string());
  std::string text = tiny_net();
  const std::string relu = "layer { name: \"relu\"";
  text.replace(text.find(relu), 0,
               "layer { name: \"bn\" type: \"BatchNorm\" bottom: \"h\" top: \"h\" }\n");
  *p.mutable_net_param() = parse_net_text(text, "<tiny>", Registry::global());
  p.add_test_iter(1);
  p.set_test_interval(100);
  Solver fused(p, quiet());
  ASSERT_EQ(fused.num_test_nets(), 1);
  const int bn = fused.net().layer_index("bn"), relu_index = fused.net().layer_index("relu");
  EXPECT_EQ(fused.net().absorbed_into(relu_index), bn);
  EXPECT_EQ(fused.test_net(0).absorbed_into(relu_index), bn);
  SolverOptions options = quiet();
  options.fuse = false;
  Solver separate(p, options);
  EXPECT_EQ(separate.net().absorbed_into(relu_index), -1);
  EXPECT_EQ(separate.test_net(0).absorbed_into(relu_index), -1);
}

}  // namespace
}  // namespace crema
