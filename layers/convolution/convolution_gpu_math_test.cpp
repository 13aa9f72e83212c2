// SPDX-License-Identifier: BSD-2-Clause
// Convolution on the GPU in fp16 and bf16 (docs/PRECISION.md, "GPU"): forward, dE/dx and dE/dW
// through cuDNN (engine CUDNN) and through im2col + cublasGemmEx (engine CAFFE), held to
//   1. a double-precision convolution of the inputs rounded to the type (what the tensor cores
//      multiply), within what fp32 sums and the path's one output rounding allow, and
//   2. the CPU's fp32 path, within CheckOptions::narrower_tolerance (2% of the largest value).
// Skipped, saying why, without a GPU or on one without tensor cores for the type.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::round_to_math;

namespace {

constexpr int kFp16 = 2, kBf16 = 1;  // crema_dtype values

struct Geometry {
  int kh, kw, ph, pw, sh, sw, dh, dw, group;
};

struct Case {
  const char* body;
  std::vector<int64_t> shape;
  Geometry g;
};

// 3x3 with bias, 1x1 (x is its own column matrix on the GEMM path), grouped dilated strided,
// strided 1x1: the shapes of ResNet's layers in small.
const Case kCases[] = {
    {"num_output: 8 kernel_size: 3 pad: 1", {2, 16, 9, 11}, {3, 3, 1, 1, 1, 1, 1, 1, 1}},
    {"num_output: 6 kernel_size: 1 bias_term: false", {3, 32, 5, 7}, {1, 1, 0, 0, 1, 1, 1, 1, 1}},
    {"num_output: 6 kernel_h: 3 kernel_w: 2 stride: 2 dilation: 2 group: 2 pad: 1",
     {2, 8, 9, 8},
     {3, 2, 1, 1, 2, 2, 2, 2, 2}},
    {"num_output: 12 kernel_size: 1 stride: 2 bias_term: false",
     {2, 24, 7, 7},
     {1, 1, 0, 0, 2, 2, 1, 1, 1}}};

std::string text(const Case& c, const char* engine) {
  return std::string("type: 'Convolution' convolution_param { ") + c.body + " engine: " + engine +
         " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 } }";
}

// y (without the bias), dE/dx and dE/dW in double from x, W and dE/dy rounded to `math`, and each
// output's sum of |terms| (the scale of the fp32 sums' rounding error).
struct Reference {
  std::vector<double> y, dx, dw, y_mag, dx_mag, dw_mag;
};

Reference reference(LayerHarness& h, const Geometry& r, int math) {
  const auto xs = h.bottom_shape(0), ys = h.top_shape(0);
  const int N = static_cast<int>(xs[0]), C = static_cast<int>(xs[1]), H = static_cast<int>(xs[2]),
            W = static_cast<int>(xs[3]), M = static_cast<int>(ys[1]), OH = static_cast<int>(ys[2]),
            OW = static_cast<int>(ys[3]);
  const int cg = C / r.group, mg = M / r.group;
  const float *x = h.bottom_data(0), *w = h.param_data(0), *dy = h.top_diff(0);
  Reference ref;
  ref.y.assign(h.count(ys), 0);
  ref.y_mag = ref.y;
  ref.dx.assign(h.count(xs), 0);
  ref.dx_mag = ref.dx;
  ref.dw.assign(h.count(h.param_shape(0)), 0);
  ref.dw_mag = ref.dw;
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < M; ++o)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          const size_t yi = ((static_cast<size_t>(n) * M + o) * OH + oh) * OW + ow;
          const double d = round_to_math(dy[yi], math);
          for (int c = 0; c < cg; ++c)
            for (int i = 0; i < r.kh; ++i)
              for (int j = 0; j < r.kw; ++j) {
                const int ih = oh * r.sh - r.ph + i * r.dh, iw = ow * r.sw - r.pw + j * r.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const size_t xi = ((static_cast<size_t>(n) * C + static_cast<size_t>(o / mg) * cg +
                                    c) *
                                       H +
                                   ih) *
                                      W +
                                  iw,
                             wi = ((static_cast<size_t>(o) * cg + c) * r.kh + i) * r.kw + j;
                const double xv = round_to_math(x[xi], math), wv = round_to_math(w[wi], math);
                ref.y[yi] += wv * xv;
                ref.y_mag[yi] += std::fabs(wv * xv);
                ref.dx[xi] += wv * d;
                ref.dx_mag[xi] += std::fabs(wv * d);
                ref.dw[wi] += xv * d;
                ref.dw_mag[wi] += std::fabs(xv * d);
              }
        }
  return ref;
}

// The largest |got - want| over the allowed error |want| * rel + 1e-5 * mag (fp32 sums of a few
// hundred exact products: far within 1e-5 of their magnitude): at most 1 passes.
double worst_ratio(const float* got, const std::vector<double>& want,
                   const std::vector<double>& mag, double rel, const float* offset = nullptr,
                   int64_t plane = 1, int64_t channels = 1) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double b = offset ? offset[(i / plane) % channels] : 0.0;
    const double err = std::fabs(got[i] - b - want[i]);
    worst = std::max(worst, err / (std::fabs(want[i]) * rel + 1e-5 * mag[i] + 1e-30));
  }
  return worst;
}

