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
// Its x, y and gradients may be fp32, fp16 or bf16 there (cuda_storage), each its own.
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
// bf16 storage (CPU, LayerInfo::cpu_storage): bottom and top may each be fp32 or bf16 (in place
// one tensor, so one type), the absorbed Scale and ReLU included. The passes read through
// crema::load and compute in float; statistics and sums are the fp32 path's (float blocks,
// double across). bf16 results are written in blocks rounded by the host's AVX512_BF16
// conversion (batch_norm_kernels.hpp: write_blocks), and backward masks dz by the absorbed ReLU
// as it reads it instead of rounding the masked values back into dz: GCC's vectorised
// crema::store, value by value, cost more time than the halved bytes saved. In place on a bf16 blob the kept y is bf16 too (half the bytes): y is
// rounded once, at most 2^-8 relative as the top itself is, and backward's formula sees that y,
// well within the tolerance of bf16 storage (PyTorch's bf16 autocast keeps bf16 activations for
// its backward alike). Out of place, backward reads the bottom x (bf16 where the bottom is) and
// recomputes y in float.
// Channels-last (CPU, LayerInfo::cpu_layouts): a bf16 N,H,W,C tensor is, byte for byte, the
// (N*H*W, C) rows of its channels, so the layer computes it as an (N*H*W, C, 1) input: every
// pass above, the sums and the count m = N*H*W included, is the same. Rows (this and 2-d inputs)
// have passes of their own: rows of whole 16-channel groups (ResNets' blobs) are read in order,
// 16 channels at a time in registers (batch_norm_rows_vec.hpp); other rows go by units of whole
// rows with the per-channel constants spread over their lanes (batch_norm_rows.hpp). Both sum in
// float within blocks and in double across, in a fixed order; both mask dz by the absorbed ReLU
// as they read it where the blob is bf16 (and the 16-channel passes on fp32 rows too).
// Reference: Caffe src/caffe/layers/batch_norm_layer.cpp; Ioffe & Szegedy, ICML 2015.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "batch_norm_kernels.hpp"
#include "batch_norm_rows.hpp"
#include "batch_norm_rows_vec.hpp"
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
namespace vec16 = crema::layers::vec16;

// The per-channel constants p seen from element o of a run from channel c0 (for_channel_runs: a
// plane of channel c0, St 0, or a row of all channels from c0 = 0, St 1).
template <int St>
Per<St> per_at(const float* p, int64_t c0, int64_t o) {
  return per<St>(p + c0 + (St == 0 ? 0 : o));
}
// A null pointer of p's type (write_blocks' absent second output).
template <class T>
T* nullptr_of(T*) {
  return nullptr;
}
// fn(std::bool_constant<f>...) for the runtime flags f, in order: a kernel's flags as template
// arguments.
template <class Fn>
void with_flags(const Fn& fn) {
  fn();
}
template <class Fn, class... Flags>
void with_flags(const Fn& fn, bool first, Flags... rest) {
  with_flags(
      [&](auto... f) {
        if (first)
          fn(std::true_type{}, f...);
        else
          fn(std::false_type{}, f...);
      },
      rest...);
}
}  // namespace

