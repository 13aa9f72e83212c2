// SPDX-License-Identifier: BSD-2-Clause
// The GPU path of ConvolutionDepthwise: direct kernels, no im2col and no GEMM (a depthwise
// filter has one input channel, so there is nothing to share between outputs):
//   forward:  one thread per output element, its KH*KW taps
//   dE/dx:    one thread per input element, the taps (i, j) and output pixels that read it:
//             ih = oh*SH - PH + i*DH  <=>  oh = (ih + PH - i*DH) / SH when that divides
//   dE/dW, dE/db: one block per (channel, tap) and one per channel for the bias, each a
//             shared-memory reduction over (n, oh, ow); no atomics, so deterministic.
#include "crema/cuda.hpp"
#include "depthwise_cuda.h"

namespace {

namespace cu = crema::cuda;

struct Dims {
  int C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
};

Dims dims_of(const depthwise::Plane& g, int64_t channels) {
  auto i = [](int64_t v) { return static_cast<int>(v); };
  return {i(channels), i(g.h),  i(g.w),  i(g.oh), i(g.ow), i(g.kh), i(g.kw),
          i(g.sh),     i(g.sw), i(g.ph), i(g.pw), i(g.dh), i(g.dw)};
}

__global__ void forward_kernel(int64_t n, Dims d, const float* __restrict__ x,
                               const float* __restrict__ w, const float* __restrict__ bias,
                               float* __restrict__ y) {
  CREMA_CUDA_LOOP(idx, n) {
    const int ow = static_cast<int>(idx % d.OW);
    int64_t t = idx / d.OW;
    const int oh = static_cast<int>(t % d.OH);
    t /= d.OH;  // n*C + c
    const int c = static_cast<int>(t % d.C);
    const float* xp = x + t * d.H * d.W;
    const float* wp = w + c * d.KH * d.KW;
    const int ih0 = oh * d.SH - d.PH, iw0 = ow * d.SW - d.PW;
    float s = 0.f;
    for (int i = 0; i < d.KH; ++i) {
      const int ih = ih0 + i * d.DH;
      if (ih < 0 || ih >= d.H) continue;
      for (int j = 0; j < d.KW; ++j) {
        const int iw = iw0 + j * d.DW;
        if (iw >= 0 && iw < d.W) s += wp[i * d.KW + j] * xp[int64_t{ih} * d.W + iw];
      }
    }
    y[idx] = bias ? bias[c] + s : s;
  }
}

__global__ void backward_data_kernel(int64_t n, Dims d, const float* __restrict__ dy,
                                     const float* __restrict__ w, float* __restrict__ dx) {
  CREMA_CUDA_LOOP(idx, n) {
    const int iw = static_cast<int>(idx % d.W);
    int64_t t = idx / d.W;
    const int ih = static_cast<int>(t % d.H);
    t /= d.H;  // n*C + c
    const int c = static_cast<int>(t % d.C);
    const float* dyp = dy + t * d.OH * d.OW;
    const float* wp = w + c * d.KH * d.KW;
    float s = 0.f;
    for (int i = 0; i < d.KH; ++i) {
      const int hh = ih + d.PH - i * d.DH;  // oh * SH; decreases with i
      if (hh < 0) break;
      if (hh % d.SH) continue;
      const int oh = hh / d.SH;
      if (oh >= d.OH) continue;
      for (int j = 0; j < d.KW; ++j) {
        const int ww = iw + d.PW - j * d.DW;
        if (ww < 0) break;
        if (ww % d.SW) continue;
        const int ow = ww / d.SW;
        if (ow < d.OW) s += wp[i * d.KW + j] * dyp[int64_t{oh} * d.OW + ow];
      }
    }
    dx[idx] = s;
  }
}

// Task b = c * per_channel + tap: tap < KH*KW is dW[c][tap], tap == KH*KW (with db) is db[c].
__global__ void backward_params_kernel(int64_t num, Dims d, const float* __restrict__ x,
                                       const float* __restrict__ dy, float* __restrict__ dw,
                                       float* __restrict__ db) {
  const int taps = d.KH * d.KW, per_channel = taps + (db ? 1 : 0);
  const int64_t tasks = int64_t{d.C} * per_channel, out = int64_t{d.OH} * d.OW, total = num * out;
  for (int64_t b = blockIdx.x; b < tasks; b += gridDim.x) {  // uniform across the block
    const int c = static_cast<int>(b / per_channel), tap = static_cast<int>(b % per_channel);
    float s = 0.f;
    if (tap == taps) {
      for (int64_t k = threadIdx.x; k < total; k += blockDim.x) {
        const int64_t img = k / out;
        s += dy[(img * d.C + c) * out + (k - img * out)];
      }
    } else {
      const int i = tap / d.KW, j = tap % d.KW;
      for (int64_t k = threadIdx.x; k < total; k += blockDim.x) {
        const int64_t img = k / out, p = k - img * out;
        const int oh = static_cast<int>(p / d.OW), ow = static_cast<int>(p - int64_t{oh} * d.OW);
        const int ih = oh * d.SH - d.PH + i * d.DH, iw = ow * d.SW - d.PW + j * d.DW;
        if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) {
          const int64_t plane = img * d.C + c;
          s += dy[plane * out + p] * x[(plane * d.H + ih) * d.W + iw];
        }
      }
    }
    s = crema::cuda::block_sum(s);
    if (threadIdx.x == 0) {
      if (tap == taps)
        db[c] += s;
      else
        dw[int64_t{c} * taps + tap] += s;
    }
  }
}

}  // namespace

void depthwise_forward_cuda(void* stream, const depthwise::Plane& g, int64_t num,
                            int64_t channels, const float* x, const float* w, const float* bias,
                            float* y) {
  const int64_t n = num * channels * g.oh * g.ow;
  if (n == 0) return;
  forward_kernel<<<cu::blocks(n), cu::kThreads, 0, cu::stream(stream)>>>(
      n, dims_of(g, channels), x, w, bias, y);
  cu::check_launch("ConvolutionDepthwise forward");
}

void depthwise_backward_data_cuda(void* stream, const depthwise::Plane& g, int64_t num,
                                  int64_t channels, const float* dy, const float* w, float* dx) {
  const int64_t n = num * channels * g.h * g.w;
  if (n == 0) return;
  backward_data_kernel<<<cu::blocks(n), cu::kThreads, 0, cu::stream(stream)>>>(
      n, dims_of(g, channels), dy, w, dx);
  cu::check_launch("ConvolutionDepthwise backward (data)");
}

void depthwise_backward_params_cuda(void* stream, const depthwise::Plane& g, int64_t num,
                                    int64_t channels, const float* x, const float* dy, float* dw,
                                    float* db) {
  const int64_t tasks = channels * (g.kh * g.kw + (db ? 1 : 0));
  if (tasks == 0) return;
  backward_params_kernel<<<static_cast<int>(tasks < 65535 ? tasks : 65535), cu::kThreads, 0,
                           cu::stream(stream)>>>(num, dims_of(g, channels), x, dy, dw, db);
  cu::check_launch("ConvolutionDepthwise backward (parameters)");
}
