// SPDX-License-Identifier: BSD-2-Clause
// crema::cuda::Values' load and store compiled by nvcc and called on the host (they are
// __host__ __device__), so that cuda_values_test.cpp checks the conversions every GPU kernel uses
// against the host's without a GPU.
#include "crema/cuda.hpp"

float values_load(const void* p, int type, int64_t i) {
  return crema::cuda::Values{const_cast<void*>(p), type}.load(i);
}

void values_store(void* p, int type, int64_t i, float v) {
  crema::cuda::Values{p, type}.store(i, v);
}
