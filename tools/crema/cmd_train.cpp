// SPDX-License-Identifier: BSD-2-Clause
// crema train -solver S [-weights W | -snapshot STATE] [-gpu N|N,M,...|all] [-iterations N]
// [-overwrite]. A fresh run is refused where an earlier one left snapshots or metrics (unless
// -overwrite); a run stopped by SIGINT says the command that resumes it. -gpu 0,1 trains one
// Solver a GPU, each in its own thread of this process (thread_ranks.hpp); -ranks N does the
// same with N Solvers on the CPU.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "crema/core/device.hpp"
#include "crema/core/host.hpp"
#include "crema/core/log.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/comm.hpp"
#include "crema/solver/solver.hpp"
#include "crema/solver/thread_ranks.hpp"
#include "data_size.hpp"
#include "distributed_run.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {

// A word the shell reads back as it is.
std::string shell_word(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-+=./,:@%") == std::string::npos)
    return w;
  std::string q = "'";
  for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The .solverstate written with a snapshot's .caffemodel.
std::string state_of(const std::string& weights) {
  const std::string ext = ".caffemodel";
  const bool has_ext = weights.size() >= ext.size() &&
                       weights.compare(weights.size() - ext.size(), ext.size(), ext) == 0;
  return (has_ext ? weights.substr(0, weights.size() - ext.size()) : weights) + ".solverstate";
}

// This command line resuming from `state`: the flags as the user gave them, in their order, with
// -snapshot STATE after -solver, and without -weights, an earlier -snapshot or -overwrite.
std::string resume_command(int argc, char** argv, const po::options_description& desc,
                           const std::string& state) {
  std::vector<std::string> words = {"crema", "train"};
  bool placed = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const po::option_description* o = nullptr;
    if (arg.size() > 1 && arg[0] == '-') {
      std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
      name = name.substr(0, name.find('='));
      try {
        o = desc.find_nothrow(name, true);  // as the parser took it: a prefix names the flag
      } catch (const std::exception&) {
      }
    }
    const bool value_follows = o && o->semantic()->max_tokens() > 0 &&
                               arg.find('=') == std::string::npos && i + 1 < argc;
    const std::string flag = o ? o->long_name() : "";
    if (flag == "weights" || flag == "snapshot" || flag == "overwrite") {
      i += value_follows;
      continue;
    }
    words.push_back(arg);
    if (value_follows) words.push_back(argv[++i]);
    if (flag == "solver") words.insert(words.end(), {"-snapshot", state}), placed = true;
  }
  if (!placed) words.insert(words.end(), {"-snapshot", state});
  std::string line;
  for (const std::string& w : words) line += (line.empty() ? "" : " ") + shell_word(w);
  return line;
}

// Why a fresh run into an earlier run's files is refused, and the three ways on.
std::string earlier_run_refusal(const EarlierRun& earlier, int argc, char** argv,
                                const po::options_description& desc, const std::string& solver) {
  std::vector<std::string> files;
  if (earlier.states.size() == 1)
    files.push_back("the snapshot " + earlier.states.back());
  else if (!earlier.states.empty())
    files.push_back("snapshots up to " + earlier.states.back());
  else if (earlier.snapshots > 0)
    files.push_back(std::to_string(earlier.snapshots) + " snapshot file(s)");
  if (!earlier.metrics.empty()) files.push_back("the metrics file " + earlier.metrics);
  std::string m = "an earlier run wrote " + files[0] +
                  (files.size() > 1 ? " and " + files[1] : "") +
                  ", which this run would overwrite\n";
  if (!earlier.states.empty())
    m += "  continue that run:   " + resume_command(argc, argv, desc, earlier.states.back()) + "\n";
  m += "  keep it, train anew: set another snapshot_prefix (or metrics_file) in " + solver +
       "\n  train over it:       add -overwrite";
  return m;
}

}  // namespace

