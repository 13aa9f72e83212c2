// SPDX-License-Identifier: BSD-2-Clause
// crema::testing as plugin authors use it: declared configurations with their inputs and checker
// settings, one entry point that runs them, and the harness's refusals and hints.
#include "crema/testing/harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "crema/layer.hpp"

namespace crema {
namespace {

constexpr auto npos = std::string::npos;

std::string test_plugin(const std::string& kind) {
  return std::string(CREMA_BINARY_DIR) + "/tests/plugins/" + kind + "/" + kind + ".so";
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Clip declares two kinks and uniform inputs on [-2, 2); both reach the checker.
TEST(DeclaredConfigs, CarryInputsAndCheckerSettings) {
  auto configs = testing::declared_configs(test_plugin("clip"));
  ASSERT_EQ(configs.size(), 1u);
  const testing::DeclaredConfig& c = configs[0];
  EXPECT_EQ(c.layer_text, "type: 'Clip'");
  EXPECT_EQ(c.bottom_shapes, "4,250");
  EXPECT_EQ(c.input.kind, testing::InputFill::kUniform);
  EXPECT_EQ(c.input.lo, -2);
  EXPECT_EQ(c.input.hi, 2);
  EXPECT_EQ(c.kinks, (std::vector<double>{-1, 1}));
  EXPECT_EQ(c.step, 1e-2);          // the default
  EXPECT_EQ(c.kink_range, c.step);  // the default: inputs whose probes straddle a kink
  const std::string d = c.describe();
  EXPECT_NE(d.find("uniform [-2, 2)"), npos) << d;
  EXPECT_NE(d.find("kinks -1, 1"), npos) << d;
}

TEST(DeclaredConfigs, TwoKinksPassWhereOneFails) {
  testing::DeclaredConfig c = testing::declared_configs(test_plugin("clip")).at(0);
  testing::CheckOptions cpu_only;
  cpu_only.gpu = false;
  auto results = testing::check_config(c, cpu_only);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].passed) << results[0].detail;
  // The same inputs with only the kink at -1 skipped: the probes that straddle 1 mismatch.
  c.kinks = {-1};
  results = testing::check_config(c, cpu_only);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].passed);
  EXPECT_NE(results[0].detail.find("Clip bottom 0"), npos) << results[0].detail;
}

// A descriptor as a minor-1 plugin wrote it (struct_size ends before test_settings): its
// configurations load with the checker's defaults, and the field past its end is never read.
TEST(DeclaredConfigs, OlderPluginsGetTheDefaults) {
  auto configs = testing::declared_configs(test_plugin("old_minor"));
  ASSERT_EQ(configs.size(), 2u);
  for (const auto& c : configs) {
    EXPECT_EQ(c.input.kind, testing::InputFill::kGaussian);
    EXPECT_EQ(c.input.std, 1.0);
    EXPECT_EQ(c.step, 1e-2);
    EXPECT_EQ(c.threshold, 1e-2);
    EXPECT_TRUE(c.kinks.empty());
  }
  EXPECT_EQ(configs[1].layer_text, "type: 'Echo'");
  EXPECT_EQ(configs[1].bottom_shapes, "4");
}

TEST(DeclaredConfigs, TestConfigHoldsAtMostFourKinks) {
  EXPECT_THROW((TestConfig{"type: 'X'", "2"}.with_kinks({1, 2, 3, 4, 5})), Error);
  TestConfig t =
      TestConfig{"type: 'X'", "2"}.with_step(1e-3).with_threshold(5e-3).with_gaussian_inputs(3);
  EXPECT_EQ(t.step, 1e-3);
  EXPECT_EQ(t.threshold, 5e-3);
  EXPECT_EQ(t.input, CREMA_TEST_INPUT_GAUSSIAN);
  EXPECT_EQ(t.input_std, 3);
}

TEST(LayerHarness, FillsInputsAsDeclared) {
  testing::HarnessOptions opt;
  opt.plugin_dirs = {std::string(CREMA_BINARY_DIR) + "/tests/plugins/clip"};
  testing::LayerHarness h("type: 'Clip'", {{1000}}, opt);
  testing::InputFill uniform;
  uniform.kind = testing::InputFill::kUniform;
  uniform.lo = -2;
  uniform.hi = 3;
  h.fill(0, uniform, 5);
  float lo = 1e9f, hi = -1e9f;
  for (int i = 0; i < 1000; ++i) {
    lo = std::min(lo, h.bottom_data(0)[i]);
    hi = std::max(hi, h.bottom_data(0)[i]);
  }
  EXPECT_GE(lo, -2.f);
  EXPECT_LT(hi, 3.f);
  EXPECT_LT(lo, -1.9f);
  EXPECT_GT(hi, 2.9f);
  testing::InputFill gaussian;
  gaussian.std = 3;
  h.fill(0, gaussian, 5);
  double sq = 0;
  for (int i = 0; i < 1000; ++i) sq += double(h.bottom_data(0)[i]) * h.bottom_data(0)[i];
  EXPECT_NEAR(std::sqrt(sq / 1000), 3.0, 0.3);
}

