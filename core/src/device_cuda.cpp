// SPDX-License-Identifier: BSD-2-Clause
// The device API over the CUDA runtime, cuBLAS and cuDNN. Nothing here runs until a GPU is asked
// for, so CPU work from the same binary never touches the driver.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "crema/core/device.hpp"

namespace crema::device {

namespace {
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

// Freed blocks are kept by size and handed out again: after the first training step every
// allocation of the same shapes is a map lookup, never a cudaMalloc. Kept per device: one
// process may drive several GPUs (crema train -gpu 0,1, a thread each), and a block freed on one
// must not be handed out on another.
struct CachingAllocator {
  std::mutex mu;
  std::map<int, std::multimap<size_t, void*>> free_blocks;  // by device, then size
  std::map<void*, std::pair<size_t, int>> sizes;            // size and device of each block
  size_t mallocs = 0;  // cudaMalloc calls so far (tests check a training step makes none)
  void* allocate(size_t bytes) {
    bytes = (bytes + 511) / 512 * 512;
    const int dev = current();
    std::lock_guard<std::mutex> lock(mu);
    std::multimap<size_t, void*>& free = free_blocks[dev];
    auto it = free.lower_bound(bytes);
    if (it != free.end() && it->first <= bytes * 2) {
      void* p = it->second;
      free.erase(it);
      return p;
    }
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      // Out of memory: give this device's cache back to the driver and try once more.
      for (auto& kv : free) cudaFree(kv.second), sizes.erase(kv.second);
      free.clear();
      check(cudaMalloc(&p, bytes), "cudaMalloc");
    }
    sizes[p] = {bytes, dev};
    ++mallocs;
    return p;
  }
  void release(void* p) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = sizes.find(p);
    if (it != sizes.end()) free_blocks[it->second.second].emplace(it->second.first, p);
  }
};

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator();  // never destroyed: outlives all tensors
  return *a;
}

struct Handles {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
};

Handles& handles() {
  static thread_local std::map<int, Handles> per_device;
  int dev = current();
  Handles& h = per_device[dev];
  if (!h.stream) {
    check(cudaStreamCreateWithFlags(&h.stream, cudaStreamNonBlocking), "cudaStreamCreate");
    if (cublasCreate(&h.cublas) != CUBLAS_STATUS_SUCCESS)
      throw std::runtime_error("cublasCreate failed");
    cublasSetStream(h.cublas, h.stream);
    if (cudnnCreate(&h.cudnn) == CUDNN_STATUS_SUCCESS)
      cudnnSetStream(h.cudnn, h.stream);
    else
      h.cudnn = nullptr;
  }
  return h;
}
}  // namespace

bool built_with_cuda() { return true; }

int count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string unavailable_reason() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) cudaGetLastError();
  // CUDA says "driver version is insufficient" when there is no driver at all, which sends
  // people to upgrade a driver they do not have: driver version 0 means none is installed.
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  auto version = [](int v) {
    return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
  };
  if (e == cudaErrorInsufficientDriver || (e != cudaSuccess && driver == 0)) {
    if (driver == 0) return "no NVIDIA driver found";
    return "the NVIDIA driver supports CUDA " + version(driver) +
           " but crema was built with CUDA " + version(runtime) + ": update the driver";
  }
  if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0))
    return "no GPU found (the NVIDIA driver sees no device)";
  if (e != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(e);
  return "";
}

void select(int id) {
  int n = count();
  if (id < 0 || id >= n) {
    std::ostringstream os;
    os << "GPU " << id << " requested but "
       << (n ? std::to_string(n) + " device(s) exist" : unavailable_reason());
    throw std::runtime_error(os.str());
  }
  check(cudaSetDevice(id), "cudaSetDevice");
}

int current() {
  int id = -1;
  if (cudaGetDevice(&id) != cudaSuccess) return -1;
  return id;
}

std::string describe(int id) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, id), "cudaGetDeviceProperties");
  std::ostringstream os;
  os << "Device id: " << id << "\nName: " << p.name << "\nCompute capability: " << p.major << "."
     << p.minor << "\nTotal global memory: " << p.totalGlobalMem
     << "\nMultiprocessors: " << p.multiProcessorCount << "\n";
  return os.str();
}

int compute_capability() {
  int id = current(), major = 0, minor = 0;
  if (id < 0 ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, id) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, id) != cudaSuccess)
    return 0;
  return major * 10 + minor;
}

void* allocate(size_t bytes) { return allocator().allocate(bytes); }
void release(void* ptr) { allocator().release(ptr); }
size_t malloc_count() {
  std::lock_guard<std::mutex> lock(allocator().mu);
  return allocator().mallocs;
}
void memset_zero(void* ptr, size_t bytes) {
  check(cudaMemsetAsync(ptr, 0, bytes, static_cast<cudaStream_t>(stream())), "cudaMemset");
}
void copy_to_device(void* dst, const void* src, size_t bytes) {
  auto* s = static_cast<cudaStream_t>(stream());
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s), "cudaMemcpy H2D");
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  auto* s = static_cast<cudaStream_t>(stream());
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s), "cudaMemcpy D2H");
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}
void synchronize() { check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream())), "sync"); }
void* stream() { return handles().stream; }
void* cublas_handle() { return handles().cublas; }
void* cudnn_handle() { return handles().cudnn; }

}  // namespace crema::device
