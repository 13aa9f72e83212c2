// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
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

LayerHarness make(const std::string& body, const char* tops = "") {
  LayerHarness h(acc(body) + tops, {{4, 4}, {4}});
  std::copy(kScores, kScores + 16, h.bottom_data(0));
  std::copy(kLabels, kLabels + 4, h.bottom_data(1));
  return h;
}
}  // namespace

TEST(Accuracy, TopOneAndTopKByHand) {
  // Ranks of the true class (number of scores >= it, minus one): 1, 0, 3 (ties count), 2.
  const std::pair<int, float> cases[] = {{1, 0.25f}, {2, 0.5f}, {3, 0.75f}, {4, 1.f}};
  for (const auto& [k, want] : cases) {
    LayerHarness h = make("accuracy_param { top_k: " + std::to_string(k) + " }");
    h.forward();
    EXPECT_EQ(h.top_shape(0), Shape{});
    EXPECT_FLOAT_EQ(h.top_data(0)[0], want) << "top_k " << k;
  }
}

TEST(Accuracy, IgnoreLabelAndPerClassTop) {
  LayerHarness h =
      make("accuracy_param { top_k: 2 ignore_label: 1 }", " top: 'acc' top: 'per_class'");
  h.forward();
  // Samples 2 and 3 have label 1 and are ignored; sample 0 (rank 1) and 1 (rank 0) are hits.
  EXPECT_FLOAT_EQ(h.top_data(0)[0], 1.f);
  ASSERT_EQ(h.top_shape(1), Shape{4});
  const float want[4] = {1, 0, 1, 0};  // classes 0 and 2 seen once each; 1 ignored, 3 never seen
  for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(h.top_data(1)[k], want[k]) << k;

  LayerHarness all = make("", " top: 'acc' top: 'per_class'");
  all.forward();
  const float per[4] = {1, 0, 0, 0};  // top-1: only sample 1 (class 0) is right; class 1 seen twice
  for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(all.top_data(1)[k], per[k]) << k;
}

TEST(Accuracy, NothingCountedGivesZero) {
  LayerHarness h(acc("accuracy_param { ignore_label: 3 }"), {{2, 4}, {2}});
  h.bottom_data(1)[0] = h.bottom_data(1)[1] = 3;
  h.forward();
  EXPECT_EQ(h.top_data(0)[0], 0.f);
}

TEST(Accuracy, SpatialAxis) {
  // (N=1, C=3, H=1, W=3): argmax per position (w) over channels.
  LayerHarness h(acc(""), {{1, 3, 1, 3}, {1, 1, 1, 3}});
  const float x[9] = {5, 0, 0,   // c0
                      0, 5, 0,   // c1
                      0, 0, 5};  // c2 -> argmax at w is class w
  std::copy(x, x + 9, h.bottom_data(0));
  const float l[3] = {0, 1, 0};
  std::copy(l, l + 3, h.bottom_data(1));
  h.forward();
  EXPECT_FLOAT_EQ(h.top_data(0)[0], 2.f / 3);
  LayerHarness last(acc("accuracy_param { axis: -1 }"), {{2, 3}, {2}});
  const float y[6] = {0, 1, 0, 3, 2, 1}, ly[2] = {1, 1};
  std::copy(y, y + 6, last.bottom_data(0));
  std::copy(ly, ly + 2, last.bottom_data(1));
  last.forward();
  EXPECT_FLOAT_EQ(last.top_data(0)[0], 0.5f);
}

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

TEST(Accuracy, GpuAgreesWithCpu) {
  if (!crema::testing::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // The agreement helper fills labels with N(0,1) (seed 4): they truncate to 0 and 1.
  EXPECT_LT(crema::testing::max_device_disagreement(acc("accuracy_param { top_k: 2 }"),
                                                    {{2, 5}, {2}}, {}),
            1e-6);
}
