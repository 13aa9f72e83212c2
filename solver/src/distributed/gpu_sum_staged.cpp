// SPDX-License-Identifier: BSD-2-Clause
// Without NCCL a GPU buffer is summed through host memory (blocking; CUDA-aware MPI is not
// assumed): copied out after the kernels that wrote it, summed by the communicator's host sum,
// copied back.
#include <vector>

#include "crema/core/device.hpp"
#include "gpu_sum.hpp"

namespace crema {

GpuSum::~GpuSum() = default;

void GpuSum::allreduce_sum(float* data, size_t count) {
  std::vector<float> host(count);
  device::synchronize();
  device::copy_to_host(host.data(), data, count * sizeof(float));
  comm_.allreduce_sum(host.data(), count, CREMA_CPU);
  device::copy_to_device(data, host.data(), count * sizeof(float));
}

}  // namespace crema
