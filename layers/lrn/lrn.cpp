// SPDX-License-Identifier: BSD-2-Clause
// LRN, local response normalisation (Caffe's LRNLayer), on (N, C, H, W), n = local_size (odd):
// ACROSS_CHANNELS:
//   s[c] = k + alpha / n * sum_{c' = c - (n-1)/2 .. c + (n-1)/2, in range} x[c']^2
//   y = x * s^-beta
//   dE/dx[c] = dE/dy[c] s[c]^-beta - 2 alpha beta / n * x[c] * sum_{c' near c} dE/dy[c'] y[c'] /
//   s[c']
// WITHIN_CHANNEL (Caffe builds it from Pooling AVE with pad (n-1)/2 and Power with shift 1, so
// k is not used and the average always divides by n^2):
//   s[h,w] = 1 + alpha / n^2 * sum_{n x n window around (h,w), in range} x^2,   y = x * s^-beta
//   dE/dx[p] = dE/dy[p] s[p]^-beta - 2 alpha beta / n^2 * x[p] * sum_{q near p} dE/dy[q] y[q] /
//   s[q]
// (the windows are symmetric, so "q whose window holds p" is "q in p's window").
// Window sums are taken directly (no running sum that drifts); s is kept for backward, which
// recomputes y from x and s instead of reading a top a later in-place layer may have changed.
// beta = 0.75 (AlexNet, CaffeNet, CIFAR) uses s^-0.75 = 1 / (sqrt(s) sqrt(sqrt(s))), which
// vectorises; other betas call powf.
// GPU: lrn_gpu.hpp (cuDNN for ACROSS_CHANNELS where it applies, else the native kernels).
// Reference: Caffe src/caffe/layers/lrn_layer.cpp; Krizhevsky et al., NIPS 2012, section 3.3.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "crema/layer.hpp"
#include "lrn_gpu.hpp"

