// SPDX-License-Identifier: BSD-2-Clause
// Snapshots: weights as a binary NetParameter (Caffe's .caffemodel) and the solver state
// (iteration, schedule position, optimiser history) as a binary SolverState, each written to a
// temporary file and renamed, so a crash never leaves a torn snapshot.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "crema/core/log.hpp"
#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/solver/comm.hpp"
#include "crema/solver/solver.hpp"

namespace crema {

namespace fs = std::filesystem;

std::string snapshot_base(const pb::SolverParameter& param, const std::string& solver_path) {
  std::string prefix = param.snapshot_prefix();
  if (prefix.empty())
    prefix = solver_path.empty() ? "crema" : fs::path(solver_path).stem().string();
  // A prefix naming a directory writes inside it.
  if (!prefix.empty() && prefix.back() == '/') return prefix;
  return prefix + "_";
}

std::string metrics_path(const pb::SolverParameter& param, const std::string& solver_path) {
  if (!param.metrics_file().empty()) return param.metrics_file();
  if (param.has_snapshot_prefix()) return snapshot_base(param, solver_path) + "metrics.jsonl";
  return "";
}

EarlierRun find_earlier_run(const pb::SolverParameter& param, const std::string& solver_path) {
  EarlierRun run;
  const std::string base = snapshot_base(param, solver_path);
  fs::path dir = fs::path(base + "x").parent_path();
  const std::string name = fs::path(base + "x").filename().string();
  const std::string stem = name.substr(0, name.size() - 1);  // the files' names start with it
  static const std::regex snapshot_file(R"(iter_([0-9]+)\.(caffemodel|solverstate))");
  std::vector<std::pair<long, std::string>> states;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir.empty() ? fs::path(".") : dir, ec)) {
    const std::string file = entry.path().filename().string();
    std::smatch m;
    const std::string rest = file.rfind(stem, 0) == 0 ? file.substr(stem.size()) : "";
    if (!std::regex_match(rest, m, snapshot_file)) continue;
    ++run.snapshots;
    if (m[2] == "solverstate") states.push_back({std::stol(m[1].str()), (dir / file).string()});
  }
  std::sort(states.begin(), states.end());
  for (auto& s : states) run.states.push_back(s.second);
  const std::string metrics = metrics_path(param, solver_path);
  if (!metrics.empty() && fs::file_size(metrics, ec) > 0 && !ec) run.metrics = metrics;
  return run;
}

std::string Solver::snapshot_base() const {
  return crema::snapshot_base(param_, options_.solver_path);
}

namespace {
// Temporaries of snapshots whose writer died mid-write (kill -9): "<prefix>iter_N.caffemodel.tmp.PID"
// with no process PID alive. A live writer's are left alone.
void remove_stale_temporaries(const fs::path& dir, const std::string& prefix_name, bool quiet) {
  static const std::regex temporary(R"(.*\.(caffemodel|solverstate)\.tmp\.([0-9]+))");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (name.rfind(prefix_name, 0) != 0 || !std::regex_match(name, m, temporary)) continue;
    const long pid = std::stol(m[2].str());
    if (pid == getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (fs::remove(entry.path(), ec))
      CREMA_LOG_IF(INFO, !quiet) << "Removed " << entry.path().string()
                                 << ", left by an interrupted snapshot";
  }
}
}  // namespace

void Solver::check_snapshot_dir() const {
  fs::path dir = fs::path(snapshot_base() + "probe").parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string probe = (dir / (".crema_write_probe." + std::to_string(getpid()))).string();
  std::ofstream f(probe);
  if (!f)
    throw std::runtime_error("snapshot directory '" + dir.string() +
                             "' is not writable (snapshot_prefix: '" + param_.snapshot_prefix() +
                             "'): fix it before training, not after");
  f.close();
  fs::remove(probe, ec);
  // snapshot_base() is "dir/name_" or "dir/": the files' names start with the part after dir/.
  remove_stale_temporaries(dir, fs::path(snapshot_base()).filename().string(), options_.quiet);
}

