// SPDX-License-Identifier: BSD-2-Clause
// InnerProduct (Caffe's fully connected layer). The bottom is read as a matrix X of M x K with
// M = count(0, axis) rows and K = count(axis) columns (the trailing axes flattened); then
//   Y = X W^T + 1 b^T       with W stored N x K  (default), or
//   Y = X W   + 1 b^T       with W stored K x N  (transpose: true),
// Y is M x N, top shape = bottom shape[0:axis] + (N). One GEMM for the whole batch.
// GPU: the same GEMMs in cuBLAS; the bias is added and its gradient summed through a ones
// vector of length M (a rank-1 GEMM and a GEMV), as Caffe's GPU path does.
// bf16 (when the net asks for it): the same GEMMs with bf16 products and fp32 sums (the host's
// gemm_bf16); the bias and its gradient stay fp32. On the GPU, fp16 or bf16: X, W and dY are
// rounded into scratch and multiplied on the tensor cores with fp32 sums straight into the fp32
// Y, dW and dX (cublasGemmEx, reduced_cuda.hpp); the bias GEMMs stay fp32.
// Reference: Caffe, src/caffe/layers/inner_product_layer.cpp.
#include <algorithm>
#include <string>
#include <vector>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "crema/layers/reduced_cuda.hpp"
#include "inner_product_cuda.h"
#endif

class InnerProduct final : public crema::Layer<InnerProduct> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"InnerProduct", "inner_product_param"};
    if (crema::host_has_bf16_gemm()) i.cpu_math = CREMA_DTYPE_BIT(CREMA_BFLOAT16);
#if CREMA_WITH_CUDA
    // Tensor-core GEMMs; the host asks only where the GPU has them (fp16: compute capability
    // 7.0, bf16: 8.0).
    i.cuda_math = CREMA_DTYPE_BIT(CREMA_FLOAT16) | CREMA_DTYPE_BIT(CREMA_BFLOAT16);
