// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
std::string acc(const std::string& body) { return "type: 'Accuracy' " + body; }

// Four samples, four classes.
const float kScores[16] = {0.1f, 0.5f, 0.3f,  0.1f,   // order 1 > 2 > 0 = 3
                           0.9f, 0.0f, 0.05f, 0.05f,  // order 0 > 2 = 3 > 1
                           0.2f, 0.2f, 0.4f,  0.2f,   // order 2 > 0 = 1 = 3
                           0.0f, 0.1f, 0.2f,  0.7f};  // order 3 > 2 > 1 > 0
const float kLabels[4] = {2, 0, 1, 1};

LayerHarness make(const std::string& body, const char* tops = "", const HarnessOptions& o = {}) {
  LayerHarness h(acc(body) + tops, {{4, 4}, {4}}, o);
  std::copy(kScores, kScores + 16, h.bottom_data(0));
  std::copy(kLabels, kLabels + 4, h.bottom_data(1));
  return h;
}

void top_one_and_top_k(const HarnessOptions& o) {
  // Ranks of the true class (number of scores >= it, minus one): 1, 0, 3 (ties count), 2.
  const std::pair<int, float> cases[] = {{1, 0.25f}, {2, 0.5f}, {3, 0.75f}, {4, 1.f}};
  for (const auto& [k, want] : cases) {
    LayerHarness h = make("accuracy_param { top_k: " + std::to_string(k) + " }", "", o);
    h.forward();
    EXPECT_EQ(h.top_shape(0), Shape{});
    EXPECT_FLOAT_EQ(h.top_data(0)[0], want) << "top_k " << k;
  }
}

void ignore_label_and_per_class(const HarnessOptions& o) {
  LayerHarness h =
      make("accuracy_param { top_k: 2 ignore_label: 1 }", " top: 'acc' top: 'per_class'", o);
  h.forward();
  // Samples 2 and 3 have label 1 and are ignored; sample 0 (rank 1) and 1 (rank 0) are hits.
  EXPECT_FLOAT_EQ(h.top_data(0)[0], 1.f);
  ASSERT_EQ(h.top_shape(1), Shape{4});
  const float want[4] = {1, 0, 1, 0};  // classes 0 and 2 seen once each; 1 ignored, 3 never seen
  for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(h.top_data(1)[k], want[k]) << k;

  LayerHarness all = make("", " top: 'acc' top: 'per_class'", o);
  all.forward();
  const float per[4] = {1, 0, 0, 0};  // top-1: only sample 1 (class 0) is right; class 1 seen twice
  for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(all.top_data(1)[k], per[k]) << k;
}

void nothing_counted_gives_zero(const HarnessOptions& o) {
  LayerHarness h(acc("accuracy_param { ignore_label: 3 }"), {{2, 4}, {2}}, o);
  h.bottom_data(1)[0] = h.bottom_data(1)[1] = 3;
  h.forward();
  EXPECT_EQ(h.top_data(0)[0], 0.f);
}

void spatial_axis(const HarnessOptions& o) {
  // (N=1, C=3, H=1, W=3): argmax per position (w) over channels.
  LayerHarness h(acc(""), {{1, 3, 1, 3}, {1, 1, 1, 3}}, o);
  const float x[9] = {5, 0, 0,   // c0
                      0, 5, 0,   // c1
                      0, 0, 5};  // c2 -> argmax at w is class w
  std::copy(x, x + 9, h.bottom_data(0));
  const float l[3] = {0, 1, 0};
  std::copy(l, l + 3, h.bottom_data(1));
  h.forward();
  EXPECT_FLOAT_EQ(h.top_data(0)[0], 2.f / 3);
  LayerHarness last(acc("accuracy_param { axis: -1 }"), {{2, 3}, {2}}, o);
  const float y[6] = {0, 1, 0, 3, 2, 1}, ly[2] = {1, 1};
  std::copy(y, y + 6, last.bottom_data(0));
  std::copy(ly, ly + 2, last.bottom_data(1));
  last.forward();
  EXPECT_FLOAT_EQ(last.top_data(0)[0], 0.5f);
}
}  // namespace

// GPU agreement cases: top_k, ignore_label, the per-class top, a spatial axis, many positions.
// Labels are drawn from -1 (ignored) .. C - 1.
const std::pair<std::string, std::vector<Shape>> kGpuCases[] = {
    {acc("accuracy_param { top_k: 2 ignore_label: -1 }"), {{2, 5}, {2}}},
    {acc("accuracy_param { ignore_label: -1 }"), {{64, 10}, {64}}},
    {acc("accuracy_param { top_k: 3 ignore_label: -1 } top: 'a' top: 'c'"), {{64, 10}, {64}}},
    {acc("accuracy_param { ignore_label: -1 } top: 'a' top: 'c'"), {{4, 3, 5, 7}, {4, 1, 5, 7}}},
    {acc("accuracy_param { axis: -1 top_k: 2 ignore_label: -1 }"), {{3, 4, 6}, {3, 4}}},
    {acc("accuracy_param { ignore_label: -1 } top: 'a' top: 'c'"), {{1000, 2, 70}, {1000, 70}}},
};

