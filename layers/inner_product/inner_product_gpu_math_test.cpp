// SPDX-License-Identifier: BSD-2-Clause
// InnerProduct on the GPU in fp16 and bf16 (docs/PRECISION.md, "GPU"): X, W and dE/dY rounded to
// the type and multiplied on the tensor cores with fp32 sums into fp32 Y, dE/dW and dE/dX
// (cublasGemmEx). Held to
//   1. a double-precision product of the inputs rounded to the type: cuBLAS writes fp32, so the
//      only difference left is the fp32 sums' (within 1e-5 of the sum of |terms|), and the
//      result must differ from the product of the unrounded inputs;
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
using crema::testing::Shape;

namespace {

constexpr int kFp16 = 2, kBf16 = 1;  // crema_dtype values

struct Case {
  const char* body;
  Shape shape;  // bottom; K = 37 inputs per row in every case
  bool transpose;
};
const Case kCases[] = {
    {"num_output: 9 bias_filler { type: 'gaussian' }", {6, 37}, false},
    {"num_output: 9 transpose: true bias_filler { type: 'gaussian' }", {6, 37}, true},
    {"num_output: 16 bias_term: false", {5, 37, 1, 1}, false}};

std::string text(const Case& c) {
  return std::string("type: 'InnerProduct' inner_product_param { ") + c.body +
         " weight_filler { type: 'gaussian' std: 0.5 } }";
}

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

// Y = X W^T (W stored N x K, or K x N when transposed) without the bias, dE/dX = dY W,
// dE/dW = dY^T X (stored as W is), from inputs rounded to `math`; *_mag: sums of |terms|.
struct Reference {
  std::vector<double> y, dx, dw, y_mag, dx_mag, dw_mag;
};

Reference reference(LayerHarness& h, bool transpose, int math) {
  const int64_t M = h.bottom_shape(0)[0], K = h.count(h.bottom_shape(0)) / M,
                N = h.count(h.top_shape(0)) / M;
  const float *x = h.bottom_data(0), *w = h.param_data(0), *dy = h.top_diff(0);
  Reference r;
  r.y.assign(M * N, 0);
  r.y_mag = r.y;
  r.dx.assign(M * K, 0);
  r.dx_mag = r.dx;
  r.dw.assign(N * K, 0);
  r.dw_mag = r.dw;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const double d = round_to_math(dy[m * N + n], math);
      for (int64_t k = 0; k < K; ++k) {
        const int64_t wi = transpose ? k * N + n : n * K + k;
        const double xv = round_to_math(x[m * K + k], math), wv = round_to_math(w[wi], math);
        r.y[m * N + n] += xv * wv;
        r.y_mag[m * N + n] += std::fabs(xv * wv);
        r.dx[m * K + k] += d * wv;
        r.dx_mag[m * K + k] += std::fabs(d * wv);
        r.dw[wi] += d * xv;
        r.dw_mag[wi] += std::fabs(d * xv);
      }
    }
  return r;
}

// max |got - want| / mag (minus the bias of column i % n where given).
double worst(const float* got, const std::vector<double>& want, const std::vector<double>& mag,
             const float* bias = nullptr, int64_t n = 1) {
  double out = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double b = bias ? bias[i % n] : 0.0;
    out = std::max(out, std::fabs(got[i] - b - want[i]) / (mag[i] + 1e-30));
  }
  return out;
}

void check_against_rounded_reference(int math) {
  std::string why;
  if (!gpu_computes_in(math, &why)) GTEST_SKIP() << why;
  const int bits = math == kBf16 ? 8 : 11;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.body);
    HarnessOptions o;
    o.gpu = true;
    o.math = math;
    LayerHarness h(text(c), {c.shape}, o);
    ASSERT_EQ(h.math(), math) << "the GPU has tensor cores for the type, yet the layer was not "
                                 "asked to compute in it (cuda_math not declared?)";
    h.fill_gaussian(0, 1.0);
    h.forward();
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (int64_t i = 0; i < h.count(h.top_shape(0)); ++i) h.top_diff(0)[i] = u(rng);
    h.zero_param_diffs();
    h.backward();
    const Reference want = reference(h, c.transpose, math);
    const int64_t n = h.top_shape(0).back();
    // 37 exact products (2 x 8 or 2 x 11 bits fit fp32's 24) summed in fp32: far within 1e-5.
    EXPECT_LT(
        worst(h.top_data(0), want.y, want.y_mag, h.num_params() > 1 ? h.param_data(1) : nullptr, n),
        1e-5)
        << "forward";
    EXPECT_LT(worst(h.bottom_diff(0), want.dx, want.dx_mag), 1e-5) << "dE/dX";
    EXPECT_LT(worst(h.param_diff(0), want.dw, want.dw_mag), 1e-5) << "dE/dW";
    // Unrounded inputs would be off from `want` by about 2^-bits / sqrt(terms) of the magnitude.
    const Reference exact = reference(h, c.transpose, 0);
    EXPECT_GT(worst(h.bottom_diff(0), exact.dx, exact.dx_mag), std::ldexp(1.0, -bits - 6))
        << "the inputs were not rounded to the type";
  }
}

void check_against_cpu_fp32(int math) {
  std::string why;
  if (!gpu_computes_in(math, &why)) GTEST_SKIP() << why;
  for (const Case& c : kCases) {
    HarnessOptions cpu, gpu;
    gpu.gpu = true;
    gpu.math = math;
    LayerHarness a(text(c), {c.shape}, cpu), b(text(c), {c.shape}, gpu);
    ASSERT_EQ(b.math(), math);
    // Rounded inputs only (at most 2^-8 relative for bf16, 2^-11 for fp16; fp32 outputs): within
    // the harness's 2% for narrower math, which a wrong operand or transpose exceeds.
    EXPECT_LT(crema::testing::max_disagreement(a, b, 3, {}),
              crema::testing::CheckOptions{}.narrower_tolerance)
        << c.body;
  }
}

}  // namespace

TEST(InnerProductGpuMath, Fp16ComputesWithRoundedInputsAndFp32Sums) {
  check_against_rounded_reference(kFp16);
}
TEST(InnerProductGpuMath, Bf16ComputesWithRoundedInputsAndFp32Sums) {
  check_against_rounded_reference(kBf16);
}
TEST(InnerProductGpuMath, Fp16AgreesWithCpuFp32) { check_against_cpu_fp32(kFp16); }
TEST(InnerProductGpuMath, Bf16AgreesWithCpuFp32) { check_against_cpu_fp32(kBf16); }
