// SPDX-License-Identifier: BSD-2-Clause
// The solver: trains a net with one of the update rules, tests it, snapshots and resumes it.
// Caffe's loop and semantics (iter_size, average_loss, test_interval, snapshot, clip_gradients,
// L1/L2 regularisation with decay_mult, lr_mult), crema's additions (cosine and warm-up schedules,
// NaN stop, atomic snapshots, a metrics file, a progress line).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "crema.pb.h"
#include "crema/core/net.hpp"
#include "crema/solver/log.hpp"
#include "crema/solver/update_rules.hpp"

namespace crema {

// What SIGINT / SIGHUP do (Caffe's -sigint_effect / -sighup_effect).
enum class SignalAction { kNone, kStop, kSnapshot };
SignalAction parse_signal_action(const std::string& name);
void install_signal_handlers(SignalAction on_sigint, SignalAction on_sighup);

struct SolverOptions {
  std::string solver_path;  // for resolving net paths and messages
  bool quiet = false;       // no log lines (tests)
};

class Solver {
 public:
  Solver(const pb::SolverParameter& param, const SolverOptions& options = {});
  ~Solver();

  // Trains to max_iter (from the current iteration); returns false when stopped early.
  bool solve();
  // Runs `iters` training iterations.
  void step(int iters);
  // Scores every test net; returns the first test net's outputs (name -> mean).
  std::vector<std::pair<std::string, float>> test_all();
  // Writes <prefix>_iter_N.caffemodel and .solverstate atomically; returns the weights path.
  std::string snapshot();
  void restore(const std::string& solverstate_path);
  void load_weights(const std::string& weights_paths);  // comma-separated

  int iter() const { return iter_; }
  Net& net() { return *net_; }
  Net& test_net(int i) { return *test_nets_.at(i); }
  int num_test_nets() const { return static_cast<int>(test_nets_.size()); }
  const pb::SolverParameter& param() const { return param_; }
  float smoothed_loss() const { return smoothed_loss_; }
  const std::string& last_snapshot() const { return last_snapshot_; }
  // The first test net's scores from the latest test pass, and its iteration (-1: none yet).
  const std::vector<std::pair<std::string, float>>& last_scores() const { return last_scores_; }
  int last_test_iter() const { return last_test_iter_; }

 private:
  void init_nets();
  void apply_update_with_rate(float rate);
  void apply_update_on_gpu(float rate, bool l1);  // update_gpu.cu's kernels (CUDA builds)
  void check_snapshot_dir() const;
  std::string snapshot_base() const;
  void log(const std::string& message) const;

  pb::SolverParameter param_;
  SolverOptions options_;
  std::unique_ptr<Net> net_;
  std::vector<std::unique_ptr<Net>> test_nets_;
  std::unique_ptr<UpdateRule> rule_;
  std::vector<Tensor> history_;
  Tensor norm_scratch_{Shape{2}};  // the GPU's gradient sum of squares (one double)
  int iter_ = 0;
  int current_step_ = 0;
  std::vector<float> losses_;
  float smoothed_loss_ = 0;
  uint64_t seed_;
  std::string last_snapshot_;
  std::vector<std::pair<std::string, float>> last_scores_;
  int last_test_iter_ = -1;
  MetricsFile metrics_;
  ProgressLine progress_;
};

}  // namespace crema
