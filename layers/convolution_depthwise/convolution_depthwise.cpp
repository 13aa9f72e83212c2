// SPDX-License-Identifier: BSD-2-Clause
// ConvolutionDepthwise: the depthwise convolution layer of the Caffe forks that MobileNet(V2)
// prototxts use (e.g. yonghenglh6/DepthwiseConvolution): a Convolution with group == channels ==
// num_output, i.e. every channel filtered on its own. N,C,H,W; convolution_param as Caffe's.
//   y[n][c][oh][ow] = b[c] + sum_{i,j} W[c][0][i][j] x[n][c][oh*SH - PH + i*DH][ow*SW - PW + j*DW]
// (x is 0 in the padding), OH = floor((H + 2PH - (DH(KH-1)+1)) / SH) + 1, likewise OW.
// Params: W (C, 1, KH, KW), b (C) when bias_term. A direct loop over each (image, channel) plane,
// no im2col (depthwise_kernels.hpp). Written against the plugin SDK only (crema/layer.hpp), like
// an out-of-tree plugin.
// GPU: direct kernels (depthwise.cu) for every convolution_param.engine; cuDNN's grouped
// convolution is the Convolution plugin's business (group == channels there).
#include <algorithm>
#include <string>
#include <vector>

#include "crema/layer.hpp"
#include "depthwise_kernels.hpp"
#if CREMA_WITH_CUDA
#include "depthwise_cuda.h"
#endif

using depthwise::Span;

class ConvolutionDepthwise final : public crema::Layer<ConvolutionDepthwise> {
 public:
  static crema::LayerInfo info() { return {"ConvolutionDepthwise", "convolution_param"}; }

  explicit ConvolutionDepthwise(const crema::Params& p) {
    const std::string b = "convolution_param.";
    bias_term_ = p.get<bool>(b + "bias_term");
    // group and num_output are implied by the channels; given, they must agree (checked in setup).
    if (p.has(b + "num_output")) num_output_ = p.get<int64_t>(b + "num_output");
    if (p.has(b + "group")) group_ = p.get<int64_t>(b + "group");
    CREMA_CHECK(p.get<int>(b + "axis") == 1 || p.get<int>(b + "axis") == -3,
                "only the channel axis 1 (N,C,H,W) is supported, got axis "
                    << p.get<int>(b + "axis"));
    read_pair(p, b, "kernel_size", "kernel", 0, &kh_, &kw_);
    read_pair(p, b, "stride", "stride", 1, &sh_, &sw_);
    read_pair(p, b, "pad", "pad", 0, &ph_, &pw_);
    CREMA_CHECK(p.size(b + "dilation") <= 2,
                "dilation must be given once or once per spatial axis");
    dh_ = p.get_repeated_or<int>(b + "dilation", 0, 1);
    dw_ = p.get_repeated_or<int>(b + "dilation", 1, 1);
    CREMA_CHECK(kh_ > 0 && kw_ > 0,
                "kernel_size (or kernel_h and kernel_w) must be given and nonzero, got "
                    << kh_ << "x" << kw_);
    CREMA_CHECK(sh_ > 0 && sw_ > 0, "stride dimensions must be nonzero, got " << sh_ << "x" << sw_);
    CREMA_CHECK(dh_ > 0 && dw_ > 0, "dilation must be nonzero, got " << dh_ << "x" << dw_);
  }

  void setup(crema::Context& c) {
    check_input(c.bottom(0));
    channels_ = c.bottom(0).dim(1);
    CREMA_CHECK(num_output_ < 0 || num_output_ == channels_,
                "a depthwise convolution has num_output == channels: num_output "
                    << num_output_ << ", input channels " << channels_);
    CREMA_CHECK(group_ < 0 || group_ == channels_,
                "a depthwise convolution has group == channels: group "
                    << group_ << ", input channels " << channels_);
    c.add_param({channels_, 1, kh_, kw_}, "convolution_param.weight_filler");
    if (bias_term_) c.add_param({channels_}, "convolution_param.bias_filler");
  }

  void reshape(crema::Context& c) {
    crema::TensorView x = c.bottom(0);
    check_input(x);
    CREMA_CHECK(x.dim(1) == channels_, "bottom has " << x.dim(1)
                                                     << " channels but the weights were set up for "
                                                     << channels_);
    h_ = x.dim(2);
    w_ = x.dim(3);
    CREMA_CHECK(dh_ * (kh_ - 1) + 1 <= h_ + 2 * ph_,
                "kernel height " << kh_ << " (dilated extent " << dh_ * (kh_ - 1) + 1
                                 << ") is larger than the padded input height " << h_ << " + 2*"
                                 << ph_ << " = " << h_ + 2 * ph_);
    CREMA_CHECK(dw_ * (kw_ - 1) + 1 <= w_ + 2 * pw_,
                "kernel width " << kw_ << " (dilated extent " << dw_ * (kw_ - 1) + 1
                                << ") is larger than the padded input width " << w_ << " + 2*"
                                << pw_ << " = " << w_ + 2 * pw_);
    oh_ = (h_ + 2 * ph_ - (dh_ * (kh_ - 1) + 1)) / sh_ + 1;
    ow_ = (w_ + 2 * pw_ - (dw_ * (kw_ - 1) + 1)) / sw_ + 1;
    c.top(0).set_shape({x.dim(0), channels_, oh_, ow_});
    g_ = {h_, w_, oh_, ow_, kh_, kw_, sh_, sw_, ph_, pw_, dh_, dw_};
  }

