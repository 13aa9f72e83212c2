// SPDX-License-Identifier: BSD-2-Clause
// The Solver's data-parallel steps: one setup on every rank, rank 0's state everywhere, the loss
// and signal requests agreed, running statistics averaged, and the closing figures.
#include <functional>
#include <string>
#include <unordered_set>

#include "crema/core/device.hpp"
#include "crema/core/log.hpp"
#include "crema/solver/comm.hpp"
#include "crema/solver/signals.hpp"
#include "crema/solver/solver.hpp"
#include "gradient_reducer.hpp"

namespace crema {

namespace {

// FNV-1a over bytes: the same text gives the same value on every machine.
uint64_t fnv1a(const std::string& bytes, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

// The tensors the solver never updates: BatchNorm's running statistics.
std::vector<Tensor*> state_blobs(Net& net) {
  std::unordered_set<const Tensor*> learnable;
  for (const LearnableParam& p : net.learnable_params()) learnable.insert(p.tensor);
  std::vector<Tensor*> out;
  for (Tensor* t : net.all_params())
    if (!learnable.count(t)) out.push_back(t);
  return out;
}

}  // namespace

void Solver::check_same_setup() {
  if (comm_.size() == 1) return;
  // The solver as parsed (its random_seed included, before rank 0's is adopted), the train net
  // as built, and every parameter's shape: ranks that differ would sum mismatched gradients.
  std::string shapes;
  for (Tensor* t : net_->all_params()) shapes += t->shape_string() + ";";
  pb::SolverParameter solver = param_;
  solver.clear_device_id();  // -gpu all gives each rank its own GPU
  const uint64_t solver_hash = fnv1a(solver.SerializeAsString());
  const uint64_t net_hash = fnv1a(net_->definition().SerializeAsString());
  const uint64_t shape_hash = fnv1a(shapes);
  const std::string bad_solver = ranks_differing_from_root(comm_, solver_hash);
  const std::string bad_net = ranks_differing_from_root(comm_, net_hash);
  const std::string bad_shapes = ranks_differing_from_root(comm_, shape_hash);
  std::string why;
  if (!bad_solver.empty())
    why += "; the solver of rank(s) " + bad_solver + " differs from rank 0's";
  if (!bad_net.empty()) why += "; the train net of rank(s) " + bad_net + " differs from rank 0's";
  if (!bad_shapes.empty())
    why += "; the parameter shapes of rank(s) " + bad_shapes + " differ from rank 0's";
  if (!why.empty())
    throw std::runtime_error("the ranks do not train the same model" + why +
                             ": give every rank the same solver, net and plugin files");
}

void Solver::sync_from_root() {
  if (comm_.size() == 1) return;
  for (Tensor* t : net_->all_params())
    comm_.broadcast(t->mutable_host_data(), static_cast<size_t>(t->count()) * sizeof(float));
  for (Tensor& h : history_)
    comm_.broadcast(h.mutable_host_data(), static_cast<size_t>(h.count()) * sizeof(float));
  int32_t position[2] = {iter_, current_step_};
  comm_.broadcast(position, sizeof(position));
  iter_ = position[0];
  current_step_ = position[1];
}

void Solver::average_state_blobs() {
  if (comm_.size() == 1) return;
  const float scale = 1.f / static_cast<float>(comm_.size());
  for (Tensor* t : state_blobs(*net_)) {
    const size_t n = static_cast<size_t>(t->count());
    if (net_->device() == CREMA_CUDA) {  // NCCL on the compute stream: done before reading back
      comm_.allreduce_sum(t->mutable_device_data(), n, CREMA_CUDA);
      device::synchronize();
    }
    float* x = t->mutable_host_data();
    if (net_->device() != CREMA_CUDA) comm_.allreduce_sum(x, n, CREMA_CPU);
    for (size_t i = 0; i < n; ++i) x[i] *= scale;
  }
}

void Solver::reduce_loss(float* loss) {
  if (comm_.size() == 1) return;
  double sum = *loss;
  comm_.allreduce_sum(&sum, 1);
  *loss = static_cast<float>(sum / comm_.size());
}

SignalAction Solver::agreed_signal_request() {
  const SignalAction mine = signal_requested();
  if (comm_.size() == 1) return mine;
  double seen[2] = {mine == SignalAction::kStop ? 1.0 : 0.0,
                    mine == SignalAction::kSnapshot ? 1.0 : 0.0};
  comm_.allreduce_sum(seen, 2);
  if (seen[0] > 0) return SignalAction::kStop;
  if (seen[1] > 0) {
    if (mine != SignalAction::kSnapshot) return SignalAction::kSnapshot;
    return mine;
  }
  return SignalAction::kNone;
}

void Solver::log_reduction_stats() const {
  if (!reducer_ || options_.quiet) return;
  const GradientReducer::Stats& s = reducer_->stats();
  if (s.steps == 0) return;
  CREMA_LOG(INFO) << "Allreduce: " << reducer_->total_floats() * 4.0 / 1048576.0 << " MB in "
                  << reducer_->num_buckets() << " bucket(s) a step; waited "
                  << 1000.0 * s.wait_seconds / s.steps << " ms a step after the backward pass ("
                  << (options_.overlap_allreduce ? "overlap on" : "overlap off")
                  << "); communicator calls during it (starting and moving buckets, their "
                     "packing included) "
                  << 1000.0 * s.progress_seconds / s.steps << " ms; packing in all "
                  << 1000.0 * s.pack_seconds / s.steps << " ms";
}

}  // namespace crema
