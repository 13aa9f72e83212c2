// SPDX-License-Identifier: BSD-2-Clause
// Pooling -> MaxPool / AveragePool / GlobalMaxPool / GlobalAveragePool, exactly as Caffe pools.
//
// Caffe rounds the output count up (unless round_mode: FLOOR) and drops a last window that
// starts in the end padding; its windows start at o*s - p. Instead of relying on a runtime's
// reading of ceil_mode, the export states the end padding that yields Caffe's output count with
// floor rounding (ceil_mode 0): pad_end = max(0, (O - 1) s + k - H - p). A window then never
// reaches past H + pad_end.
//
// MAX ignores padded cells in both frameworks. AVE: Caffe divides by the window clipped to the
// padded input [-p, H + p), so the padding inside it counts but a window hanging past H + p (the
// ceil overhang) counts only its part inside. ONNX count_include_pad=1 divides by the whole
// window, count_include_pad=0 by the cells of the unpadded input. So:
//   pad_end <= p on every axis (no overhang): AveragePool with count_include_pad=1 is exact;
//   otherwise: the same AveragePool (the padded cells are zeros in the sum), then a Mul by a
//   constant map k_h k_w / (Caffe's divisor) per output cell, which is 1 but at the overhang.
// (Pad + AveragePool with count_include_pad=0 says the same, but ONNX Runtime 1.20's graph
// optimizer folds that Pad into the pool's own padding and changes the result.)
#include <algorithm>
#include <string>
#include <vector>

#include "export_layers.hpp"

namespace crema::onnx_io {

void export_pooling(const LayerToExport& l, GraphBuilder& g) {
  const pb::PoolingParameter& p = l.param.pooling_param();
  const std::string& name = l.param.name();
  if (l.param.top_size() > 1) l.refuse("the second top (the max positions) has no ONNX form");
  if (p.pool() == pb::PoolingParameter::STOCHASTIC)
    l.refuse("STOCHASTIC pooling has no ONNX operator");
  const Shape& x = l.bottom.at(0);
  const Shape& y = l.top.at(0);
  if (x.size() != 4) l.refuse("pools (N, C, H, W) inputs only");
  const bool max = p.pool() == pb::PoolingParameter::MAX;
  const std::string in = g.value(l.param.bottom(0));
  const std::string out = g.define(l.param.top(0), name);
  if (p.global_pooling()) {
    g.node(max ? "GlobalMaxPool" : "GlobalAveragePool", name, {in}, {out});
    return;
  }
  const int64_t kh = p.has_kernel_h() ? p.kernel_h() : p.kernel_size();
  const int64_t kw = p.has_kernel_w() ? p.kernel_w() : p.kernel_size();
  const int64_t sh = p.has_stride_h() ? p.stride_h() : p.stride();
  const int64_t sw = p.has_stride_w() ? p.stride_w() : p.stride();
  const int64_t ph = p.has_pad_h() ? p.pad_h() : p.pad();
  const int64_t pw = p.has_pad_w() ? p.pad_w() : p.pad();
  const int64_t eh = std::max<int64_t>(0, (y[2] - 1) * sh + kh - x[2] - ph);
  const int64_t ew = std::max<int64_t>(0, (y[3] - 1) * sw + kw - x[3] - pw);
  const bool overhang = !max && (eh > ph || ew > pw);
  const std::string pooled = overhang ? g.fresh(name + "/window_mean") : out;
  onnx::NodeProto& n = g.node(max ? "MaxPool" : "AveragePool", name, {in}, {pooled});
  set_attr(n, "kernel_shape", std::vector<int64_t>{kh, kw});
  set_attr(n, "strides", std::vector<int64_t>{sh, sw});
  set_attr(n, "pads", std::vector<int64_t>{ph, pw, eh, ew});
  set_attr(n, "ceil_mode", int64_t{0});
  if (max) return;
  set_attr(n, "count_include_pad", int64_t{1});
  if (!overhang) return;
  // Caffe's divisor along one axis for output o: the window clipped to [-p, size + p).
  auto divisor = [](int64_t o, int64_t size, int64_t k, int64_t s, int64_t p) {
    const int64_t start = o * s - p;
    return std::min(start + k, size + p) - start;
  };
  std::vector<float> correction(static_cast<size_t>(y[2] * y[3]));
  for (int64_t oh = 0; oh < y[2]; ++oh)
    for (int64_t ow = 0; ow < y[3]; ++ow)
      correction[oh * y[3] + ow] =
          static_cast<float>(kh * kw) /
          static_cast<float>(divisor(oh, x[2], kh, sh, ph) * divisor(ow, x[3], kw, sw, pw));
  g.node("Mul", name + "/caffe_divisor",
         {pooled, g.floats(name + "/divisor_correction", {1, 1, y[2], y[3]}, correction)}, {out});
}

}  // namespace crema::onnx_io
