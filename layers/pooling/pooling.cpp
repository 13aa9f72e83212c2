// SPDX-License-Identifier: BSD-2-Clause
// Pooling: MAX or AVE over k_h x k_w windows of an (N,C,H,W) bottom (Caffe's PoolingLayer).
//   Output size, CEIL rounding (default):  P = ceil((H + 2p - k) / s) + 1
//               FLOOR (round_mode: FLOOR, or ceil_mode: false):  P = floor((H + 2p - k) / s) + 1
//   and with padding a last window that starts inside the bottom/right padding is dropped:
//     if p > 0 and (P - 1) s >= H + p then P -= 1.
//   Window of output row ph:  hs = ph s - p,  he = min(hs + k, H + p),  then clipped to
//   [max(hs, 0), min(he, H)); the same along W.
//   MAX: y = max over the clipped window; the flat index h*W + w of the first maximum is kept
//        (member mask, or top 1 as floats when the layer has two tops).
//   AVE: y = sum over the clipped window / ((he - hs)(we - ws)): the divisor counts the padding
//        inside H + p but not the part of the window past it (Caffe's rule).
// global_pooling: k = (H, W), pad 0, stride 1. STOCHASTIC pooling is not provided.
// Takes bf16 storage on the CPU (cpu_storage): bottom and tops each fp32 or bf16, the reductions
// in fp32 and each result rounded once (pooling_storage.hpp). A bf16 mask top holds flat
// indices exactly only up to 256, so it is refused for larger planes. N,H,W,C bf16 tensors
// (cpu_layouts, each tensor on its own): pooled over runs of channels where the top is N,H,W,C
// or 1x1 and no mask top is asked for (pooling_channels_last.hpp), else through transposed
// copies around the plane kernels (as_planes).
// GPU: pooling_gpu.hpp (cuDNN for AVE where it matches exactly, else the native kernels), with
// fp32, fp16 or bf16 tensors (cuda_storage; 2-byte ones through the native kernels).
// Reference: Caffe, src/caffe/layers/pooling_layer.cpp.
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "crema/layer.hpp"
#include "crema/layers/layout_bf16.hpp"
#include "pooling_channels_last.hpp"
#include "pooling_gpu.hpp"
#include "pooling_storage.hpp"

