// SPDX-License-Identifier: BSD-2-Clause
// crema time -model NET [-iterations N] [-gpu N] [-update]: per-layer forward/backward
// milliseconds, the step's achieved GFLOP/s against this machine's OpenBLAS sgemm rate, and peak
// memory; with -update also whole training steps through the solver (forward, backward, update),
// the step another framework's training loop is timed by.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>

#include "blas_probe.hpp"
#include "crema/core/device.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/solver/solver.hpp"
#include "flags.hpp"
#include "net_stats.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// -update's solver: SGD with momentum 0.9 and weight decay 1e-4 at a fixed rate (the settings of
// bench/pytorch_step.py), no display, test or snapshot: each step(1) is one training step. fp16
// steps scale the loss dynamically unless the net sets a scale (PyTorch AMP's GradScaler).
pb::SolverParameter timing_solver(const pb::NetParameter& def, int gpu, bool fp16) {
  pb::SolverParameter p;
  *p.mutable_net_param() = def;
  if (fp16 && !def.has_global_grad_scale()) {
    p.mutable_net_param()->set_global_grad_scale(65536.f);
    p.mutable_net_param()->set_global_grad_scale_adaptive(true);
  }
  p.set_type("SGD");
  p.set_base_lr(0.01f);
  p.set_momentum(0.9f);
  p.set_weight_decay(1e-4f);
  p.set_lr_policy("fixed");
  p.set_max_iter(1 << 30);
  p.set_random_seed(1);
  if (gpu >= 0) {
    p.set_solver_mode(pb::SolverParameter::GPU);
    p.set_device_id(gpu);
  }
  return p;
}
}  // namespace

