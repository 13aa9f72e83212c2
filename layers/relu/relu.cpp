// SPDX-License-Identifier: BSD-2-Clause
// ReLU (Caffe's ReLULayer), optionally leaky:
//   y = max(x, 0) + s * min(x, 0)            s = relu_param.negative_slope (default 0)
//   dE/dx = dE/dy * ((x > 0) + s * (x <= 0))
// Runs in place. Backward reads the bottom data as Caffe does; in place that is the top, and
// for s >= 0 sign(y) = sign(x), so the test x > 0 is the same as y > 0. For s < 0 the sign is
// lost in place; forward then keeps a byte mask of x > 0 for backward.
// CUDA: the same formulas in relu.cu, over fp32, fp16 or bf16 tensors (cuda_storage).
// relu_param.engine is ignored: one fused elementwise kernel is as fast as cuDNN's activation and
// keeps the leaky slope and the in-place mask.
// Takes bf16 storage on the CPU (cpu_storage): bottom and top each fp32 or bf16 (in place one
// tensor), the arithmetic in fp32 and each result rounded once.
// N,H,W,C bf16 tensors too (cpu_layouts): element by element, the order does not matter, and the
// host gives all the layer's tensors one.
// Reference: Caffe src/caffe/layers/relu_layer.cpp; Maas et al. 2013 (leaky ReLU).
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "crema/bf16.hpp"
#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "relu_cuda.h"
#endif

namespace {
constexpr int64_t kGrain = 1 << 15;

// Plain functions with everything by value, so the compiler sees no aliasing it must guard
// against (a lambda reading captured values would reload them after every store). Written once
// over the storage types (float, or uint16_t for bf16) for n elements; the results in fp32.
template <class X>
void relu_forward(const X* x, float* y, uint8_t* mask, float s, int64_t n) {
  using crema::load;
  if (mask)
    for (int64_t i = 0; i < n; ++i) mask[i] = load(x + i) > 0.f;
  if (s == 0.f) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::max(load(x + i), 0.f);
  } else {
    for (int64_t i = 0; i < n; ++i)
      y[i] = std::max(load(x + i), 0.f) + s * std::min(load(x + i), 0.f);
  }
}

// dy/dx = 1 where x > 0, s elsewhere (Caffe's convention at x = 0: slope s). Bottom X (data),
// top Y (diff), dx in fp32.
template <class X, class Y>
void relu_backward(const X* x, const uint8_t* mask, const Y* dy, float* dx, float s, int64_t n) {
  using crema::load;
  if (mask) {
    for (int64_t i = 0; i < n; ++i) dx[i] = mask[i] ? load(dy + i) : s * load(dy + i);
  } else {
    for (int64_t i = 0; i < n; ++i) dx[i] = load(x + i) > 0.f ? load(dy + i) : s * load(dy + i);
  }
}

// Slope 0 from bf16 to bf16: max(x, 0) of a bf16 value is one, so it is taken on the bits, 16
// values per 256-bit vector instead of 8 through fp32. As std::max(x, 0.f) (x < 0 ? 0 : x):
// negative numbers, -inf included, become +0; -0 and NaN stay.
void relu_bf16_bits(const uint16_t* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = x[i], magnitude = h & 0x7fff;
    const bool negative = (h & 0x8000) && magnitude != 0 && magnitude <= 0x7f80;
    y[i] = negative ? 0 : h;
  }
}

// A bf16 result goes through an fp32 chunk of 8 KB (in L1) rounded once by crema::store_bf16; an fp32
// result is written in place. run(y, i0, n) writes elements [i0, i0 + n) at y.
constexpr int64_t kChunk = 2048;
template <class T, class Run>
void into(T* out, int64_t b, int64_t e, const Run& run) {
  if constexpr (std::is_same_v<T, float>) {
    run(out + b, b, e - b);
  } else {
    float chunk[kChunk];
    for (int64_t i0 = b; i0 < e; i0 += kChunk) {
      const int64_t n = std::min(kChunk, e - i0);
      run(chunk, i0, n);
      crema::store_bf16(out + i0, chunk, n);
    }
  }
}
}  // namespace