// Scores N(0,1), labels cycling through -1 .. C - 1.
void fill_case(LayerHarness& h) {
  const int64_t positions = h.count(h.bottom_shape(1));
  const int64_t classes = h.count(h.bottom_shape(0)) / positions;
  h.fill_gaussian(0, 1.0, 0.0, 5);
  for (int64_t p = 0; p < positions; ++p)
    h.bottom_data(1)[p] = float((p * 7919) % (classes + 1)) - 1.f;
}

TEST(Accuracy, GpuCasesRunOnTheCpu) {
  for (const auto& [text, shapes] : kGpuCases) {
    LayerHarness h(text, shapes);
    fill_case(h);
    EXPECT_NO_THROW(h.forward()) << text;
  }
}

TEST(Accuracy, TopOneAndTopKByHand) { top_one_and_top_k({}); }

TEST(Accuracy, IgnoreLabelAndPerClassTop) { ignore_label_and_per_class({}); }

TEST(Accuracy, NothingCountedGivesZero) { nothing_counted_gives_zero({}); }

TEST(Accuracy, SpatialAxis) { spatial_axis({}); }

TEST(Accuracy, ForwardOnlyInTheGradientChecker) {
  LayerHarness h = make("accuracy_param { top_k: 2 }");
  std::string log;
  EXPECT_EQ(GradientChecker().check(h, &log), 0) << log;  // no bottom takes a gradient
  EXPECT_FALSE(h.bottom_takes_gradient(0));
}

TEST(Accuracy, ErrorsNameSizes) {
  try {
    LayerHarness h(acc("accuracy_param { top_k: 5 }"), {{2, 4}, {2}});
    FAIL() << "top_k 5 of 4 classes accepted";
  } catch (const std::exception& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("top_k 5"), std::string::npos) << m;
    EXPECT_NE(m.find("4 classes"), std::string::npos) << m;
  }
  try {
    LayerHarness h(acc(""), {{2, 4, 3}, {2, 4}});
    FAIL() << "label count mismatch accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("(2,4)"), std::string::npos) << e.what();
  }
  LayerHarness h(acc(""), {{2, 4}, {2}});
  h.bottom_data(1)[0] = 0;
  h.bottom_data(1)[1] = 7;
  EXPECT_THROW(h.forward(), std::exception);
}

namespace {
HarnessOptions on_gpu() {
  HarnessOptions o;
  o.gpu = true;
  return o;
}
}  // namespace

TEST(Accuracy, GpuByHand) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  ASSERT_TRUE(make("", "", on_gpu()).has_cuda_path());
  top_one_and_top_k(on_gpu());
  ignore_label_and_per_class(on_gpu());
  nothing_counted_gives_zero(on_gpu());
  spatial_axis(on_gpu());
  LayerHarness h = make("accuracy_param { top_k: 2 }", "", on_gpu());
  std::string log;
  EXPECT_EQ(GradientChecker().check(h, &log), 0) << log;  // forward only, on the GPU too
}

TEST(Accuracy, GpuOutOfRangeLabelGivesNaN) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // The CPU throws; the GPU cannot without waiting for the stream, so it poisons the outputs.
  LayerHarness h(acc("") + " top: 'acc' top: 'per_class'", {{2, 4}, {2}}, on_gpu());
  h.bottom_data(1)[0] = 0;
  h.bottom_data(1)[1] = 7;
  h.forward();
  EXPECT_TRUE(std::isnan(h.top_data(0)[0]));
  for (int k = 0; k < 4; ++k) EXPECT_TRUE(std::isnan(h.top_data(1)[k])) << k;
}

TEST(Accuracy, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // The agreement helper fills labels with N(0,1) (seed 3 + 1): they truncate to 0 and 1.
  EXPECT_EQ(crema::testing::max_device_disagreement(acc("accuracy_param { top_k: 2 }"),
                                                    {{2, 5}, {2}}, {}),
            0.0);
  // Valid labels for the others (the helper's N(0,1) labels would fall outside the classes):
  // every top of the two devices must be equal, all being ratios of the same integer counts.
  for (const auto& [text, shapes] : kGpuCases) {
    LayerHarness cpu(text, shapes), gpu(text, shapes, on_gpu());
    fill_case(cpu);
    fill_case(gpu);
    cpu.forward();
    gpu.forward();
    for (int t = 0; t < cpu.num_tops(); ++t)
      for (int64_t k = 0; k < cpu.count(cpu.top_shape(t)); ++k)
        EXPECT_EQ(cpu.top_data(t)[k], gpu.top_data(t)[k]) << text << " top " << t << " " << k;
  }
}