std::string Solver::snapshot() {
  const std::string base = snapshot_base() + "iter_" + std::to_string(iter_);
  // One model on every rank (running statistics averaged); rank 0 alone writes it, so a
  // snapshot is the same whatever the number of ranks.
  average_state_blobs();
  if (comm_.rank() != 0) return last_snapshot_ = base + ".caffemodel";
  pb::NetParameter weights;
  net_->to_proto(&weights, param_.snapshot_diff());
  write_binary_proto_atomic(base + ".caffemodel", weights);
  pb::SolverState state;
  state.set_iter(iter_);
  state.set_learned_net(base + ".caffemodel");
  state.set_current_step(current_step_);
  if (loss_scaler_.active()) {
    state.set_loss_scale(loss_scaler_.scale());
    state.set_loss_scale_good_steps(loss_scaler_.good_steps());
  }
  for (const Tensor& h : history_) {
    pb::BlobProto* b = state.add_history();
    for (int64_t d : h.shape()) b->mutable_shape()->add_dim(d);
    const float* x = h.host_data();
    b->mutable_data()->Add(x, x + h.count());
  }
  write_binary_proto_atomic(base + ".solverstate", state);
  last_snapshot_ = base + ".caffemodel";
  CREMA_LOG_IF(INFO, !options_.quiet)
      << "Snapshotting to binary proto file " << base << ".caffemodel";
  CREMA_LOG_IF(INFO, !options_.quiet)
      << "Snapshotting solver state to binary proto file " << base << ".solverstate";
  return last_snapshot_;
}

void Solver::restore(const std::string& path) {
  pb::SolverState state;
  read_binary_proto(path, &state);
  // Every field is checked against this solver before anything is changed: a refused state
  // leaves the solver as it was.
  auto refuse = [&](const std::string& why) { throw std::runtime_error(path + ": " + why); };
  if (state.iter() < 0) refuse("iteration " + std::to_string(state.iter()) + " is negative");
  if (state.current_step() < 0 || state.current_step() > param_.stepvalue_size())
    refuse("learning-rate step " + std::to_string(state.current_step()) + " is outside 0.." +
           std::to_string(param_.stepvalue_size()) + " (this solver has " +
           std::to_string(param_.stepvalue_size()) + " stepvalue entries)");
  if (state.history_size() != static_cast<int>(history_.size()))
    refuse("holds " + std::to_string(state.history_size()) + " history blobs but this solver (" +
           param_.type() + ") needs " + std::to_string(history_.size()));
  for (size_t i = 0; i < history_.size(); ++i) {
    const pb::BlobProto& b = state.history(static_cast<int>(i));
    if (b.data_size() != history_[i].count())
      refuse("history blob " + std::to_string(i) + " has " + std::to_string(b.data_size()) +
             " values, expected " + std::to_string(history_[i].count()));
  }
  std::string weights = state.learned_net();
  if (!weights.empty() && !fs::exists(weights)) {
    // The snapshot directory may have moved: look beside the state file.
    fs::path beside = fs::path(path).parent_path() / fs::path(weights).filename();
    if (fs::exists(beside)) weights = beside.string();
  }
  if (!weights.empty()) {
    try {
      net_->copy_trained_layers_from(read_weights_file(weights), /*require_all=*/true);
    } catch (const std::exception& e) {
      refuse(std::string("its weights ") + weights + " do not fit this net: " + e.what());
    }
  }
  for (size_t i = 0; i < history_.size(); ++i) {
    const pb::BlobProto& b = state.history(static_cast<int>(i));
    std::copy(b.data().begin(), b.data().end(), history_[i].mutable_host_data());
  }
  iter_ = state.iter();
  current_step_ = state.current_step();
  if (state.has_loss_scale())
    loss_scaler_.restore(state.loss_scale(), state.loss_scale_good_steps());
  metrics_.resume_at(iter_);
  sync_from_root();  // every rank continues from rank 0's state
  CREMA_LOG_IF(INFO, !options_.quiet)
      << "Restored solver state from " << path << " at iteration " << iter_;
}

}  // namespace crema
