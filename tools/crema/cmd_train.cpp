// SPDX-License-Identifier: BSD-2-Clause
// crema train -solver S [-weights W | -snapshot STATE] [-gpu N] [-iterations N]
#include <iomanip>
#include <iostream>

#include "crema/core/device.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/solver/solver.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {

int run_train(int argc, char** argv) {
  po::options_description desc("crema train");
  add_common_options(desc);
  desc.add_options()
    ("solver", po::value<std::string>(), "solver definition (SolverParameter prototxt)")
    ("weights", po::value<std::string>(), "initialise from these weights (comma-separated) to fine-tune")
    ("snapshot", po::value<std::string>(), "resume from this .solverstate")
    ("gpu", po::value<std::string>(), "train on this GPU (overrides solver_mode)")
    ("iterations", po::value<int>(), "override max_iter")
    ("sigint_effect", po::value<std::string>()->default_value("stop"), "on SIGINT: stop, snapshot or none")
    ("sighup_effect", po::value<std::string>()->default_value("snapshot"), "on SIGHUP: stop, snapshot or none")
    ("level", po::value<int>(), "train net state level")
    ("stage", po::value<std::vector<std::string>>()->composing(), "train net state stage (repeatable)");
  auto vm = parse_flags(argc, argv, desc, "train");
  if (!vm.count("solver")) throw std::runtime_error("-solver is required (see crema train -help)");
  if (vm.count("weights") && vm.count("snapshot"))
    throw std::runtime_error("give -weights (fine-tune) or -snapshot (resume), not both");
  const std::string path = vm["solver"].as<std::string>();
  pb::SolverParameter param = read_solver_file(path);
  if (vm.count("iterations")) param.set_max_iter(vm["iterations"].as<int>());
  if (vm.count("gpu")) {
    std::string g = vm["gpu"].as<std::string>();
    int id = g == "all" ? 0 : std::stoi(g);
    if (device::count() == 0) throw std::runtime_error("-gpu " + g + ": " + device::unavailable_reason());
    param.set_solver_mode(pb::SolverParameter::GPU);
    param.set_device_id(id);
  }
  if (vm.count("level")) param.mutable_train_state()->set_level(vm["level"].as<int>());
  if (vm.count("stage"))
    for (const auto& s : vm["stage"].as<std::vector<std::string>>()) param.mutable_train_state()->add_stage(s);
  install_signal_handlers(parse_signal_action(vm["sigint_effect"].as<std::string>()),
                          parse_signal_action(vm["sighup_effect"].as<std::string>()));
  SolverOptions options;
  options.solver_path = path;
  Solver solver(param, options);
  if (vm.count("snapshot")) solver.restore(vm["snapshot"].as<std::string>());
  if (vm.count("weights")) solver.load_weights(vm["weights"].as<std::string>());
  bool finished = solver.solve();
  if (solver.num_test_nets() > 0) {
    auto scores = solver.last_test_iter() == solver.iter() ? solver.last_scores() : solver.test_all();
    for (const auto& [name, value] : scores)
      if (name.find("accuracy") != std::string::npos || name.find("acc") == 0)
        std::cout << "Final test " << name << ": " << std::fixed << std::setprecision(4) << value
                  << " (iteration " << solver.iter() << ")" << std::endl;
  }
  return finished ? 0 : 130;
}

}  // namespace crema::tools
