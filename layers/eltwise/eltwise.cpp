// SPDX-License-Identifier: BSD-2-Clause
// Eltwise: elementwise combination of equally shaped bottoms (Caffe's EltwiseLayer).
//   SUM:  y = sum_i c_i x_i           dE/dx_i = c_i dE/dy
//   PROD: y = prod_i x_i              dE/dx_i = dE/dy * prod_{j != i} x_j
//   MAX:  y = max_i x_i               dE/dx_i = dE/dy where x_i was the (first) max, else 0
// Takes bf16 storage on the CPU (cpu_storage): each bottom and the top fp32 or bf16 on its own,
// the arithmetic in fp32 and a bf16 result rounded once (eltwise_kernels.hpp, crema::store_bf16).
// N,H,W,C bf16 tensors too (cpu_layouts): element by element, the order does not matter, and the
// host gives all the layer's tensors one.
// A SUM passes the gradient of each addend with coefficient 1 through unchanged
// (passes_gradient): the host may give such a bottom the top's diff memory, and backward then
// has nothing to write for it.
// CUDA: eltwise.cu, one pass over all bottoms in the CPU's order of operations; each tensor fp32,
// fp16 or bf16 (cuda_storage), the arithmetic fp32.
#include <algorithm>
#include <cstring>
#include <string>

#include "crema/layer.hpp"
#include "eltwise_kernels.hpp"
#include "eltwise_op.h"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "eltwise_cuda.h"
#endif

