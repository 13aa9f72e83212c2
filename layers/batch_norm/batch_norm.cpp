// SPDX-License-Identifier: BSD-2-Clause
// BatchNorm (Caffe's BatchNormLayer): per channel c of an (N, C, *) input, m = N * prod(*):
//   batch stats:  mu_c = mean(x_c),  var_c = mean((x_c - mu_c)^2)        (biased, to normalise)
//   y = (x - mu_c) / sqrt(var_c + eps)
// No learned scale or shift (that is the Scale layer). Three state blobs: running sum of means
// M (C), of variances V (C) and the factor f (1). Each forward with batch statistics:
//   f = maf * f + 1,  M = maf * M + mu,  V = maf * V + m / (m - 1) * var          (maf = .999)
// With global stats (use_global_stats, default: true in TEST, false in TRAIN) the layer uses
//   mu = M / f,  var = V / f   (both 0 when f = 0)
// Statistics: one pass of shifted sums per channel (shift = the channel's first value, so a
// large mean does not cancel), float within 512-element blocks, double across blocks and planes
// in a fixed order (crema/layers/channel_reduce.hpp: the result does not depend on the thread
// count). Backward needs y: in place forward keeps a copy (member); otherwise backward
// recomputes y = (x - mu) / sigma from the bottom, which Caffe's net (Split before any in-place
// consumer) leaves untouched.
// GPU (batch_norm.cu): the same steps as native kernels, statistics in double per channel;
// the running averages are updated on the device in forward, as on the CPU. (cuDNN's batch
// norm keeps its running statistics differently from Caffe's three blobs, so it is not used.)
// Absorption (CPU): BatchNorm accepts the Scale (per channel: axis 1, one axis) and ReLU that
// follow it in place, in that order, and computes them in its own passes:
//   forward   z = relu(gamma * y + beta)   in the normalising pass (y kept for backward in place)
//   backward  g = dz masked by z > 0 (negative_slope elsewhere), in place over dz;
//             dgamma += sum(g . y), dbeta += sum(g), and dE/dy = gamma * g into the formula below
// which reads and writes the tensor once per pass instead of once per layer.
// sync (crema's field; data-parallel training): the statistics of every rank's batch. The
// shift becomes the ranks' mean shift and the sums (s1, s2) are summed over the ranks through
// the host's allreduce; so are backward's sums for dE/dx, while the Scale's gradients stay this
// rank's (the solver sums those). With batch statistics m is then the ranks' count together.
// Reference: Caffe src/caffe/layers/batch_norm_layer.cpp; Ioffe & Szegedy, ICML 2015.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "batch_norm_kernels.hpp"
#include "crema/layer.hpp"
#include "crema/layers/channel_reduce.hpp"
#include "crema/layers/channel_runs.hpp"
#if CREMA_WITH_CUDA
#include "batch_norm_cuda.h"
#include "crema/cuda.hpp"
#endif

namespace {
using crema::layers::Per;
using crema::layers::per;
using namespace crema::layers::batch_norm;
}  // namespace

