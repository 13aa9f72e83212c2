// SPDX-License-Identifier: BSD-2-Clause
// Silence's GPU path: backward zeroes the requested gradients with cudaMemsetAsync on the call's
// stream. A .cu file of its own so that the plugin is built with CUDA (crema_add_layer_plugin
// enables it through CUDA_SOURCES).
#include "crema/cuda.hpp"
#include "silence_cuda.h"

void silence_zero_cuda(void* stream, float* dx, int64_t n) {
  if (n <= 0) return;
  crema::cuda::check(cudaMemsetAsync(dx, 0, sizeof(float) * n, crema::cuda::stream(stream)),
                     "Silence backward (zero)");
}
