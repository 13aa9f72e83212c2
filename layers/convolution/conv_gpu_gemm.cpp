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
// images add into the same dW_g. In fp16 / bf16 W, col and dE/dy are rounded into 2-byte copies
// first and the same GEMMs take the copies, summing in fp32 into the fp32 y, dE/dW and columns.
#include "conv_gpu_gemm.hpp"

#include <cublas_v2.h>

#include <algorithm>
#include <string>

#include "crema/layers/im2col_cuda.hpp"
#include "crema/layers/reduced_cuda.hpp"

namespace crema::layers {
namespace {

void check(cublasStatus_t s, const char* what) {
  CREMA_CHECK(s == CUBLAS_STATUS_SUCCESS, what << " failed: " << cublasGetStatusName(s) << " ("
                                               << cublasGetStatusString(s) << ")");
}

// Element `i` of an operand stored in `math` (fp32, or 2 bytes for fp16 / bf16).
const void* at(const void* p, int64_t i, crema_dtype math) {
  return static_cast<const char*>(p) + i * static_cast<int64_t>(gpu::element_bytes(math));
}

// A matrix operand of the per-(image, group) products: base + image*img + group*grp elements.
struct Operand {
  const void* p;
  int64_t img, grp;
};

// Row-major C[i] = op(A[i]) op(B[i]) + beta C[i] for i < batch, the matrices `stride` elements
// apart: column-major C^T = op(B)^T op(A)^T, as gpu_gemm does. A and B in `math`, C fp32.
void gemm_batched(cublasHandle_t h, crema_dtype math, bool ta, bool tb, int m, int n, int k,
                  const void* a, int64_t sa, const void* b, int64_t sb, float beta, float* c,
                  int64_t sc, int batch) {
  if (math != CREMA_FLOAT32)
    return gpu::gemm_strided_batched(h, math, ta, tb, m, n, k, 1.f, a, ta ? m : k, sa, b,
                                     tb ? k : n, sb, beta, c, n, sc, batch,
                                     "cublasGemmStridedBatchedEx (Convolution, fp16/bf16)");
  const float one = 1.f;
  check(cublasSgemmStridedBatched(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  n, m, k, &one, static_cast<const float*>(b), tb ? k : n, sb,
                                  static_cast<const float*>(a), ta ? m : k, sa, &beta, c, n, sc,
                                  batch),
        "cublasSgemmStridedBatched (Convolution)");
}

// C(i, g) = op(A(i, g)) op(B(i, g)) for every image i < images and group g < groups, where no
// two (i, g) write the same C: batched along the longer of the two axes.
void products(cublasHandle_t h, crema_dtype math, bool ta, bool tb, int m, int n, int k, Operand a,
              Operand b, float* c, int64_t c_img, int64_t c_grp, int images, int groups) {
  if (groups <= images) {
    for (int g = 0; g < groups; ++g)
      gemm_batched(h, math, ta, tb, m, n, k, at(a.p, g * a.grp, math), a.img,
                   at(b.p, g * b.grp, math), b.img, 0.f, c + g * c_grp, c_img, images);
  } else {
    for (int i = 0; i < images; ++i)
      gemm_batched(h, math, ta, tb, m, n, k, at(a.p, i * a.img, math), a.grp,
                   at(b.p, i * b.img, math), b.grp, 0.f, c + i * c_img, c_grp, groups);
  }
}

}  // namespace

size_t ConvGpuGemm::plan(const ConvGeometry& g, int num_output, int64_t num, crema_dtype math) {
  g_ = g;
  m_ = num_output;
  num_ = num;
  k_ = g.col_width();
  p_ = g.out_plane();
  pointwise_ = g.is_pointwise();
  math_ = math;
  const int64_t all = std::max<int64_t>(num, 1);
  const bool reduced = math != CREMA_FLOAT32;
  if (pointwise_ && !reduced) {  // no column buffer: the whole batch at once
    chunk_ = all;
    w_at_ = col_at_ = dy_at_ = 0;
    return 0;
  }
  // Per image: the fp32 columns (none for a pointwise convolution) and, in fp16/bf16, the 2-byte
  // columns and dE/dy; W's 2-byte copy once.
  const size_t fp32_col = pointwise_ ? 0 : static_cast<size_t>(k_ * p_) * sizeof(float);
  const size_t per_image =
      fp32_col + (reduced ? static_cast<size_t>(k_ * p_ + m_ * p_) * gpu::element_bytes(math) : 0);
  chunk_ = std::clamp<int64_t>(static_cast<int64_t>(column_budget / per_image), 1, all);
  if (!reduced) return static_cast<size_t>(chunk_) * fp32_col;
  w_at_ =
      gpu::scratch_bytes(static_cast<int64_t>(chunk_ * fp32_col / sizeof(float)), CREMA_FLOAT32);
  col_at_ = w_at_ + gpu::scratch_bytes(m_ * (k_ / g.groups), math);
  dy_at_ = col_at_ + gpu::scratch_bytes(chunk_ * k_ * p_, math);
  return dy_at_ + gpu::scratch_bytes(chunk_ * m_ * p_, math);
}

void ConvGpuGemm::forward(const Context& c, const float* x, const float* w, const float* bias,
                          float* y) const {
  auto* h = static_cast<cublasHandle_t>(c.cublas_handle());
  const int G = g_.groups;
  const int64_t in = g_.channels * g_.in_plane(), kg = k_ / G, mg = m_ / G;
  const bool reduced = math_ != CREMA_FLOAT32;
  char* ws = c.workspace<char>();
  const void* wm = w;  // W as the GEMMs read it
  if (reduced) {
    gpu::round_to(c.cuda_stream(), math_, w, ws + w_at_, m_ * kg);
    wm = ws + w_at_;
  }
  for (int64_t n0 = 0; n0 < num_; n0 += chunk_) {
    const int cn = static_cast<int>(std::min(chunk_, num_ - n0));
    const float* col = x + n0 * in;
    if (!pointwise_) {
      gpu::im2col_nchw(c.cuda_stream(), col, cn, g_, c.workspace<float>());
      col = c.workspace<float>();
    }
    const void* colm = col;
    if (reduced) {
      gpu::round_to(c.cuda_stream(), math_, col, ws + col_at_, static_cast<int64_t>(cn) * k_ * p_);
      colm = ws + col_at_;
    }
    products(h, math_, false, false, static_cast<int>(mg), static_cast<int>(p_),
             static_cast<int>(kg), {wm, 0, mg * kg}, {colm, k_ * p_, kg * p_}, y + n0 * m_ * p_,
             m_ * p_, mg * p_, cn, G);
  }
  if (bias) gpu::add_channel_bias(c.cuda_stream(), cuda::values_of(y), bias, num_, m_, p_);
}

void ConvGpuGemm::backward(const Context& c, const float* x, const float* w, const float* dy,
                           float* dw, float* db, float* dx) const {
  auto* h = static_cast<cublasHandle_t>(c.cublas_handle());
  const int G = g_.groups;
  const int64_t in = g_.channels * g_.in_plane(), kg = k_ / G, mg = m_ / G;
  const bool reduced = math_ != CREMA_FLOAT32;
  const size_t es = gpu::element_bytes(math_);
  char* ws = c.workspace<char>();
  if (db) gpu::add_channel_sums(c.cuda_stream(), cuda::values_of(dy), num_, m_, p_, db);
  const void* wm = w;
  if (reduced && dx) {
    gpu::round_to(c.cuda_stream(), math_, w, ws + w_at_, m_ * kg);
    wm = ws + w_at_;
  }
  for (int64_t n0 = 0; n0 < num_; n0 += chunk_) {
    const int cn = static_cast<int>(std::min(chunk_, num_ - n0));
    const void* dyc = dy + n0 * m_ * p_;
    if (reduced) {
      gpu::round_to(c.cuda_stream(), math_, dy + n0 * m_ * p_, ws + dy_at_,
                    static_cast<int64_t>(cn) * m_ * p_);
      dyc = ws + dy_at_;
    }
    if (dw) {
      const float* col = x + n0 * in;
      if (!pointwise_) {
        gpu::im2col_nchw(c.cuda_stream(), col, cn, g_, c.workspace<float>());
        col = c.workspace<float>();
      }
      const char* colm = reinterpret_cast<const char*>(col);
      if (reduced) {
        gpu::round_to(c.cuda_stream(), math_, col, ws + col_at_,
                      static_cast<int64_t>(cn) * k_ * p_);
        colm = ws + col_at_;
      }
      const auto* dym = static_cast<const char*>(dyc);
      for (int i = 0; i < cn; ++i)
        gemm_batched(h, math_, false, true, static_cast<int>(mg), static_cast<int>(kg),
                     static_cast<int>(p_),
                     dym + static_cast<int64_t>(i) * m_ * p_ * static_cast<int64_t>(es), mg * p_,
                     colm + static_cast<int64_t>(i) * k_ * p_ * static_cast<int64_t>(es), kg * p_,
                     1.f, dw, mg * kg, G);
    }
    if (dx) {
      // The column gradient goes straight into dx when x is its own column matrix.
      float* col = pointwise_ ? dx + n0 * in : c.workspace<float>();
      products(h, math_, true, false, static_cast<int>(kg), static_cast<int>(p_),
               static_cast<int>(mg), {wm, 0, mg * kg}, {dyc, m_ * p_, mg * p_}, col, k_ * p_,
               kg * p_, cn, G);
      if (!pointwise_) gpu::col2im_nchw(c.cuda_stream(), col, cn, g_, dx + n0 * in);
    }
  }
}

}  // namespace crema::layers
