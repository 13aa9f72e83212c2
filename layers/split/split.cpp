// SPDX-License-Identifier: BSD-2-Clause
// Split: one bottom to several tops, inserted by the net wherever a blob feeds several layers.
// Forward shares (or copies) the data; backward sums the tops' gradients:
//   dE/dx = sum_i dE/dy_i
// CUDA: device-to-device copies on the stream where memory is not shared; split.cu sums the
// gradients in one pass.
// Takes bf16 storage on the CPU (cpu_storage): the host gives the bottom and the tops one type,
// fp32 or bf16; the gradients are summed in fp32 and a bf16 bottom gradient rounded once. On the
// GPU (cuda_storage) fp32, fp16 or bf16 alike.
// N,H,W,C bf16 tensors too (cpu_layouts): element by element, the order does not matter, and the
// host gives all the layer's tensors one.
#include <algorithm>
#include <vector>

#include "crema/layer.hpp"
#include "split_kernels.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "split_cuda.h"
#endif

class Split final : public crema::Layer<Split> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Split"};
    i.min_tops = 1;
    i.max_tops = -1;
    i.flags = CREMA_LAYER_SHARES_DATA;
    i.cpu_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16);
    i.cuda_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16) | CREMA_DTYPE_BIT(CREMA_FLOAT16);
    // Element by element: any memory order, the host keeps all the tensors in one.
    i.cpu_layouts = CREMA_LAYOUT_CHANNELS_LAST;
    return i;
  }
  explicit Split(const crema::Params&) {}
  void reshape(crema::Context& c) {
    for (int t = 0; t < c.num_top(); ++t) c.top(t).set_shape(c.bottom(0).shape());
  }
  // The host shares memory unless a consumer writes its top in place; then copy.
  void forward_cpu(crema::Context& c) {
    const int64_t n = c.bottom(0).count();
    for (int t = 0; t < c.num_top(); ++t) {
      // A copy keeps the values' bits: it cannot change the storage type.
      CREMA_CHECK(c.top(t).dtype() == c.bottom(0).dtype(),
                  "Split top " << t << " is stored as " << type_name(c.top(t))
                               << " but its bottom as " << type_name(c.bottom(0))
                               << ": the host must give a Split's bottom and tops one type");
      if (c.bottom(0).is_bf16())
        copy_values(c.top(t).data_bf16(), c.bottom(0).data_bf16(), n);
      else
        copy_values(c.top(t).data(), c.bottom(0).data(), n);
    }
  }
  // Chunk by chunk: the tops' gradients (each fp32 or bf16) summed in fp32, stored once.
  void backward_cpu(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    const int64_t n = c.bottom(0).count();
    const int tops = c.num_top();
    c.bottom(0).visit([&](auto*, auto* dx) {
      crema::parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
        float scratch[kSplitChunk];
        for (int64_t i0 = b; i0 < e; i0 += kSplitChunk) {
          const int64_t m = std::min(kSplitChunk, e - i0);
          float* acc = crema::results_in(dx + i0, scratch);
          for (int t = 0; t < tops; ++t)
            c.top(t).visit([&](auto*, auto* dy) {
              t == 0 ? gradient_first(dy + i0, acc, m) : gradient_add(dy + i0, acc, m);
            });
          crema::store_results(acc, dx + i0, m);
        }
      });
    });
  }

#if CREMA_WITH_CUDA
  // The bottom and the tops in one storage type (the host keeps a Split's group alike).
  void forward_cuda(crema::Context& c) {
    const crema::cuda::Values x = crema::cuda::data_of(c.bottom(0).raw());
    const int64_t n = c.bottom(0).count();
    for (int t = 0; t < c.num_top(); ++t) {
      const crema::cuda::Values y = crema::cuda::data_of(c.top(t).raw());
      CREMA_CHECK(y.type == x.type, "Split: top " << t
                                                  << " is stored in another type than the "
                                                     "bottom");
      if (y.ptr != x.ptr && n > 0)
        crema::cuda::check(cudaMemcpyAsync(y.ptr, x.ptr, x.element_bytes() * n,
                                           cudaMemcpyDeviceToDevice,
                                           crema::cuda::stream(c.cuda_stream())),
                           "Split forward (copy)");
    }
  }

  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    top_diffs_.resize(c.num_top());
    for (int t = 0; t < c.num_top(); ++t) top_diffs_[t] = crema::cuda::diff_of(c.top(t).raw());
    const crema::cuda::Values dx = crema::cuda::diff_of(c.bottom(0).raw());
    const int64_t n = c.bottom(0).count();
    float* scratch = split_needs_scratch(c.num_top(), dx) ? scratch_gpu_.get(n) : nullptr;
    split_backward_cuda(c.cuda_stream(), n, c.num_top(), top_diffs_.data(), dx, scratch);
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Split' top: 'a' top: 'b'", "2,3,4,5"},
            {"type: 'Split' top: 'a' top: 'b' top: 'c'", "3,7"}};
  }

 private:
  static const char* type_name(const crema::TensorView& t) { return t.is_bf16() ? "bf16" : "fp32"; }
#if CREMA_WITH_CUDA
  std::vector<crema::cuda::Values> top_diffs_;  // the tops' device gradients, for the launcher
  crema::cuda::DeviceBuffer scratch_gpu_;       // fp32 partial sums (split_needs_scratch)
#endif
};

CREMA_EXPORT_PLUGIN("split", "1.0.0", Split)