class Eltwise final : public crema::Layer<Eltwise> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Eltwise", "eltwise_param"};
    i.min_bottoms = 2;
    i.max_bottoms = -1;
    i.cpu_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16);
    i.cuda_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16) | CREMA_DTYPE_BIT(CREMA_FLOAT16);
    // Element by element: any memory order, the host keeps all the tensors in one.
    i.cpu_layouts = CREMA_LAYOUT_CHANNELS_LAST;
    return i;
  }
  explicit Eltwise(const crema::Params& p)
      : stable_prod_grad_(p.get<bool>("eltwise_param.stable_prod_grad")) {
    const std::string op = p.get<std::string>("eltwise_param.operation");
    CREMA_CHECK(op == "SUM" || op == "PROD" || op == "MAX",
                "unknown eltwise_param.operation " << op);
    op_ = op == "SUM" ? kEltwiseSum : op == "PROD" ? kEltwiseProd : kEltwiseMax;
    for (int i = 0; i < p.size("eltwise_param.coeff"); ++i)
      coeff_.push_back(p.get<float>("eltwise_param.coeff", i));
    CREMA_CHECK(coeff_.empty() || op_ == kEltwiseSum,
                "coeff is only for the SUM operation, not " << op);
  }
  void reshape(crema::Context& c) {
    CREMA_CHECK(coeff_.empty() || static_cast<int>(coeff_.size()) == c.num_bottom(),
                "eltwise_param gives " << coeff_.size() << " coefficients for " << c.num_bottom()
                                       << " bottoms");
    for (int i = 1; i < c.num_bottom(); ++i)
      CREMA_CHECK(c.bottom(i).shape() == c.bottom(0).shape(),
                  "bottom " << i << " has shape " << crema::shape_string(c.bottom(i).shape())
                            << " but bottom 0 has " << crema::shape_string(c.bottom(0).shape()));
    c.top(0).set_shape(c.bottom(0).shape());
    if (op_ == kEltwiseMax) argmax_.resize(c.bottom(0).count());
  }
  uint32_t passes_gradient() const {
    if (op_ != kEltwiseSum) return 0;
    uint32_t bits = 0;
    for (int k = 0; k < 32; ++k)
      if (coeff_.empty() || (k < static_cast<int>(coeff_.size()) && coeff_[k] == 1.f))
        bits |= 1u << k;
    return bits;
  }
  // Chunk by chunk: the bottoms combine into an fp32 accumulator (the top itself when it is fp32),
  // which a bf16 top then takes rounded once.
  void forward_cpu(crema::Context& c) {
    const int64_t n = c.top(0).count();
    c.top(0).visit([&](auto* y, auto*) {
      crema::parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
        float scratch[kEltwiseChunk];
        for (int64_t i0 = b; i0 < e; i0 += kEltwiseChunk) {
          const int64_t m = std::min(kEltwiseChunk, e - i0);
          float* acc = crema::results_in(y + i0, scratch);
          forward_chunk(c, i0, m, acc);
          crema::store_results(acc, y + i0, m);
        }
      });
    });
  }
  void backward_cpu(crema::Context& c) {
    const int64_t n = c.top(0).count();
    c.top(0).visit([&](auto* y, auto* dy) {
      for (int k = 0; k < c.num_bottom(); ++k) {
        if (!c.propagate_down(k) || c.bottom(k).same_diff(c.top(0))) continue;
        c.bottom(k).visit([&](auto* xk, auto* dx) {
          crema::parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
            float scratch[kEltwiseChunk];
            for (int64_t i0 = b; i0 < e; i0 += kEltwiseChunk) {
              const int64_t m = std::min(kEltwiseChunk, e - i0);
              backward_chunk(c, k, i0, m, y + i0, dy + i0, xk + i0, dx + i0, scratch);
            }
          });
        });
      }
    });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    const int64_t n = c.top(0).count();
    int* argmax = op_ == kEltwiseMax ? argmax_gpu_.get<int>(n) : nullptr;
    const crema::cuda::Values y = crema::cuda::data_of(c.top(0).raw());
    eltwise_forward_cuda(c.cuda_stream(), op_, n, c.num_bottom(), bottom_data(c),
                         coeff_.empty() ? nullptr : coeff_.data(), y, argmax,
                         gpu_scratch(c.num_bottom(), y, n));
  }

  void backward_cuda(crema::Context& c) {
    using crema::cuda::data_of, crema::cuda::diff_of;
    const crema::cuda::Values* x = bottom_data(c);
    for (int k = 0; k < c.num_bottom(); ++k) {
      if (!c.propagate_down(k) || c.bottom(k).same_diff(c.top(0))) continue;
      eltwise_backward_cuda(
          c.cuda_stream(), op_, c.top(0).count(), c.num_bottom(), k, x,
          coeff_.empty() ? nullptr : coeff_.data(), stable_prod_grad_, data_of(c.top(0).raw()),
          diff_of(c.top(0).raw()), argmax_gpu_.data<int>(), diff_of(c.bottom(k).raw()),
          gpu_scratch(c.num_bottom(), diff_of(c.bottom(k).raw()), c.top(0).count()));
    }
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Eltwise' eltwise_param { operation: SUM coeff: 1 coeff: -0.5 }",
             "2,3,4,5;2,3,4,5"},
            {"type: 'Eltwise' eltwise_param { operation: PROD }", "2,3,4,5;2,3,4,5;2,3,4,5"},
            // Few elements: with step 1e-2, near-ties of N(0,1) inputs (MAX's kinks) stay unlikely.
            {"type: 'Eltwise' eltwise_param { operation: MAX }", "3,1,7;3,1,7"}};
  }

 private:
  float coeff(int k) const { return coeff_.empty() ? 1.f : coeff_[k]; }

  // Elements [i0, i0 + m) of the top into acc: the bottoms one after another, each in its own
  // storage type, in the order of operations the fp32 path has always had.
  void forward_chunk(crema::Context& c, int64_t i0, int64_t m, float* acc) {
    const int nb = c.num_bottom();
    if (op_ == kEltwiseMax) {
      int* arg = argmax_.data() + i0;
      max_init(acc, arg, m);
      for (int k = 0; k < nb; ++k)
        c.bottom(k).visit([&](auto* x, auto*) { max_step(x + i0, k, acc, arg, m); });
      return;
    }
    for (int k = 0; k < nb; ++k)
      c.bottom(k).visit([&](auto* x, auto*) {
        if (op_ == kEltwiseSum)
          k == 0 ? sum_first(x + i0, coeff(0), acc, m) : sum_add(x + i0, coeff(k), acc, m);
        else
          k == 0 ? prod_first(x + i0, acc, m) : prod_mul(x + i0, acc, m);
      });
  }
  // dE/dx_k over elements [i0, i0 + m) into an fp32 chunk (dx itself when it is fp32) that a bf16
  // dx then takes rounded once; the pointers start at i0.
  template <class T, class B>
  void backward_chunk(crema::Context& c, int k, int64_t i0, int64_t m, const T* y, const T* dy,
                      const B* xk, B* dx, float* scratch) {
    float* g = crema::results_in(dx, scratch);
    if (op_ == kEltwiseSum) {
      sum_backward(dy, coeff(k), g, m);
    } else if (op_ == kEltwiseMax) {
      max_backward(dy, argmax_.data() + i0, k, g, m);
    } else if (!stable_prod_grad_) {
      prod_backward_by_division(y, xk, dy, g, m);
    } else {
      // The product of the other bottoms, in bottom order, then times dE/dy.
      std::fill(g, g + m, 1.f);
      for (int j = 0; j < c.num_bottom(); ++j)
        if (j != k) c.bottom(j).visit([&](auto* xj, auto*) { prod_mul(xj + i0, g, m); });
      prod_backward_from_product(dy, g, m);
    }
    crema::store_results(g, dx, m);
  }
#if CREMA_WITH_CUDA
  // The bottoms' device pointers, for the launchers (which pass them by value to the kernels).
  const crema::cuda::Values* bottom_data(const crema::Context& c) {
    bottom_values_.resize(c.num_bottom());
    for (int k = 0; k < c.num_bottom(); ++k)
      bottom_values_[k] = crema::cuda::data_of(c.bottom(k).raw());
    return bottom_values_.data();
  }
  std::vector<crema::cuda::Values> bottom_values_;
  // fp32 partial results for a 2-byte output over more bottoms than one launch takes.
  float* gpu_scratch(int nb, crema::cuda::Values out, int64_t n) {
    return eltwise_needs_scratch(nb, out) ? scratch_gpu_.get(static_cast<size_t>(n)) : nullptr;
  }
  crema::cuda::DeviceBuffer scratch_gpu_;
  crema::cuda::DeviceBuffer argmax_gpu_;
#endif
  EltwiseOp op_;
  bool stable_prod_grad_;
  std::vector<float> coeff_;
  std::vector<int> argmax_;
};

CREMA_EXPORT_PLUGIN("eltwise", "1.0.0", Eltwise)
