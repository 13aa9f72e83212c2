// SPDX-License-Identifier: BSD-2-Clause
// Precision as configuration: NVCaffe's net-level defaults and per-layer overrides, the run's
// -precision, which layers compute in bf16 and why the others do not, and the bf16 GEMM the host
// offers plugins (against a double-precision product of bf16-rounded inputs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crema/core/gemm_bf16.hpp"
#include "crema/core/host.hpp"
#include "crema/core/net.hpp"
#include "crema/core/precision.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

pb::NetParameter net_of(const std::string& text) {
  return parse_net_text(text, "t.prototxt", Registry::global());
}

// An NVCaffe mixed-precision file: its fields and enum names parse unchanged.
const char* kMixedNet = R"(
  default_forward_type: FLOAT16
  default_backward_type: FLOAT16
  default_forward_math: FLOAT
  default_backward_math: FLOAT
  global_grad_scale: 32
  global_grad_scale_adaptive: true
  layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 4 dim: 8 dim: 5 dim: 5 } } }
  layer { name: "conv" type: "Convolution" bottom: "x" top: "c"
          forward_math: BFLOAT16 backward_math: BFLOAT16
          convolution_param { num_output: 4 kernel_size: 3 } }
  layer { name: "fc" type: "InnerProduct" bottom: "c" top: "y" forward_type: FLOAT
          inner_product_param { num_output: 3 } }
  layer { name: "relu" type: "ReLU" bottom: "y" top: "y" }
)";

TEST(Precision, NvcaffeFieldsParseAndResolve) {
  const pb::NetParameter net = net_of(kMixedNet);
  EXPECT_EQ(net.default_forward_type(), pb::FLOAT16);
  EXPECT_FLOAT_EQ(net.global_grad_scale(), 32.f);
  EXPECT_TRUE(net.global_grad_scale_adaptive());
  // *_math wins over *_type, the layer's over the net's.
  const LayerMath conv = requested_math(net, net.layer(1), std::nullopt);
  EXPECT_EQ(conv.forward, CREMA_BFLOAT16);
  EXPECT_EQ(conv.backward, CREMA_BFLOAT16);
  const LayerMath fc = requested_math(net, net.layer(2), std::nullopt);
  EXPECT_EQ(fc.forward, CREMA_FLOAT32);   // its forward_type
  EXPECT_EQ(fc.backward, CREMA_FLOAT32);  // the net's default_backward_math
  const LayerMath relu = requested_math(net, net.layer(3), std::nullopt);
  EXPECT_EQ(relu.forward, CREMA_FLOAT32);
}

TEST(Precision, MathFollowsTypeWhenUnset) {
  const pb::NetParameter net =
      net_of("default_forward_type: BFLOAT16\n"
             "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 } } }");
  const LayerMath m = requested_math(net, net.layer(0), std::nullopt);
  EXPECT_EQ(m.forward, CREMA_BFLOAT16);
  EXPECT_EQ(m.backward, CREMA_FLOAT32);
}

TEST(Precision, RunOverrideReplacesNetDefaultsNotLayerSettings) {
  const pb::NetParameter net = net_of(kMixedNet);
  EXPECT_EQ(requested_math(net, net.layer(3), CREMA_BFLOAT16).forward, CREMA_BFLOAT16);
  EXPECT_EQ(requested_math(net, net.layer(2), CREMA_BFLOAT16).forward, CREMA_FLOAT32);
  EXPECT_EQ(requested_math(net, net.layer(1), CREMA_FLOAT32).forward, CREMA_BFLOAT16);
}

TEST(Precision, IntegerMathIsRefusedNamingLayerAndField) {
  const pb::NetParameter net = net_of("layer { name: 'in' type: 'Input' top: 'x' forward_math: INT "
                                      "input_param { shape { dim: 2 dim: 3 } } }");
  try {
    requested_math(net, net.layer(0), std::nullopt);
    FAIL() << "INT math accepted";
  } catch (const std::exception& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("layer 'in' (Input)"), std::string::npos) << m;
    EXPECT_NE(m.find("forward_math INT"), std::string::npos) << m;
  }
  // DOUBLE is computed in fp32, crema's widest type.
  const pb::NetParameter d =
      net_of("default_forward_math: DOUBLE\n"
             "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 } } }");
  EXPECT_EQ(requested_math(d, d.layer(0), std::nullopt).forward, CREMA_FLOAT32);
}