class Pooling final : public crema::Layer<Pooling> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Pooling", "pooling_param"};
    i.max_tops = 2;  // MAX: optional mask top
    i.cpu_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16);
    i.cuda_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16) | CREMA_DTYPE_BIT(CREMA_FLOAT16);
    // N,H,W,C bf16 tensors, each on its own: the kernels index planes, so such a tensor is read
    // through a transposed copy and written through one (at a ResNet's ends only: the stem's
    // max pooling and the global average pooling, where a net's trunk meets its classifier).
    if (crema::layers::layout_bf16_available())
      i.cpu_layouts = CREMA_LAYOUT_CHANNELS_LAST | CREMA_LAYOUT_MIXED;
    return i;
  }

  explicit Pooling(const crema::Params& p) : engine_(p.get<std::string>("pooling_param.engine")) {
    const std::string P = "pooling_param.";
    method_ = p.get<std::string>(P + "pool");
    CREMA_CHECK(method_ == "MAX" || method_ == "AVE",
                "pooling method " << method_ << " is not supported: use MAX or AVE");
    global_ = p.get<bool>(P + "global_pooling");
    const bool has_k = p.has(P + "kernel_size"), has_kh = p.has(P + "kernel_h"),
               has_kw = p.has(P + "kernel_w");
    if (global_) {
      CREMA_CHECK(!has_k && !has_kh && !has_kw,
                  "global_pooling takes the kernel from the bottom: do not set kernel_size, "
                  "kernel_h or kernel_w");
    } else {
      CREMA_CHECK(has_k != (has_kh && has_kw),
                  "give kernel_size, or kernel_h and kernel_w, not both");
      CREMA_CHECK(has_k || (has_kh && has_kw),
                  "non-square kernels need both kernel_h and kernel_w");
      kh_ = p.get<int64_t>(P + (has_k ? "kernel_size" : "kernel_h"));
      kw_ = p.get<int64_t>(P + (has_k ? "kernel_size" : "kernel_w"));
      CREMA_CHECK(kh_ > 0 && kw_ > 0, "kernel " << kh_ << "x" << kw_ << " has a zero dimension");
    }
    const bool has_ph = p.has(P + "pad_h"), has_pw = p.has(P + "pad_w");
    CREMA_CHECK((!p.has(P + "pad") && has_ph && has_pw) || (!has_ph && !has_pw),
                "give pad, or pad_h and pad_w");
    ph_ = p.get<int64_t>(P + (has_ph ? "pad_h" : "pad"));
    pw_ = p.get<int64_t>(P + (has_pw ? "pad_w" : "pad"));
    const bool has_sh = p.has(P + "stride_h"), has_sw = p.has(P + "stride_w");
    CREMA_CHECK((!p.has(P + "stride") && has_sh && has_sw) || (!has_sh && !has_sw),
                "give stride, or stride_h and stride_w");
    sh_ = p.get<int64_t>(P + (has_sh ? "stride_h" : "stride"));
    sw_ = p.get<int64_t>(P + (has_sw ? "stride_w" : "stride"));
    CREMA_CHECK(sh_ > 0 && sw_ > 0, "stride " << sh_ << "x" << sw_ << " has a zero dimension");
    if (global_)
      CREMA_CHECK(ph_ == 0 && pw_ == 0 && sh_ == 1 && sw_ == 1,
                  "global_pooling allows only pad 0 and stride 1, got pad "
                      << ph_ << "x" << pw_ << " stride " << sh_ << "x" << sw_);
    else
      CREMA_CHECK(ph_ < kh_ && pw_ < kw_, "pad " << ph_ << "x" << pw_
                                                 << " must be smaller than the kernel " << kh_
                                                 << "x" << kw_);
    floor_ = p.get<std::string>(P + "round_mode") == "FLOOR" || !p.get<bool>(P + "ceil_mode");
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    CREMA_CHECK(x.ndim() == 4,
                "Pooling needs a 4-d (N,C,H,W) bottom, got " << crema::shape_string(x.shape()));
    CREMA_CHECK(c.num_top() == 1 || method_ == "MAX",
                "only MAX pooling has a second (mask) top; " << method_ << " takes one top");
    h_ = x.dim(2), w_ = x.dim(3);
    if (global_) kh_ = h_, kw_ = w_;
    CREMA_CHECK(kh_ <= h_ + 2 * ph_ && kw_ <= w_ + 2 * pw_,
                "kernel " << kh_ << "x" << kw_ << " is larger than the padded input "
                          << h_ + 2 * ph_ << "x" << w_ + 2 * pw_ << " (input " << h_ << "x" << w_
                          << ", pad " << ph_ << "x" << pw_ << ")");
    out_h_ = windows(h_, kh_, ph_, sh_, hs_, he_, hdiv_);
    out_w_ = windows(w_, kw_, pw_, sw_, ws_, we_, wdiv_);
    const crema::Shape shape{x.dim(0), x.dim(1), out_h_, out_w_};
    for (int t = 0; t < c.num_top(); ++t) c.top(t).set_shape(shape);
    if (method_ == "MAX" && c.num_top() == 1) mask_.resize(c.top(0).count());
    // An N,H,W,C bottom pooled in that order where the output needs no transposing either (an
    // N,H,W,C top, or a 1x1 one) and no mask top; otherwise as_planes transposes around.
    native_last_ = x.channels_last() && c.num_top() == 1 &&
                   (c.top(0).channels_last() || out_h_ * out_w_ == 1);
    // Integers are exact in bf16 up to 256 (8 significant bits), in fp16 up to 2048 (11).
    const crema_dtype mask_type = c.num_top() > 1 ? c.top(1).dtype() : CREMA_FLOAT32;
    const int64_t exact = mask_type == CREMA_BFLOAT16 ? 256 : 2048;
    CREMA_CHECK(mask_type == CREMA_FLOAT32 || h_ * w_ <= exact + 1,
                "a " << (mask_type == CREMA_BFLOAT16 ? "bf16" : "fp16")
                     << " mask top holds flat indices exactly only up to " << exact
                     << ", but this bottom's planes are " << h_ << "x" << w_
                     << ": store the mask top in fp32");
  }

  void forward_cpu(crema::Context& c) {
    if (native_last_)
      return c.bottom(0).visit([&](auto* x, auto*) {
        c.top(0).visit([&](auto* y, auto*) {
          crema::layers::pooling::forward_channels_last(windows_of(c), method_ == "MAX", x, y,
                                                        mask_.data());
        });
      });
    const bool mask_top = c.num_top() > 1;
    as_planes(c.bottom(0), kData, kRead, &copies_[0], [&](auto* x) {
      as_planes(c.top(0), kData, kWrite, &copies_[1], [&](auto* y) {
        if (mask_top)
          as_planes(c.top(1), kData, kWrite, &copies_[2],
                    [&](auto* m) { forward_planes(c, x, y, m); });
        else
          forward_planes(c, x, y, mask_.data());
      });
    });
  }

  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    if (native_last_)
      return c.top(0).visit([&](auto*, auto* dy) {
        c.bottom(0).visit([&](auto*, auto* dx) {
          crema::layers::pooling::backward_channels_last(windows_of(c), method_ == "MAX", dy, dx,
                                                         mask_.data());
        });
      });
    as_planes(c.top(0), kDiff, kRead, &copies_[1], [&](auto* dy) {
      as_planes(c.bottom(0), kDiff, kWrite, &copies_[0], [&](auto* dx) {
        if (c.num_top() > 1)
          as_planes(c.top(1), kData, kRead, &copies_[2],
                    [&](auto* m) { backward_planes(c, dy, dx, m); });
        else
          backward_planes(c, dy, dx, static_cast<const int32_t*>(mask_.data()));
      });
    });
  }

  crema::layers::pooling::Windows windows_of(const crema::Context& c) const {
    return {
        c.bottom(0).dim(0), c.bottom(0).dim(1), h_,           w_,         out_h_,     out_w_,
        hs_.data(),         he_.data(),         hdiv_.data(), ws_.data(), we_.data(), wdiv_.data()};
  }

  enum Part { kData, kDiff };
  enum Use { kRead, kWrite };
  // Calls fn with tensor t's data (or diff) as N,C,H,W values of its storage type: the tensor's
  // own, or for an N,H,W,C tensor a copy transposed in before fn (kRead) or back out after it
  // (kWrite).
  template <class Fn>
  static void as_planes(const crema::TensorView& t, Part part, Use use, std::vector<uint16_t>* copy,
                        const Fn& fn) {
    if (!t.channels_last())
      return t.visit([&](auto* data, auto* diff) { fn(part == kDiff ? diff : data); });
    uint16_t* own = part == kDiff ? t.diff_bf16() : t.data_bf16();
    const int64_t num = t.dim(0), channels = t.dim(1), plane = t.count(2);
    copy->resize(static_cast<size_t>(t.count()));
    if (use == kRead)
      crema::layers::transpose_planes(own, true, num, plane, channels, copy->data(), true);
    fn(copy->data());
    if (use == kWrite)
      crema::layers::transpose_planes(copy->data(), true, num, channels, plane, own, true);
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) { gpu_.forward(c, geometry(c), method_ == "AVE"); }
  void backward_cuda(crema::Context& c) {
    if (c.propagate_down(0)) gpu_.backward(c, geometry(c), method_ == "AVE");
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {
        {"type: 'Pooling' pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }", "2,3,5,5"},
        {"type: 'Pooling' pooling_param { pool: AVE kernel_h: 2 kernel_w: 3 stride_h: 1 "
         "stride_w: 2 round_mode: FLOOR }",
         "1,5,4,7"},
        {"type: 'Pooling' pooling_param { pool: AVE global_pooling: true }", "2,3,4,5"},
        {"type: 'Pooling' pooling_param { pool: MAX kernel_size: 2 stride: 2 }", "1,2,4,4"},
        {"type: 'Pooling' pooling_param { pool: AVE kernel_size: 2 stride: 2 engine: CAFFE }",
         "1,2,4,6"},
        {"type: 'Pooling' pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } "
         "top: 'y' top: 'mask'",
         "1,2,5,5"}};
  }

 private:
  // Output count along one axis and, per output, the clipped window [lo, hi) and AVE divisor.
  int64_t windows(int64_t size, int64_t k, int64_t p, int64_t s, std::vector<int64_t>& lo,
                  std::vector<int64_t>& hi, std::vector<int64_t>& div) const {
    const int64_t span = size + 2 * p - k;
    int64_t n = (floor_ ? span / s : (span + s - 1) / s) + 1;
    if (p > 0 && (n - 1) * s >= size + p) --n;
    lo.resize(n), hi.resize(n), div.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t start = i * s - p, end = std::min(start + k, size + p);
      div[i] = end - start;
      lo[i] = std::max<int64_t>(start, 0);
      hi[i] = std::min(end, size);
    }
    return n;
  }
