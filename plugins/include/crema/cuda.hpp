// SPDX-License-Identifier: BSD-2-Clause
// CUDA helpers for a plugin's GPU path, usable from its .cpp files (g++) and its .cu files (nvcc):
// error checks that become the layer's error message, a grow-only device buffer for state a
// layer keeps between forward and backward, and (in .cu files) the grid-stride kernel loop.
//
//   __global__ void relu(int64_t n, const float* x, float* y) {
//     CREMA_CUDA_LOOP(i, n) y[i] = x[i] > 0 ? x[i] : 0;
//   }
//   relu<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(c)>>>(n, x, y);
//   crema::cuda::check_launch("ReLU forward");
//
// Everything runs on the stream the host hands the call (crema_exec.cuda_stream): never on the
// default stream, and never synchronise inside a layer unless a result must reach the host.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "crema/plugin_abi.h"

#ifdef __CUDACC__
#define CREMA_HOST_DEVICE __host__ __device__
#else
#define CREMA_HOST_DEVICE
#endif

#ifdef __CUDACC__
// i runs over [0, n) across the whole grid, whatever the grid size.
#define CREMA_CUDA_LOOP(i, n)                                               \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

namespace crema::cuda {
// The sum of v over the block (1-D or 2-D, a multiple of 32 threads, at most 1024), valid in
// thread (0, 0). Every thread of the block must call it; safe to call several times in a row.
// Sum in double (or an integer type) where the order must not lose precision.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T warp_sums[32];
  const int t = threadIdx.y * blockDim.x + threadIdx.x, lane = t & 31, warp = t >> 5;
  const int warps = (blockDim.x * blockDim.y) >> 5;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = t < warps ? warp_sums[t] : T(0);
  __syncthreads();  // the slots are free again for the next call
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}
}  // namespace crema::cuda
#endif

namespace crema::cuda {

constexpr int kThreads = 256;

// The elements of a device tensor's data or diff in the type the net stores it in (a layer that
// declares cuda_storage sees fp16 and bf16 tensors as well as fp32 ones): a kernel written once
// reads element i as a float with load(i) and writes one with store(i, v), rounded to nearest
// even. Every thread of a launch takes the same branch, so next to the memory access the type
// test costs nothing; the arithmetic stays fp32. Made on the host with data_of / diff_of (a
// tensor) or values_of (a layer's own fp32 buffer). load and store also run on the host, where
// tests check their conversions against the host's.
struct Values {
  void* ptr = nullptr;
  int32_t type = CREMA_FLOAT32;  // crema_dtype

  CREMA_HOST_DEVICE float load(int64_t i) const {
    if (type == CREMA_BFLOAT16) return __bfloat162float(static_cast<const __nv_bfloat16*>(ptr)[i]);
    if (type == CREMA_FLOAT16) return __half2float(static_cast<const __half*>(ptr)[i]);
    return static_cast<const float*>(ptr)[i];
  }
  CREMA_HOST_DEVICE void store(int64_t i, float v) const {
    if (type == CREMA_BFLOAT16)
      static_cast<__nv_bfloat16*>(ptr)[i] = __float2bfloat16_rn(v);
    else if (type == CREMA_FLOAT16)
      static_cast<__half*>(ptr)[i] = __float2half_rn(v);
    else
      static_cast<float*>(ptr)[i] = v;
  }
  CREMA_HOST_DEVICE explicit operator bool() const { return ptr != nullptr; }
  CREMA_HOST_DEVICE size_t element_bytes() const {
    return type == CREMA_FLOAT32 ? sizeof(float) : 2;
  }
};

// A type Values does not know would be read as fp32: refused instead.
inline int32_t storage_type(const crema_tensor* t) {
  const uint32_t type = t->dtype & CREMA_DTYPE_MASK;
  if (type != CREMA_FLOAT32 && type != CREMA_BFLOAT16 && type != CREMA_FLOAT16)
    throw std::runtime_error("a tensor stored in type " + std::to_string(type) +
                             ", which crema::cuda::Values does not read");
  return static_cast<int32_t>(type);
}
inline Values data_of(const crema_tensor* t) { return {t->data, storage_type(t)}; }
inline Values diff_of(const crema_tensor* t) { return {t->diff, storage_type(t)}; }
inline Values values_of(const float* p) { return {const_cast<float*>(p), CREMA_FLOAT32}; }

// Blocks for n elements at kThreads each; the grid-stride loop covers the rest beyond the cap.
inline int blocks(int64_t n, int threads = kThreads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<int>(b < 1 ? 1 : (b > 65535 ? 65535 : b));
}

// Whether n elements can be indexed with 32-bit integers (cheaper division in kernels).
inline bool fits_int32(int64_t n) { return n <= int64_t{2147483647}; }

inline cudaStream_t stream(const crema_exec* exec) {
  return static_cast<cudaStream_t>(exec->cuda_stream);
}
inline cudaStream_t stream(void* s) { return static_cast<cudaStream_t>(s); }

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
// After a kernel launch: a bad configuration is reported now, not at the next sync.
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

// dst[o * dst_stride + j] = src[o * src_stride + j] for o < outer, j < cols (device memory, in
// floats): one strided 2-D copy on the stream, for Concat, Slice and their kind.
inline void copy_rows(void* s, int64_t outer, int64_t cols, const float* src, int64_t src_stride,
                      float* dst, int64_t dst_stride, const char* what) {
  if (outer <= 0 || cols <= 0) return;
  check(cudaMemcpy2DAsync(dst, sizeof(float) * dst_stride, src, sizeof(float) * src_stride,
                          sizeof(float) * cols, outer, cudaMemcpyDeviceToDevice, stream(s)),
        what);
}

// Device memory a layer owns (saved statistics, indices). Grows only, so a training step with
// unchanged shapes allocates nothing; freed with the layer.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  template <class T = float>
  T* get(size_t count) {
    const size_t bytes = count * sizeof(T);
    if (bytes > bytes_) {
      if (ptr_) check(cudaFree(ptr_), "cudaFree");
      ptr_ = nullptr;
      bytes_ = 0;
      check(cudaMalloc(&ptr_, bytes), "cudaMalloc (layer buffer)");
      bytes_ = bytes;
    }
    return static_cast<T*>(ptr_);
  }
  template <class T = float>
  T* data() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

#ifdef __CUDACC__
// dst[i] = src[i] in dst's type (widened or rounded), or dst[i] + src[i] with accumulate (the sum
// in fp32, rounded once), for n elements on `stream`: between storage types in .cu files. A
// template, so that every translation unit may define the kernel.
template <int = 0>
__global__ void convert_kernel(int64_t n, Values src, Values dst, bool accumulate) {
  CREMA_CUDA_LOOP(i, n) {
    const float v = src.load(i);
    dst.store(i, accumulate ? dst.load(i) + v : v);
  }
}
inline void convert(void* s, Values src, Values dst, int64_t n, bool accumulate = false) {
  if (n <= 0) return;
  convert_kernel<><<<blocks(n), kThreads, 0, stream(s)>>>(n, src, dst, accumulate);
  check_launch("fp32 / fp16 / bf16 conversion");
}
#endif

}  // namespace crema::cuda
