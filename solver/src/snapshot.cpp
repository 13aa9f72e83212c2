// SPDX-License-Identifier: BSD-2-Clause
// Snapshots: weights as a binary NetParameter (Caffe's .caffemodel) and the solver state
// (iteration, schedule position, optimiser history) as a binary SolverState, each written to a
// temporary file and renamed, so a crash never leaves a torn snapshot.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/solver/solver.hpp"

namespace crema {

namespace fs = std::filesystem;

std::string Solver::snapshot_base() const {
  std::string prefix = param_.snapshot_prefix();
  if (prefix.empty()) prefix = options_.solver_path.empty() ? "crema" : fs::path(options_.solver_path).stem().string();
  // A prefix naming a directory writes inside it.
  if (!prefix.empty() && prefix.back() == '/') return prefix;
  return prefix + "_";
}

void Solver::check_snapshot_dir() const {
  fs::path dir = fs::path(snapshot_base() + "probe").parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string probe = (dir / (".crema_write_probe." + std::to_string(getpid()))).string();
  std::ofstream f(probe);
  if (!f) throw std::runtime_error("snapshot directory '" + dir.string() + "' is not writable (snapshot_prefix: '" +
                                   param_.snapshot_prefix() + "'): fix it before training, not after");
  f.close();
  fs::remove(probe, ec);
}

std::string Solver::snapshot() {
  const std::string base = snapshot_base() + "iter_" + std::to_string(iter_);
  pb::NetParameter weights;
  net_->to_proto(&weights, param_.snapshot_diff());
  write_binary_proto_atomic(base + ".caffemodel", weights);
  pb::SolverState state;
  state.set_iter(iter_);
  state.set_learned_net(base + ".caffemodel");
  state.set_current_step(current_step_);
  for (const Tensor& h : history_) {
    pb::BlobProto* b = state.add_history();
    for (int64_t d : h.shape()) b->mutable_shape()->add_dim(d);
    const float* x = h.host_data();
    b->mutable_data()->Add(x, x + h.count());
  }
  write_binary_proto_atomic(base + ".solverstate", state);
  last_snapshot_ = base + ".caffemodel";
  log("Snapshotting to binary proto file " + base + ".caffemodel");
  log("Snapshotting solver state to binary proto file " + base + ".solverstate");
  return last_snapshot_;
}

void Solver::restore(const std::string& path) {
  pb::SolverState state;
  read_binary_proto(path, &state);
  std::string weights = state.learned_net();
  if (!weights.empty() && !fs::exists(weights)) {
    // The snapshot directory may have moved: look beside the state file.
    fs::path beside = fs::path(path).parent_path() / fs::path(weights).filename();
    if (fs::exists(beside)) weights = beside.string();
  }
  if (!weights.empty()) net_->copy_trained_layers_from(read_weights_file(weights));
  if (state.history_size() != static_cast<int>(history_.size()))
    throw std::runtime_error(path + ": holds " + std::to_string(state.history_size()) +
                             " history blobs but this solver (" + param_.type() + ") needs " +
                             std::to_string(history_.size()));
  for (size_t i = 0; i < history_.size(); ++i) {
    const pb::BlobProto& b = state.history(static_cast<int>(i));
    if (b.data_size() != history_[i].count())
      throw std::runtime_error(path + ": history blob " + std::to_string(i) + " has " +
                               std::to_string(b.data_size()) + " values, expected " +
                               std::to_string(history_[i].count()));
    std::copy(b.data().begin(), b.data().end(), history_[i].mutable_host_data());
  }
  iter_ = state.iter();
  current_step_ = state.current_step();
  log("Restored solver state from " + path + " at iteration " + std::to_string(iter_));
}

}  // namespace crema
