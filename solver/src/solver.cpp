// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/solver.hpp"

#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "crema/core/device.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/solver/lr_policy.hpp"
#include "crema/solver/net_sources.hpp"
#include "crema/solver/signals.hpp"

namespace crema {

namespace {
std::string fmt(double v) {
  std::ostringstream os;
  os << std::setprecision(6) << v;
  return os.str();
}

int batch_size_of(Net& net) {
  for (int i = 0; i < net.num_layers(); ++i)
    if (net.bottoms(i).empty() && !net.tops(i).empty() && net.tops(i)[0]->ndim() > 0)
      return static_cast<int>(net.tops(i)[0]->dim(0));
  return 1;
}
}  // namespace

Solver::Solver(const pb::SolverParameter& param, const SolverOptions& options)
    : param_(param), options_(options) {
  seed_ = param_.random_seed() >= 0 ? static_cast<uint64_t>(param_.random_seed())
                                    : static_cast<uint64_t>(std::time(nullptr));
  rule_ = make_update_rule(param_);
  if (param_.average_loss() < 1) throw std::runtime_error("average_loss must be >= 1");
  if (param_.iter_size() < 1) throw std::runtime_error("iter_size must be >= 1");
  if (param_.snapshot() > 0 || param_.snapshot_after_train()) check_snapshot_dir();
  init_nets();
  for (const auto& w : param_.weights()) load_weights(w);
  for (const LearnableParam& p : net_->learnable_params())
    (void)p, history_.emplace_back();
  history_.resize(net_->learnable_params().size() * rule_->history_per_param());
  for (size_t i = 0; i < history_.size(); ++i)
    history_[i].reshape(net_->learnable_params()[i % net_->learnable_params().size()].tensor->shape());
  if (!param_.metrics_file().empty()) metrics_.open(param_.metrics_file(), false);
  else if (param_.has_snapshot_prefix()) metrics_.open(snapshot_base() + "metrics.jsonl", false);
}

Solver::~Solver() = default;

void Solver::log(const std::string& message) const {
  if (!options_.quiet) log_line("solver.cpp:0", message);
}

void Solver::init_nets() {
  NetOptions train;
  train.phase = pb::TRAIN;
  train.seed = seed_;
  train.level = param_.train_state().level();
  train.stages.assign(param_.train_state().stage().begin(), param_.train_state().stage().end());
  std::vector<NetSource> sources = solver_net_sources(param_, options_.solver_path);
  auto load = [&](const NetSource& s) {
    return s.inline_net ? *s.inline_net : read_net_file(s.path);
  };
  const NetSource* train_src = nullptr;
  std::vector<const NetSource*> test_srcs;
  for (const NetSource& s : sources) {
    if (s.role == "train" && !train_src) train_src = &s;
    if (s.role == "test") test_srcs.push_back(&s);
  }
  for (const NetSource& s : sources)
    if (s.role == "net") {
      if (!train_src) train_src = &s;
      if (test_srcs.empty())
        for (int i = 0; i < std::max(1, param_.test_state_size()); ++i) test_srcs.push_back(&s);
    }
  if (!train_src) throw std::runtime_error(options_.solver_path + ": no train net");
  train.source = train_src->inline_net ? options_.solver_path : train_src->path;
  net_ = std::make_unique<Net>(load(*train_src), train);
  if (param_.test_iter_size() == 0 || param_.test_interval() <= 0) test_srcs.clear();
  if (!test_srcs.empty() && param_.test_iter_size() != static_cast<int>(test_srcs.size()))
    throw std::runtime_error(options_.solver_path + ": " + std::to_string(test_srcs.size()) +
                             " test net(s) but " + std::to_string(param_.test_iter_size()) +
                             " test_iter value(s): give one per test net");
  for (size_t i = 0; i < test_srcs.size(); ++i) {
    NetOptions test;
    test.phase = pb::TEST;
    test.seed = seed_;
    test.fill_params = false;
    if (static_cast<int>(i) < param_.test_state_size()) {
      const pb::NetState& st = param_.test_state(static_cast<int>(i));
      test.level = st.level();
      test.stages.assign(st.stage().begin(), st.stage().end());
    }
    test.source = test_srcs[i]->inline_net ? options_.solver_path : test_srcs[i]->path;
    test_nets_.push_back(std::make_unique<Net>(load(*test_srcs[i]), test));
    test_nets_.back()->share_weights_from(*net_);
  }
  if (param_.solver_mode() == pb::SolverParameter::GPU && device::count() > 0) {
    device::select(param_.device_id());
    net_->set_device(CREMA_CUDA);
    for (auto& t : test_nets_) t->set_device(CREMA_CUDA);
  } else if (param_.solver_mode() == pb::SolverParameter::GPU) {
    log("solver_mode GPU but " + device::unavailable_reason() + ": training on the CPU");
  }
}

void Solver::load_weights(const std::string& weights_paths) {
  std::stringstream ss(weights_paths);
  std::string path;
  while (std::getline(ss, path, ',')) {
    if (path.empty()) continue;
    pb::NetParameter w = read_weights_file(path);
    net_->copy_trained_layers_from(w);
    log("Copied weights from " + path);
  }
}

bool Solver::solve() {
  log("Solving " + net_->name());
  log("Learning Rate Policy: " + param_.lr_policy());
  step(param_.max_iter() - iter_);
  if (signal_requested() == SignalAction::kStop) {
    progress_.clear();
    log("Optimization stopped early.");
    return false;
  }
  if (param_.snapshot_after_train() && (param_.snapshot() == 0 || iter_ % param_.snapshot() != 0))
    snapshot();
  if (param_.display() && iter_ % param_.display() == 0) {
    float loss = net_->forward();
    log("Iteration " + std::to_string(iter_) + ", loss = " + fmt(loss));
  }
  if (param_.test_interval() && iter_ % param_.test_interval() == 0) test_all();
  log("Optimization Done.");
  return true;
}

void Solver::step(int iters) {
  const int start = iter_, stop = iter_ + iters, avg = param_.average_loss();
  losses_.clear();
  smoothed_loss_ = 0;
  const int images_per_iter = batch_size_of(*net_) * param_.iter_size();
  auto t_display = std::chrono::steady_clock::now();
  int iters_since_display = 0;
  while (iter_ < stop) {
    net_->clear_param_diffs();
    if (param_.test_interval() && iter_ % param_.test_interval() == 0 &&
        (iter_ > 0 || param_.test_initialization()))
      test_all();
    const bool display = param_.display() && iter_ % param_.display() == 0;
    float loss = 0;
    for (int i = 0; i < param_.iter_size(); ++i) {
      // The iteration, not a call count, names each layer's random stream: resumed runs
      // replay the same dropout masks and data order.
      net_->set_rng_counter(static_cast<uint64_t>(iter_) * param_.iter_size() + i);
      loss += net_->forward_backward();
    }
    loss /= param_.iter_size();
    if (!std::isfinite(loss)) {
      progress_.clear();
      throw std::runtime_error("Iteration " + std::to_string(iter_) + ": loss is " + fmt(loss) +
                               "; training stopped before updating the weights." +
                               (last_snapshot_.empty() ? std::string(" No snapshot was written.")
                                                       : " Last good snapshot: " + last_snapshot_) +
                               " Lower base_lr or check the data.");
    }
    if (static_cast<int>(losses_.size()) < avg) {
      losses_.push_back(loss);
      smoothed_loss_ = (smoothed_loss_ * (losses_.size() - 1) + loss) / losses_.size();
    } else {
      int idx = (iter_ - start) % avg;
      smoothed_loss_ += (loss - losses_[idx]) / avg;
      losses_[idx] = loss;
    }
    float rate = learning_rate(param_, iter_, &current_step_);
    ++iters_since_display;
    if (display) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_display).count();
      double ips = iters_since_display > 1 ? (iters_since_display - 1) / std::max(secs, 1e-9) : 0;
      progress_.clear();
      log("Iteration " + std::to_string(iter_) + " (" + fmt(ips) + " iter/s, " + fmt(secs) + "s/" +
          std::to_string(param_.display()) + " iters), loss = " + fmt(smoothed_loss_));
      int k = 0;
      for (int id : net_->output_blob_indices()) {
        Tensor* b = net_->blob_at(id);
        const float* x = b->host_data();
        float w = net_->blob_loss_weight(id);
        for (int64_t j = 0; j < b->count(); ++j) {
          std::string extra = w != 0 ? " (* " + fmt(w) + " = " + fmt(w * x[j]) + " loss)" : "";
          log("    Train net output #" + std::to_string(k++) + ": " + net_->blob_names()[id] +
              " = " + fmt(x[j]) + extra);
        }
      }
      log("Iteration " + std::to_string(iter_) + ", lr = " + fmt(rate));
      std::ostringstream js;
      js << "{\"iter\":" << iter_ << ",\"lr\":" << fmt(rate) << ",\"loss\":" << fmt(smoothed_loss_)
         << ",\"images_per_s\":" << fmt(ips * images_per_iter) << "}";
      metrics_.write(js.str());
      t_display = std::chrono::steady_clock::now();
      iters_since_display = 0;
    }
    apply_update_with_rate(rate);
    ++iter_;
    {
      static auto t_last = std::chrono::steady_clock::now();
      auto now = std::chrono::steady_clock::now();
      double dt = std::chrono::duration<double>(now - t_last).count();
      t_last = now;
      progress_.update(iter_, param_.max_iter(), smoothed_loss_, images_per_iter / std::max(dt, 1e-9), dt);
    }
    SignalAction request = signal_requested();
    if ((param_.snapshot() && iter_ % param_.snapshot() == 0) || request == SignalAction::kSnapshot) {
      snapshot();
      if (request == SignalAction::kSnapshot) clear_signal_request();
    }
    if (request == SignalAction::kStop) {
      snapshot();
      break;
    }
  }
  progress_.clear();
}

}  // namespace crema