TEST(Precision, ParsePrecisionNamesTheChoices) {
  EXPECT_EQ(parse_precision("bf16"), CREMA_BFLOAT16);
  EXPECT_EQ(parse_precision("fp16"), CREMA_FLOAT16);
  EXPECT_EQ(parse_precision("fp32"), CREMA_FLOAT32);
  try {
    parse_precision("int8");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fp32, bf16 or fp16"), std::string::npos) << e.what();
  }
}

TEST(Precision, NetAsksBf16OnlyOfLayersThatDeclareIt) {
  NetOptions o;
  o.phase = pb::TEST;
  o.precision = CREMA_BFLOAT16;
  Net net(net_of(kMixedNet), o);
  const int conv = net.layer_index("conv"), fc = net.layer_index("fc"),
            relu = net.layer_index("relu");
  if (!cpu_has_bf16() || !bf16_gemm_available()) {
    EXPECT_EQ(net.layer_math(conv).forward, CREMA_FLOAT32);
    EXPECT_NE(net.precision_summary().find("lacks AVX512_BF16"), std::string::npos)
        << net.precision_summary();
    GTEST_SKIP() << "this CPU or build has no bf16 GEMM: the fp32 fallback was checked";
  }
  EXPECT_EQ(net.layer_math(conv).forward, CREMA_BFLOAT16);  // declared by Convolution
  EXPECT_EQ(net.layer_math(fc).forward, CREMA_FLOAT32);     // its own forward_type: FLOAT
  EXPECT_EQ(net.layer_math(relu).forward, CREMA_FLOAT32);   // ReLU declares no bf16
  const std::string s = net.precision_summary();
  EXPECT_NE(s.find("bf16 in 1 of"), std::string::npos) << s;
  EXPECT_NE(s.find("Convolution"), std::string::npos) << s;
}

TEST(Precision, CpuWithoutBf16FallsBackToFp32WithTheReason) {
  setenv("CREMA_CPU_BF16", "0", 1);
  NetOptions o;
  o.phase = pb::TEST;
  o.precision = CREMA_BFLOAT16;
  Net net(net_of(kMixedNet), o);
  EXPECT_EQ(net.layer_math(net.layer_index("conv")).forward, CREMA_FLOAT32);
  // Nothing computes in bf16, and the summary says why.
  const std::string summary = net.precision_summary();
  unsetenv("CREMA_CPU_BF16");
  EXPECT_NE(summary.find("lacks AVX512_BF16"), std::string::npos) << summary;
}

// The bf16 value of x by the definition: the nearest number with 8 significant bits, ties to
// even, computed in double (independent of the bit manipulation under test); subnormal inputs
// become zero of their sign (AVX512_BF16's conversion treats them as zero).
double bf16_reference(float x) {
  if (x == 0 || !std::isfinite(x)) return x;
  if (std::fabs(x) < 0x1p-126) return std::copysign(0.0, x);  // subnormals flush to zero
  int e;
  const double m = std::frexp(static_cast<double>(x), &e);  // x = m 2^e, 0.5 <= |m| < 1
  const double scaled = std::nearbyint(std::ldexp(m, 8));   // 8 significant bits, ties to even
  return std::ldexp(scaled, e - 8);
}

TEST(Bf16, RoundingIsNearestEven) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.f, 100.f);
  std::vector<float> x(4099);
  for (float& v : x) v = g(rng);
  x[0] = 1.00390625f;    // 1 + 2^-8: a tie, down to the even 1
  x[1] = 1.01171875f;    // 1 + 3 * 2^-8: a tie, up to the even 1 + 2^-6
  x[2] = -3.0e-39f;      // subnormal
  x[3] = 3.3961775e38f;  // rounds past the largest bf16 (3.3895e38) to infinity
  std::vector<uint16_t> r(x.size());
  round_to_bf16(x.data(), x.size(), r.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = i == 3 ? INFINITY : bf16_reference(x[i]);
    ASSERT_EQ(static_cast<double>(bf16_to_float(r[i])), want) << "x = " << x[i] << " (" << i << ")";
  }
  const float special[] = {NAN, INFINITY, -INFINITY, 0.f, -0.f};
  uint16_t s[5];
  round_to_bf16(special, 5, s);
  EXPECT_TRUE(std::isnan(bf16_to_float(s[0])));
  EXPECT_EQ(bf16_to_float(s[1]), INFINITY);
  EXPECT_EQ(bf16_to_float(s[2]), -INFINITY);
  EXPECT_TRUE(std::signbit(bf16_to_float(s[4])));
}

