// SPDX-License-Identifier: BSD-2-Clause
// crema::cuda::Values' load and store compiled by nvcc and called on the host (they are
// __host__ __device__), so that cuda_values_test.cpp checks the conversions every GPU kernel uses
// against the host's without a GPU; and the same in a kernel, for a machine with one.
#include <stdexcept>

#include "crema/cuda.hpp"

float values_load(const void* p, int type, int64_t i) {
  return crema::cuda::Values{const_cast<void*>(p), type}.load(i);
}

void values_store(void* p, int type, int64_t i, float v) {
  crema::cuda::Values{p, type}.store(i, v);
}

namespace {
__global__ void round_trip(int64_t n, crema::cuda::Values in, crema::cuda::Values narrow,
                           float* loaded) {
  CREMA_CUDA_LOOP(i, n) {
    narrow.store(i, in.load(i));
    loaded[i] = narrow.load(i);
  }
}

void check(cudaError_t e) {
  if (e != cudaSuccess) throw std::runtime_error(cudaGetErrorString(e));
}
}  // namespace

// The device's own conversions (cvt instructions, not the host code above): n floats stored
// through Values into `type` in a kernel, and loaded back. Needs a GPU.
void values_on_device(int type, const float* in, int64_t n, uint16_t* stored, float* loaded) {
  float *d_in = nullptr, *d_loaded = nullptr;
  uint16_t* d_stored = nullptr;
  check(cudaMalloc(&d_in, n * sizeof(float)));
  check(cudaMalloc(&d_loaded, n * sizeof(float)));
  check(cudaMalloc(&d_stored, n * sizeof(uint16_t)));
  check(cudaMemcpy(d_in, in, n * sizeof(float), cudaMemcpyHostToDevice));
  round_trip<<<crema::cuda::blocks(n), crema::cuda::kThreads>>>(
      n, crema::cuda::values_of(d_in), crema::cuda::Values{d_stored, type}, d_loaded);
  check(cudaGetLastError());
  check(cudaMemcpy(stored, d_stored, n * sizeof(uint16_t), cudaMemcpyDeviceToHost));
  check(cudaMemcpy(loaded, d_loaded, n * sizeof(float), cudaMemcpyDeviceToHost));
  cudaFree(d_in);
  cudaFree(d_loaded);
  cudaFree(d_stored);
}