namespace {
int train_rank(const pb::SolverParameter& param, const SolverOptions& options,
               const po::variables_map& vm, int argc, char** argv,
               const po::options_description& desc);

int train_on_this_rank(int argc, char** argv) {
  po::options_description desc("crema train");
  add_common_options(desc);
  add_fuse_option(desc);
  add_max_memory_option(desc);
  add_precision_option(desc);
  desc.add_options()("solver", existing_file("solver"),
                     "solver definition (SolverParameter prototxt)")(
      "weights", existing_files("weights"),
      "initialise from these weights (comma-separated) to fine-tune")(
      "snapshot", existing_file("snapshot"), "resume from this .solverstate")(
      "gpu", gpu_list("gpu"),
      "train on this GPU (overrides solver_mode); 0,1 or all: on several, one process with a "
      "thread a GPU (under mpirun, all: each rank on the GPU of its rank on its machine)")(
      "ranks", positive_int("ranks")->default_value(1),
      "train data-parallel in N Solver threads of this process on the CPU, as N MPI ranks would "
      "(the -threads split between them); GPUs: -gpu 0,1")("iterations", positive_int("iterations"),
                                                           "override max_iter")(
      "sigint_effect", one_of("sigint_effect", {"stop", "snapshot", "none"})->default_value("stop"),
      "on SIGINT: stop, snapshot or none")(
      "sighup_effect",
      one_of("sighup_effect", {"stop", "snapshot", "none"})->default_value("snapshot"),
      "on SIGHUP: stop, snapshot or none")("level", po::value<int>()->value_name("N"),
                                           "train net state level")(
      "stage", po::value<std::vector<std::string>>()->composing()->value_name("NAME"),
      "train net state stage (repeatable)")(
      "allreduce_overlap", po::value<bool>()->default_value(true, "true")->value_name("true|false"),
      "with several ranks: sum each bucket of gradients over the ranks as soon as the backward "
      "pass has finished it (false: all after the backward pass)")(
      "bucket_mb", po::value<double>()->default_value(4, "4")->value_name("MB"),
      "with several ranks: size of the gradient buckets summed over the ranks")(
      "tensorboard", po::value<bool>()->default_value(true, "true")->value_name("true|false"),
      "write TensorBoard event files (events.out.tfevents.*) beside the metrics file; "
      "-tensorboard false writes the metrics file alone")(
      "overwrite", po::bool_switch(),
      "train although snapshot_prefix (or metrics_file) holds an earlier run's snapshots or metrics, "
      "which crema train otherwise refuses: the metrics file starts afresh and the snapshots of the "
      "iterations this run reaches are replaced (resuming with -snapshot needs no -overwrite)");
  auto vm = parse_flags(argc, argv, desc, "train");
  if (!vm.count("solver")) throw std::runtime_error("-solver is required (see crema train -help)");
  if (vm.count("weights") && vm.count("snapshot"))
    throw std::runtime_error("give -weights (fine-tune) or -snapshot (resume), not both");
  const std::string path = vm["solver"].as<std::string>();
  pb::SolverParameter param = read_solver_file(path);
  if (vm.count("iterations")) param.set_max_iter(vm["iterations"].as<int>());
  const int cpu_ranks = vm["ranks"].as<int>();  // -ranks N: N CPU ranks, a thread each
  if (cpu_ranks > 1 && vm.count("gpu"))
    throw std::runtime_error("-ranks " + std::to_string(cpu_ranks) +
                             " is for the CPU; on GPUs -gpu 0,1 gives each rank a GPU");
  if (cpu_ranks > 1 && launched_by_mpi())
    throw std::runtime_error("-ranks " + std::to_string(cpu_ranks) +
                             ": under mpirun every process is one rank already");
  std::vector<int> thread_gpus;  // -gpu 0,1 (or all, alone): a rank a GPU, a thread each
  if (vm.count("gpu")) {
    std::string g = vm["gpu"].as<std::string>();
    if (g.find(',') != std::string::npos && launched_by_mpi())
      throw std::runtime_error("-gpu " + g +
                               ": under mpirun every process is one rank on one GPU: give -gpu "
                               "all (each rank takes the GPU of its rank on its machine) or one "
                               "GPU number; a comma list is for one process without mpirun");
    const int gpus = device::count();
    if (gpus == 0) throw std::runtime_error("-gpu " + g + ": " + device::unavailable_reason());
    int id = 0;
    if (g == "all" && launched_by_mpi()) {
      id = local_rank() % gpus;  // one GPU per rank of this machine
    } else {
      if (g == "all")
        for (int i = 0; i < gpus; ++i) thread_gpus.push_back(i);
      else
        thread_gpus = read_gpu_list(g);
      for (int i : thread_gpus)
        if (i >= gpus)
          throw std::runtime_error("-gpu " + g + ": there is no GPU " + std::to_string(i) + ": " +
                                   std::to_string(gpus) +
                                   " found, numbered from 0 (crema device_query lists them)");
      id = thread_gpus[0];
      if (thread_gpus.size() == 1) thread_gpus.clear();
    }
    param.set_solver_mode(pb::SolverParameter::GPU);
    param.set_device_id(id);
  }
  if (vm.count("level")) param.mutable_train_state()->set_level(vm["level"].as<int>());
  if (vm.count("stage"))
    for (const auto& s : vm["stage"].as<std::vector<std::string>>())
      param.mutable_train_state()->add_stage(s);
  if (!vm.count("snapshot") && !vm["overwrite"].as<bool>()) {
    const EarlierRun earlier = find_earlier_run(param, path);
    if (!earlier.empty())
      throw std::runtime_error(earlier_run_refusal(earlier, argc, argv, desc, path));
  }
  install_signal_handlers(parse_signal_action(vm["sigint_effect"].as<std::string>()),
                          parse_signal_action(vm["sighup_effect"].as<std::string>()));
  SolverOptions options;
  options.solver_path = path;
  options.fuse = vm["fuse"].as<bool>();
  options.max_memory = max_memory_flag(vm);
  options.overlap_allreduce = vm["allreduce_overlap"].as<bool>();
  const double bucket_mb = vm["bucket_mb"].as<double>();
  if (!(bucket_mb > 0 && bucket_mb <= 4096))
    throw std::runtime_error("-bucket_mb " + std::to_string(bucket_mb) + ": give 0 < MB <= 4096");
  options.bucket_bytes = static_cast<size_t>(bucket_mb * 1048576.0);
  options.precision = precision_flag(vm);
  options.tensorboard = vm["tensorboard"].as<bool>();
  if (cpu_ranks > 1) {
    // Each rank computes on its share of the threads (at least one).
    set_num_threads(std::max(1, num_threads() / cpu_ranks));
    Registry::global().types();
    return run_thread_ranks(cpu_ranks, {},
                            [&](int) { return train_rank(param, options, vm, argc, argv, desc); });
  }
  if (thread_gpus.empty()) return train_rank(param, options, vm, argc, argv, desc);
  // Several GPUs in this process: rank r trains on thread_gpus[r] in its own thread. The plugin
  // scan, the signal handlers and the checks above are done once, here.
  Registry::global().types();
  return run_thread_ranks(static_cast<int>(thread_gpus.size()), thread_gpus, [&](int r) {
    pb::SolverParameter mine = param;
    mine.set_device_id(thread_gpus[static_cast<size_t>(r)]);
    return train_rank(mine, options, vm, argc, argv, desc);
  });
}

// One rank's Solver: alone, under mpirun, or in one thread of -gpu 0,1 (world() is its rank).
int train_rank(const pb::SolverParameter& param, const SolverOptions& options,
               const po::variables_map& vm, int argc, char** argv,
               const po::options_description& desc) {
  Solver solver(param, options);
  if (vm.count("snapshot")) solver.restore(vm["snapshot"].as<std::string>());
  if (vm.count("weights")) solver.load_weights(vm["weights"].as<std::string>());
  const DataSize data = data_size(solver.net());
  solver.set_epoch_images(data.images);
  const bool root = solver.rank() == 0;  // rank 0 alone speaks for a data-parallel run
  if (data.images == 0 && root) CREMA_LOG(INFO) << "Epochs: not counted: " << data.why_unknown;
  CREMA_LOG_IF(INFO, root) << "Log: stderr"
                           << (vm.count("log_file") ? " and " + vm["log_file"].as<std::string>()
                                                    : " (-log_file FILE keeps a copy)");
  bool finished = solver.solve();
  if (solver.num_test_nets() > 0) {
    auto scores = solver.last_test_iter() == solver.iter() ? solver.last_scores()
                                                           : solver.test_all();
    for (const auto& [name, value] : scores)
      if (root && (name.find("accuracy") != std::string::npos || name.find("acc") == 0))
        std::cout << "Final test " << name << ": " << std::fixed << std::setprecision(4) << value
                  << " (iteration " << solver.iter() << ")" << std::endl;
  }
  // Last, where a user who pressed Ctrl-C looks.
  if (!finished && !solver.last_snapshot().empty() && root)
    CREMA_LOG(INFO) << "Resume with: "
                    << resume_command(argc, argv, desc, state_of(solver.last_snapshot()));
  return finished ? 0 : 130;
}
}  // namespace

// Under mpirun (or srun) every process is one rank of a data-parallel run; with -gpu 0,1 every
// thread is (docs/DISTRIBUTED.md).
int run_train(int argc, char** argv) {
  return run_as_rank([&] { return train_on_this_rank(argc, argv); });
}

}  // namespace crema::tools
