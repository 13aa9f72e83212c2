// SPDX-License-Identifier: BSD-2-Clause
// GPU im2col / col2im (Caffe's kernels, batched over images) and the per-channel bias passes;
// layout and contracts in include/crema/layers/im2col_cuda.hpp.
#include "crema/cuda.hpp"
#include "crema/layers/im2col_cuda.hpp"

namespace crema::layers::gpu {
namespace {

namespace cu = ::crema::cuda;

struct Dims {
  int C, H, W, KH, KW, PH, PW, SH, SW, DH, DW, OH, OW;
};

Dims dims_of(const ConvGeometry& g) {
  return {g.channels, g.height,   g.width,      g.kernel_h,   g.kernel_w, g.pad_h,  g.pad_w,
          g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, g.out_h(),  g.out_w()};
}

// One thread per (image, channel, output pixel): writes that pixel's KH*KW taps, P apart.
__global__ void im2col_kernel(int64_t n, Dims d, const float* __restrict__ x,
                              float* __restrict__ col) {
  const int64_t P = int64_t{d.OH} * d.OW;
  CREMA_CUDA_LOOP(idx, n) {
    const int ow = static_cast<int>(idx % d.OW);
    int64_t t = idx / d.OW;
    const int oh = static_cast<int>(t % d.OH);
    t /= d.OH;  // n*C + c
    const float* src = x + t * d.H * d.W;
    // (n*K + c*KH*KW) * P: the image's and channel's first tap row
    float* dst = col + t * d.KH * d.KW * P + int64_t{oh} * d.OW + ow;
    const int ih0 = oh * d.SH - d.PH, iw0 = ow * d.SW - d.PW;
    for (int i = 0; i < d.KH; ++i) {
      const int ih = ih0 + i * d.DH;
      const bool row_in = ih >= 0 && ih < d.H;
      for (int j = 0; j < d.KW; ++j) {
        const int iw = iw0 + j * d.DW;
        *dst = row_in && iw >= 0 && iw < d.W ? src[int64_t{ih} * d.W + iw] : 0.f;
        dst += P;
      }
    }
  }
}

// One thread per image element: the sum over the output pixels whose window covers it (Caffe's
// col2im_gpu_kernel). In padded coordinates (h, w), tap i of output row oh reads
// h = oh*SH + i*DH, so oh runs over [ceil((h - extent + 1) / SH), floor(h / SH)] and the tap is
// (h - oh*SH) / DH when that divides.
__global__ void col2im_kernel(int64_t n, Dims d, const float* __restrict__ col,
                              float* __restrict__ x) {
  const int64_t P = int64_t{d.OH} * d.OW;
  const int ext_h = (d.KH - 1) * d.DH + 1, ext_w = (d.KW - 1) * d.DW + 1;
  CREMA_CUDA_LOOP(idx, n) {
    const int w = static_cast<int>(idx % d.W) + d.PW;
    int64_t t = idx / d.W;
    const int h = static_cast<int>(t % d.H) + d.PH;
    t /= d.H;  // n*C + c
    const float* src = col + t * d.KH * d.KW * P;
    const int oh_lo = h < ext_h ? 0 : (h - ext_h) / d.SH + 1;
    const int oh_hi = min(h / d.SH + 1, d.OH);
    const int ow_lo = w < ext_w ? 0 : (w - ext_w) / d.SW + 1;
    const int ow_hi = min(w / d.SW + 1, d.OW);
    float sum = 0.f;
    for (int oh = oh_lo; oh < oh_hi; ++oh) {
      const int hk = h - oh * d.SH;
      if (hk % d.DH) continue;
      const float* row = src + int64_t{hk / d.DH} * d.KW * P + int64_t{oh} * d.OW;
      for (int ow = ow_lo; ow < ow_hi; ++ow) {
        const int wk = w - ow * d.SW;
        if (wk % d.DW == 0) sum += row[int64_t{wk / d.DW} * P + ow];
      }
    }
    x[idx] = sum;
  }
}

// y and dy in any storage type (fp32, or a 2-byte blob): the sums in fp32, y rounded once.
__global__ void add_bias_kernel(int64_t n, int64_t channels, int64_t plane,
                                const float* __restrict__ bias, cu::Values y) {
  CREMA_CUDA_LOOP(i, n) y.store(i, y.load(i) + bias[(i / plane) % channels]);
}

__global__ void channel_sums_kernel(int64_t num, int64_t channels, int64_t plane, cu::Values dy,
                                    float* __restrict__ sums) {
  const int64_t per_channel = num * plane;
  for (int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    float s = 0.f;
    for (int64_t k = threadIdx.x; k < per_channel; k += blockDim.x) {
      const int64_t img = k / plane;
      s += dy.load((img * channels + c) * plane + (k - img * plane));
    }
    s = crema::cuda::block_sum(s);
    if (threadIdx.x == 0) sums[c] += s;
  }
}

}  // namespace

void im2col_nchw(void* stream, const float* x, int num, const ConvGeometry& g, float* col) {
  const int64_t n = int64_t{num} * g.channels * g.out_plane();
  if (n == 0) return;
  im2col_kernel<<<cu::blocks(n), cu::kThreads, 0, cu::stream(stream)>>>(n, dims_of(g), x, col);
  cu::check_launch("im2col");
}

void col2im_nchw(void* stream, const float* col, int num, const ConvGeometry& g, float* x) {
  const int64_t n = int64_t{num} * g.channels * g.in_plane();
  if (n == 0) return;
  col2im_kernel<<<cu::blocks(n), cu::kThreads, 0, cu::stream(stream)>>>(n, dims_of(g), col, x);
  cu::check_launch("col2im");
}

void add_channel_bias(void* stream, cu::Values y, const float* bias, int64_t num, int64_t channels,
                      int64_t plane) {
  const int64_t n = num * channels * plane;
  if (n == 0) return;
  add_bias_kernel<<<cu::blocks(n), cu::kThreads, 0, cu::stream(stream)>>>(n, channels, plane, bias,
                                                                          y);
  cu::check_launch("bias forward");
}

void add_channel_sums(void* stream, cu::Values dy, int64_t num, int64_t channels, int64_t plane,
                      float* sums) {
  if (channels == 0) return;
  const int grid = static_cast<int>(channels < 65535 ? channels : 65535);
  channel_sums_kernel<<<grid, cu::kThreads, 0, cu::stream(stream)>>>(num, channels, plane, dy,
                                                                     sums);
  cu::check_launch("bias backward");
}

}  // namespace crema::layers::gpu
