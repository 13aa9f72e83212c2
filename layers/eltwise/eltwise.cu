// SPDX-License-Identifier: BSD-2-Clause
// Eltwise's CUDA kernels. Forward reads every bottom once and writes y once: the bottoms'
// pointers travel in the kernel's parameters, kMaxInputs per launch; with more bottoms the next
// launch continues from y (and argmax), or from fp32 scratch when y is stored in 2 bytes, in the
// CPU path's order, so the sums and products are the CPU's operation for operation. Every
// tensor in its own storage type (fp32, fp16 or bf16: crema::cuda::Values), the arithmetic fp32.
#include <algorithm>

#include "crema/cuda.hpp"
#include "eltwise_cuda.h"

namespace {
using crema::cuda::Values;
constexpr int kMaxInputs = kEltwiseInputsPerLaunch;

// Launches after the first continue from the result: into fp32 scratch when the result is stored
// in 2 bytes, so that it is rounded once, after the last (and MAX compares unrounded values).
Values running(int nb, Values out, float* scratch) {
  return eltwise_needs_scratch(nb, out) ? crema::cuda::values_of(scratch) : out;
}
void finish(cudaStream_t s, int64_t n, Values from, Values out) {
  if (from.ptr != out.ptr) crema::cuda::convert(s, from, out, n);
}

struct Inputs {
  Values x[kMaxInputs];
  float coeff[kMaxInputs];
  int count;  // entries in use
  int base;   // index of x[0] among all bottoms
};

Inputs inputs(int base, int nb, const Values* x, const float* coeff) {
  Inputs in{};
  in.count = std::min(kMaxInputs, nb - base);
  in.base = base;
  for (int j = 0; j < in.count; ++j) {
    in.x[j] = x[base + j];
    in.coeff[j] = coeff ? coeff[base + j] : 1.f;
  }
  return in;
}

// first: this launch starts the result (bottom 0 is in it); otherwise it continues y.
__global__ void forward(int64_t n, EltwiseOp op, Inputs in, bool first, Values y, int* argmax) {
  CREMA_CUDA_LOOP(i, n) {
    if (op == kEltwiseMax) {
      float best = first ? -INFINITY : y.load(i);
      int arg = first ? 0 : argmax[i];
      for (int k = 0; k < in.count; ++k) {
        const float v = in.x[k].load(i);
        if (v > best) best = v, arg = in.base + k;
      }
      y.store(i, best);
      argmax[i] = arg;
    } else if (op == kEltwiseProd) {
      float acc = first ? in.x[0].load(i) : y.load(i);
      for (int k = first ? 1 : 0; k < in.count; ++k) acc *= in.x[k].load(i);
      y.store(i, acc);
    } else {
      float acc = first ? in.coeff[0] * in.x[0].load(i) : y.load(i);
      for (int k = first ? 1 : 0; k < in.count; ++k) acc += in.coeff[k] * in.x[k].load(i);
      y.store(i, acc);
    }
  }
}

__global__ void scaled(int64_t n, float c, Values dy, Values dx) {
  CREMA_CUDA_LOOP(i, n) dx.store(i, c * dy.load(i));
}

__global__ void quotient(int64_t n, Values y, Values xk, Values dy, Values dx) {
  CREMA_CUDA_LOOP(i, n) dx.store(i, y.load(i) / xk.load(i) * dy.load(i));
}

// prod_{j != skip} x_j over this launch's inputs, continuing dx unless first; times dy if last.
__global__ void product_except(int64_t n, Inputs in, int skip, bool first, bool last, Values dy,
                               Values dx) {
  CREMA_CUDA_LOOP(i, n) {
    float acc = first ? 1.f : dx.load(i);
    for (int j = 0; j < in.count; ++j)
      if (in.base + j != skip) acc *= in.x[j].load(i);
    dx.store(i, last ? acc * dy.load(i) : acc);
  }
}

__global__ void routed(int64_t n, int k, const int* argmax, Values dy, Values dx) {
  CREMA_CUDA_LOOP(i, n) dx.store(i, argmax[i] == k ? dy.load(i) : 0.f);
}
}  // namespace

void eltwise_forward_cuda(void* stream, EltwiseOp op, int64_t n, int nb, const Values* x,
                          const float* coeff, Values y, int* argmax, float* scratch) {
  if (n <= 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  const Values acc = running(nb, y, scratch);
  for (int base = 0; base < nb; base += kMaxInputs) {
    forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, s>>>(
        n, op, inputs(base, nb, x, coeff), base == 0, acc, argmax);
    crema::cuda::check_launch("Eltwise forward");
  }
  finish(s, n, acc, y);
}

void eltwise_backward_cuda(void* stream, EltwiseOp op, int64_t n, int nb, int k, const Values* x,
                           const float* coeff, bool stable_prod, Values y, Values dy,
                           const int* argmax, Values dx, float* scratch) {
  if (n <= 0) return;
  const cudaStream_t s = crema::cuda::stream(stream);
  const int grid = crema::cuda::blocks(n), threads = crema::cuda::kThreads;
  if (op == kEltwiseSum) {
    scaled<<<grid, threads, 0, s>>>(n, coeff ? coeff[k] : 1.f, dy, dx);
  } else if (op == kEltwiseMax) {
    routed<<<grid, threads, 0, s>>>(n, k, argmax, dy, dx);
  } else if (!stable_prod) {
    quotient<<<grid, threads, 0, s>>>(n, y, x[k], dy, dx);
  } else {
    const Values acc = running(nb, dx, scratch);
    for (int base = 0; base < nb; base += kMaxInputs) {
      product_except<<<grid, threads, 0, s>>>(n, inputs(base, nb, x, coeff), k, base == 0,
                                              base + kMaxInputs >= nb, dy, acc);
      crema::cuda::check_launch("Eltwise backward (product)");
    }
    finish(s, n, acc, dx);
    return;
  }
  crema::cuda::check_launch("Eltwise backward");
}
