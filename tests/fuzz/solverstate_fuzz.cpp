// SPDX-License-Identifier: BSD-2-Clause
// A .solverstate as crema resumes from one: Solver::restore on the input written to a file, on a
// solver built once. Its learned_net is looked for as named, then beside the state file, where
// this target keeps the solver's own weights: a state that names them gets as far as copying.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "crema/core/host.hpp"
#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/solver.hpp"
#include "fuzz_support.hpp"

namespace {
std::unique_ptr<crema::Solver> solver;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crema::set_num_threads(1);
  crema::fuzz::quiet_protobuf();
  const crema::fuzz::Scratch& scratch = crema::fuzz::scratch();
  crema::pb::SolverParameter param = crema::parse_solver_text(
      crema::fuzz::kStateSolver, "<fuzz solver>", crema::Registry::global());
  param.set_snapshot_prefix(scratch.dir() + "/");
  param.set_metrics_file(scratch.path("metrics.jsonl"));
  crema::SolverOptions options;
  options.quiet = true;
  solver = std::make_unique<crema::Solver>(param, options);
  crema::pb::NetParameter weights;
  solver->net().to_proto(&weights);
  crema::write_binary_proto_atomic(scratch.path(crema::fuzz::kStateWeightsName), weights);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = crema::fuzz::scratch().write("state.solverstate", data, size);
  return crema::fuzz::guarded([&] { solver->restore(path); });
}