// C = alpha op(A) op(B) + beta C in double, from bf16-rounded A and B.
std::vector<double> reference_gemm(bool ta, bool tb, int m, int n, int k, float alpha,
                                   const std::vector<float>& a, int lda,
                                   const std::vector<float>& b, int ldb, float beta,
                                   const std::vector<float>& c, int ldc, std::vector<double>* mag) {
  std::vector<double> out(c.begin(), c.end());
  mag->assign(c.size(), 0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0, sa = 0;
      for (int p = 0; p < k; ++p) {
        const double x = bf16_reference(ta ? a[p * lda + i] : a[i * lda + p]);
        const double y = bf16_reference(tb ? b[j * ldb + p] : b[p * ldb + j]);
        s += x * y;
        sa += std::fabs(x * y);
      }
      out[i * ldc + j] = alpha * s + beta * c[i * ldc + j];
      (*mag)[i * ldc + j] = std::fabs(alpha) * sa + std::fabs(beta * c[i * ldc + j]);
    }
  return out;
}

TEST(Bf16, GemmIsTheProductOfRoundedInputsSummedInFp32) {
  if (!bf16_gemm_available()) GTEST_SKIP() << "no bf16 GEMM on this CPU or build";
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.f, 1.f);
  const int m = 37, n = 29, k = 301;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (float beta : {0.f, 1.f, 0.5f}) {
        const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
        std::vector<float> a(static_cast<size_t>(ta ? k : m) * lda),
            b(static_cast<size_t>(tb ? n : k) * ldb), c(static_cast<size_t>(m) * ldc);
        for (float& v : a) v = g(rng);
        for (float& v : b) v = g(rng);
        for (float& v : c) v = g(rng);
        std::vector<double> mag;
        const std::vector<double> want =
            reference_gemm(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, c, ldc, &mag);
        std::vector<float> got = c;
        gemm_bf16(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
        double worst = 0, off_fp32 = 0;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            const int at = i * ldc + j;
            // fp32 sums of k terms: within k * 2^-24 of the sum of magnitudes.
            worst = std::max(worst, std::fabs(got[at] - want[at]) / mag[at]);
            double exact = 0;
            for (int p = 0; p < k; ++p)
              exact += static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]) *
                       (tb ? b[j * ldb + p] : b[p * ldb + j]);
            off_fp32 = std::max(off_fp32, std::fabs(0.75 * exact + beta * c[at] - want[at]));
          }
        EXPECT_LT(worst, k * 6e-8) << "ta " << ta << " tb " << tb << " beta " << beta;
        EXPECT_GT(off_fp32, 1e-3) << "the inputs were not rounded to bf16";
        // Padding between rows stays untouched.
        for (int i = 0; i < m; ++i)
          for (int j = n; j < ldc; ++j) EXPECT_EQ(got[i * ldc + j], c[i * ldc + j]);
      }
}

// ABI 1.4's gemm_bf16_typed: operands given already rounded (read in place with their leading
// dimension) give the same bits as the same operands given in fp32 and rounded by the GEMM.
TEST(Bf16, TypedGemmReadsPreRoundedOperandsInPlace) {
  if (!bf16_gemm_available()) GTEST_SKIP() << "this CPU or build has no bf16 GEMM";
  std::mt19937 rng(4);
  std::normal_distribution<float> g(0.f, 1.f);
  const int m = 7, n = 9, k = 33, lda = 40, ldb = 36, ldc = 11;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int a_rows = ta ? k : m, b_rows = tb ? n : k;
      std::vector<float> a(static_cast<size_t>(a_rows) * lda), b(static_cast<size_t>(b_rows) * ldb);
      for (float& v : a) v = g(rng);
      for (float& v : b) v = g(rng);
      std::vector<uint16_t> a16(a.size()), b16(b.size());
      round_to_bf16(a.data(), a.size(), a16.data());
      round_to_bf16(b.data(), b.size(), b16.data());
      std::vector<float> want(static_cast<size_t>(m) * ldc, 0.5f), got = want, mixed = want;
      gemm_bf16(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, 0.25f, want.data(), ldc);
      gemm_bf16_typed(ta, tb, m, n, k, 0.75f, a16.data(), CREMA_BFLOAT16, lda, b16.data(),
                      CREMA_BFLOAT16, ldb, 0.25f, got.data(), ldc);
      gemm_bf16_typed(ta, tb, m, n, k, 0.75f, a.data(), CREMA_FLOAT32, lda, b16.data(),
                      CREMA_BFLOAT16, ldb, 0.25f, mixed.data(), ldc);
      EXPECT_EQ(got, want) << "ta " << ta << " tb " << tb;
      EXPECT_EQ(mixed, want) << "ta " << ta << " tb " << tb;
    }
}

