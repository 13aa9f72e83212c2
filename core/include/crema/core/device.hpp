// SPDX-License-Identifier: BSD-2-Clause
// The device side of the host: whether CUDA is built and usable, device memory through a caching
// allocator (so a training step allocates nothing after the first), copies, streams and handles.
// In a build without CUDA every query answers "no device" and allocation throws.
#pragma once
#include <cstddef>
#include <string>

namespace crema::device {

bool built_with_cuda();
// Number of usable GPUs; 0 without a driver or device (never throws).
int count();
// Why count() is 0, for messages ("built without CUDA", "no CUDA driver", ...).
std::string unavailable_reason();
// Makes `id` current; throws with a clear message when it does not exist.
void select(int id);
int current();
std::string describe(int id);  // name, memory, compute capability: `crema device_query`
// The current device's compute capability as major * 10 + minor (80 for 8.0); 0 without one.
int compute_capability();

void* allocate(size_t bytes);  // cached: freed blocks are reused by size
void release(void* ptr);
size_t malloc_count();  // device allocations made so far (cache misses)
void memset_zero(void* ptr, size_t bytes);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void synchronize();

void* stream();         // cudaStream_t of the current device
void* cublas_handle();  // bound to stream()
void* cudnn_handle();   // bound to stream(), or nullptr

}  // namespace crema::device
