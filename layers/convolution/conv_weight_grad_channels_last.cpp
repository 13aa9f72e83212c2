// SPDX-License-Identifier: BSD-2-Clause
// conv_weight_grad_channels_last.hpp: im2col into bf16 rows, one GEMM into an fp32 block in
// tap-major order, then the block added into Caffe's channel-major weight gradient.
#include "conv_weight_grad_channels_last.hpp"

#include <cstdlib>
#include <string>

#include "crema/layer.hpp"

namespace crema::layers {
namespace {
size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }
}  // namespace

bool WeightGradChannelsLast::applies(const ConvGeometry& g) {
  if (g.groups != 1 || g.dilation_h != 1 || g.dilation_w != 1) return false;
  if (!crema::host_has_bf16_operands()) return false;
  if (const char* env = std::getenv("CREMA_CONV_DW_GEMM")) return std::string(env) == "1";
  return g.channels >= kMinChannels;
}

size_t WeightGradChannelsLast::plan(const ConvGeometry& g, int num_output, int64_t num) {
  g_ = g;
  num_output_ = num_output;
  num_ = num;
  const size_t cols = static_cast<size_t>(num * g.out_plane() * g.col_width()) * sizeof(uint16_t);
  const size_t block = static_cast<size_t>(num_output * g.col_width()) * sizeof(float);
  return aligned(cols) + block;
}

void WeightGradChannelsLast::accumulate(const uint16_t* x, const uint16_t* dy, float* dw,
                                        void* ws) const {
  const int pixels = static_cast<int>(num_ * g_.out_plane()), o = num_output_;
  const int64_t taps = int64_t{g_.kernel_h} * g_.kernel_w, c = g_.channels;
  const int k = static_cast<int>(g_.col_width());
  auto* cols = static_cast<uint16_t*>(ws);
  auto* block = reinterpret_cast<float*>(
      static_cast<char*>(ws) + aligned(static_cast<size_t>(pixels) * k * sizeof(uint16_t)));
  im2col_nhwc(x, static_cast<int>(num_), g_, cols);
  // block[o][t*C + c] = dy^T (o x pixels) . cols (pixels x KH*KW*C)
  crema::gemm_bf16(true, false, o, k, pixels, 1.f, crema::bf16_operand(dy, o),
                   crema::bf16_operand(cols, k), 0.f, block, k);
  crema::parallel_for(o, 1, [&](int64_t b, int64_t e) {
    for (int64_t out = b; out < e; ++out) {
      const float* from = block + out * k;
      float* to = dw + out * k;  // Caffe's [o][c][t]
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t ch = 0; ch < c; ++ch) to[ch * taps + t] += from[t * c + ch];
    }
  });
}

}  // namespace crema::layers
