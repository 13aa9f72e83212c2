// SPDX-License-Identifier: BSD-2-Clause
// Dropout (Caffe's DropoutLayer), p = dropout_param.dropout_ratio (default 0.5):
//   TRAIN: m_i ~ Bernoulli(1 - p),  y = x * m / (1 - p)     dE/dx = dE/dy * m / (1 - p)
//   TEST:  y = x                                            dE/dx = dE/dy
// With dropout_param.scale_train = false (the field of Caffe forks) TRAIN is y = x * m and TEST
// is y = x * (1 - p) instead.
// The mask is a counter-based stream: m_i = [u32(key, i) >= p * 2^32] with
//   key = mix(seed + mix(counter + G)),  u32(key, i) = high 32 bits of mix(key + (i + 1) G),
// mix = crema_splitmix64 (SplitMix64's output function, plugin_abi.h), G its gamma. The same
// (rng_seed, rng_counter) give the same mask on any thread count. Backward regenerates the mask
// from the key its forward used (a member), so no mask is stored. Runs in place.
// CUDA (dropout.cu): the same key and dropout_keep() per element, so the GPU mask is the CPU's.
// Reference: Caffe src/caffe/layers/dropout_layer.cpp; Srivastava et al., JMLR 2014;
// Steele et al., "Fast splittable pseudorandom number generators", OOPSLA 2014.
#include <cstdint>
#include <cstring>
#include <vector>

#include "crema/layer.hpp"
#include "dropout_mask.h"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "dropout_cuda.h"
#endif

namespace {
constexpr int64_t kGrain = 1 << 14;

// out_i = in_i * (m_i ? kept : 0) for i in [b, e); in may be out.
void masked_scale(const float* in, float* out, uint64_t key, uint32_t thr, float kept, int64_t b,
                  int64_t e) {
  for (int64_t i = b; i < e; ++i) out[i] = in[i] * (dropout_keep(key, i, thr) ? kept : 0.f);
}

void scale_copy(const float* in, float* out, float s, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) out[i] = in[i] * s;
}
}  // namespace

class Dropout final : public crema::Layer<Dropout> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Dropout", "dropout_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    return i;
  }
  explicit Dropout(const crema::Params& p)
      : ratio_(p.get<float>("dropout_param.dropout_ratio")),
        scale_train_(p.get<bool>("dropout_param.scale_train")) {
    CREMA_CHECK(ratio_ >= 0.f && ratio_ < 1.f, "dropout_ratio must be in [0, 1), got " << ratio_);
    threshold_ = static_cast<uint32_t>(4294967295.0 * static_cast<double>(ratio_));
    scale_ = 1.f / (1.f - ratio_);
  }

  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }

  void forward_cpu(crema::Context& c) {
    const int64_t n = c.bottom(0).count();
    const float* x = c.bottom(0).data();
    float* y = c.top(0).data();
    train_ = c.training();
    if (!train_) {
      // TEST: identity (or the expectation x * (1 - p) when training did not scale).
      const float s = scale_train_ ? 1.f : 1.f - ratio_;
      if (s == 1.f && x == y) return;
      crema::parallel_for(n, 1 << 15, [=](int64_t b, int64_t e) { scale_copy(x, y, s, b, e); });
      return;
    }
    key_ = dropout_key(c.rng_seed(), c.rng_counter());
    apply_mask(x, y, n);
  }

  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const int64_t n = c.bottom(0).count();
    const float* dy = c.top(0).diff();
    float* dx = c.bottom(0).diff();
    if (train_) {
      // dy/dx = m / (1 - p): the mask of this forward, regenerated from key_.
      apply_mask(dy, dx, n);
      return;
    }
    // TEST: dy/dx = 1 (or 1 - p without scale_train).
    const float s = scale_train_ ? 1.f : 1.f - ratio_;
    if (s == 1.f && dy == dx) return;
    crema::parallel_for(n, 1 << 15, [=](int64_t b, int64_t e) { scale_copy(dy, dx, s, b, e); });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    const int64_t n = c.bottom(0).count();
    train_ = c.training();
    if (!train_) {
      test_pass_cuda(c, c.bottom(0).data(), c.top(0).data(), n);
      return;
    }
    key_ = dropout_key(c.rng_seed(), c.rng_counter());
    dropout_mask_cuda(c.cuda_stream(), n, key_, threshold_, scale_train_ ? scale_ : 1.f,
                      c.bottom(0).data(), c.top(0).data());
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const int64_t n = c.bottom(0).count();
    if (train_) {
      // The mask of this forward, regenerated from key_.
      dropout_mask_cuda(c.cuda_stream(), n, key_, threshold_, scale_train_ ? scale_ : 1.f,
                        c.top(0).diff(), c.bottom(0).diff());
      return;
    }
    test_pass_cuda(c, c.top(0).diff(), c.bottom(0).diff(), n);
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Dropout'", "2,3,4,5"},
            {"type: 'Dropout' dropout_param { dropout_ratio: 0.2 }", "3,7"}};
  }

 private:
#if CREMA_WITH_CUDA
  // TEST phase: out = in (a device copy unless in place), or in * (1 - p) without scale_train.
  void test_pass_cuda(const crema::Context& c, const float* in, float* out, int64_t n) const {
    const float s = scale_train_ ? 1.f : 1.f - ratio_;
    if (s != 1.f) {
      dropout_scale_cuda(c.cuda_stream(), n, s, in, out);
    } else if (in != out && n > 0) {
      crema::cuda::check(cudaMemcpyAsync(out, in, sizeof(float) * n, cudaMemcpyDeviceToDevice,
                                         crema::cuda::stream(c.cuda_stream())),
                         "Dropout copy");
    }
  }
#endif

  // out_i = in_i * m_i * scale (scale = 1/(1-p), or 1 without scale_train); in may be out.
  void apply_mask(const float* in, float* out, int64_t n) const {
    const uint64_t key = key_;
    const uint32_t thr = threshold_;
    const float kept = scale_train_ ? scale_ : 1.f;
    crema::parallel_for(n, kGrain,
                        [=](int64_t b, int64_t e) { masked_scale(in, out, key, thr, kept, b, e); });
  }

  float ratio_;
  bool scale_train_;
  uint32_t threshold_ = 0;
  float scale_ = 1.f;
  bool train_ = true;
  uint64_t key_ = 0;
};

CREMA_EXPORT_PLUGIN("dropout", "1.0.0", Dropout)