  void forward_cpu(crema::Context& c) {
    const int64_t in = h_ * w_, out = oh_ * ow_;
    const float* x = c.bottom(0).data();
    const float* w = c.param(0).data();
    const float* bias = bias_term_ ? c.param(1).data() : nullptr;
    float* y = c.top(0).data();
    auto run = [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t ch = t % channels_;
        forward_plane(x + t * in, w + ch * kh_ * kw_, bias ? bias[ch] : 0.f, y + t * out);
      }
    };
    crema::parallel_for(c.bottom(0).dim(0) * channels_, grain(), run);
  }

  void backward_cpu(crema::Context& c) {
    const int64_t num = c.bottom(0).dim(0), in = h_ * w_, out = oh_ * ow_;
    const float* x = c.bottom(0).data();
    const float* w = c.param(0).data();
    const float* dy = c.top(0).diff();
    if (c.params_need_grad()) {
      // dE/dW[c][i][j] += sum_{n,oh,ow} dE/dy[n][c][oh][ow] x[n][c][ih][iw];  dE/db[c] += sum dE/dy
      float* dwt = c.param(0).diff();
      float* db = bias_term_ ? c.param(1).diff() : nullptr;
      crema::parallel_for(channels_, 1, [&](int64_t b, int64_t e) {
        for (int64_t ch = b; ch < e; ++ch)
          for (int64_t n = 0; n < num; ++n) {
            const int64_t t = n * channels_ + ch;
            if (db) db[ch] += depthwise::dot(dy + t * out, nullptr, out);
            weight_grad_plane(x + t * in, dy + t * out, dwt + ch * kh_ * kw_);
          }
      });
    }
    if (c.propagate_down(0)) {
      // dE/dx[n][c][ih][iw] = sum over the taps (i, j, oh, ow) that read it of W[c][i][j] dE/dy
      float* dx = c.bottom(0).diff();
      auto run = [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t)
          input_grad_plane(dy + t * out, w + (t % channels_) * kh_ * kw_, dx + t * in);
      };
      crema::parallel_for(num * channels_, grain(), run);
    }
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    depthwise_forward_cuda(c.cuda_stream(), g_, c.bottom(0).dim(0), channels_, c.bottom(0).data(),
                           c.param(0).data(), bias_term_ ? c.param(1).data() : nullptr,
                           c.top(0).data());
  }

  void backward_cuda(crema::Context& c) {
    const int64_t num = c.bottom(0).dim(0);
    if (c.params_need_grad())
      depthwise_backward_params_cuda(c.cuda_stream(), g_, num, channels_, c.bottom(0).data(),
                                     c.top(0).diff(), c.param(0).diff(),
                                     bias_term_ ? c.param(1).diff() : nullptr);
    if (c.propagate_down(0))
      depthwise_backward_data_cuda(c.cuda_stream(), g_, num, channels_, c.top(0).diff(),
                                   c.param(0).data(), c.bottom(0).diff());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {
        {"type: 'ConvolutionDepthwise' convolution_param { num_output: 3 group: 3 kernel_size: 3 "
         "pad: 1 "
         "weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 } }",
         "2,3,5,6"},
        {"type: 'ConvolutionDepthwise' convolution_param { kernel_size: 3 stride: 2 pad: 1 "
         "weight_filler { type: 'gaussian' std: 0.5 } }",
         "2,4,7,6"},
        {"type: 'ConvolutionDepthwise' convolution_param { kernel_h: 3 kernel_w: 2 dilation: 2 "
         "pad: 2 "
         "bias_term: false weight_filler { type: 'gaussian' std: 0.5 } }",
         "1,5,6,5"}};
  }

 private:
  int64_t grain() const { return std::max<int64_t>(1, 8192 / (oh_ * ow_ * kh_ * kw_)); }

  void forward_plane(const float* x, const float* w, float b, float* y) const {
    if (sh_ == 1 && sw_ == 1) {  // flat correlation over the padded plane (pitch wp)
      thread_local std::vector<float> pad, ext;
      const int64_t wp = w_ + 2 * pw_;
      depthwise::pad_copy(x, h_, w_, ph_, pw_, wp, (h_ + 2 * ph_) * wp + (kw_ - 1) * dw_, &pad);
      ext.resize(static_cast<size_t>(oh_ * wp));
      depthwise::correlate(pad.data(), wp, w, g_, false, ext.data(), oh_ * wp);
      for (int64_t r = 0; r < oh_; ++r)
        for (int64_t col = 0; col < ow_; ++col) y[r * ow_ + col] = b + ext[r * wp + col];
      return;
    }
    std::fill(y, y + oh_ * ow_, b);
    depthwise::tap_rows(g_, [&](int64_t i, int64_t j, int64_t oh, int64_t ih, Span s, int64_t iw0) {
      depthwise::axpy(w[i * kw_ + j], x + ih * w_ + iw0, sw_, y + oh * ow_, 1, s.lo, s.hi);
    });
  }

  void weight_grad_plane(const float* x, const float* dy, float* dw) const {
    if (sh_ == 1 && sw_ == 1) {  // dW[i][j] += <dy placed at pitch wp, padded x shifted by tap>
      thread_local std::vector<float> pad, dyext;
      const int64_t wp = w_ + 2 * pw_, n = oh_ * wp;
      depthwise::pad_copy(x, h_, w_, ph_, pw_, wp, (h_ + 2 * ph_) * wp + (kw_ - 1) * dw_, &pad);
      depthwise::pad_copy(dy, oh_, ow_, 0, 0, wp, n, &dyext);
      for (int64_t i = 0; i < kh_; ++i)
        for (int64_t j = 0; j < kw_; ++j)
          dw[i * kw_ + j] += depthwise::dot(dyext.data(), pad.data() + i * dh_ * wp + j * dw_, n);
      return;
    }
    depthwise::tap_rows(g_, [&](int64_t i, int64_t j, int64_t oh, int64_t ih, Span s, int64_t iw0) {
      dw[i * kw_ + j] +=
          depthwise::dot(dy + oh * ow_ + s.lo, x + ih * w_ + iw0 + s.lo * sw_, s.hi - s.lo, sw_);
    });
  }

  void input_grad_plane(const float* dy, const float* w, float* dx) const {
    // Stride 1: dx[r][c] = sum_{i,j} W[i][j] dy[r + PH - i*DH][c + PW - j*DW], the correlation of
    // dy padded by Q = (K-1)*D - P with the flipped kernel (when Q >= 0).
    const int64_t qh = (kh_ - 1) * dh_ - ph_, qw = (kw_ - 1) * dw_ - pw_;
    if (sh_ == 1 && sw_ == 1 && qh >= 0 && qw >= 0) {
      thread_local std::vector<float> pad, ext;
      const int64_t wq = ow_ + 2 * qw;  // = W + (KW-1)*DW
      depthwise::pad_copy(dy, oh_, ow_, qh, qw, wq, (oh_ + 2 * qh) * wq + (kw_ - 1) * dw_, &pad);
      ext.resize(static_cast<size_t>(h_ * wq));
      depthwise::correlate(pad.data(), wq, w, g_, true, ext.data(), h_ * wq);
      for (int64_t r = 0; r < h_; ++r)
        for (int64_t col = 0; col < w_; ++col) dx[r * w_ + col] = ext[r * wq + col];
      return;
    }
    std::fill(dx, dx + h_ * w_, 0.f);
    depthwise::tap_rows(g_, [&](int64_t i, int64_t j, int64_t oh, int64_t ih, Span s, int64_t iw0) {
      depthwise::axpy(w[i * kw_ + j], dy + oh * ow_, 1, dx + ih * w_ + iw0, sw_, s.lo, s.hi);
    });
  }

  // Caffe's "repeated, one value for both axes or one each" or the _h/_w pair.
  static void read_pair(const crema::Params& p, const std::string& b, const std::string& name,
                        const std::string& s, int64_t fallback, int64_t* h, int64_t* w) {
    if (p.has(b + s + "_h") || p.has(b + s + "_w")) {
      CREMA_CHECK(p.size(b + name) == 0,
                  "either " << name << " or " << s << "_h/" << s << "_w, not both");
      CREMA_CHECK(s == "pad" || (p.has(b + s + "_h") && p.has(b + s + "_w")),
                  s << "_h and " << s << "_w must be given together");
      *h = p.get<int64_t>(b + s + "_h");
      *w = p.get<int64_t>(b + s + "_w");
      return;
    }
    CREMA_CHECK(p.size(b + name) <= 2,
                name << " must be given once or once per spatial axis (2), got " << p.size(b + name)
                     << " values");
    *h = p.get_repeated_or<int64_t>(b + name, 0, fallback);
    *w = p.get_repeated_or<int64_t>(b + name, 1, fallback);
  }
  static void check_input(const crema::TensorView& x) {
    CREMA_CHECK(x.ndim() == 4,
                "needs a 4-D N,C,H,W bottom, got " << crema::shape_string(x.shape()));
  }

  bool bias_term_ = true;
  int64_t num_output_ = -1, group_ = -1;  // -1: not given
  int64_t kh_ = 0, kw_ = 0, sh_ = 1, sw_ = 1, ph_ = 0, pw_ = 0, dh_ = 1, dw_ = 1;
  int64_t channels_ = 0, h_ = 0, w_ = 0, oh_ = 0, ow_ = 0;
  depthwise::Plane g_{};
};

CREMA_EXPORT_PLUGIN("convolution_depthwise", "1.0.0", ConvolutionDepthwise)
