// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/solver.hpp"

#include <cmath>
#include <ctime>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "crema/core/device.hpp"
#include "crema/core/host.hpp"
#include "crema/core/log.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/solver/comm.hpp"
#include "crema/solver/lr_policy.hpp"
#include "crema/solver/net_sources.hpp"
#include "crema/solver/signals.hpp"
#include "crema/solver/solver_check.hpp"
#include "distributed/gradient_reducer.hpp"
#include "number_format.hpp"

namespace crema {

namespace {

// Epochs to three significant digits: 6.0032 reads "6", 1.1667 "1.17".
std::string epochs(double v) {
  std::ostringstream os;
  os << std::setprecision(3) << v;
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
    : param_(param),
      options_(options),
      progress_(options.quiet || world().rank() != 0),
      comm_(world()) {
  if (comm_.rank() != 0) options_.quiet = true;       // rank 0 alone logs
  check_solver_for_training(param_, options_.quiet);  // refuses what cannot train, warns the rest
  seed_ = param_.random_seed() >= 0 ? static_cast<uint64_t>(param_.random_seed())
                                    : static_cast<uint64_t>(std::time(nullptr));
  comm_.broadcast(&seed_, sizeof(seed_));  // one data order and one initialisation for all ranks
  rule_ = make_update_rule(param_);
  if (param_.average_loss() < 1) throw std::runtime_error("average_loss must be >= 1");
  if (param_.iter_size() < 1) throw std::runtime_error("iter_size must be >= 1");
  if ((param_.snapshot() > 0 || param_.snapshot_after_train()) && comm_.rank() == 0)
    check_snapshot_dir();
  init_nets();
  for (const auto& w : param_.weights()) load_weights(w);
  history_.resize(net_->learnable_params().size() * rule_->history_per_param());
  for (size_t i = 0; i < history_.size(); ++i)
    history_[i].reshape(
        net_->learnable_params()[i % net_->learnable_params().size()].tensor->shape());
  // Touched at the first record only: a start that fails later (a mistyped -snapshot path)
  // leaves an earlier run's file alone.
  metrics_.open(comm_.rank() == 0 ? metrics_path(param_, options_.solver_path) : "");
  if (comm_.size() > 1) {
    check_same_setup();
    sync_from_root();
    reducer_ = std::make_unique<GradientReducer>(comm_, *net_, options_.bucket_bytes,
                                                 options_.overlap_allreduce);
  }
  metrics_.set_tensorboard(options_.tensorboard);
}

Solver::~Solver() = default;

void Solver::init_nets() {
  NetOptions train;
  train.phase = pb::TRAIN;
  train.seed = seed_;
  train.level = param_.train_state().level();
  train.stages.assign(param_.train_state().stage().begin(), param_.train_state().stage().end());
  train.fuse = options_.fuse;
  train.max_memory = options_.max_memory;
  train.world_rank = comm_.rank();
  train.world_size = comm_.size();
  train.precision = options_.precision;
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
  auto where = [](const NetSource& s) { return s.inline_net ? std::string("inline") : s.path; };
  net_sources_.push_back("train net: " + where(*train_src));
  net_ = std::make_unique<Net>(load(*train_src), train);
  const pb::NetParameter& def = net_->definition();
  loss_scaler_ = LossScaler(def.global_grad_scale(), def.global_grad_scale_adaptive(),
                            param_.loss_scale_window());
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
    test.fuse = options_.fuse;
    test.max_memory = options_.max_memory;
    test.world_rank = comm_.rank();
    test.world_size = comm_.size();
    test.precision = options_.precision;
    if (static_cast<int>(i) < param_.test_state_size()) {
      const pb::NetState& st = param_.test_state(static_cast<int>(i));
      test.level = st.level();
      test.stages.assign(st.stage().begin(), st.stage().end());
    }
    test.source = test_srcs[i]->inline_net ? options_.solver_path : test_srcs[i]->path;
    net_sources_.push_back("test net #" + std::to_string(i) + ": " + where(*test_srcs[i]));
    test_nets_.push_back(std::make_unique<Net>(load(*test_srcs[i]), test));
    test_nets_.back()->share_weights_from(*net_);
  }
  if (param_.solver_mode() == pb::SolverParameter::GPU && device::count() > 0) {
    device::select(param_.device_id());
    net_->set_device(CREMA_CUDA);
    for (auto& t : test_nets_) t->set_device(CREMA_CUDA);
  } else if (param_.solver_mode() == pb::SolverParameter::GPU) {
    CREMA_LOG_IF(INFO, !options_.quiet)
        << "solver_mode GPU but " << device::unavailable_reason() << ": training on the CPU";
  }
}

void Solver::load_weights(const std::string& weights_paths) {
  std::stringstream ss(weights_paths);
  std::string path;
  while (std::getline(ss, path, ',')) {
    if (path.empty()) continue;
    pb::NetParameter w = read_weights_file(path);
    const Net::WeightsCopy copy = net_->copy_trained_layers_from(w);
    // Fine-tuning expects some layers without weights: named, as a warning.
    if (copy.not_copied.empty())
      CREMA_LOG_IF(INFO, !options_.quiet)
          << "Copied weights from " << path << ": " << copy.summary();
    else
      CREMA_LOG(WARNING) << "Copied weights from " << path << ": " << copy.summary();
  }
}

// Every rank's images: the global batch, which the rate and epoch counts are of.
int Solver::images_per_iter() const {
  return batch_size_of(*net_) * param_.iter_size() * comm_.size();
}

int Solver::rank() const { return comm_.rank(); }
int Solver::world_size() const { return comm_.size(); }

namespace {
// device::describe's lines as one log record's text: "Name: ..., Compute capability: ...".
std::string one_line(const std::string& text) {
  std::string out;
  for (char ch : text) out += ch == '\n' ? std::string(", ") : std::string(1, ch);
  while (out.size() >= 2 && out.compare(out.size() - 2, 2, ", ") == 0) out.resize(out.size() - 2);
  return out;
}
}  // namespace

void Solver::log_start() const {
  if (options_.quiet) return;
  const int threads = num_threads();
  const std::string device = net_->device() == CREMA_CUDA
                                 ? "GPU " + std::to_string(param_.device_id()) + " (" +
                                       one_line(device::describe(param_.device_id())) + ")"
                                 : "CPU, " + std::to_string(threads) +
                                       (threads == 1 ? " thread" : " threads");
  CREMA_LOG(INFO) << "Device: " << device << "; precision " << net_->precision_summary();
  std::string nets = options_.solver_path.empty() ? "Solver: inline"
                                                  : "Solver: " + options_.solver_path;
  for (const std::string& s : net_sources_) nets += "; " + s;
  CREMA_LOG(INFO) << nets;
  const int batch = images_per_iter();
  CREMA_LOG(INFO) << "Batch: " << batch << " images an iteration (batch size "
                  << batch_size_of(*net_)
                  << (param_.iter_size() > 1 ? " x iter_size " + std::to_string(param_.iter_size())
                                             : "")
                  << (comm_.size() > 1 ? " x " + std::to_string(comm_.size()) + " ranks" : "")
                  << ")";
  if (comm_.size() > 1)
    CREMA_LOG(INFO) << "Data-parallel: " << comm_.describe() << "; rank r reads batches r, r + "
                    << comm_.size() << ", ...; gradients summed in " << reducer_->num_buckets()
                    << " bucket(s) of at most " << format_number(options_.bucket_bytes / 1048576.0)
                    << " MB, " << (options_.overlap_allreduce ? "overlapped with" : "after")
                    << " the backward pass; rank 0 logs and snapshots";
  std::ostringstream length;
  length << "Training: max_iter " << param_.max_iter();
  const double epoch_iters = epoch_images_ > 0 ? double(epoch_images_) / batch : 0;
  const std::string total = epoch_iters > 0 ? epochs(param_.max_iter() / epoch_iters) : "";
  if (epoch_iters > 0)
    length << " = " << total << (total == "1" ? " epoch" : " epochs") << " of " << epoch_images_
           << " images (" << format_number(epoch_iters) << " iterations an epoch)";
  length << "; this run: iterations " << iter_ << " to " << param_.max_iter();
  if (epoch_iters > 0 && iter_ > 0)
    length << " (epochs " << epochs(iter_ / epoch_iters) << " to " << total << ")";
  CREMA_LOG(INFO) << length.str();
  std::string when;
  if (param_.snapshot() > 0) when = "every " + std::to_string(param_.snapshot()) + " iterations";
  if (param_.snapshot_after_train())
    when += (when.empty() ? "" : " and ") + std::string("at the end");
  if (when.empty())
    CREMA_LOG(INFO) << "Snapshots: none (snapshot 0, snapshot_after_train false)";
  else
    CREMA_LOG(INFO) << "Snapshots: " << snapshot_base() << "iter_N.caffemodel and .solverstate, "
                    << when;
  if (metrics_.path().empty())
    CREMA_LOG(INFO) << "Metrics: none (no snapshot_prefix or metrics_file)";
  else
    CREMA_LOG(INFO) << "Metrics: " << metrics_.path()
                    << (iter_ > 0 ? " (keeping its records before iteration " +
                                        std::to_string(iter_) + ")"
                                  : "");
  if (metrics_.tensorboard())
    CREMA_LOG(INFO) << "TensorBoard: events.out.tfevents.* in " << metrics_.events_dir()
                    << " (tensorboard --logdir " << metrics_.events_dir() << ")";
  else if (!metrics_.path().empty())
    CREMA_LOG(INFO) << "TensorBoard: off (-tensorboard false)";
}

bool Solver::solve() {
  CREMA_LOG_IF(INFO, !options_.quiet) << "Solving " << net_->name();
  CREMA_LOG_IF(INFO, !options_.quiet) << "Learning Rate Policy: " << param_.lr_policy();
  log_start();
  step(param_.max_iter() - iter_);
  if (signal_requested() == SignalAction::kStop) {
    progress_.clear();
    CREMA_LOG_IF(INFO, !options_.quiet) << "Optimization stopped early.";
    return false;
  }
  // Caffe's closing display forward runs in TRAIN and moves BatchNorm's running statistics:
  // the final snapshot comes after it and after the final test, so it holds what was scored.
  if (param_.display() && iter_ % param_.display() == 0) {
    float loss = net_->forward();
    CREMA_LOG_IF(INFO, !options_.quiet)
        << "Iteration " << iter_ << ", loss = " << format_number(loss);
  }
  if (param_.test_interval() && iter_ % param_.test_interval() == 0) test_all();
  if (param_.snapshot_after_train() && (param_.snapshot() == 0 || iter_ % param_.snapshot() != 0))
    snapshot();
  log_reduction_stats();
  CREMA_LOG_IF(INFO, !options_.quiet) << "Optimization Done.";
  return true;
}

void Solver::step(int iters) {
  const int start = iter_, stop = iter_ + iters, avg = param_.average_loss();
  losses_.clear();
  smoothed_loss_ = 0;
  const int images_per_iter = this->images_per_iter();
  progress_.begin();
  while (iter_ < stop) {
    net_->clear_param_diffs();
    if (param_.test_interval() && iter_ % param_.test_interval() == 0 &&
        (iter_ > 0 || param_.test_initialization()))
      test_all();
    const bool display = param_.display() && iter_ % param_.display() == 0;
    float loss = 0;
    net_->set_loss_scale(loss_scaler_.scale());
    for (int i = 0; i < param_.iter_size(); ++i) {
      // The iteration, not a call count, names each layer's random stream: resumed runs
      // replay the same dropout masks and data order. Rank r of N reads batch k * N + r: one
      // step of N ranks reads the batches one process with iter_size N reads.
      const uint64_t k = static_cast<uint64_t>(iter_) * param_.iter_size() + i;
      net_->set_rng_counter(k * comm_.size() + comm_.rank());
      const bool last = i + 1 == param_.iter_size();
      if (reducer_ && last) {  // the gradients of the step are complete in this backward pass
        reducer_->begin_step();
        net_->set_backward_listener([this](int layer) { reducer_->layers_done_from(layer); });
      }
      loss += net_->forward_backward();
      if (reducer_ && last) {
        net_->set_backward_listener(nullptr);
        reducer_->finish();
      }
    }
    loss /= param_.iter_size();
    reduce_loss(&loss);  // the mean over the ranks; every rank stops on a NaN together
    if (!std::isfinite(loss)) {
      progress_.clear();
      throw std::runtime_error("Iteration " + std::to_string(iter_) + ": loss is " +
                               format_number(loss) +
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
    progress_.count_iteration();
    if (display) {
      const double ips = progress_.display(iter_, param_.display(), smoothed_loss_, rate, *net_);
      progress_.log_progress(iter_, param_.max_iter(), ips, images_per_iter, epoch_images_);
      metrics_.write_display(iter_, rate, smoothed_loss_, ips * images_per_iter);
    }
    // Loss scaling: gradients divided by the scale, or the step skipped on overflow.
    // On the GPU the gradients stay there: the check is a kernel and a flag read back, and the
    // division is folded into the update's normalisation (gpu_unscale_).
    std::string scale_event;
    gpu_unscale_ = 1.f;
    const bool apply =
        net_->device() == CREMA_CUDA && loss_scaler_.active()
            ? loss_scaler_.decide(!loss_scaler_.dynamic() || gradients_finite_on_gpu(),
                                  &gpu_unscale_, &scale_event)
            : loss_scaler_.unscale(net_->learnable_params(), &scale_event);
    CREMA_LOG_IF(INFO, !options_.quiet && !scale_event.empty())
        << "Iteration " << iter_ << ": " << scale_event;
    if (apply) apply_update_with_rate(rate);
    ++iter_;
    progress_.iteration_done(iter_, param_.max_iter(), smoothed_loss_, images_per_iter);
    SignalAction request = agreed_signal_request();
    if ((param_.snapshot() && iter_ % param_.snapshot() == 0) ||
        request == SignalAction::kSnapshot) {
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
