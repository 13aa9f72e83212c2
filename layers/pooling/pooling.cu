// SPDX-License-Identifier: BSD-2-Clause
// Native pooling kernels with Caffe's windows (pooling.cpp). Forward: one thread per output.
// Backward: one thread per input element gathering from the outputs whose windows hold it, so
// every bottom diff is written once, without atomics; the outputs are visited in increasing
// order and AVE sums in the same order as the CPU loops, so both give the same floats.
// The windows holding input h along one axis are ph in [phs, phe):
//   ph s - p <= h < ph s - p + k   <=>   (h + p - k) / s < ph <= (h + p) / s.
// Tensors in any storage type (fp32, fp16 or bf16: crema::cuda::Values), each its own; the sums
// and comparisons in fp32.
#include <cfloat>

#include "crema/cuda.hpp"
#include "pooling_cuda.h"

namespace {
using crema::cuda::Values;

struct Range {
  int64_t lo, hi;
};

// Output windows along one axis that hold input position x.
__device__ __forceinline__ Range holders(int64_t x, int64_t k, int64_t s, int64_t p, int64_t P) {
  const int64_t lo = x + p < k ? 0 : (x + p - k) / s + 1;
  const int64_t hi = (x + p) / s + 1;
  return {lo, hi < P ? hi : P};
}

// Window of output o along one axis: [lo, hi) clipped to the input; *div = its length clipped
// to the padded input only (Caffe's AVE divisor).
__device__ __forceinline__ Range window(int64_t o, int64_t k, int64_t s, int64_t p, int64_t size,
                                        int64_t* div) {
  const int64_t start = o * s - p;
  const int64_t end = start + k < size + p ? start + k : size + p;
  if (div) *div = end - start;
  return {start > 0 ? start : 0, end < size ? end : size};
}

__global__ void max_forward(int64_t n, PoolGeometry g, Values x, Values y, int32_t* mask,
                            Values mask_f) {
  CREMA_CUDA_LOOP(i, n) {
    const int64_t pw = i % g.PW, ph = (i / g.PW) % g.PH, plane = i / (g.PW * g.PH);
    const Range rh = window(ph, g.kh, g.sh, g.ph, g.H, nullptr);
    const Range rw = window(pw, g.kw, g.sw, g.pw, g.W, nullptr);
    const int64_t xp = plane * g.H * g.W;
    float best = -FLT_MAX;
    int32_t at = -1;
    for (int64_t h = rh.lo; h < rh.hi; ++h)
      for (int64_t w = rw.lo; w < rw.hi; ++w) {
        const float v = x.load(xp + h * g.W + w);
        if (v > best) {  // strict: the first maximum in row-major order, as Caffe
          best = v;
          at = static_cast<int32_t>(h * g.W + w);
        }
      }
    y.store(i, best);
    if (mask)
      mask[i] = at;
    else
      mask_f.store(i, static_cast<float>(at));
  }
}

__global__ void max_backward(int64_t n, PoolGeometry g, Values dy, const int32_t* mask,
                             Values mask_f, Values dx) {
  CREMA_CUDA_LOOP(i, n) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, plane = i / (g.W * g.H);
    const Range rh = holders(h, g.kh, g.sh, g.ph, g.PH), rw = holders(w, g.kw, g.sw, g.pw, g.PW);
    const int64_t base = plane * g.PH * g.PW;
    const int32_t self = static_cast<int32_t>(h * g.W + w);
    float sum = 0.f;
    for (int64_t ph = rh.lo; ph < rh.hi; ++ph)
      for (int64_t pw = rw.lo; pw < rw.hi; ++pw) {
        const int64_t o = base + ph * g.PW + pw;
        const int32_t m = mask ? mask[o] : static_cast<int32_t>(mask_f.load(o));
        if (m == self) sum += dy.load(o);
      }
    dx.store(i, sum);
  }
}

// Column sums first, then across columns: the CPU's order of additions.
__global__ void ave_forward(int64_t n, PoolGeometry g, Values x, Values y) {
  CREMA_CUDA_LOOP(i, n) {
    const int64_t pw = i % g.PW, ph = (i / g.PW) % g.PH, plane = i / (g.PW * g.PH);
    int64_t dh, dw;
    const Range rh = window(ph, g.kh, g.sh, g.ph, g.H, &dh);
    const Range rw = window(pw, g.kw, g.sw, g.pw, g.W, &dw);
    const int64_t xp = plane * g.H * g.W;
    float sum = 0.f;
    for (int64_t w = rw.lo; w < rw.hi; ++w) {
      float col = 0.f;
      for (int64_t h = rh.lo; h < rh.hi; ++h) col += x.load(xp + h * g.W + w);
      sum += col;
    }
    y.store(i, sum / static_cast<float>(dh * dw));
  }
}

// dx = sum over the windows holding the element of dy / divisor, summed along W per output row
// first (the CPU's order).
__global__ void ave_backward(int64_t n, PoolGeometry g, Values dy, Values dx) {
  CREMA_CUDA_LOOP(i, n) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, plane = i / (g.W * g.H);
    const Range rh = holders(h, g.kh, g.sh, g.ph, g.PH), rw = holders(w, g.kw, g.sw, g.pw, g.PW);
    const int64_t d = plane * g.PH * g.PW;
    float sum = 0.f;
    for (int64_t ph = rh.lo; ph < rh.hi; ++ph) {
      int64_t dh, dw;
      window(ph, g.kh, g.sh, g.ph, g.H, &dh);
      float row = 0.f;
      for (int64_t pw = rw.lo; pw < rw.hi; ++pw) {
        window(pw, g.kw, g.sw, g.pw, g.W, &dw);
        row += dy.load(d + ph * g.PW + pw) / static_cast<float>(dh * dw);
      }
      sum += row;
    }
    dx.store(i, sum);
  }
}

int64_t outputs(const PoolGeometry& g) { return g.planes * g.PH * g.PW; }
int64_t inputs(const PoolGeometry& g) { return g.planes * g.H * g.W; }
}  // namespace

void pooling_max_forward_cuda(void* stream, const PoolGeometry& g, Values x, Values y,
                              int32_t* mask, Values mask_f) {
  const int64_t n = outputs(g);
  if (n == 0) return;
  max_forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, g, x, y, mask, mask_f);
  crema::cuda::check_launch("Pooling MAX forward");
}

void pooling_max_backward_cuda(void* stream, const PoolGeometry& g, Values dy, const int32_t* mask,
                               Values mask_f, Values dx) {
  const int64_t n = inputs(g);
  if (n == 0) return;
  max_backward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, g, dy, mask, mask_f, dx);
  crema::cuda::check_launch("Pooling MAX backward");
}

void pooling_ave_forward_cuda(void* stream, const PoolGeometry& g, Values x, Values y) {
  const int64_t n = outputs(g);
  if (n == 0) return;
  ave_forward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, g, x, y);
  crema::cuda::check_launch("Pooling AVE forward");
}

void pooling_ave_backward_cuda(void* stream, const PoolGeometry& g, Values dy, Values dx) {
  const int64_t n = inputs(g);
  if (n == 0) return;
  ave_backward<<<crema::cuda::blocks(n), crema::cuda::kThreads, 0, crema::cuda::stream(stream)>>>(
      n, g, dy, dx);
  crema::cuda::check_launch("Pooling AVE backward");
}
