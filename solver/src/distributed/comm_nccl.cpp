// SPDX-License-Identifier: BSD-2-Clause
// GPU buffers are summed with NCCL on the compute stream (crema's device::stream()), in order
// after the kernels that wrote them and before the update's: nothing waits on the host. The
// NCCL communicator is made at the first call, bootstrapped through the MPI communicator (rank 0
// makes the unique id, every rank receives it by broadcast).
#include <cuda_runtime.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

#include "crema/core/device.hpp"
#include "crema/solver/comm.hpp"

namespace crema {

namespace {

void check(ncclResult_t rc, const char* call) {
  if (rc != ncclSuccess)
    throw std::runtime_error(std::string(call) + " failed: " + ncclGetErrorString(rc));
}

ncclComm_t nccl_for(Communicator& comm) {
  static ncclComm_t nccl = nullptr;
  if (nccl) return nccl;
  ncclUniqueId id{};
  if (comm.rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  comm.broadcast(&id, sizeof(id), 0);
  check(ncclCommInitRank(&nccl, comm.size(), id, comm.rank()), "ncclCommInitRank");
  return nccl;
}

}  // namespace

void gpu_allreduce_sum(Communicator& comm, float* data, size_t count) {
  ncclComm_t nccl = nccl_for(comm);
  check(ncclAllReduce(data, data, count, ncclFloat, ncclSum, nccl,
                      static_cast<cudaStream_t>(device::stream())),
        "ncclAllReduce");
}

}  // namespace crema