#if CREMA_WITH_CUDA
  PoolGeometry geometry(const crema::Context& c) const {
    return {c.bottom(0).dim(0) * c.bottom(0).dim(1),
            h_,
            w_,
            out_h_,
            out_w_,
            kh_,
            kw_,
            sh_,
            sw_,
            ph_,
            pw_};
  }
#endif
  // Bottom X, top Y, mask M (int32 member, or top 1: float or bf16); the bodies of the CPU passes.
  template <class X, class Y, class M>
  void forward_planes(const crema::Context& c, const X* x, Y* y, M* mask) const {
    const int64_t planes = c.bottom(0).dim(0) * c.bottom(0).dim(1);
    const int64_t in = h_ * w_, out = out_h_ * out_w_;
    crema::parallel_for(planes, grain(), [&](int64_t b, int64_t e) {
      std::vector<float> row(w_), out_row(out_w_);
      std::vector<int32_t> arg(w_), at(out_w_);
      MaxScratch s{row.data(), arg.data(), at.data(), out_row.data()};
      for (int64_t pl = b; pl < e; ++pl) {
        if (method_ == "AVE")
          ave_plane(x + pl * in, y + pl * out, row.data());
        else
          max_plane(x + pl * in, y + pl * out, mask + pl * out, s);
      }
    });
  }

  // Top Y (its gradient), bottom B (its gradient), mask M. Each plane's gradient accumulates in
  // fp32 (in place when the bottom is fp32) and is stored once.
  template <class Y, class B, class M>
  void backward_planes(const crema::Context& c, const Y* dy, B* dx, const M* mask) const {
    const int64_t planes = c.bottom(0).dim(0) * c.bottom(0).dim(1);
    const int64_t in = h_ * w_, out = out_h_ * out_w_;
    crema::parallel_for(planes, grain(), [&](int64_t b, int64_t e) {
      std::vector<float> row(w_), plane(std::is_same_v<B, float> ? 0 : in);
      for (int64_t pl = b; pl < e; ++pl) {
        float* g = crema::results_in(dx + pl * in, plane.data());
        const Y* d = dy + pl * out;
        std::memset(g, 0, sizeof(float) * in);
        if (method_ == "MAX") {
          // dE/dx[j] = sum of dE/dy[i] over the outputs i whose maximum was x[j].
          const M* m = mask + pl * out;
          for (int64_t i = 0; i < out; ++i) {
            const int64_t j = index_at(m + i);
            if (j >= 0) g[j] += crema::load(d + i);
          }
        } else {
          // AVE: dE/dx[h,w] = sum over the windows (ph,pw) holding (h,w) of dE/dy / pool_size.
          // Per output row: spread the row's gradients over W once, then add it to its input
          // rows.
          for (int64_t ph = 0; ph < out_h_; ++ph) {
            std::fill(row.begin(), row.end(), 0.f);
            for (int64_t pw = 0; pw < out_w_; ++pw) {
              const float v = crema::load(d + ph * out_w_ + pw) /
                              static_cast<float>(hdiv_[ph] * wdiv_[pw]);
              for (int64_t w = ws_[pw]; w < we_[pw]; ++w) row[w] += v;
            }
            for (int64_t h = hs_[ph]; h < he_[ph]; ++h) {
              float* gr = g + h * w_;
              for (int64_t w = 0; w < w_; ++w) gr[w] += row[w];
            }
          }
        }
        crema::store_results(g, dx + pl * in, in);
      }
    });
  }
  int64_t grain() const { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, h_ * w_)); }

  // One output row at a time: first reduce the window's input rows column by column into
  // `row` (contiguous, vectorisable), then reduce each window's columns of `row`.
  // MAX keeps Caffe's tie rule: the first maximum in row-major order (smallest flat index):
  // a candidate (v, a) replaces the best (b, t) when v > b, or v == b and a < t. That order
  // does not depend on the order of the candidates, so the windows inside the row are reduced
  // one kernel column at a time across all windows (branch-free, vectorised over the outputs;
  // one window at a time with data-dependent branches took 18 ms of ResNet-50's pool1), and the
  // clipped windows at the edges one by one.
  struct MaxScratch {
    float* row;
    int32_t* arg;    // flat index of row[w], -1 while no input reached it
    int32_t* at;     // flat index of each output's best so far
    float* out_row;  // the output row in fp32 when the top is bf16
  };
  template <class X, class Y, class M>
  void max_plane(const X* x, Y* y, M* mask, const MaxScratch& s) const {
    // Outputs [p0, p1) have their whole window inside the row.
    const int64_t p0 = std::min(out_w_, (pw_ + sw_ - 1) / sw_);
    const int64_t last = w_ + pw_ - kw_;  // the largest start + pad of a window inside the row
    const int64_t p1 = last < 0 ? p0 : std::max(p0, std::min(out_w_, last / sw_ + 1));
    for (int64_t ph = 0; ph < out_h_; ++ph) {
      float* row = s.row;
      int32_t* arg = s.arg;
      for (int64_t w = 0; w < w_; ++w) row[w] = -FLT_MAX, arg[w] = -1;
      for (int64_t h = hs_[ph]; h < he_[ph]; ++h) {
        const X* xr = x + h * w_;
        const int32_t base = static_cast<int32_t>(h * w_);
        for (int64_t w = 0; w < w_; ++w) {  // branch-free so that it vectorises
          const float v = crema::load(xr + w), r = row[w];
          const int32_t a = arg[w];
          const bool gt = v > r;
          row[w] = gt ? v : r;
          arg[w] = gt ? base + static_cast<int32_t>(w) : a;
        }
      }
      float* yr = crema::results_in(y + ph * out_w_, s.out_row);
      M* mr = mask + ph * out_w_;
      if (sw_ == 1)
        interior_windows<1>(row, arg, yr, s.at, p0, p1);
      else if (sw_ == 2)
        interior_windows<2>(row, arg, yr, s.at, p0, p1);
      else
        interior_windows<0>(row, arg, yr, s.at, p0, p1);
      for (int64_t pw = p0; pw < p1; ++pw) put_index(mr + pw, s.at[pw]);
      auto clipped_window = [&](int64_t pw) {
        float best = -FLT_MAX;
        int32_t at = -1;
        for (int64_t w = ws_[pw]; w < we_[pw]; ++w)
          if (arg[w] >= 0 && (row[w] > best || (row[w] == best && arg[w] < at)))
            best = row[w], at = arg[w];
        yr[pw] = best;
        put_index(mr + pw, at);
      };
      for (int64_t pw = 0; pw < p0; ++pw) clipped_window(pw);
      for (int64_t pw = p1; pw < out_w_; ++pw) clipped_window(pw);
      crema::store_results(yr, y + ph * out_w_, out_w_);
    }
  }
  // S: the stride when known at compile time (strided loads vectorise), 0: sw_.
  template <int S>
  void interior_windows(const float* row, const int32_t* arg, float* y, int32_t* at, int64_t p0,
                        int64_t p1) const {
    const int64_t stride = S ? S : sw_;
    for (int64_t pw = p0; pw < p1; ++pw) y[pw] = -FLT_MAX, at[pw] = -1;
    for (int64_t j = 0; j < kw_; ++j) {
      const int64_t off = j - pw_;  // column of window pw: pw * stride + off, inside the row
      for (int64_t pw = p0; pw < p1; ++pw) {
        const float v = row[pw * stride + off], b = y[pw];
        const int32_t a = arg[pw * stride + off], t = at[pw];
        // Bitwise, not short-circuit: && and || here become branches and the loop stays scalar.
        const bool take = (a >= 0) & ((v > b) | ((v == b) & (a < t)));
        y[pw] = take ? v : b;
        at[pw] = take ? a : t;
      }
    }
  }
  template <class X, class Y>
  void ave_plane(const X* x, Y* y, float* row) const {
    for (int64_t ph = 0; ph < out_h_; ++ph) {
      for (int64_t w = 0; w < w_; ++w) row[w] = 0.f;
      for (int64_t h = hs_[ph]; h < he_[ph]; ++h) {
        const X* xr = x + h * w_;
        for (int64_t w = 0; w < w_; ++w) row[w] += crema::load(xr + w);
      }
      for (int64_t pw = 0; pw < out_w_; ++pw) {
        float sum = 0.f;
        for (int64_t w = ws_[pw]; w < we_[pw]; ++w) sum += row[w];
        crema::store(y + ph * out_w_ + pw, sum / static_cast<float>(hdiv_[ph] * wdiv_[pw]));
      }
    }
  }

  std::string engine_;  // DEFAULT, CAFFE or CUDNN: which GPU implementation (AVE)
  std::string method_;
  bool global_ = false, floor_ = false;
  int64_t kh_ = 0, kw_ = 0, ph_ = 0, pw_ = 0, sh_ = 1, sw_ = 1;
  int64_t h_ = 0, w_ = 0, out_h_ = 0, out_w_ = 0;
  std::vector<int64_t> hs_, he_, hdiv_, ws_, we_, wdiv_;
  std::vector<int32_t> mask_;
  bool native_last_ = false;         // pooled in N,H,W,C order (pooling_channels_last.hpp)
  std::vector<uint16_t> copies_[3];  // N,C,H,W copies of N,H,W,C bottom, top and mask (as_planes)
#if CREMA_WITH_CUDA
  PoolingGpu gpu_{engine_};
#endif
};

CREMA_EXPORT_PLUGIN("pooling", "1.0.0", Pooling)