namespace {
constexpr int64_t kChunk = 256;  // spatial positions per task (ACROSS_CHANNELS)

// The kernels are plain functions with everything by value, so the compiler sees no aliasing it
// must guard against and the inner loops vectorise.

// p = s^-beta.
void neg_pow(const float* s, float* p, float beta, int64_t n) {
  if (beta == 0.75f) {
    for (int64_t i = 0; i < n; ++i) p[i] = 1.f / (std::sqrt(s[i]) * std::sqrt(std::sqrt(s[i])));
  } else {
    for (int64_t i = 0; i < n; ++i) p[i] = std::pow(s[i], -beta);
  }
}

// Positions [0, len) of one image (channel stride hw): s = k + a * window sum of x^2 over
// channels, y = x * s^-beta.
void across_forward(const float* x, float* s, float* y, int64_t C, int64_t hw, int64_t len, int pad,
                    float k, float a, float beta) {
  for (int64_t c = 0; c < C; ++c) {
    float* sc = s + c * hw;
    for (int64_t i = 0; i < len; ++i) sc[i] = 0.f;
    for (int64_t q = std::max<int64_t>(0, c - pad); q <= std::min(C - 1, c + pad); ++q) {
      const float* xq = x + q * hw;
      for (int64_t i = 0; i < len; ++i) sc[i] += xq[i] * xq[i];
    }
    for (int64_t i = 0; i < len; ++i) sc[i] = k + a * sc[i];
    float* yc = y + c * hw;
    neg_pow(sc, yc, beta, len);
    const float* xc = x + c * hw;
    for (int64_t i = 0; i < len; ++i) yc[i] *= xc[i];
  }
}

// dx = dy s^-beta - ratio x * window sum over channels of r, r = dy y / s = dy x s^-beta / s;
// r is scratch of C * len.
void across_backward(const float* x, const float* s, const float* dy, float* dx, float* r,
                     int64_t C, int64_t hw, int64_t len, int pad, float beta, float ratio) {
  for (int64_t c = 0; c < C; ++c) {
    const int64_t o = c * hw;
    float* rc = r + c * len;
    neg_pow(s + o, rc, beta, len);
    for (int64_t i = 0; i < len; ++i) {
      dx[o + i] = dy[o + i] * rc[i];  // through y = x s^-beta with s held fixed
      rc[i] = dy[o + i] * x[o + i] * rc[i] / s[o + i];
    }
  }
  // Through s: ds[c']/dx[c] = 2 alpha / n x[c] for every c' whose window holds c.
  for (int64_t c = 0; c < C; ++c) {
    const int64_t o = c * hw;
    for (int64_t q = std::max<int64_t>(0, c - pad); q <= std::min(C - 1, c + pad); ++q) {
      const float* rq = r + q * len;
      for (int64_t i = 0; i < len; ++i) dx[o + i] -= ratio * x[o + i] * rq[i];
    }
  }
}

// out = sum of in over the (2 pad + 1)^2 window around each position of an H x W plane, zero
// outside; tmp is scratch of H * W.
void box_sum(const float* in, float* tmp, float* out, int64_t H, int64_t W, int pad) {
  for (int64_t h = 0; h < H; ++h) {  // along w
    const float* row = in + h * W;
    float* t = tmp + h * W;
    for (int64_t w = 0; w < W; ++w) t[w] = 0.f;
    for (int64_t d = -pad; d <= pad; ++d)
      for (int64_t w = std::max<int64_t>(0, -d); w < std::min(W, W - d); ++w) t[w] += row[w + d];
  }
  for (int64_t h = 0; h < H; ++h) {  // along h
    float* o = out + h * W;
    for (int64_t w = 0; w < W; ++w) o[w] = 0.f;
    for (int64_t q = std::max<int64_t>(0, h - pad); q <= std::min(H - 1, h + pad); ++q)
      for (int64_t w = 0; w < W; ++w) o[w] += tmp[q * W + w];
  }
}

// One plane: s = 1 + a * box sum of x^2, y = x * s^-beta; buf, tmp scratch of H * W.
void within_forward(const float* x, float* s, float* y, float* buf, float* tmp, int64_t H,
                    int64_t W, int pad, float a, float beta) {
  const int64_t n = H * W;
  for (int64_t i = 0; i < n; ++i) buf[i] = x[i] * x[i];
  box_sum(buf, tmp, s, H, W, pad);
  for (int64_t i = 0; i < n; ++i) s[i] = 1.f + a * s[i];
  neg_pow(s, y, beta, n);
  for (int64_t i = 0; i < n; ++i) y[i] *= x[i];
}

// One plane: dx = dy s^-beta - ratio x * box sum of r, r = dy x s^-beta / s.
void within_backward(const float* x, const float* s, const float* dy, float* dx, float* r,
                     float* tmp, float* win, int64_t H, int64_t W, int pad, float beta,
                     float ratio) {
  const int64_t n = H * W;
  neg_pow(s, r, beta, n);
  for (int64_t i = 0; i < n; ++i) {
    dx[i] = dy[i] * r[i];
    r[i] = dy[i] * x[i] * r[i] / s[i];
  }
  box_sum(r, tmp, win, H, W, pad);  // each q whose window holds p adds ratio x[p] r[q]
  for (int64_t i = 0; i < n; ++i) dx[i] -= ratio * x[i] * win[i];
}
}  // namespace

class LRN final : public crema::Layer<LRN> {
 public:
  static crema::LayerInfo info() { return {"LRN", "lrn_param"}; }
  explicit LRN(const crema::Params& p)
      : size_(p.get<int>("lrn_param.local_size")),
        alpha_(p.get<float>("lrn_param.alpha")),
        beta_(p.get<float>("lrn_param.beta")),
        k_(p.get<float>("lrn_param.k")),
        across_(p.get<std::string>("lrn_param.norm_region") == "ACROSS_CHANNELS"),
        engine_(p.get<std::string>("lrn_param.engine")) {
    CREMA_CHECK(size_ > 0 && size_ % 2 == 1, "lrn_param.local_size must be odd, got " << size_);
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    CREMA_CHECK(x.ndim() == 4,
                "LRN needs a 4-d (N, C, H, W) input, got " << crema::shape_string(x.shape()));
    N_ = x.dim(0), C_ = x.dim(1), H_ = x.dim(2), W_ = x.dim(3);
    c.top(0).set_shape(x.shape());
#if CREMA_WITH_CUDA
    if (c.on_gpu()) c.request_workspace(LrnGpu::workspace_bytes(spec()));
#endif
  }

