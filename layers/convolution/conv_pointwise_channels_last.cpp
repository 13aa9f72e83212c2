// SPDX-License-Identifier: BSD-2-Clause
// conv_pointwise_channels_last.hpp: two GEMMs over the whole batch, and for strided layers the
// gather and scatter of sampled pixels around them.
#include "conv_pointwise_channels_last.hpp"

#include <algorithm>
#include <cstring>

#include "crema/layer.hpp"

namespace crema::layers {

bool PointwiseChannelsLast::applies(const ConvGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.pad_h == 0 && g.pad_w == 0 && g.groups == 1 &&
         crema::host_has_bf16_operands() && crema::host_has_bf16_results();
}

size_t PointwiseChannelsLast::plan(const ConvGeometry& g, int num_output, int64_t num) {
  g_ = g;
  num_output_ = num_output;
  num_ = num;
  own_forward_ = Gemm64Bf16::applies(num_output, g.channels);
  own_input_grad_ = Gemm64Bf16::applies(g.channels, num_output);
  if (!strided()) return 0;
  // The sampled input and its gradient, rows of `channels` bf16 values each.
  return 2 * static_cast<size_t>(num * g.out_plane() * g.channels) * sizeof(uint16_t);
}

void PointwiseChannelsLast::gather(const uint16_t* x, uint16_t* rows) const {
  const int64_t c = g_.channels, oh = g_.out_h(), ow = g_.out_w();
  crema::parallel_for(num_ * oh, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t n = r / oh, h = (r % oh) * g_.stride_h;
      const uint16_t* in = x + (n * g_.height + h) * g_.width * c;
      uint16_t* out = rows + r * ow * c;
      for (int64_t w = 0; w < ow; ++w)
        std::memcpy(out + w * c, in + w * g_.stride_w * c, c * sizeof(uint16_t));
    }
  });
}

void PointwiseChannelsLast::scatter(const uint16_t* rows, uint16_t* dx) const {
  const int64_t c = g_.channels, oh = g_.out_h(), ow = g_.out_w();
  const int64_t row_bytes = g_.width * c * static_cast<int64_t>(sizeof(uint16_t));
  crema::parallel_for(num_ * g_.height, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t n = r / g_.height, h = r % g_.height;
      uint16_t* out = dx + r * g_.width * c;
      std::memset(out, 0, static_cast<size_t>(row_bytes));  // bf16 zero is all zero bits
      if (h % g_.stride_h != 0 || h / g_.stride_h >= oh) continue;
      const uint16_t* in = rows + (n * oh + h / g_.stride_h) * ow * c;
      for (int64_t w = 0; w < ow; ++w)
        std::memcpy(out + w * g_.stride_w * c, in + w * c, c * sizeof(uint16_t));
    }
  });
}

void PointwiseChannelsLast::forward(const uint16_t* x, const float* w, uint16_t* y,
                                    void* ws) const {
  const int pixels = static_cast<int>(num_ * g_.out_plane()), c = g_.channels, o = num_output_;
  const uint16_t* xs = x;
  if (strided()) {
    gather(x, static_cast<uint16_t*>(ws));
    xs = static_cast<uint16_t*>(ws);
  }
  product(own_forward_, xs, pixels, c, o, w, 1, c, y);  // B[c][o] = W[o][c]
}

void PointwiseChannelsLast::product(bool own, const uint16_t* a, int rows, int k, int n,
                                    const float* w, int64_t k_stride, int64_t n_stride,
                                    uint16_t* c) const {
  if (own) {
    gemm64_.set_b(w, k, n, k_stride, n_stride);
    return gemm64_.run(a, k, rows, c, n);
  }
  // W as stored (o x c, row-major) is B or B's transpose.
  const bool transposed = k_stride == 1;
  crema::gemm_bf16(false, transposed, rows, n, k, 1.f, crema::bf16_operand(a, k),
                   crema::fp32_operand(w, static_cast<int>(transposed ? n_stride : k_stride)), 0.f,
                   c, n);
}

void PointwiseChannelsLast::backward(const uint16_t* x, const float* w, const uint16_t* dy,
                                     float* dw, uint16_t* dx, void* ws) const {
  const int pixels = static_cast<int>(num_ * g_.out_plane()), c = g_.channels, o = num_output_;
  auto* sampled = static_cast<uint16_t*>(ws);
  uint16_t* sampled_dx = sampled + static_cast<int64_t>(pixels) * c;
  const uint16_t* xs = x;
  if (strided() && dw) {
    gather(x, sampled);
    xs = sampled;
  }
  // dW[o][c] += dy^T (o x pixels) . xs (pixels x c)
  if (dw)
    crema::gemm_bf16(true, false, o, c, pixels, 1.f, crema::bf16_operand(dy, o),
                     crema::bf16_operand(xs, c), 1.f, dw, c);
  if (!dx) return;
  // dxs (pixels x c) = dy (pixels x o) . W (o x c), rounded once into bf16
  uint16_t* dxs = strided() ? sampled_dx : dx;
  product(own_input_grad_, dy, pixels, o, c, w, c, 1, dxs);  // B[o][c] = W[o][c]
  if (strided()) scatter(dxs, dx);
}

}  // namespace crema::layers
