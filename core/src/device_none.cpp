// SPDX-License-Identifier: BSD-2-Clause
// The device API of a build without CUDA: no devices, clear messages.
#include <stdexcept>

#include "crema/core/device.hpp"

namespace crema::device {

namespace {
[[noreturn]] void fail() {
  throw std::runtime_error("crema was built without CUDA (CREMA_WITH_CUDA=OFF): no GPU path");
}
}  // namespace

bool built_with_cuda() { return false; }
int count() { return 0; }
std::string unavailable_reason() { return "crema was built without CUDA (CREMA_WITH_CUDA=OFF)"; }
void select(int) { fail(); }
int current() { return -1; }
std::string describe(int) { fail(); }
int compute_capability() { return 0; }
void* allocate(size_t) { fail(); }
void release(void*) {}
size_t malloc_count() { return 0; }
void memset_zero(void*, size_t) { fail(); }
void copy_to_device(void*, const void*, size_t) { fail(); }
void copy_to_host(void*, const void*, size_t) { fail(); }
void synchronize() {}
void* stream() { return nullptr; }
void* cublas_handle() { return nullptr; }
void* cudnn_handle() { return nullptr; }

}  // namespace crema::device
