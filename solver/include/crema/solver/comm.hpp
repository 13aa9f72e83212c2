// SPDX-License-Identifier: BSD-2-Clause
// The ranks of a data-parallel run and the collectives the solver needs between them: sums of
// float buffers (blocking, and started now / finished later so that gradients travel while the
// backward pass still runs), broadcast from rank 0, a barrier, and a stop of every rank. Three
// implementations: one process alone (every call returns at once), MPI (comm_mpi.cpp, in a
// build with CREMA_WITH_MPI) and threads of one process (comm_threads.cpp, `crema train -gpu
// 0,1`); NCCL reduces GPU buffers where it is built (comm_nccl.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "crema/plugin_abi.h"

namespace crema {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "one process", "MPI (Open MPI v4.1.4), 2 ranks on 1 host"
  virtual std::string describe() const = 0;

  // In place: data = the sum of every rank's data (memory on `device`).
  virtual void allreduce_sum(float* data, size_t count, crema_device device = CREMA_CPU) = 0;
  virtual void allreduce_sum(double* data, size_t count) = 0;
  // Starts an in-place sum and returns at once; wait_all() finishes every one started. progress()
  // lets the transport move started sums along (MPI advances its non-blocking collectives only
  // inside its calls); the solver calls it between layers of the backward pass.
  virtual void start_allreduce_sum(float* data, size_t count, crema_device device) = 0;
  virtual void progress() = 0;
  virtual void wait_all() = 0;

  // data on every rank = data on rank `root` (host memory).
  virtual void broadcast(void* data, size_t bytes, int root = 0) = 0;
  virtual void barrier() = 0;
  // Ends every rank's process with `code` after `message` was logged on this one.
  [[noreturn]] virtual void abort(const std::string& message, int code) = 0;
};

// The communicator of this process: one process alone unless init_world() started MPI; in a
// thread that a ScopedWorld gave a communicator (ranks that are threads of one process,
// thread_ranks.hpp), that one.
Communicator& world();

// Makes `comm` the calling thread's world() until destroyed: the Solver, the data layers'
// sharding and BatchNorm's synchronised statistics then act as that rank with no other plumbing.
class ScopedWorld {
 public:
  explicit ScopedWorld(Communicator& comm);
  ~ScopedWorld();
  ScopedWorld(const ScopedWorld&) = delete;
  ScopedWorld& operator=(const ScopedWorld&) = delete;

 private:
  Communicator* saved_;
};

// Routes crema_host.allreduce_sum (BatchNorm's sync) to the calling thread's world(); off again
// with set_host_allreduce(nullptr).
void route_host_allreduce_to_world();

// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun with PMI/PMIx):
// their environment variables say so. `crema train` then starts MPI; alone it does not, so the
// same binary runs without a launcher.
bool launched_by_mpi();
// Whether this build can run under MPI (CREMA_WITH_MPI).
bool built_with_mpi();
// Starts MPI (when launched by a launcher and built with it) and makes it world(). Throws where
// launched by MPI but built without it. Idempotent; finalize_world() shuts MPI down.
void init_world(int* argc, char*** argv);
void finalize_world();

// The same 64-bit value on every rank? Returns the ranks whose value differs from rank 0's
// ("" when none), e.g. "1, 3".
std::string ranks_differing_from_root(Communicator& comm, uint64_t value);

std::unique_ptr<Communicator> make_single_process_communicator();

}  // namespace crema