class BatchNorm final : public crema::Layer<BatchNorm> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"BatchNorm", "batch_norm_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    return i;
  }
  explicit BatchNorm(const crema::Params& p)
      : maf_(p.get<float>("batch_norm_param.moving_average_fraction")),
        eps_(p.get<float>("batch_norm_param.eps")),
        global_set_(p.has("batch_norm_param.use_global_stats")),
        global_value_(p.get<bool>("batch_norm_param.use_global_stats")),
        sync_(p.get<bool>("batch_norm_param.sync")) {
    CREMA_CHECK(eps_ >= 0.f, "batch_norm_param.eps must be >= 0, got " << eps_);
  }

  // The Scale and ReLU after it, in place (see the top of this file).
  bool absorb(const std::string& type, const crema::Params& p) {
    if (type == "Scale" && !scale_ && !relu_ && p.get<int>("scale_param.axis") == 1 &&
        p.get<int>("scale_param.num_axes") == 1 && C_ > 0) {
      scale_ = true;
      scale_bias_ = p.get<bool>("scale_param.bias_term");
      return true;
    }
    if (type == "ReLU" && !relu_) {
      relu_ = true;
      slope_ = p.get<float>("relu_param.negative_slope");
      return true;
    }
    return false;
  }

  void setup(crema::Context& c) {
    CREMA_CHECK(c.bottom(0).ndim() >= 1, "BatchNorm needs an input with at least one axis");
    C_ = c.bottom(0).ndim() == 1 ? 1 : c.bottom(0).dim(1);
    for (int i = 0; i < 2; ++i) c.add_param({C_}, nullptr, "constant", 0.f, /*is_state=*/true);
    c.add_param({1}, nullptr, "constant", 0.f, /*is_state=*/true);
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    CREMA_CHECK(x.ndim() >= 1, "BatchNorm needs an input with at least one axis");
    const int64_t ch = x.ndim() == 1 ? 1 : x.dim(1);
    CREMA_CHECK(ch == C_, "BatchNorm was set up for " << C_ << " channels, input "
                                                      << crema::shape_string(x.shape()) << " has "
                                                      << ch);
    c.top(0).set_shape(x.shape());
    N_ = x.dim(0);
    S_ = N_ * C_ > 0 ? x.count() / (N_ * C_) : 0;
    for (auto* v : {&mean_, &inv_std_, &shift_, &k0_, &k1_, &k2_, &gamma_, &beta_}) v->resize(C_);
    sums_.resize(2 * C_);
  }

  void forward_cpu(crema::Context& c) {
    global_ = global_set_ ? global_value_ : !c.training();
    const int64_t C = C_;
    int64_t m = N_ * S_;
    if (m == 0) return;
    const float* x = c.bottom(0).data();
    if (global_) {
      const float f = c.param(2).data()[0];
      const double sf = f == 0.f ? 0.0 : 1.0 / f;
      for (int64_t k = 0; k < C; ++k) {
        mean_[k] = static_cast<float>(sf * c.param(0).data()[k]);
        inv_std_[k] = static_cast<float>(1.0 / std::sqrt(sf * c.param(1).data()[k] + eps_));
      }
    } else {
      for (int64_t k = 0; k < C; ++k) shift_[k] = x[k * S_];
      const bool sync = sync_ && c.world_size() > 1;
      if (sync) {  // one shift on every rank: the mean of theirs
        c.allreduce_sum(shift_.data(), C);
        for (int64_t k = 0; k < C; ++k) shift_[k] /= static_cast<float>(c.world_size());
      }
      // s1 = sum(x - a), s2 = sum((x - a)^2) per channel, a = shift_.
      const float* a = shift_.data();
      channel_sums([x, a](int64_t e, int64_t k, auto& s1, auto& s2) {
        const std::decay_t<decltype(s1)> t = x[e] - a[k];
        s1 += t;
        s2 += t * t;
      });
      if (sync) m *= sum_over_ranks(c);  // the statistics of every rank's batch
      const double *s1 = sums_.data(), *s2 = s1 + C;
      float* M = c.param(0).data();
      float* V = c.param(1).data();
      const double bias_correction = m > 1 ? double(m) / double(m - 1) : 1.0;
      for (int64_t k = 0; k < C; ++k) {
        const double d = s1[k] / m;
        const double var = std::max(0.0, s2[k] / m - d * d);
        mean_[k] = static_cast<float>(shift_[k] + d);
        inv_std_[k] = static_cast<float>(1.0 / std::sqrt(var + eps_));
        M[k] = maf_ * M[k] + mean_[k];
        V[k] = static_cast<float>(maf_ * V[k] + bias_correction * var);
      }
      c.param(2).data()[0] = c.param(2).data()[0] * maf_ + 1.f;
    }
    CREMA_CHECK(c.num_absorbed() == 0 || c.num_absorbed() == int(scale_) + int(relu_),
                "BatchNorm: called with " << c.num_absorbed() << " absorbed layers, agreed to "
                                          << int(scale_) + int(relu_));
    normalise_pass(c, c.num_absorbed() > 0);
  }

  void backward_cpu(crema::Context& c) { backward_pass(c, c.num_absorbed() > 0); }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    global_ = global_set_ ? global_value_ : !c.training();
    CREMA_CHECK(global_ || !sync_ || c.world_size() == 1,
                "batch_norm_param.sync is computed on the CPU only so far: train without it on "
                "GPUs (each rank's statistics, as Caffe and DDP do)");
    if (N_ * S_ == 0) return;
    float* mean = stats_gpu_.get(4 * C_);  // mean, inv_std, then backward's k1, k2
    float* is = mean + C_;
    float *M = c.param(0).data(), *V = c.param(1).data(), *f = c.param(2).data();
    const float* x = c.bottom(0).data();
    if (global_)
      batch_norm_global_stats_cuda(c.cuda_stream(), C_, M, V, f, eps_, mean, is);
    else
      batch_norm_batch_stats_cuda(c.cuda_stream(), x, N_, C_, S_, eps_, maf_, M, V, f, mean, is);
    kept_ = !global_ && c.top(0).same_memory(c.bottom(0));
    float* keep = kept_ ? x_norm_gpu_.get(c.bottom(0).count()) : nullptr;
    batch_norm_normalise_cuda(c.cuda_stream(), x, c.top(0).data(), keep, N_, C_, S_, mean, is);
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0) || N_ * S_ == 0) return;
    float* mean = stats_gpu_.data();
    const float* is = mean + C_;
    if (global_)
      batch_norm_backward_global_cuda(c.cuda_stream(), c.top(0).diff(), c.bottom(0).diff(), N_, C_,
                                      S_, is);
    else
      batch_norm_backward_cuda(
          c.cuda_stream(), c.top(0).diff(), kept_ ? x_norm_gpu_.data() : c.bottom(0).data(),
          kept_ ? nullptr : mean, c.bottom(0).diff(), N_, C_, S_, is, mean + 2 * C_);
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'BatchNorm'", "2,3,4,5"},
            {"type: 'BatchNorm'", "5,7"},
            {"type: 'BatchNorm' batch_norm_param { moving_average_fraction: 0.9 eps: 0.001 }",
             "1,3,5,3"},
            {"type: 'BatchNorm' batch_norm_param { use_global_stats: true }", "2,3,4"}};
  }

 private:
  // The layers this call computes too: the absorbed Scale (gamma_, beta_; else 1 and 0) and ReLU.
  struct Absorbed {
    bool scale, relu;
  };
  Absorbed load_affine(crema::Context& c, bool fused) {
    const Absorbed a{fused && scale_, fused && relu_};
    for (int64_t k = 0; k < C_; ++k) {
      gamma_[k] = a.scale ? c.param(3).data()[k] : 1.f;
      beta_[k] = a.scale && scale_bias_ ? c.param(4).data()[k] : 0.f;
    }
    return a;
  }

  // After the statistics: z = y, or relu(gamma * y + beta) with absorbed layers, in one pass.
  // y is kept (in place) when backward needs it: batch statistics, or the Scale's gradient.
  void normalise_pass(crema::Context& c, bool fused) {
    const Absorbed ab = load_affine(c, fused);
    const float* x = c.bottom(0).data();
    float* z = c.top(0).data();
    kept_ = (!global_ || ab.scale) && c.top(0).same_memory(c.bottom(0));
    if (kept_) x_norm_.resize(c.bottom(0).count());
    float* keep = kept_ ? x_norm_.data() : nullptr;
    const float *mu = mean_.data(), *is = inv_std_.data(), *g = gamma_.data(), *b = beta_.data();
    const float slope = slope_;
    for_runs([&](int64_t off, int64_t len, int64_t c0, auto st) {
      constexpr int St = decltype(st)::value;
      auto run = [&](auto relu) {
        normalise_affine<St, decltype(relu)::value>(x + off, z + off, keep ? keep + off : nullptr,
                                                    per<St>(mu + c0), per<St>(is + c0),
                                                    per<St>(g + c0), per<St>(b + c0), slope, len);
      };
      if (ab.relu)
        run(std::true_type{});
      else
        run(std::false_type{});
    });
  }

  // With absorbed layers: dz masked by the ReLU (in place, g), the Scale's gradients, and
  // dE/dy = gamma * g below; alone, g = dE/dy and gamma = 1.
  // Batch statistics depend on x (Caffe's formula, y the normalised x, means over N and space):
  //   dE/dx = (dy - mean(dy) - y * mean(dy . y)) / sqrt(var + eps) = dy * k0 + k1 + y * k2,
  //   k0 = 1 / sqrt(var + eps),  k1 = -mean(dy) * k0,  k2 = -mean(dy . y) * k0,
  // with dy = gamma * g: every sum, and k0, carry the factor gamma. y is v = the kept y (a = 0,
  // b = 1) or, out of place, y = (v - a) * b from the bottom v = x (a = mu, b = 1 / sigma); the
  // shift by a comes first, so a large mean does not cancel:
  //   sum(g . y) = b * sum(g (v - a)),   dE/dx = g * k0 + k1 + (v - a) * (b k2).
  // Global statistics are constants: dE/dx = g * gamma / sqrt(var + eps).
  void backward_pass(crema::Context& c, bool fused) {
    const int64_t C = C_, m = N_ * S_;
    if (m == 0) return;
    const Absorbed ab = load_affine(c, fused);
    float* g = c.top(0).diff();
    const float* z = c.top(0).data();
    const float slope = slope_;
    const bool scale_grad = ab.scale && c.absorbed_params_need_grad(0);
    const bool dx_wanted = c.propagate_down(0);
    const bool sums = scale_grad || (dx_wanted && !global_);
    // The ReLU's mask goes into g in the sums' pass where there is one (a pass fewer).
    if (ab.relu && !sums)
      for_runs([&](int64_t off, int64_t len, int64_t, auto) {
        relu_mask(z + off, g + off, slope, len);
      });
    const float* is = inv_std_.data();
    const float* v = kept_ ? x_norm_.data() : c.bottom(0).data();
    const double *s1 = sums_.data(), *s2 = s1 + C;
    if (sums) {
      for (int64_t k = 0; k < C; ++k) shift_[k] = kept_ ? 0.f : mean_[k];
      // s1 = sum(g), s2 = sum(g (v - a)) = sum(g . y) / b
      const float* a = shift_.data();
      if (ab.relu)  // each element is visited once: masked in place, then summed
        channel_sums([g, z, v, a, slope](int64_t e, int64_t k, auto& s1, auto& s2) {
          using T = std::decay_t<decltype(s1)>;
          const float ge = z[e] > 0.f ? g[e] : g[e] * slope;
          g[e] = ge;
          s1 += ge;
          s2 += T(ge) * T(v[e] - a[k]);
        });
      else
        channel_sums([g, v, a](int64_t e, int64_t k, auto& s1, auto& s2) {
          using T = std::decay_t<decltype(s1)>;
          s1 += g[e];
          s2 += T(g[e]) * T(v[e] - a[k]);
        });
    }
    if (scale_grad) {
      float* dgamma = c.param(3).diff();
      for (int64_t k = 0; k < C; ++k)
        dgamma[k] += static_cast<float>(s2[k] * (kept_ ? 1.0 : is[k]));
      if (scale_bias_) {
        float* dbeta = c.param(4).diff();
        for (int64_t k = 0; k < C; ++k) dbeta[k] += static_cast<float>(s1[k]);
      }
    }
    if (!dx_wanted) return;
    // Synchronised statistics depend on every rank's x: so does dE/dx, through the sums (the
    // Scale's gradients above stay this rank's; the solver sums them over the ranks).
    const int64_t m_all = sync_ && !global_ && c.world_size() > 1 ? m * sum_over_ranks(c) : m;
    float* dx = c.bottom(0).diff();  // may be g (in place): each element is read, then written
    for (int64_t k = 0; k < C; ++k) k0_[k] = is[k] * gamma_[k];
    const float* k0 = k0_.data();
    if (global_) {
      for_runs([&](int64_t off, int64_t len, int64_t c0, auto st) {
        constexpr int St = decltype(st)::value;
        input_grad<St>(g + off, nullptr, dx + off, per<St>(k0 + c0), {}, {}, {}, len);
      });
      return;
    }
    for (int64_t k = 0; k < C; ++k) {
      const double b = kept_ ? 1.0 : is[k];
      k1_[k] = static_cast<float>(-s1[k] / m_all * k0[k]);
      k2_[k] = static_cast<float>(-b * b * s2[k] / m_all * k0[k]);
    }
    const float *k1 = k1_.data(), *k2 = k2_.data(), *a = shift_.data();
    for_runs([&](int64_t off, int64_t len, int64_t c0, auto st) {
      constexpr int St = decltype(st)::value;
      input_grad<St>(g + off, v + off, dx + off, per<St>(k0 + c0), per<St>(k1 + c0),
                     per<St>(a + c0), per<St>(k2 + c0), len);
    });
  }

  // sums_ summed over the ranks (batch_norm_param.sync), through float: returns the number of
  // ranks, by which the element count grows.
  int64_t sum_over_ranks(crema::Context& c) {
    sync_buffer_.assign(sums_.begin(), sums_.end());
    c.allreduce_sum(sync_buffer_.data(), static_cast<int64_t>(sync_buffer_.size()));
    std::copy(sync_buffer_.begin(), sync_buffer_.end(), sums_.begin());
    return c.world_size();
  }

  // fn(offset, length, c0, stride) over contiguous runs: a plane of channel c0 (stride 0) when
  // S > 1, a row of all C channels from c0 = 0 (stride 1) when S == 1 (2-d input).
  template <class Fn>
  void for_runs(const Fn& fn) const {
    crema::layers::for_channel_runs(N_, C_, S_, kWork, fn);
  }

  // sums_ = (s1, s2), each per channel: the two terms of each element summed in a fixed order
  // (crema/layers/channel_reduce.hpp).
  template <class Term>
  void channel_sums(const Term& term) {
    std::fill(sums_.begin(), sums_.end(), 0.0);
    crema::layers::channel_reduce<2>(N_, C_, S_, term, partial_, sums_.data());
  }

  float maf_, eps_;
  bool global_set_, global_value_, sync_;
  bool global_ = false, kept_ = false;  // what the last forward used / whether it kept y
  bool scale_ = false, scale_bias_ = false, relu_ = false;  // absorbed (see absorb())
  float slope_ = 0.f;                                       // the absorbed ReLU's negative slope
  int64_t C_ = 0, N_ = 0, S_ = 0;
  std::vector<float> mean_, inv_std_, shift_, k0_, k1_, k2_, x_norm_, gamma_, beta_;
  std::vector<double> sums_, partial_;  // sums_: s1 then s2, C each
  std::vector<float> sync_buffer_;      // sums_ on their way through the ranks' allreduce
#if CREMA_WITH_CUDA
  crema::cuda::DeviceBuffer stats_gpu_;   // mean, inv_std, k1, k2 (C each)
  crema::cuda::DeviceBuffer x_norm_gpu_;  // y kept by an in-place forward with batch statistics
#endif
};

CREMA_EXPORT_PLUGIN("batch_norm", "1.0.0", BatchNorm)