#endif
    return i;
  }

  explicit InnerProduct(const crema::Params& p)
      : n_(p.get<int64_t>("inner_product_param.num_output")),
        axis_(p.get<int>("inner_product_param.axis")),
        bias_(p.get<bool>("inner_product_param.bias_term")),
        transpose_(p.get<bool>("inner_product_param.transpose")) {
    CREMA_CHECK(n_ > 0, "inner_product_param.num_output must be positive, got " << n_);
  }

  void setup(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    k_ = x.count(x.canonical_axis(axis_));
    c.add_param(transpose_ ? crema::Shape{k_, n_} : crema::Shape{n_, k_},
                "inner_product_param.weight_filler");
    if (bias_) c.add_param({n_}, "inner_product_param.bias_filler");
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    const int axis = x.canonical_axis(axis_);
    CREMA_CHECK(x.count(axis) == k_,
                "input size " << x.count(axis) << " (bottom " << crema::shape_string(x.shape())
                              << " flattened from axis " << axis << ") does not match the " << k_
                              << " inputs the weights were made for");
    m_ = x.count(0, axis);
    crema::Shape shape = x.shape();
    shape.resize(axis);
    shape.push_back(n_);
    c.top(0).set_shape(shape);
#if CREMA_WITH_CUDA
    // Scratch for the 2-byte copies of X, W and dY. Sized for the forward's math (the one a
    // reshape sees); a backward asked for fp16/bf16 alone finds it short and computes in fp32.
    if (c.on_gpu() && c.math() != CREMA_FLOAT32) c.request_workspace(reduced_bytes(c.math()));
#endif
  }

  void forward_cpu(crema::Context& c) {
    float* y = c.top(0).data();
    // Y(MxN) = X(MxK) op(W)(KxN)
    crema::gemm(c.math(), false, !transpose_, int(m_), int(n_), int(k_), 1.f, c.bottom(0).data(),
                c.param(0).data(), 0.f, y);
    if (!bias_) return;
    const float* b = c.param(1).data();
    const int64_t n = n_;
    crema::parallel_for(m_, std::max<int64_t>(1, 16384 / n_), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < n; ++j) y[r * n + j] += b[j];
    });
  }

  void backward_cpu(crema::Context& c) {
    const float* dy = c.top(0).diff();
    const float* x = c.bottom(0).data();
    if (c.params_need_grad()) {
      // dE/dW = dY^T X (N x K), or X^T dY (K x N) when W is stored transposed; accumulated.
      if (transpose_)
        crema::gemm(c.math(), true, false, int(k_), int(n_), int(m_), 1.f, x, dy, 1.f,
                    c.param(0).diff());
      else
        crema::gemm(c.math(), true, false, int(n_), int(k_), int(m_), 1.f, dy, x, 1.f,
                    c.param(0).diff());
      if (bias_) {
        // dE/db_j = sum_r dY[r][j]; columns split over threads, rows summed contiguously.
        float* db = c.param(1).diff();
        const int64_t n = n_, m = m_;
        crema::parallel_for(n, 256, [&](int64_t j0, int64_t j1) {
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = j0; j < j1; ++j) db[j] += dy[r * n + j];
        });
      }
    }
    if (c.propagate_down(0)) {
      // dE/dX = dY W (W: N x K), or dY W^T (W: K x N).
      crema::gemm(c.math(), false, transpose_, int(m_), int(k_), int(n_), 1.f, dy,
                  c.param(0).data(), 0.f, c.bottom(0).diff());
    }
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    if (m_ == 0) return;
    float* y = c.top(0).data();
    if (const crema_dtype t = reduced_math(c); t != CREMA_FLOAT32) {
      const Scratch s = scratch(c, t);
      crema::layers::gpu::round_to(c.cuda_stream(), t, c.bottom(0).data(), s.x, m_ * k_);
      crema::layers::gpu::round_to(c.cuda_stream(), t, c.param(0).data(), s.w, n_ * k_);
      crema::layers::gpu::gemm(c.cublas_handle(), t, false, !transpose_, int(m_), int(n_), int(k_),
                               1.f, s.x, int(k_), s.w, transpose_ ? int(n_) : int(k_), 0.f, y,
                               int(n_), "cublasGemmEx (InnerProduct forward)");
    } else {
      crema::gpu_gemm(c, false, !transpose_, int(m_), int(n_), int(k_), 1.f, c.bottom(0).data(),
                      c.param(0).data(), 0.f, y);
    }
    // Y += 1 b^T: (M x 1)(1 x N); with one product per element this is y + b, exactly.
    if (bias_)
      crema::gpu_gemm(c, false, false, int(m_), int(n_), 1, 1.f, ones(c), c.param(1).data(), 1.f,
                      y);
  }

  void backward_cuda(crema::Context& c) {
    if (m_ == 0) return;
    const float* dy = c.top(0).diff();
    const float* x = c.bottom(0).data();
    if (const crema_dtype t = reduced_math(c); t != CREMA_FLOAT32) return backward_reduced(c, t);
    if (c.params_need_grad()) {
      if (transpose_)
        crema::gpu_gemm(c, true, false, int(k_), int(n_), int(m_), 1.f, x, dy, 1.f,
                        c.param(0).diff());
      else
        crema::gpu_gemm(c, true, false, int(n_), int(k_), int(m_), 1.f, dy, x, 1.f,
                        c.param(0).diff());
      // db += dY^T 1
      if (bias_)
        crema::gpu_gemv(c, true, int(m_), int(n_), 1.f, dy, ones(c), 1.f, c.param(1).diff());
    }
    if (c.propagate_down(0))
      crema::gpu_gemm(c, false, transpose_, int(m_), int(k_), int(n_), 1.f, dy, c.param(0).data(),
                      0.f, c.bottom(0).diff());
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'InnerProduct' inner_product_param { num_output: 5 "
             "weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' } }",
             "2,3,2,2"},
            {"type: 'InnerProduct' inner_product_param { num_output: 3 transpose: true axis: 2 "
             "weight_filler { type: 'uniform' min: -1 max: 1 } }",
             "2,3,7"},
            {"type: 'InnerProduct' inner_product_param { num_output: 4 bias_term: false "
             "weight_filler { type: 'xavier' } }",
             "1,9"}};
  }

 private:
#if CREMA_WITH_CUDA
  // M ones on the device, filled when M grows (the fill runs on the stream before any use).
  const float* ones(const crema::Context& c) {
    if (m_ > ones_filled_) {
      inner_product_fill_ones(c.cuda_stream(), ones_.get(m_), m_);
      ones_filled_ = m_;
    }
    return ones_.data();
  }
  crema::cuda::DeviceBuffer ones_;
  int64_t ones_filled_ = 0;

  // The 2-byte copies of X (M x K), W (N x K) and dY (M x N) in the workspace.
  struct Scratch {
    void *x, *w, *dy;
  };
  size_t reduced_bytes(crema_dtype t) const {
    using crema::layers::gpu::scratch_bytes;
    return scratch_bytes(m_ * k_, t) + scratch_bytes(n_ * k_, t) + scratch_bytes(m_ * n_, t);
  }
  Scratch scratch(const crema::Context& c, crema_dtype t) const {
    using crema::layers::gpu::scratch_bytes;
    char* base = c.workspace<char>();
    return {base, base + scratch_bytes(m_ * k_, t),
            base + scratch_bytes(m_ * k_, t) + scratch_bytes(n_ * k_, t)};
  }
  // The call's math where it is fp16/bf16 and the workspace holds the copies, else fp32.
  crema_dtype reduced_math(const crema::Context& c) const {
    const crema_dtype t = c.math();
    if (t == CREMA_FLOAT32 || c.workspace_size() < reduced_bytes(t)) return CREMA_FLOAT32;
    return t;
  }
  // dW += dY^T X (or X^T dY), db += dY^T 1 (fp32), dX = dY W (or dY W^T): 2-byte operands,
  // fp32 sums straight into the fp32 gradients.
  void backward_reduced(crema::Context& c, crema_dtype t) {
    namespace g = crema::layers::gpu;
    const Scratch s = scratch(c, t);
    g::round_to(c.cuda_stream(), t, c.top(0).diff(), s.dy, m_ * n_);
    if (c.params_need_grad()) {
      g::round_to(c.cuda_stream(), t, c.bottom(0).data(), s.x, m_ * k_);
      if (transpose_)
        g::gemm(c.cublas_handle(), t, true, false, int(k_), int(n_), int(m_), 1.f, s.x, int(k_),
                s.dy, int(n_), 1.f, c.param(0).diff(), int(n_), "cublasGemmEx (InnerProduct dW)");
      else
        g::gemm(c.cublas_handle(), t, true, false, int(n_), int(k_), int(m_), 1.f, s.dy, int(n_),
                s.x, int(k_), 1.f, c.param(0).diff(), int(k_), "cublasGemmEx (InnerProduct dW)");
      if (bias_)
        crema::gpu_gemv(c, true, int(m_), int(n_), 1.f, c.top(0).diff(), ones(c), 1.f,
                        c.param(1).diff());
    }
    if (c.propagate_down(0)) {
      g::round_to(c.cuda_stream(), t, c.param(0).data(), s.w, n_ * k_);
      g::gemm(c.cublas_handle(), t, false, transpose_, int(m_), int(k_), int(n_), 1.f, s.dy,
              int(n_), s.w, transpose_ ? int(n_) : int(k_), 0.f, c.bottom(0).diff(), int(k_),
              "cublasGemmEx (InnerProduct dX)");
    }
  }
#endif

  int64_t n_, k_ = 0, m_ = 0;
  int axis_;
  bool bias_, transpose_;
};

CREMA_EXPORT_PLUGIN("inner_product", "1.0.0", InnerProduct)
