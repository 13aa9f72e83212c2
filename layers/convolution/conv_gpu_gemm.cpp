// SPDX-License-Identifier: BSD-2-Clause
// Convolution as im2col + GEMM on the GPU (see conv_gpu_gemm.hpp). With K = C*KH*KW column rows
// and P = OH*OW pixels per image, G groups of Kg = K/G rows and Mg = M/G outputs, and col[n] the
// K x P column matrix of image n (im2col_cuda.hpp; x itself for a pointwise convolution):
//   forward:  y[n]_g (Mg x P)  = W_g (Mg x Kg) col[n]_g (Kg x P),  then y += b
//   dE/dW_g  += sum_n dE/dy[n]_g (Mg x P) col[n]_g^T (P x Kg)
//   dE/dx:     col[n]_g = W_g^T dE/dy[n]_g, then col2im (the adjoint of im2col) writes dx[n]
//   dE/db    += sum_{n,p} dE/dy[n][o][p]
// One strided-batched GEMM covers every image of a chunk (or every group of an image, when
// there are more groups than images); the weight gradient batches over groups only, since all
// images add into the same dW_g.
#include "conv_gpu_gemm.hpp"

#include <cublas_v2.h>

#include <algorithm>
#include <string>

#include "crema/layers/im2col_cuda.hpp"

namespace crema::layers {
namespace {

void check(cublasStatus_t s, const char* what) {
  CREMA_CHECK(s == CUBLAS_STATUS_SUCCESS,
              what << " failed: " << cublasGetStatusName(s) << " (" << cublasGetStatusString(s)
                   << ")");
}

// A matrix operand of the per-(image, group) products: base + image*img + group*grp.
struct Operand {
  const float* p;
  int64_t img, grp;
};

// Row-major C[i] = op(A[i]) op(B[i]) + beta C[i] for i < batch, the matrices `stride` floats
// apart: column-major C^T = op(B)^T op(A)^T, as gpu_gemm does.
void gemm_batched(cublasHandle_t h, bool ta, bool tb, int m, int n, int k, const float* a,
                  int64_t sa, const float* b, int64_t sb, float beta, float* c, int64_t sc,
                  int batch) {
  const float one = 1.f;
  check(cublasSgemmStridedBatched(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  n, m, k, &one, b, tb ? k : n, sb, a, ta ? m : k, sa, &beta, c, n,
                                  sc, batch),
        "cublasSgemmStridedBatched (Convolution)");
}

// C(i, g) = op(A(i, g)) op(B(i, g)) for every image i < images and group g < groups, where no
// two (i, g) write the same C: batched along the longer of the two axes.
void products(cublasHandle_t h, bool ta, bool tb, int m, int n, int k, Operand a, Operand b,
              float* c, int64_t c_img, int64_t c_grp, int images, int groups) {
  if (groups <= images) {
    for (int g = 0; g < groups; ++g)
      gemm_batched(h, ta, tb, m, n, k, a.p + g * a.grp, a.img, b.p + g * b.grp, b.img, 0.f,
                   c + g * c_grp, c_img, images);
  } else {
    for (int i = 0; i < images; ++i)
      gemm_batched(h, ta, tb, m, n, k, a.p + i * a.img, a.grp, b.p + i * b.img, b.grp, 0.f,
                   c + i * c_img, c_grp, groups);
  }
}

}  // namespace

size_t ConvGpuGemm::plan(const ConvGeometry& g, int num_output, int64_t num) {
  g_ = g;
  m_ = num_output;
  num_ = num;
  k_ = g.col_width();
  p_ = g.out_plane();
  pointwise_ = g.is_pointwise();
  const int64_t all = std::max<int64_t>(num, 1);
  if (pointwise_) {  // no column buffer: the whole batch at once
    chunk_ = all;
    return 0;
  }
  const size_t image_bytes = static_cast<size_t>(k_ * p_) * sizeof(float);
  chunk_ = std::clamp<int64_t>(static_cast<int64_t>(column_budget / image_bytes), 1, all);
  return static_cast<size_t>(chunk_) * image_bytes;
}

void ConvGpuGemm::forward(const Context& c, const float* x, const float* w, const float* bias,
                          float* y) const {
  auto h = static_cast<cublasHandle_t>(c.cublas_handle());
  const int G = g_.groups;
  const int64_t in = g_.channels * g_.in_plane(), kg = k_ / G, mg = m_ / G;
  for (int64_t n0 = 0; n0 < num_; n0 += chunk_) {
    const int cn = static_cast<int>(std::min(chunk_, num_ - n0));
    const float* col = x + n0 * in;
    if (!pointwise_) {
      gpu::im2col_nchw(c.cuda_stream(), col, cn, g_, c.workspace<float>());
      col = c.workspace<float>();
    }
    products(h, false, false, static_cast<int>(mg), static_cast<int>(p_), static_cast<int>(kg),
             {w, 0, mg * kg}, {col, k_ * p_, kg * p_}, y + n0 * m_ * p_, m_ * p_, mg * p_, cn, G);
  }
  if (bias) gpu::add_channel_bias(c.cuda_stream(), y, bias, num_, m_, p_);
}

void ConvGpuGemm::backward(const Context& c, const float* x, const float* w, const float* dy,
                           float* dw, float* db, float* dx) const {
  auto h = static_cast<cublasHandle_t>(c.cublas_handle());
  const int G = g_.groups;
  const int64_t in = g_.channels * g_.in_plane(), kg = k_ / G, mg = m_ / G;
  if (db) gpu::add_channel_sums(c.cuda_stream(), dy, num_, m_, p_, db);
  for (int64_t n0 = 0; n0 < num_; n0 += chunk_) {
    const int cn = static_cast<int>(std::min(chunk_, num_ - n0));
    const float* dyc = dy + n0 * m_ * p_;
    if (dw) {
      const float* col = x + n0 * in;
      if (!pointwise_) {
        gpu::im2col_nchw(c.cuda_stream(), col, cn, g_, c.workspace<float>());
        col = c.workspace<float>();
      }
      for (int i = 0; i < cn; ++i)
        gemm_batched(h, false, true, static_cast<int>(mg), static_cast<int>(kg),
                     static_cast<int>(p_), dyc + i * m_ * p_, mg * p_, col + i * k_ * p_, kg * p_,
                     1.f, dw, mg * kg, G);
    }
    if (dx) {
      // The column gradient goes straight into dx when x is its own column matrix.
      float* col = pointwise_ ? dx + n0 * in : c.workspace<float>();
      products(h, true, false, static_cast<int>(kg), static_cast<int>(p_), static_cast<int>(mg),
               {w, 0, mg * kg}, {dyc, m_ * p_, mg * p_}, col, k_ * p_, kg * p_, cn, G);
      if (!pointwise_) gpu::col2im_nchw(c.cuda_stream(), col, cn, g_, dx + n0 * in);
    }
  }
}

}  // namespace crema::layers
