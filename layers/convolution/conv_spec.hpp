// SPDX-License-Identifier: BSD-2-Clause
// Reading convolution_param the way Caffe's BaseConvolutionLayer::LayerSetUp does, 2-D only:
//   kernel_size / stride / pad / dilation: repeated, one value for both spatial axes or one each
//   (stride and dilation default to 1, pad to 0); or kernel_h+kernel_w, stride_h+stride_w,
//   pad_h/pad_w, which may not be mixed with the repeated form.
#pragma once
#include <cstdint>
#include <limits>
#include <string>

#include "crema/layer.hpp"
#include "crema/layers/im2col.hpp"

namespace crema::layers {

struct ConvSpec {
  int num_output = 0, group = 1, axis = 1;
  bool bias_term = true;
  ConvGeometry geometry;  // channels/height/width are filled in from the bottom later
};

namespace detail {
constexpr int64_t kMaxGeometry = std::numeric_limits<int32_t>::max();

// A geometry value read in 64 bits (the fields are uint32: 4294967295 would wrap to -1 as int).
inline int checked_geometry(const std::string& name, int64_t v) {
  CREMA_CHECK(v >= 0 && v <= kMaxGeometry,
              name << " " << v << " is out of range (0.." << kMaxGeometry << ")");
  return static_cast<int>(v);
}

// Reads `name` (repeated) or its `name_h`/`name_w` pair into h, w.
inline void read_pair(const Params& p, const std::string& block, const std::string& name,
                      const std::string& short_name, int fallback, bool pair_needs_both, int* h,
                      int* w) {
  const std::string rep = block + "." + name;
  const bool has_h = p.has(block + "." + short_name + "_h");
  const bool has_w = p.has(block + "." + short_name + "_w");
  const int n = p.size(rep);
  if (has_h || has_w) {
    CREMA_CHECK(n == 0, "either " << name << " or " << short_name << "_h/" << short_name
                                  << "_w should be given, not both");
    CREMA_CHECK(!pair_needs_both || (has_h && has_w),
                short_name << "_h and " << short_name << "_w must be given together");
    *h = checked_geometry(short_name + "_h", p.get<int64_t>(block + "." + short_name + "_h"));
    *w = checked_geometry(short_name + "_w", p.get<int64_t>(block + "." + short_name + "_w"));
    return;
  }
  CREMA_CHECK(n <= 2, name << " must be given once, or once per spatial axis (2); got " << n
                           << " values (only 2-D convolution is supported)");
  *h = checked_geometry(name, p.get_repeated_or<int64_t>(rep, 0, fallback));
  *w = checked_geometry(name, p.get_repeated_or<int64_t>(rep, 1, fallback));
}
}  // namespace detail

inline ConvSpec read_conv_spec(const Params& p, const std::string& block = "convolution_param") {
  ConvSpec s;
  CREMA_CHECK(p.has(block + ".num_output") && p.get<int>(block + ".num_output") > 0,
              block << ".num_output must be given and positive");
  s.num_output = p.get<int>(block + ".num_output");
  s.bias_term = p.get<bool>(block + ".bias_term");
  s.group = p.get<int>(block + ".group");
  s.axis = p.get<int>(block + ".axis");
  CREMA_CHECK(s.group > 0, "group must be positive, got " << s.group);
  s.geometry.groups = s.group;
  CREMA_CHECK(s.num_output % s.group == 0,
              "num_output " << s.num_output << " is not a multiple of group " << s.group);
  ConvGeometry& g = s.geometry;
  const int n_kernel = p.size(block + ".kernel_size");
  CREMA_CHECK(n_kernel > 0 || p.has(block + ".kernel_h") || p.has(block + ".kernel_w"),
              "kernel_size (or kernel_h and kernel_w) must be given");
  detail::read_pair(p, block, "kernel_size", "kernel", 0, true, &g.kernel_h, &g.kernel_w);
  detail::read_pair(p, block, "stride", "stride", 1, true, &g.stride_h, &g.stride_w);
  detail::read_pair(p, block, "pad", "pad", 0, false, &g.pad_h, &g.pad_w);
  const int n_dil = p.size(block + ".dilation");
  CREMA_CHECK(n_dil <= 2, "dilation must be given once, or once per spatial axis (2); got "
                              << n_dil << " values");
  g.dilation_h =
      detail::checked_geometry("dilation", p.get_repeated_or<int64_t>(block + ".dilation", 0, 1));
  g.dilation_w =
      detail::checked_geometry("dilation", p.get_repeated_or<int64_t>(block + ".dilation", 1, 1));
  CREMA_CHECK(g.kernel_h > 0 && g.kernel_w > 0,
              "kernel dimensions must be nonzero, got " << g.kernel_h << "x" << g.kernel_w);
  CREMA_CHECK(g.stride_h > 0 && g.stride_w > 0,
              "stride dimensions must be nonzero, got " << g.stride_h << "x" << g.stride_w);
  CREMA_CHECK(g.dilation_h > 0 && g.dilation_w > 0,
              "dilation must be nonzero, got " << g.dilation_h << "x" << g.dilation_w);
  return s;
}

// One spatial axis in 64 bits: the dilated kernel must fit the padded input, and every extent
// the kernels index with (padded input, kernel extent, output) must fit an int.
inline int64_t checked_axis(const char* axis, int64_t in, int64_t kernel, int64_t pad,
                            int64_t stride, int64_t dilation) {
  const int64_t extent = dilation * (kernel - 1) + 1, padded = in + 2 * pad;
  CREMA_CHECK(extent <= padded, "kernel " << axis << " " << kernel << " (dilated extent " << extent
                                          << ") is larger than the padded input " << axis << " "
                                          << in << " + 2*" << pad << " = " << padded);
  CREMA_CHECK(extent <= detail::kMaxGeometry && padded <= detail::kMaxGeometry,
              "convolution geometry too large along the "
                  << axis << ": padded input " << padded << ", kernel extent " << extent
                  << " (at most " << detail::kMaxGeometry << ")");
  return (padded - extent) / stride + 1;
}

// reshape(): the bottom must be 4-D N,C,H,W with the channel axis at 1 and the (dilated) kernel
// must fit the padded input. Fills channels/height/width into g.
inline void check_conv_input(const TensorView& x, int axis, ConvGeometry* g) {
  const int nd = x.ndim();
  CREMA_CHECK(nd == 4,
              "needs a 4-D N,C,H,W bottom (2-D convolution), got " << shape_string(x.shape()));
  CREMA_CHECK(axis == 1 || axis == 1 - nd,
              "only the channel axis 1 (N,C,H,W) is supported, got axis " << axis);
  for (int a = 1; a < 4; ++a)
    CREMA_CHECK(x.dim(a) <= detail::kMaxGeometry,
                "bottom " << shape_string(x.shape()) << " is too large for convolution");
  const int64_t out_h =
      checked_axis("height", x.dim(2), g->kernel_h, g->pad_h, g->stride_h, g->dilation_h);
  const int64_t out_w =
      checked_axis("width", x.dim(3), g->kernel_w, g->pad_w, g->stride_w, g->dilation_w);
  const int64_t col_width = x.dim(1) * g->kernel_h * g->kernel_w;
  CREMA_CHECK(col_width <= detail::kMaxGeometry && out_h * out_w <= detail::kMaxGeometry,
              "convolution geometry too large: " << col_width << " column entries per output, "
                                                 << out_h << "x" << out_w << " outputs");
  g->channels = static_cast<int>(x.dim(1));
  g->height = static_cast<int>(x.dim(2));
  g->width = static_cast<int>(x.dim(3));
}

}  // namespace crema::layers