int run_time(int argc, char** argv) {
  po::options_description desc("crema time");
  add_common_options(desc);
  add_fuse_option(desc);
  add_max_memory_option(desc);
  add_precision_option(desc);
  desc.add_options()("model", existing_file("model"), "net definition")(
      "iterations", positive_int("iterations")->default_value(20),
      "timed iterations (after 2 warm-up ones)")("gpu", gpu_id("gpu"), "time on this GPU")(
      "phase", one_of("phase", {"TRAIN", "TEST"})->default_value("TRAIN"),
      "TRAIN or TEST")("forward_only", po::bool_switch(), "time the forward pass only")(
      "input_shape", shape_value("input_shape"),
      "replace every data/Input layer by an Input of this shape, e.g. 64,3,32,32 (labels get N)")(
      "update", po::bool_switch(),
      "also time whole training steps: forward, backward and the solver's update (SGD, momentum "
      "0.9, weight decay 1e-4), as a framework's training loop is timed");
  auto vm = parse_flags(argc, argv, desc, "time");
  if (!vm.count("model")) throw std::runtime_error("-model is required");
  NetOptions opt;
  opt.phase = vm["phase"].as<std::string>() == "TEST" ? pb::TEST : pb::TRAIN;
  opt.source = vm["model"].as<std::string>();
  opt.fuse = vm["fuse"].as<bool>();
  opt.max_memory = max_memory_flag(vm);
  opt.precision = precision_flag(vm);
  pb::NetParameter def = read_net_file(opt.source);
  if (vm.count("input_shape"))
    def = with_input_shape(def, parse_shape(vm["input_shape"].as<std::string>()));
  const bool backward = !vm["forward_only"].as<bool>();
  const bool update = vm["update"].as<bool>();
  if (update && (!backward || opt.phase != pb::TRAIN))
    throw std::runtime_error("-update times training steps: not with -forward_only or -phase TEST");
  const int gpu = vm.count("gpu") ? std::stoi(vm["gpu"].as<std::string>()) : -1;
  if (gpu >= 0) device::select(gpu);  // a missing GPU is an error here, not a CPU fallback
  // The net timed: alone, or with -update the solver's train net (layer by layer and step by
  // step).
  std::unique_ptr<Net> built;
  std::unique_ptr<Solver> solver;
  SolverOptions so;
  so.solver_path = opt.source;
  so.quiet = true;
  so.fuse = opt.fuse;
  so.max_memory = opt.max_memory;
  so.precision = opt.precision;
  so.tensorboard = false;
  const bool fp16 = opt.precision && *opt.precision == CREMA_FLOAT16;
  auto build = [&]() -> Net& {
    return *build_with_data_hint(def, opt, [&]() -> Net* {
      if (!update) return (built = std::make_unique<Net>(def, opt)).get();
      solver = std::make_unique<Solver>(timing_solver(def, gpu, fp16), so);
      return &solver->net();
    });
  };
  // A training net's backward computes what its losses need, as in a training step (no gradient
  // for the data); a deploy net has no loss: time its whole backward all the same.
  Net* timed = &build();
  bool any_backward = false;
  for (int i = 0; i < timed->num_layers(); ++i) any_backward |= timed->layer_needs_backward(i);
  if (!any_backward && !def.force_backward()) {
    def.set_force_backward(true);
    timed = &build();
  }
  Net& net = *timed;
  if (gpu >= 0 && net.device() != CREMA_CUDA) net.set_device(CREMA_CUDA);
  // Inputs written from outside (Input layers) get random data; labels are small integers.
  std::mt19937 rng(1);
  for (int i = 0; i < net.num_layers(); ++i)
    if (net.layer(i).type() == "Input")
      for (Tensor* t : net.tops(i)) {
        float* x = t->mutable_host_data();
        bool label = t->ndim() <= 2 && t->count() == t->dim(0);
        for (int64_t j = 0; j < t->count(); ++j)
          x[j] = label ? static_cast<float>(rng() % 10) : std::normal_distribution<float>()(rng);
      }
  const int iters = vm["iterations"].as<int>();
  const int n = net.num_layers();
  std::vector<double> fwd(n, 0), bwd(n, 0);
  auto sync = [&] {
    if (net.device() == CREMA_CUDA) device::synchronize();
  };
  std::vector<double> steps;
  for (int it = -2; it < iters; ++it) {  // two warm-up iterations
    auto t_step = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto t = Clock::now();
      net.forward(i, i);
      sync();
      if (it >= 0) fwd[i] += ms_since(t);
    }
    if (backward)
      for (int i = n - 1; i >= 0; --i) {
        auto t = Clock::now();
        net.backward(i, i);
        sync();
        if (it >= 0) bwd[i] += ms_since(t);
      }
    if (it >= 0) steps.push_back(ms_since(t_step));
  }
  std::vector<double> train_steps;  // -update: one solver step each, synchronised at its end
  for (int it = -2; solver && it < iters; ++it) {
    auto t = Clock::now();
    solver->step(1);
    sync();
    if (it >= 0) train_steps.push_back(ms_since(t));
  }
  std::cout << std::fixed << std::setprecision(3);
  std::cout << "Average time per layer (ms):\n";
  // On the CPU a layer absorbed into the one before it (BatchNorm taking Scale and ReLU) runs
  // inside that layer's passes: its time is in that layer's row.
  const bool absorbing = net.device() == CREMA_CPU;
  std::vector<std::string> includes(n);
  for (int i = 0; i < n; ++i)
    if (absorbing && net.absorbed_into(i) >= 0)
      includes[net.absorbed_into(i)] += (includes[net.absorbed_into(i)].empty() ? "" : ", ") +
                                        net.layer_names()[i];
  for (int i = 0; i < n; ++i) {
    std::cout << std::setw(28) << net.layer_names()[i];
    if (absorbing && net.absorbed_into(i) >= 0) {
      const std::string& by = net.layer_names()[net.absorbed_into(i)];
      std::cout << "  (computed inside " << by << ": its times are in " << by << "'s row)\n";
      continue;
    }
    std::cout << "  forward: " << std::setw(9) << fwd[i] / iters << "  backward: " << std::setw(9)
              << bwd[i] / iters;
    if (!includes[i].empty()) std::cout << "  (includes " << includes[i] << ")";
    std::cout << "\n";
  }
  double f = 0, b = 0;
  for (int i = 0; i < n; ++i) f += fwd[i], b += bwd[i];
  std::sort(steps.begin(), steps.end());
  const double median = steps[steps.size() / 2];
  std::cout << "Average Forward pass: " << f / iters << " ms.\n";
  if (backward) std::cout << "Average Backward pass: " << b / iters << " ms.\n";
  std::cout << "Average Forward-Backward: " << (f + b) / iters << " ms.\n";
  std::cout << "Median step: " << median << " ms over " << iters << " iterations\n";
  if (!train_steps.empty()) {
    std::sort(train_steps.begin(), train_steps.end());
    std::cout << "Median training step (forward, backward, SGD update): "
              << train_steps[train_steps.size() / 2] << " ms over " << iters << " iterations\n";
  }
  std::cout << "Precision: " << net.precision_summary() << "\n";
  NetStats stats = net_stats(net);
  const double flops = backward ? 3.0 * 2 * stats.macs : 2.0 * stats.macs;  // bwd ~ 2x fwd
  const double gflops = flops / (median * 1e6);
  std::cout << "Multiply-adds per forward: " << stats.macs / 1e9 << " G; achieved " << gflops
            << " GFLOP/s";
  if (net.device() == CREMA_CPU) {
    const double peak = sgemm_gflops(num_threads());
    std::cout << " = " << 100.0 * gflops / peak << "% of OpenBLAS sgemm (" << peak << " GFLOP/s on "
              << num_threads() << " thread(s))";
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::cout << "\nPeak memory (ru_maxrss): " << ru.ru_maxrss / 1024.0 << " MB\n";
  return 0;
}

}  // namespace crema::tools
