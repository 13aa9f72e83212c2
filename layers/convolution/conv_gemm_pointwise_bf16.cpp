// SPDX-License-Identifier: BSD-2-Clause
// 1x1 convolutions with bf16 products (ConvGemm's kPointwise under bf16 math): every GEMM operand
// is bf16 once -- the weights rounded once a pass, an image's input and its output gradient once
// for all GEMMs that read them -- and the sums are fp32. Tensors come in either storage type
// (ABI 1.5): a bf16 input or output gradient is the operand itself, read in place (strided
// layers gather it), and the GEMM rounds results bound for a bf16 tensor into it
// (crema_host.gemm_bf16_to); outputs with a bias go through a cache-sized fp32 block instead,
// rounded once after the bias is added.
#include <algorithm>

#include "conv_gemm.hpp"
#include "crema/bf16.hpp"
#include "crema/layer.hpp"

namespace crema::layers {
namespace {
int32_t i32(int64_t v) { return static_cast<int32_t>(v); }

// `rows` rows of `out` results for a bf16 tensor at dst (leading dimension out), made a block of
// `block` pixels at a time by gemm(p0, nb, blk) into blk (rows x nb fp32), the bias added per
// row, and rounded once.
template <class Gemm>
void round_through_blocks(int64_t rows, int64_t out, int64_t block, const float* bias, float* blk,
                          uint16_t* dst, const Gemm& gemm) {
  for (int64_t p0 = 0; p0 < out; p0 += block) {
    const int64_t nb = std::min(block, out - p0);
    gemm(p0, nb, blk);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = blk + r * nb;
      for (int64_t k = 0; k < nb; ++k) row[k] += bias[r];
      crema::round_bf16(row, nb, dst + r * out + p0);
    }
  }
}
}  // namespace

// A slot's bf16 area, after its gathered input: the input, then the output gradient; then the
// block of results for bf16 tensors.
uint16_t* ConvGemm::rounded_input(float* ws, int slot) const {
  float* after = buffers(ws, slot).xt + (g_.is_pointwise() ? 0 : g_.channels * g_.out_plane());
  return reinterpret_cast<uint16_t*>(after);
}
uint16_t* ConvGemm::rounded_output_grad(float* ws, int slot) const {
  return rounded_input(ws, slot) + g_.channels * g_.out_plane();
}
float* ConvGemm::block(float* ws, int slot) const {
  return buffers(ws, slot).xt + slot_floats() - block_floats();
}
int64_t ConvGemm::block_pixels() const { return std::min<int64_t>(g_.out_plane(), 1024); }
int64_t ConvGemm::block_floats() const { return bf16_area_ && y_bf16_ ? m_ * block_pixels() : 0; }

// The weights rounded to bf16, once per pass, in Wr's place (1x1 weights need no reordering).
const uint16_t* ConvGemm::rounded_weights(const float* w, float* ws) const {
  auto* w16 = reinterpret_cast<uint16_t*>(buffers(ws).wr);
  crema::round_bf16(w, wk_, w16);
  return w16;
}

// Image xn as the 1x1 GEMMs read it: itself, or (strided) subsampled into the slot's buffer.
const float* ConvGemm::sampled_input(const float* xn, float* ws, int slot) const {
  if (g_.is_pointwise()) return xn;
  float* xs = buffers(ws, slot).xt;
  gather(xn, xs);
  return xs;
}

// Image n of x as a bf16 operand: the stored bf16 image itself (subsampled when strided), or the
// fp32 image rounded into the slot's bf16 input.
const uint16_t* ConvGemm::image_input_bf16(const void* x, bool x_bf16, int64_t n, float* ws,
                                           int slot) const {
  const int64_t in = g_.channels * g_.in_plane();
  uint16_t* x16 = rounded_input(ws, slot);
  if (!x_bf16) {
    const float* xn = static_cast<const float*>(x) + n * in;
    crema::round_bf16(sampled_input(xn, ws, slot), g_.channels * g_.out_plane(), x16);
    return x16;
  }
  const uint16_t* xn = static_cast<const uint16_t*>(x) + n * in;
  if (g_.is_pointwise()) return xn;
  gather(xn, x16);
  return x16;
}

