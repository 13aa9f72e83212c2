// SPDX-License-Identifier: BSD-2-Clause
// The solver: trains a net with one of the update rules, tests it, snapshots and resumes it.
// Caffe's loop and semantics (iter_size, average_loss, test_interval, snapshot, clip_gradients,
// L1/L2 regularisation with decay_mult, lr_mult), crema's additions (cosine and warm-up schedules,
// NaN stop, atomic snapshots, a metrics file, a progress line).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crema.pb.h"
#include "crema/core/net.hpp"
#include "crema/solver/loss_scaler.hpp"
#include "crema/solver/metrics_writer.hpp"
#include "crema/solver/progress_display.hpp"
#include "crema/solver/update_rules.hpp"

namespace crema {

// What SIGINT / SIGHUP do (Caffe's -sigint_effect / -sighup_effect).
enum class SignalAction { kNone, kStop, kSnapshot };
SignalAction parse_signal_action(const std::string& name);
void install_signal_handlers(SignalAction on_sigint, SignalAction on_sighup);

// Where a solver's files go: "<snapshot_prefix>_" ("<dir>/" for a prefix ending in '/'; the
// solver file's stem without a prefix), and the metrics file ("" when the run writes none).
std::string snapshot_base(const pb::SolverParameter& param, const std::string& solver_path);
std::string metrics_path(const pb::SolverParameter& param, const std::string& solver_path);

// What an earlier run into the same files left: its solver states, oldest first, and its
// metrics file when that holds records. A new run would overwrite them.
struct EarlierRun {
  std::vector<std::string> states;  // <base>iter_N.solverstate, by N
  int snapshots = 0;                // .caffemodel and .solverstate files
  std::string metrics;              // "" when there is none, or it is empty
  bool empty() const { return snapshots == 0 && metrics.empty(); }
};
EarlierRun find_earlier_run(const pb::SolverParameter& param, const std::string& solver_path);

struct SolverOptions {
  std::string solver_path;  // for resolving net paths and messages
  bool quiet = false;       // no log lines (tests)
  bool fuse = true;         // NetOptions::fuse of the train and test nets (crema train -fuse)
  uint64_t max_memory = 0;  // NetOptions::max_memory of the train and test nets (-max_memory)
  std::optional<crema_dtype> precision;  // NetOptions::precision of every net (-precision)
  bool tensorboard = true;  // TensorBoard events beside the metrics file (crema train -tensorboard)
  // Data-parallel runs (docs/DISTRIBUTED.md): gradients are summed in buckets of this size,
  // started while the backward pass runs (overlap) or all after it.
  size_t bucket_bytes = size_t{4} << 20;
  bool overlap_allreduce = true;
};

class Communicator;
class GradientReducer;

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
  // Images in one epoch of the train net's data (0: unknown). The start and progress lines then
  // give epochs; the plugin ABI does not carry it, so the caller reads it from the data files.
  void set_epoch_images(int64_t images) { epoch_images_ = images; }

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
  // The latest iteration's wall time (the progress line's rate and ETA).
  double seconds_per_iter() const { return progress_.seconds_per_iter(); }
  // Data-parallel runs: this process's rank and the number of ranks (0 and 1 alone).
  int rank() const;
  int world_size() const;

 private:
  void init_nets();
  void apply_update_with_rate(float rate);
  void apply_update_on_gpu(float rate, bool l1);  // update_gpu.cu's kernels (CUDA builds)
  bool gradients_finite_on_gpu();  // dynamic loss scaling's overflow check, on the device
  void check_snapshot_dir() const;
  std::string snapshot_base() const;
  void log_start() const;  // what runs, on what, for how long, and where its files go
  int images_per_iter() const;
  // Data-parallel runs (distributed/solver_sync.cpp): every rank gets rank 0's weights and,
  // on resume, its iteration and history; ranks with other nets or solvers are refused; the
  // gradients of a step are summed over the ranks; running statistics are averaged before a
  // test or snapshot so that every rank holds one model.
  void check_same_setup();
  void sync_from_root();
  void average_state_blobs();
  void reduce_loss(float* loss);
  SignalAction agreed_signal_request();  // SIGINT/SIGHUP seen by any rank acts on all
  void log_reduction_stats() const;

  pb::SolverParameter param_;
  SolverOptions options_;
  std::unique_ptr<Net> net_;
  std::vector<std::unique_ptr<Net>> test_nets_;
  std::unique_ptr<UpdateRule> rule_;
  std::vector<Tensor> history_;
  // The GPU's gradient sum of squares (one double), or its overflow flag (one int).
  Tensor norm_scratch_{Shape{2}};
  // 1 / the loss scale the GPU's update divides the gradients by (the CPU divides them first).
  float gpu_unscale_ = 1.f;
  int iter_ = 0;
  int current_step_ = 0;
  std::vector<float> losses_;
  float smoothed_loss_ = 0;
  uint64_t seed_;
  std::string last_snapshot_;
  std::vector<std::pair<std::string, float>> last_scores_;
  int last_test_iter_ = -1;
  int64_t epoch_images_ = 0;
  std::vector<std::string> net_sources_;  // "train net: PATH", "test net #0: PATH"
  MetricsWriter metrics_;
  ProgressDisplay progress_;
  Communicator& comm_;
  std::unique_ptr<GradientReducer> reducer_;  // null alone
  LossScaler loss_scaler_;  // the train net's global_grad_scale (docs/PRECISION.md)
};

}  // namespace crema