// Skips (returns false) without a GPU or without tensor cores for `math`.
bool gpu_computes_in(int math, std::string* why) {
  if (!crema::testing::gpu_available()) {
    *why = "no CUDA device: the fp16/bf16 GPU paths need one";
    return false;
  }
  const int cc = crema::testing::gpu_compute_capability(), need = math == kBf16 ? 80 : 70;
  if (cc < need) {
    *why = "GPU 0 has compute capability " + std::to_string(cc / 10) + "." +
           std::to_string(cc % 10) + ": " + (math == kBf16 ? "bf16" : "fp16") +
           " tensor cores need " + std::to_string(need / 10) + ".0";
    return false;
  }
  return true;
}

void check_against_rounded_reference(int math) {
  std::string why;
  if (!gpu_computes_in(math, &why)) GTEST_SKIP() << why;
  const int bits = math == kBf16 ? 8 : 11;  // significant bits of the type
  for (const char* engine : {"CUDNN", "CAFFE"}) {
    // cuDNN writes y, dE/dx and dE/dW in the type (widened afterwards): one more rounding, a
    // relative error of at most 2^-bits. The GEMM path writes fp32: none.
    const double out_round = std::string(engine) == "CUDNN" ? std::ldexp(1.0, -bits) : 0.0;
    for (const Case& c : kCases) {
      SCOPED_TRACE(std::string(c.body) + " engine: " + engine);
      HarnessOptions o;
      o.gpu = true;
      o.math = math;
      LayerHarness h(text(c, engine), {c.shape}, o);
      ASSERT_EQ(h.math(), math) << "the GPU has tensor cores for the type, yet the layer was not "
                                   "asked to compute in it (cuda_math not declared?)";
      h.fill_gaussian(0, 1.0);
      h.forward();
      std::mt19937_64 rng(5);
      std::uniform_real_distribution<float> u(-1.f, 1.f);
      const int64_t ny = h.count(h.top_shape(0));
      for (int64_t i = 0; i < ny; ++i) h.top_diff(0)[i] = u(rng);
      h.zero_param_diffs();
      h.backward();
      const Reference ref = reference(h, c.g, math);
      const auto ys = h.top_shape(0);
      const bool bias = h.num_params() > 1;
      EXPECT_LE(worst_ratio(h.top_data(0), ref.y, ref.y_mag, out_round,
                            bias ? h.param_data(1) : nullptr, ys[2] * ys[3], ys[1]),
                1.0)
          << "forward";
      EXPECT_LE(worst_ratio(h.bottom_diff(0), ref.dx, ref.dx_mag, out_round), 1.0) << "dE/dx";
      EXPECT_LE(worst_ratio(h.param_diff(0), ref.dw, ref.dw_mag, out_round), 1.0) << "dE/dW";
      if (out_round == 0) {
        // fp32 outputs: the rounding of the inputs shows. Unrounded inputs would pass the
        // tolerance above only by chance; this says so plainly.
        const Reference exact = reference(h, c.g, 0);
        double off = 0;
        for (size_t i = 0; i < exact.dw.size(); ++i)
          off = std::max(off,
                         std::fabs(h.param_diff(0)[i] - exact.dw[i]) / (exact.dw_mag[i] + 1e-30));
        EXPECT_GT(off, std::ldexp(1.0, -bits - 6)) << "the inputs were not rounded to the type";
      }
    }
  }
}

void check_against_cpu_fp32(int math) {
  std::string why;
  if (!gpu_computes_in(math, &why)) GTEST_SKIP() << why;
  for (const char* engine : {"CUDNN", "CAFFE"})
    for (const Case& c : kCases) {
      HarnessOptions cpu, gpu;
      gpu.gpu = true;
      gpu.math = math;
      LayerHarness a(text(c, engine), {c.shape}, cpu), b(text(c, engine), {c.shape}, gpu);
      ASSERT_EQ(b.math(), math);
      // Rounded inputs and cuDNN's rounded outputs (at most 2^-8 relative each for bf16, 2^-11
      // for fp16): bf16 lands near 0.5% of the largest value, fp16 near 0.1%; 2% is the
      // harness's bound for narrower math, which a wrong index or a missing term (O(100%))
      // exceeds.
      EXPECT_LT(crema::testing::max_disagreement(a, b, 3, {}),
                crema::testing::CheckOptions{}.narrower_tolerance)
          << c.body << " engine: " << engine;
    }
}

}  // namespace

TEST(ConvolutionGpuMath, Fp16ComputesWithRoundedInputsAndFp32Sums) {
  check_against_rounded_reference(kFp16);
}
TEST(ConvolutionGpuMath, Bf16ComputesWithRoundedInputsAndFp32Sums) {
  check_against_rounded_reference(kBf16);
}
TEST(ConvolutionGpuMath, Fp16AgreesWithCpuFp32) { check_against_cpu_fp32(kFp16); }
TEST(ConvolutionGpuMath, Bf16AgreesWithCpuFp32) { check_against_cpu_fp32(kBf16); }
