// SPDX-License-Identifier: BSD-2-Clause
// The objects `import crema` hands out: a net (with the flag that says its shapes changed), a
// blob of a net, a solver. Each Python object keeps what it views alive: a blob its net, a
// solver's net its solver.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <pybind11/pybind11.h>

#include "crema/core/net.hpp"
#include "crema/core/tensor.hpp"
#include "crema/solver/solver.hpp"

namespace crema::python {

struct NetHandle {
  std::shared_ptr<Net> net;    // owned, or aliasing a solver's
  bool needs_reshape = false;  // a blob was reshaped: reshape the net before the next forward
};

struct BlobHandle {
  std::shared_ptr<NetHandle> owner;
  Tensor* tensor;
};

struct SolverHandle {
  std::shared_ptr<Solver> solver;
  std::shared_ptr<NetHandle> net;
  std::vector<std::shared_ptr<NetHandle>> test_nets;
};

// What set_mode_gpu / set_device chose; nets and solvers made later run there.
struct RunMode {
  bool gpu = false;
  int device = 0;
};
RunMode& run_mode();

void bind_runtime(pybind11::module_& m);
void bind_blob(pybind11::module_& m);
void bind_net(pybind11::module_& m);
void bind_solver(pybind11::module_& m);

}  // namespace crema::python