  void forward_cpu(crema::Context& c) {
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    scale_.resize(c.bottom(0).count());
    float* s = scale_.data();
    const int pad = (size_ - 1) / 2;
    const int64_t C = C_, H = H_, W = W_, hw = H_ * W_;
    const float k = k_, beta = beta_;
    if (across_) {
      const float a = alpha_ / size_;
      for_chunks([=](int64_t base, int64_t len) {
        across_forward(x + base, s + base, y + base, C, hw, len, pad, k, a, beta);
      });
      return;
    }
    const float a = alpha_ / (size_ * size_);
    for_planes([=](int64_t off, float* buf, float* tmp, float*) {
      within_forward(x + off, s + off, y + off, buf, tmp, H, W, pad, a, beta);
    });
  }

  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const float* x = c.bottom(0).data();
    const float* dy = c.top(0).diff();
    float* dx = c.bottom(0).diff();
    const float* s = scale_.data();
    const int pad = (size_ - 1) / 2;
    const int64_t C = C_, H = H_, W = W_, hw = H_ * W_;
    const float beta = beta_;
    if (across_) {
      const float ratio = 2.f * alpha_ * beta_ / size_;
      for_chunks([=](int64_t base, int64_t len) {
        std::vector<float> r(C * len);
        across_backward(x + base, s + base, dy + base, dx + base, r.data(), C, hw, len, pad, beta,
                        ratio);
      });
      return;
    }
    const float ratio = 2.f * alpha_ * beta_ / (size_ * size_);
    for_planes([=](int64_t off, float* r, float* tmp, float* win) {
      within_backward(x + off, s + off, dy + off, dx + off, r, tmp, win, H, W, pad, beta, ratio);
    });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    if (c.bottom(0).count() > 0) gpu_.forward(c, spec());
  }
  void backward_cuda(crema::Context& c) {
    if (c.propagate_down(0) && c.bottom(0).count() > 0) gpu_.backward(c, spec());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'LRN' lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 }", "2,7,3,3"},
            {"type: 'LRN' lrn_param { local_size: 3 alpha: 0.5 norm_region: WITHIN_CHANNEL }",
             "2,3,5,4"},
            {"type: 'LRN' lrn_param { local_size: 5 alpha: 0.5 beta: 0.6 k: 2 engine: CAFFE }",
             "2,7,3,3"}};
  }

 private:
  // fn(base, len): image n's spatial positions [base, base + len) in every channel; tasks are
  // (image, chunk of kChunk positions), at least ~16K elements of work each.
  template <class Fn>
  void for_chunks(const Fn& fn) const {
    const int64_t hw = H_ * W_, chunks = (hw + kChunk - 1) / kChunk;
    const int64_t grain =
        std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(C_ * std::min(kChunk, hw), 1));
    crema::parallel_for(N_ * chunks, grain, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n = t / chunks, h0 = (t % chunks) * kChunk;
        fn(n * C_ * hw + h0, std::min(kChunk, hw - h0));
      }
    });
  }
  // fn(offset, a, b, c) per (n, c) plane, with three scratch planes of the task.
  template <class Fn>
  void for_planes(const Fn& fn) const {
    const int64_t hw = H_ * W_;
    crema::parallel_for(N_ * C_, std::max<int64_t>(1, 4096 / std::max<int64_t>(hw, 1)),
                        [&](int64_t p0, int64_t p1) {
                          std::vector<float> buf(3 * hw);
                          float* b = buf.data();
                          for (int64_t p = p0; p < p1; ++p) fn(p * hw, b, b + hw, b + 2 * hw);
                        });
  }

#if CREMA_WITH_CUDA
  LrnSpec spec() const { return {size_, alpha_, beta_, k_, across_, N_, C_, H_, W_}; }
#endif

  int size_;
  float alpha_, beta_, k_;
  bool across_;
  std::string engine_;  // DEFAULT, CAFFE or CUDNN: which GPU implementation (ACROSS_CHANNELS)
  int64_t N_ = 0, C_ = 0, H_ = 0, W_ = 0;
  std::vector<float> scale_;
#if CREMA_WITH_CUDA
  LrnGpu gpu_{engine_};
#endif
};

CREMA_EXPORT_PLUGIN("lrn", "1.0.0", LRN)
