// SPDX-License-Identifier: BSD-2-Clause
// GPU buffers are summed with NCCL on the compute stream (crema's device::stream()), in order
// after the kernels that wrote them and before the update's: nothing waits on the host. Each
// rank's NCCL communicator is made at its first sum, bootstrapped through the rank's own
// communicator (rank 0 makes the unique id, every rank receives it by broadcast): MPI processes
// and threads of one process alike, each thread on its own GPU (ncclCommInitRank blocks until
// every rank has joined, so the ranks must be concurrent threads or processes).
#include <cuda_runtime.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

#include "crema/core/device.hpp"
#include "gpu_sum.hpp"

namespace crema {

namespace {

void check(ncclResult_t rc, const char* call) {
  if (rc != ncclSuccess)
    throw std::runtime_error(std::string(call) + " failed: " + ncclGetErrorString(rc));
}

}  // namespace

GpuSum::~GpuSum() {
  if (nccl_) ncclCommDestroy(static_cast<ncclComm_t>(nccl_));
}

void GpuSum::allreduce_sum(float* data, size_t count) {
  if (!nccl_) {
    ncclUniqueId id{};
    if (comm_.rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    comm_.broadcast(&id, sizeof(id), 0);
    ncclComm_t made = nullptr;
    check(ncclCommInitRank(&made, comm_.size(), id, comm_.rank()), "ncclCommInitRank");
    nccl_ = made;
  }
  check(ncclAllReduce(data, data, count, ncclFloat, ncclSum, static_cast<ncclComm_t>(nccl_),
                      static_cast<cudaStream_t>(device::stream())),
        "ncclAllReduce");
}

}  // namespace crema
