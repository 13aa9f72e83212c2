// SPDX-License-Identifier: BSD-2-Clause
// EuclideanLoss (Caffe's EuclideanLossLayer), N = the first dimension of the bottoms:
//   E = 1/(2N) sum_i (a_i - b_i)^2
//   dE/da = (a - b) / N * dE/dtop,   dE/db = -(a - b) / N * dE/dtop
// Both bottoms take gradients. CUDA: euclidean_loss.cu; the loss is reduced on the device into
// the top, with no host round trip. Reference: Caffe, src/caffe/layers/euclidean_loss_layer.cpp.
#include <algorithm>
#include <vector>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "euclidean_loss_cuda.h"
#endif

class EuclideanLoss final : public crema::Layer<EuclideanLoss> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"EuclideanLoss", "loss_param"};
    i.min_bottoms = i.max_bottoms = 2;
    i.flags = CREMA_LAYER_LOSS;
    return i;
  }
  explicit EuclideanLoss(const crema::Params&) {}

  void reshape(crema::Context& c) {
    const crema::TensorView a = c.bottom(0), b = c.bottom(1);
    CREMA_CHECK(a.ndim() > 0 && b.ndim() > 0 && a.dim(0) == b.dim(0) && a.count(1) == b.count(1),
                "bottoms " << crema::shape_string(a.shape()) << " and "
                           << crema::shape_string(b.shape())
                           << " must have the same first dimension and the same count per item");
    c.top(0).set_shape({});
    num_ = std::max<int64_t>(1, a.dim(0));
#if CREMA_WITH_CUDA
    if (c.on_gpu()) c.request_workspace(kEuclideanLossWorkspaceBytes);
#endif
  }

  void forward_cpu(crema::Context& c) {
    const float* a = c.bottom(0).data();
    const float* b = c.bottom(1).data();
    const int64_t n = c.bottom(0).count();
    constexpr int64_t kChunk = 1 << 14;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    std::vector<double> partial(chunks);
    diff_.resize(n);  // here, not in reshape: a GPU net never needs the host copy
    float* d = diff_.data();
    crema::parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t ch = c0; ch < c1; ++ch) {
        const int64_t lo = ch * kChunk, hi = std::min(n, lo + kChunk);
        float s = 0.f;
        for (int64_t i = lo; i < hi; ++i) {
          d[i] = a[i] - b[i];
          s += d[i] * d[i];
        }
        partial[ch] = s;
      }
    });
    double dot = 0;
    for (double p : partial) dot += p;
    c.top(0).data()[0] = static_cast<float>(dot / double(num_) / 2.0);
  }

  void backward_cpu(crema::Context& c) {
    // dE/da = +(a - b) dE/dtop / N, dE/db = -(a - b) dE/dtop / N.
    const int64_t n = c.bottom(0).count();
    const float* d = diff_.data();
    for (int k = 0; k < 2; ++k) {
      if (!c.propagate_down(k)) continue;
      const float alpha = (k == 0 ? 1.f : -1.f) * c.top(0).diff()[0] / static_cast<float>(num_);
      float* g = c.bottom(k).diff();
      crema::parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) g[i] = alpha * d[i];
      });
    }
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    const int64_t n = c.bottom(0).count();
    CREMA_CHECK(c.workspace_size() >= kEuclideanLossWorkspaceBytes,
                "EuclideanLoss: the workspace asked for in reshape is missing");
    euclidean_loss_forward_cuda(c.cuda_stream(), n, c.bottom(0).data(), c.bottom(1).data(),
                                diff_gpu_.get(n), double(num_), c.workspace<void>(),
                                c.top(0).data());
  }

  void backward_cuda(crema::Context& c) {
    for (int k = 0; k < 2; ++k)
      if (c.propagate_down(k))
        euclidean_loss_backward_cuda(c.cuda_stream(), c.bottom(0).count(), k == 0 ? 1.f : -1.f,
                                     c.top(0).diff(), static_cast<float>(num_), diff_gpu_.data(),
                                     c.bottom(k).diff());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'EuclideanLoss'", "2,3,4;2,3,4"}, {"type: 'EuclideanLoss'", "5,1;5,1"}};
  }

 private:
  std::vector<float> diff_;
  int64_t num_ = 1;
#if CREMA_WITH_CUDA
  crema::cuda::DeviceBuffer diff_gpu_;  // a - b, from forward to backward
#endif
};

CREMA_EXPORT_PLUGIN("euclidean_loss", "1.0.0", EuclideanLoss)