class ReLU final : public crema::Layer<ReLU> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"ReLU", "relu_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    i.cpu_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16);
    i.cuda_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16) | CREMA_DTYPE_BIT(CREMA_FLOAT16);
    // Element by element: any memory order, the host keeps all the tensors in one.
    i.cpu_layouts = CREMA_LAYOUT_CHANNELS_LAST;
    return i;
  }
  explicit ReLU(const crema::Params& p) : slope_(p.get<float>("relu_param.negative_slope")) {}

  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }

  void forward_cpu(crema::Context& c) {
    const int64_t n = c.bottom(0).count();
    use_mask_ = slope_ < 0.f && c.top(0).same_memory(c.bottom(0));
    if (use_mask_) mask_.resize(n);
    uint8_t* m = use_mask_ ? mask_.data() : nullptr;
    const float s = slope_;
    c.bottom(0).visit([&](auto* x, auto*) {
      c.top(0).visit([&](auto* y, auto*) {
        using X = std::remove_const_t<std::remove_pointer_t<decltype(x)>>;
        using Y = std::remove_pointer_t<decltype(y)>;
        if constexpr (std::is_same_v<X, uint16_t> && std::is_same_v<Y, uint16_t>) {
          if (s == 0.f && !m) {
            crema::parallel_for(n, kGrain,
                                [=](int64_t b, int64_t e) { relu_bf16_bits(x + b, y + b, e - b); });
            return;
          }
        }
        crema::parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
          into(y, b, e, [=](float* out, int64_t i0, int64_t k) {
            relu_forward(x + i0, out, m ? m + i0 : nullptr, s, k);
          });
        });
      });
    });
  }

  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const int64_t n = c.bottom(0).count();
    const uint8_t* m = use_mask_ ? mask_.data() : nullptr;
    const float s = slope_;
    // x == top data in place (sign kept for s >= 0).
    c.bottom(0).visit([&](auto* x, auto* dx) {
      c.top(0).visit([&](auto*, auto* dy) {
        crema::parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
          into(dx, b, e, [=](float* out, int64_t i0, int64_t k) {
            relu_backward(x + i0, m ? m + i0 : nullptr, dy + i0, out, s, k);
          });
        });
      });
    });
  }

#if CREMA_WITH_CUDA
  // Each tensor in its own storage type (cuda_storage).
  void forward_cuda(crema::Context& c) {
    using crema::cuda::data_of;
    const int64_t n = c.bottom(0).count();
    use_mask_ = slope_ < 0.f && c.top(0).same_memory(c.bottom(0));
    uint8_t* m = use_mask_ ? mask_gpu_.get<uint8_t>(n) : nullptr;
    relu_forward_cuda(c.cuda_stream(), n, slope_, data_of(c.bottom(0).raw()),
                      data_of(c.top(0).raw()), m);
  }

  void backward_cuda(crema::Context& c) {
    using crema::cuda::data_of, crema::cuda::diff_of;
    if (!c.propagate_down(0)) return;
    const uint8_t* m = use_mask_ ? mask_gpu_.data<uint8_t>() : nullptr;
    relu_backward_cuda(c.cuda_stream(), c.bottom(0).count(), slope_, data_of(c.bottom(0).raw()), m,
                       diff_of(c.top(0).raw()), diff_of(c.bottom(0).raw()));
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    // The kink at 0: elements within a step of it are skipped, as in Caffe's checker.
    return {
        crema::TestConfig{"type: 'ReLU'", "2,3,4,5"}.with_kinks({0}),
        crema::TestConfig{"type: 'ReLU' relu_param { negative_slope: 0.1 }", "3,7,5"}.with_kinks(
            {0}),
        crema::TestConfig{"type: 'ReLU' relu_param { negative_slope: -0.3 }", "1,9"}.with_kinks(
            {0})};
  }

 private:
  float slope_;
  bool use_mask_ = false;
  std::vector<uint8_t> mask_;
#if CREMA_WITH_CUDA
  crema::cuda::DeviceBuffer mask_gpu_;
#endif
};

CREMA_EXPORT_PLUGIN("relu", "1.0.0", ReLU)