class BatchNorm final : public crema::Layer<BatchNorm> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"BatchNorm", "batch_norm_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    i.cpu_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16);
    i.cuda_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16) | CREMA_DTYPE_BIT(CREMA_FLOAT16);
    i.cpu_layouts = CREMA_LAYOUT_CHANNELS_LAST;
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
    // N,H,W,C: the (N*H*W, C) rows of channels, byte for byte, so (N*H*W, C, 1) below.
    channels_last_ = x.channels_last();
    N_ = channels_last_ ? x.dim(0) * x.dim(2) * x.dim(3) : x.dim(0);
    S_ = N_ * C_ > 0 ? x.count() / (N_ * C_) : 0;
    // Rows of whole 16-channel groups: batch_norm_rows_vec.hpp; other rows: batch_norm_rows.hpp.
    vec_rows_ = S_ == 1 && RowBlocks::applies(C_);
    blocks_ = vec_rows_ ? RowBlocks(N_, C_) : RowBlocks();
    rows_ = S_ == 1 && !vec_rows_ ? RowUnits(N_, C_) : RowUnits();
    // Per-channel constants; over batch_norm_rows.hpp's rows each is read over W lanes.
    const int64_t lanes = S_ == 1 && !vec_rows_ ? rows_.W : C_;
    for (auto* v : {&mean_, &inv_std_, &shift_, &k0_, &k1_, &k2_, &gamma_, &beta_})
      v->resize(lanes);
    sums_.resize(2 * C_);
  }

  void forward_cpu(crema::Context& c) {
    global_ = global_set_ ? global_value_ : !c.training();
    check_layout(c);
    if (N_ * S_ == 0) return;
    c.bottom(0).visit([&](const auto* x, auto*) {
      c.top(0).visit([&](auto* z, auto*) { forward_typed(c, x, z); });
    });
  }

  // v = the y kept in place (stored as the top is), or the bottom x.
  void backward_cpu(crema::Context& c) {
    check_layout(c);
    if (N_ * S_ == 0) return;
    const bool fused = c.num_absorbed() > 0;
    c.top(0).visit([&](const auto* z, auto* g) {
      c.bottom(0).visit([&](const auto* x, auto* dx) {
        using Z = std::remove_const_t<std::remove_pointer_t<decltype(z)>>;
        if (kept_)
          backward_pass(c, fused, kept_y<Z>(), z, g, dx);
        else
          backward_pass(c, fused, x, z, g, dx);
      });
    });
  }

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
    const crema::cuda::Values x = crema::cuda::data_of(c.bottom(0).raw());
    if (global_)
      batch_norm_global_stats_cuda(c.cuda_stream(), C_, M, V, f, eps_, mean, is);
    else
      batch_norm_batch_stats_cuda(c.cuda_stream(), x, N_, C_, S_, eps_, maf_, M, V, f, mean, is);
    kept_ = !global_ && c.top(0).same_memory(c.bottom(0));
    const crema::cuda::Values y = crema::cuda::data_of(c.top(0).raw());
    // y kept in its own type: the values the top holds, at the top's size.
    const crema::cuda::Values keep{
        kept_ ? x_norm_gpu_.get<char>(c.bottom(0).count() * y.element_bytes()) : nullptr, y.type};
    batch_norm_normalise_cuda(c.cuda_stream(), x, y, keep, N_, C_, S_, mean, is);
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0) || N_ * S_ == 0) return;
    float* mean = stats_gpu_.data();
    const float* is = mean + C_;
    using crema::cuda::data_of, crema::cuda::diff_of;
    const crema::cuda::Values dy = diff_of(c.top(0).raw()), dx = diff_of(c.bottom(0).raw());
    if (global_)
      batch_norm_backward_global_cuda(c.cuda_stream(), dy, dx, N_, C_, S_, is);
    else
      batch_norm_backward_cuda(c.cuda_stream(), dy,
                               // in place: the kept y has the blob's type, dy's
                               kept_ ? crema::cuda::Values{x_norm_gpu_.data(), dy.type}
                                     : data_of(c.bottom(0).raw()),
                               kept_ ? nullptr : mean, dx, N_, C_, S_, is, mean + 2 * C_);
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
  // Statistics (batch or global), then the normalising pass; x and z of the tensors' storage
  // types (float or uint16_t).
  template <class X, class Z>
  void forward_typed(crema::Context& c, const X* x, Z* z) {
    const int64_t C = C_;
    int64_t m = N_ * S_;
    if (global_) {
      const float f = c.param(2).data()[0];
      const double sf = f == 0.f ? 0.0 : 1.0 / f;
      for (int64_t k = 0; k < C; ++k) {
        mean_[k] = static_cast<float>(sf * c.param(0).data()[k]);
        inv_std_[k] = static_cast<float>(1.0 / std::sqrt(sf * c.param(1).data()[k] + eps_));
      }
    } else {
      for (int64_t k = 0; k < C; ++k) shift_[k] = crema::load(x + k * S_);
      const bool sync = sync_ && c.world_size() > 1;
      if (sync) {  // one shift on every rank: the mean of theirs
        c.allreduce_sum(shift_.data(), C);
        for (int64_t k = 0; k < C; ++k) shift_[k] /= static_cast<float>(c.world_size());
      }
      spread(shift_);
      // s1 = sum(x - a), s2 = sum((x - a)^2) per channel, a = shift_.
      const float* a = shift_.data();
      if (vec_rows_)
        group_sums([x, a](int64_t e, int64_t k, Vec& p, Vec& q) {
          p = q = vec16::load(x + e) - vec16::load(a + k);
        });
      else
        channel_sums([x, a](int64_t e, int64_t k, auto& s1, auto& s2) {
          const std::decay_t<decltype(s1)> t = crema::load(x + e) - a[k];
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
    spread(mean_);
    spread(inv_std_);
    CREMA_CHECK(c.num_absorbed() == 0 || c.num_absorbed() == int(scale_) + int(relu_),
                "BatchNorm: called with " << c.num_absorbed() << " absorbed layers, agreed to "
                                          << int(scale_) + int(relu_));
    normalise_pass(c, c.num_absorbed() > 0, x, z);
  }

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
    spread(gamma_);
    spread(beta_);
    return a;
  }

  // After the statistics: z = y, or relu(gamma * y + beta) with absorbed layers, in one pass.
  // y is kept (in place) when backward needs it: batch statistics, or the Scale's gradient.
  template <class X, class Z>
  void normalise_pass(crema::Context& c, bool fused, const X* x, Z* z) {
    const Absorbed ab = load_affine(c, fused);
    kept_ = (!global_ || ab.scale) && c.top(0).same_memory(c.bottom(0));
    Z* keep = kept_ ? keep_y<Z>(c.bottom(0).count()) : nullptr;
    const float *mu = mean_.data(), *is = inv_std_.data(), *g = gamma_.data(), *b = beta_.data();
    const float slope = slope_;
    if (vec_rows_) {
      with_flags(
          [&](auto relu, auto kept, auto affine) {
            for_row_blocks(blocks_, [&](int64_t r0, int64_t r1) {
              normalise_rows<decltype(relu)::value, decltype(kept)::value, decltype(affine)::value>(
                  x, z, keep, mu, is, g, b, slope, C_, r0, r1);
            });
          },
          ab.relu, keep != nullptr, ab.scale);
      return;
    }
    for_runs([&](int64_t off, int64_t len, int64_t c0, auto st) {
      constexpr int St = decltype(st)::value;
      // Over rows (stride 1) without the Scale, g and b are left unread.
      with_flags(
          [&](auto relu, auto kept, auto affine) {
            write_blocks(z + off, keep ? keep + off : nullptr, len,
                         [&](auto* out, auto* kept_out, int64_t o, int64_t n) {
                           normalise_affine<St, decltype(relu)::value, decltype(kept)::value,
                                            decltype(affine)::value>(
                               x + off + o, out, kept_out, per_at<St>(mu, c0, o),
                               per_at<St>(is, c0, o), per_at<St>(g, c0, o), per_at<St>(b, c0, o),
                               slope, n);
                         });
          },
          ab.relu, keep != nullptr, St != 1 || ab.scale);
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
  // v: the kept y or the bottom x; z, g: the top's data and diff; dx: the bottom's diff.
  template <class V, class Z, class D>
  void backward_pass(crema::Context& c, bool fused, const V* v, const Z* z, Z* g, D* dx) {
    const int64_t C = C_, m = N_ * S_;
    const Absorbed ab = load_affine(c, fused);
    const float slope = slope_;
    const bool scale_grad = ab.scale && c.absorbed_params_need_grad(0);
    const bool dx_wanted = c.propagate_down(0);
    const bool sums = scale_grad || (dx_wanted && !global_);
    // fp32: the ReLU's mask goes into g, in the sums' pass where there is one (a pass fewer).
    // bf16: each pass that reads g masks it as it reads (g is left as it came): rounding the
    // masked values back into g (crema::store in the sums' loop) took a third of the backward.
    // Rows of 16-channel groups mask as they read, whatever the type.
    const bool mask_on_read = !std::is_same_v<Z, float> || vec_rows_;
    if (ab.relu && !sums && !mask_on_read)
      for_runs([&](int64_t off, int64_t len, int64_t, auto) {
        relu_mask(z + off, g + off, slope, len);
      });
    const float* is = inv_std_.data();
    const double *s1 = sums_.data(), *s2 = s1 + C;
    if (sums) {
      for (int64_t k = 0; k < C; ++k) shift_[k] = kept_ ? 0.f : mean_[k];
      spread(shift_);
      // s1 = sum(g), s2 = sum(g (v - a)) = sum(g . y) / b
      const float* a = shift_.data();
      if (vec_rows_)
        with_flags(
            [&](auto relu) {
              // All by value, as row_group_sums wants (without the mask z and slope go unused).
              group_sums([=](int64_t e, int64_t k, Vec& p, Vec& q) {
                p = vec16::load(g + e);
                if constexpr (decltype(relu)::value) p = leaky_where(p, vec16::load(z + e), slope);
                q = vec16::load(v + e) - vec16::load(a + k);
              });
            },
            ab.relu);
      else if (ab.relu)  // each element is visited once: masked (in place for fp32), then summed
        channel_sums([g, z, v, a, slope](int64_t e, int64_t k, auto& s1, auto& s2) {
          using T = std::decay_t<decltype(s1)>;
          const float ge = crema::load(z + e) > 0.f ? crema::load(g + e)
                                                    : crema::load(g + e) * slope;
          if constexpr (std::is_same_v<Z, float>) crema::store(g + e, ge);
          s1 += ge;
          s2 += T(ge) * T(crema::load(v + e) - a[k]);
        });
      else
        channel_sums([g, v, a](int64_t e, int64_t k, auto& s1, auto& s2) {
          using T = std::decay_t<decltype(s1)>;
          const float ge = crema::load(g + e);
          s1 += ge;
          s2 += T(ge) * T(crema::load(v + e) - a[k]);
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
    // dx may be g (in place): each element is read, then written.
    for (int64_t k = 0; k < C; ++k) k0_[k] = is[k] * gamma_[k];
    spread(k0_);
    const float* k0 = k0_.data();
    if (vec_rows_) {
      // a = 0 where y was kept (and its 1 / sigma factor is in k2).
      const float *k1 = k1_.data(), *k2 = k2_.data(), *a = shift_.data();
      if (!global_) fill_input_grad_constants(m_all);
      with_flags(
          [&](auto mask, auto batch, auto shifted) {
            constexpr int kForm = !decltype(batch)::value ? 0 : decltype(shifted)::value ? 2 : 1;
            for_row_blocks(blocks_, [&](int64_t r0, int64_t r1) {
              input_grad_rows<decltype(mask)::value, kForm>(g, z, v, dx, k0, k1, a, k2, slope, C_,
                                                            r0, r1);
            });
          },
          ab.relu, !global_, !kept_);
      return;
    }
    // run(kMask): whether g is masked as it is read.
    auto with_mask = [&](const auto& run) { with_flags(run, mask_on_read && ab.relu); };
    if (global_) {
      with_mask([&](auto mask) {
        for_runs([&](int64_t off, int64_t len, int64_t c0, auto st) {
          constexpr int St = decltype(st)::value;
          write_blocks(dx + off, nullptr_of(dx), len, [&](auto* out, auto*, int64_t o, int64_t n) {
            const Grad<decltype(mask)::value, Z> dy{g + off + o, z + off + o, slope};
            input_grad<St>(dy, out, per_at<St>(k0, c0, o), n);
          });
        });
      });
      return;
    }
    fill_input_grad_constants(m_all);
    const float *k1 = k1_.data(), *k2 = k2_.data(), *a = shift_.data();
    with_mask([&](auto mask) {
      for_runs([&](int64_t off, int64_t len, int64_t c0, auto st) {
        constexpr int St = decltype(st)::value;
        write_blocks(dx + off, nullptr_of(dx), len, [&](auto* out, auto*, int64_t o, int64_t n) {
          const Grad<decltype(mask)::value, Z> dy{g + off + o, z + off + o, slope};
          if (St == 1 && kept_)  // a = 0: the same values
            input_grad<St>(dy, v + off + o, out, per_at<St>(k0, c0, o), per_at<St>(k1, c0, o),
                           per_at<St>(k2, c0, o), n);
          else
            input_grad<St>(dy, v + off + o, out, per_at<St>(k0, c0, o), per_at<St>(k1, c0, o),
                           per_at<St>(a, c0, o), per_at<St>(k2, c0, o), n);
        });
      });
    });
  }

  // The y an in-place forward keeps for backward, n values stored as the blob is (see the top of
  // this file); kept_y reads the last one.
  template <class Z>
  Z* keep_y(int64_t n) {
    std::vector<Z>& y = kept_y_vector<Z>();
    y.resize(n);
    return y.data();
  }
  template <class Z>
  const Z* kept_y() {
    return kept_y_vector<Z>().data();
  }
  template <class Z>
  std::vector<Z>& kept_y_vector() {
    if constexpr (std::is_same_v<Z, float>)
      return x_norm_;
    else
      return x_norm_bf16_;
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
  // S > 1; when S == 1 (2-d input, or N,H,W,C) a run of whole rows, or of part of one, whose
  // constants start at lane c0 (stride 1; batch_norm_rows.hpp).
  template <class Fn>
  void for_runs(const Fn& fn) const {
    if (S_ == 1)
      crema::layers::batch_norm::for_row_runs(rows_, kWork, fn);
    else
      crema::layers::for_channel_runs(N_, C_, S_, kWork, fn);
  }

  // sums_ = (s1, s2), each per channel: the two terms of each element summed in a fixed order
  // (crema/layers/channel_reduce.hpp; over rows batch_norm_rows.hpp, term's second argument a
  // lane).
  template <class Term>
  void channel_sums(const Term& term) {
    std::fill(sums_.begin(), sums_.end(), 0.0);
    if (S_ == 1)
      crema::layers::batch_norm::row_reduce<2>(rows_, term, partial_, sums_.data());
    else
      crema::layers::channel_reduce<2>(N_, C_, S_, term, partial_, sums_.data());
  }

  // k1 and k2 of the input gradient with batch statistics (backward_pass), from sums_ and k0_,
  // spread over the lanes.
  void fill_input_grad_constants(int64_t m_all) {
    const double *s1 = sums_.data(), *s2 = s1 + C_;
    for (int64_t k = 0; k < C_; ++k) {
      const double b = kept_ ? 1.0 : inv_std_[k];
      k1_[k] = static_cast<float>(-s1[k] / m_all * k0_[k]);
      k2_[k] = static_cast<float>(-b * b * s2[k] / m_all * k0_[k]);
    }
    spread(k1_);
    spread(k2_);
  }

  // sums_ = (sum of p, sum of p * q) per channel over rows of 16-channel groups: term(e, c, p, q)
  // (batch_norm_rows_vec.hpp).
  template <class Term>
  void group_sums(const Term& term) {
    std::fill(sums_.begin(), sums_.end(), 0.0);
    row_group_sums(blocks_, term, partial_, sums_.data());
  }

  // Over rows: the per-channel constants v[0, C) repeated over the W lanes (lane l holds channel
  // l % C's); planes read v[0, C) alone.
  void spread(std::vector<float>& v) const {
    for (size_t l = static_cast<size_t>(C_); l < v.size(); ++l) v[l] = v[l - C_];
  }

  // The host keeps the layer's 4-D tensors in one order (no CREMA_LAYOUT_MIXED declared) and
  // reshape saw the bottom's.
  void check_layout(crema::Context& c) const {
    CREMA_CHECK(c.bottom(0).channels_last() == channels_last_ &&
                    c.top(0).channels_last() == channels_last_,
                "BatchNorm: bottom and top must both be N,C,H,W or both N,H,W,C, as at reshape");
  }

  float maf_, eps_;
  bool global_set_, global_value_, sync_;
  bool global_ = false, kept_ = false;  // what the last forward used / whether it kept y
  bool scale_ = false, scale_bias_ = false, relu_ = false;  // absorbed (see absorb())
  float slope_ = 0.f;                                       // the absorbed ReLU's negative slope
  int64_t C_ = 0, N_ = 0, S_ = 0;  // (N, C, S) as computed: N,H,W,C is (N*H*W, C, 1)
  bool channels_last_ = false;
  bool vec_rows_ = false;  // S_ == 1 with whole 16-channel groups (batch_norm_rows_vec.hpp)
  RowBlocks blocks_;       // their blocks of rows
  RowUnits rows_;          // other rows' units (batch_norm_rows.hpp)
  std::vector<float> mean_, inv_std_, shift_, k0_, k1_, k2_, x_norm_, gamma_, beta_;
  std::vector<uint16_t> x_norm_bf16_;   // the kept y of a bf16 blob
  std::vector<double> sums_, partial_;  // sums_: s1 then s2, C each
  std::vector<float> sync_buffer_;      // sums_ on their way through the ranks' allreduce
#if CREMA_WITH_CUDA
  crema::cuda::DeviceBuffer stats_gpu_;   // mean, inv_std, k1, k2 (C each)
  crema::cuda::DeviceBuffer x_norm_gpu_;  // y kept by an in-place forward with batch statistics
#endif
};

CREMA_EXPORT_PLUGIN("batch_norm", "1.0.0", BatchNorm)