void ConvGemm::pointwise_forward_bf16(const void* x, bool x_bf16, const float* w, const float* bias,
                                      void* y, bool y_bf16, float* ws) const {
  const int64_t out = g_.out_plane(), G = g_.groups, mg = m_ / G, cg = g_.channels / G;
  const uint16_t* w16 = rounded_weights(w, ws);
  for_each_chunk([&](int slot, int64_t n, int) {
    const uint16_t* x16 = image_input_bf16(x, x_bf16, n, ws, slot);
    // Y_n[g] = W_g * X_n[g] into yn, fp32 or bf16 (the GEMM rounds its sums into a bf16 C).
    auto outputs = [&](auto* yn) {
      for (int64_t grp = 0; grp < G; ++grp)
        crema::gemm_bf16(false, false, i32(mg), i32(out), i32(cg), 1.f,
                         crema::bf16_operand(w16 + grp * mg * cg, i32(cg)),
                         crema::bf16_operand(x16 + grp * cg * out, i32(out)), 0.f,
                         yn + grp * mg * out, i32(out));
    };
    if (!y_bf16) {
      float* yn = static_cast<float*>(y) + n * m_ * out;
      outputs(yn);
      if (bias)
        for (int64_t o = 0; o < m_; ++o)
          for (int64_t k = 0; k < out; ++k) yn[o * out + k] += bias[o];
      return;
    }
    uint16_t* yn = static_cast<uint16_t*>(y) + n * m_ * out;
    if (!bias) return outputs(yn);
    round_through_blocks(m_, out, block_pixels(), bias, block(ws, slot), yn,
                         [&](int64_t p0, int64_t nb, float* blk) {
                           for (int64_t grp = 0; grp < G; ++grp)
                             crema::gemm_bf16(
                                 false, false, i32(mg), i32(nb), i32(cg), 1.f,
                                 crema::bf16_operand(w16 + grp * mg * cg, i32(cg)),
                                 crema::bf16_operand(x16 + grp * cg * out + p0, i32(out)), 0.f,
                                 blk + grp * mg * nb, i32(nb));
                         });
  });
}

void ConvGemm::pointwise_backward_bf16(const void* x, bool x_bf16, const float* w, const void* dy,
                                       bool y_bf16, float* dw, void* dx, float* ws) const {
  const int64_t out = g_.out_plane(), in = g_.channels * g_.in_plane(), G = g_.groups, mg = m_ / G,
                cg = g_.channels / G;
  const bool strided = !g_.is_pointwise();
  const uint16_t* w16 = dx ? rounded_weights(w, ws) : nullptr;
  if (dw)
    for (int s = 1; s < slots_; ++s) std::fill(partial(ws, s), partial(ws, s) + wk_, 0.f);
  for_each_chunk([&](int slot, int64_t n, int) {
    float* xs = buffers(ws, slot).xt;
    const uint16_t* dy16 = static_cast<const uint16_t*>(dy) + n * m_ * out;
    if (!y_bf16) {
      uint16_t* rounded = rounded_output_grad(ws, slot);
      crema::round_bf16(static_cast<const float*>(dy) + n * m_ * out, m_ * out, rounded);
      dy16 = rounded;
    }
    if (dw) {  // dE/dW_g += dY_n[g] * X_n[g]^T
      float* dwk = slot == 0 ? dw : partial(ws, slot);
      const uint16_t* x16 = image_input_bf16(x, x_bf16, n, ws, slot);
      for (int64_t grp = 0; grp < G; ++grp)
        crema::gemm_bf16(false, true, i32(mg), i32(cg), i32(out), 1.f,
                         crema::bf16_operand(dy16 + grp * mg * out, i32(out)),
                         crema::bf16_operand(x16 + grp * cg * out, i32(out)), 1.f,
                         dwk + grp * mg * cg, i32(cg));
    }
    if (!dx) return;
    // dE/dX_n[g] = W_g^T * dY_n[g] into c, fp32 or bf16 (the GEMM rounds into a bf16 C).
    auto input_grad = [&](auto* c) {
      for (int64_t grp = 0; grp < G; ++grp)
        crema::gemm_bf16(true, false, i32(cg), i32(out), i32(mg), 1.f,
                         crema::bf16_operand(w16 + grp * mg * cg, i32(cg)),
                         crema::bf16_operand(dy16 + grp * mg * out, i32(out)), 0.f,
                         c + grp * cg * out, i32(out));
    };
    if (!strided) {
      if (x_bf16)
        input_grad(static_cast<uint16_t*>(dx) + n * in);
      else
        input_grad(static_cast<float*>(dx) + n * in);
      return;
    }
    // Strided: into the sampled positions, 0 elsewhere.
    input_grad(xs);
    if (!x_bf16) return scatter(xs, static_cast<float*>(dx) + n * in);
    uint16_t* dxn16 = static_cast<uint16_t*>(dx) + n * in;
    std::fill(dxn16, dxn16 + in, uint16_t{0});
    const int64_t OH = g_.out_h(), OW = g_.out_w(), SW = g_.stride_w;
    for (int64_t ch = 0; ch < g_.channels; ++ch)
      for (int64_t oh = 0; oh < OH; ++oh) {
        uint16_t* dst = dxn16 + (ch * g_.height + oh * g_.stride_h) * g_.width;
        const float* src = xs + (ch * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) dst[ow * SW] = crema::float_to_bf16(src[ow]);
      }
  });
  if (dw) reduce_partials(ws, dw);
}

void ConvGemm::forward_stored(const void* x, const float* w, const float* bias, void* y,
                              float* ws) const {
  CREMA_CHECK(takes_storage(), "ConvGemm: stored types outside the 1x1 bf16 GEMMs");
  pointwise_forward_bf16(x, x_bf16_, w, bias, y, y_bf16_, ws);
}

void ConvGemm::backward_stored(const void* x, const float* w, const void* dy, float* dw, void* dx,
                               float* ws) const {
  CREMA_CHECK(takes_storage(), "ConvGemm: stored types outside the 1x1 bf16 GEMMs");
  pointwise_backward_bf16(x, x_bf16_, w, dy, y_bf16_, dw, dx, ws);
}

}  // namespace crema::layers