TEST(LayerHarness, InPlaceNeedsTheLayersFlag) {
  testing::HarnessOptions opt;
  opt.in_place = true;
  opt.plugin_dirs = {std::string(CREMA_BINARY_DIR) + "/tests/plugins/clip"};
  std::string m = error_of([&] { testing::LayerHarness h("type: 'Clip'", {{2, 3}}, opt); });
  EXPECT_NE(m.find("cannot run in place"), npos) << m;
  EXPECT_NE(m.find("LayerInfo.flags = CREMA_LAYER_IN_PLACE"), npos) << m;
}

// Run outside CTest (no CREMA_TEST_PLUGIN_DIR), a plugin's test binary must say where it looked
// and how to point it at the plugin, also when the unknown type's block fails to parse first.
TEST(LayerHarness, UnknownTypeSaysWhereItLookedAndWhichVariableToSet) {
  unsetenv("CREMA_TEST_PLUGIN_DIR");
  for (const char* text : {"type: 'NoSuchLayer'", "type: 'NoSuchLayer' no_such_param { a: 1 }"}) {
    std::string m = error_of([&] { testing::LayerHarness h(text, {{2}}); });
    EXPECT_NE(m.find("no plugin provides layer type 'NoSuchLayer'"), npos) << m;
    EXPECT_NE(m.find("lib/crema/plugins"), npos) << m;
    EXPECT_NE(m.find("CREMA_TEST_PLUGIN_DIR"), npos) << m;
    EXPECT_NE(m.find("is not set"), npos) << m;
  }
}

// The references of the fp16/bf16 tests round by the definition; here against values whose
// rounding is known by hand (and, for bf16, against cutting fp32's low 16 bits with ties to even).
TEST(RoundToMath, RoundsToTheTypesSignificantBitsTiesToEven) {
  using testing::round_to_math;
  const int bf16 = CREMA_BFLOAT16, fp16 = CREMA_FLOAT16;
  EXPECT_EQ(round_to_math(1.0 + 1.0 / 256, bf16), 1.0);              // a tie: to the even 1.0
  EXPECT_EQ(round_to_math(1.0 + 3.0 / 256, bf16), 1.0 + 4.0 / 256);  // a tie: to the even 1+2/128
  EXPECT_EQ(round_to_math(1.0 + 1.0 / 2048, fp16), 1.0);
  EXPECT_EQ(round_to_math(1.0 + 3.0 / 2048, fp16), 1.0 + 2.0 / 1024);
  EXPECT_EQ(round_to_math(-3.0 - 1.0 / 64, fp16), -3.0 - 1.0 / 64);  // representable: unchanged
  EXPECT_EQ(round_to_math(65519.0, fp16), 65504.0);                  // fp16's largest
  EXPECT_TRUE(std::isinf(round_to_math(65520.0, fp16)));             // rounds past it: inf
  EXPECT_EQ(round_to_math(std::ldexp(3.0, -26), fp16), std::ldexp(1.0, -24));  // subnormal step
  EXPECT_EQ(round_to_math(std::ldexp(1.0, -26), fp16), 0.0);
  EXPECT_FALSE(std::isinf(round_to_math(1e30, bf16)));  // bf16 has fp32's range
  // bf16 as fp32 with the low 16 bits rounded away (ties to even), over many values.
  uint32_t seed = 12345;
  for (int i = 0; i < 10000; ++i) {
    seed = seed * 1664525u + 1013904223u;
    const float v = std::ldexp(static_cast<float>(seed >> 8) / 16777216.f - 0.5f, (i % 40) - 20);
    uint32_t b = 0;
    std::memcpy(&b, &v, 4);
    b = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
    float want = 0;
    std::memcpy(&want, &b, 4);
    ASSERT_EQ(round_to_math(v, bf16), want) << v;
  }
}

}  // namespace
}  // namespace crema
