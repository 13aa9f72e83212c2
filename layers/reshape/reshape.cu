// SPDX-License-Identifier: BSD-2-Clause
// Reshape's GPU path is a device-to-device copy on the call's stream, skipped when the host let
// the top share the bottom's memory (CREMA_LAYER_SHARES_DATA). A .cu file of its own so that the
// plugin is built with CUDA (crema_add_layer_plugin enables it through CUDA_SOURCES).
#include "crema/cuda.hpp"
#include "reshape_cuda.h"

void reshape_copy_cuda(void* stream, float* dst, const float* src, int64_t n) {
  if (dst == src || n <= 0) return;
  crema::cuda::check(cudaMemcpyAsync(dst, src, sizeof(float) * n, cudaMemcpyDeviceToDevice,
                                     crema::cuda::stream(stream)),
                     "Reshape (copy)");
}