// An fp32 operand too big for one chunk (a layer's weights) is rounded on the host's threads, in
// row blocks that skip each row's padding: the same bits as the operand rounded beforehand.
TEST(Bf16, LargeFp32OperandRoundedOnThreadsAsWhole) {
  if (!bf16_gemm_available()) GTEST_SKIP() << "this CPU or build has no bf16 GEMM";
  const int before = num_threads();
  set_num_threads(2);
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.f, 1.f);
  const int m = 5, n = 700, k = 301, ldb = 310, ldc = n;  // B^T: 700 rows of 301 (3 blocks)
  std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(n) * ldb);
  for (float& v : a) v = g(rng);
  for (float& v : b) v = g(rng);
  std::vector<uint16_t> b16(b.size());
  round_to_bf16(b.data(), b.size(), b16.data());
  std::vector<float> want(static_cast<size_t>(m) * ldc), got(want.size());
  gemm_bf16_typed(0, 1, m, n, k, 1.f, a.data(), CREMA_FLOAT32, k, b16.data(), CREMA_BFLOAT16, ldb,
                  0.f, want.data(), ldc);
  gemm_bf16_typed(0, 1, m, n, k, 1.f, a.data(), CREMA_FLOAT32, k, b.data(), CREMA_FLOAT32, ldb, 0.f,
                  got.data(), ldc);
  set_num_threads(before);
  EXPECT_EQ(got, want);
}

// A convolution whose backward computes in another type than its forward (per-layer
// forward_math / backward_math): the plan follows the forward's, and the other pass still
// computes correctly (1x1 and 3x3, both ways round): gradients within bf16's reach of fp32's.
TEST(Precision, ConvolutionBackwardInAnotherTypeThanItsForward) {
  if (!cpu_has_bf16() || !bf16_gemm_available()) GTEST_SKIP() << "no bf16 on this CPU or build";
  auto net_text = [](const std::string& math) {
    return "force_backward: true\n"
           "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 16 "
           "dim: 10 dim: 10 } } }\n"
           "layer { name: 'c1' type: 'Convolution' bottom: 'x' top: 'y' " +
           math +
           " convolution_param { num_output: 24 kernel_size: 1 weight_filler { type: 'msra' } } }\n"
           "layer { name: 'c3' type: 'Convolution' bottom: 'y' top: 'z' " +
           math +
           " convolution_param { num_output: 8 kernel_size: 3 pad: 1 "
           "weight_filler { type: 'msra' } } }\n"
           "layer { name: 't' type: 'Input' top: 't' input_param { shape { dim: 2 dim: 8 "
           "dim: 10 dim: 10 } } }\n"
           "layer { name: 'loss' type: 'EuclideanLoss' bottom: 'z' bottom: 't' top: 'loss' }\n";
  };
  auto run = [&](const std::string& math, std::vector<float>* dx) {
    NetOptions o;
    o.seed = 3;
    Net net(net_of(net_text(math)), o);
    std::mt19937 rng(8);
    std::normal_distribution<float> g(0.f, 1.f);
    Tensor* x = net.blob("x");
    for (int64_t i = 0; i < x->count(); ++i) x->mutable_host_data()[i] = g(rng);
    Tensor* t = net.blob("t");
    for (int64_t i = 0; i < t->count(); ++i) t->mutable_host_data()[i] = g(rng);
    net.clear_param_diffs();
    net.forward();
    net.backward();
    dx->assign(x->host_diff(), x->host_diff() + x->count());
    std::vector<float> grads;
    for (Tensor* p : net.all_params())
      grads.insert(grads.end(), p->host_diff(), p->host_diff() + p->count());
    return grads;
  };
  std::vector<float> dx32, dx;
  const std::vector<float> fp32 = run("", &dx32);
  for (const char* math : {"forward_math: FLOAT backward_math: BFLOAT16",
                           "forward_math: BFLOAT16 backward_math: FLOAT"}) {
    const std::vector<float> got = run(math, &dx);
    auto worst = [](const std::vector<float>& a, const std::vector<float>& b) {
      double top = 0, diff = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        top = std::max(top, std::fabs(double(b[i])));
        diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
      }
      return diff / top;
    };
    ASSERT_EQ(got.size(), fp32.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_TRUE(std::isfinite(got[i]) && std::isfinite(fp32[i])) << math << " [" << i << "]";
    EXPECT_LT(worst(got, fp32), 0.02) << math << ": parameter gradients";
    EXPECT_LT(worst(dx, dx32), 0.02) << math << ": input gradient";
  }
}

}  // namespace
}  // namespace crema
