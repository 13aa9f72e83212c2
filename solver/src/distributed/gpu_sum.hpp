// SPDX-License-Identifier: BSD-2-Clause
// Sums of float buffers in GPU memory over the ranks of one communicator, whichever kind (MPI
// processes or threads of one process). With NCCL (comm_nccl.cpp) each rank owns one NCCL
// communicator, made at its first sum and bootstrapped through the rank's own broadcast (rank 0
// makes the unique id), and the sum is enqueued on the calling thread's compute stream
// (device::stream()). Without NCCL (gpu_sum_staged.cpp) the buffer goes through host memory and
// the communicator's host sum (blocking).
#pragma once
#include <cstddef>

#include "crema/solver/comm.hpp"

namespace crema {

class GpuSum {
 public:
  explicit GpuSum(Communicator& comm) : comm_(comm) {}
  ~GpuSum();  // NOLINT(performance-trivially-destructible): with NCCL it ends the communicator
  GpuSum(const GpuSum&) = delete;
  GpuSum& operator=(const GpuSum&) = delete;

  // Called by every rank, in the same order, each from the thread that selected its GPU.
  void allreduce_sum(float* data, size_t count);

 private:
  Communicator& comm_;
  void* nccl_ = nullptr;  // ncclComm_t, made at the first sum
};

}  // namespace crema
