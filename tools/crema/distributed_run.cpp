// SPDX-License-Identifier: BSD-2-Clause
#include "distributed_run.hpp"

#include <cstdlib>
#include <iostream>
#include <new>
#include <stdexcept>

#include "crema/solver/comm.hpp"

namespace crema::tools {

namespace {
// Shuts MPI down however run_as_rank is left (MPI_Finalize after the last collective).
struct WorldGuard {
  WorldGuard() { init_world(nullptr, nullptr); }
  ~WorldGuard() { finalize_world(); }
  WorldGuard(const WorldGuard&) = delete;
  WorldGuard& operator=(const WorldGuard&) = delete;
};

// Stops every rank: the message names this rank; MPI_Abort ends the others, whatever
// collective they wait in, and mpirun exits non-zero.
[[noreturn]] void stop_all(const std::string& why) {
  Communicator& w = world();
  w.abort("crema train: rank " + std::to_string(w.rank()) + " of " + std::to_string(w.size()) +
              " failed: " + why + "; stopping every rank",
          1);
  std::abort();  // abort() is [[noreturn]], but a call through the vtable does not say so to GCC
}
}  // namespace

int run_as_rank(const std::function<int()>& train) {
  WorldGuard guard;
  if (world().size() == 1) return train();
  try {
    return train();
  } catch (const std::bad_alloc&) {
    stop_all("out of memory");
  } catch (const std::exception& e) {
    stop_all(e.what());
  }
}

int local_rank() {
  for (const char* v :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "PMIX_LOCAL_RANK"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

}  // namespace crema::tools
