// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include "crema/testing/harness.hpp"

using crema::testing::LayerHarness;
using Shape = crema::testing::Shape;

TEST(Input, OneShapePerTop) {
  LayerHarness h("type: 'Input' top: 'a' top: 'b' input_param { shape { dim: 2 dim: 3 } shape { dim: 4 } }", {});
  EXPECT_EQ(h.top_shape(0), (Shape{2, 3}));
  EXPECT_EQ(h.top_shape(1), (Shape{4}));
}

TEST(Input, OneShapeForAllTops) {
  LayerHarness h("type: 'Input' top: 'a' top: 'b' input_param { shape { dim: 1 dim: 3 dim: 5 dim: 5 } }", {});
  EXPECT_EQ(h.top_shape(0), (Shape{1, 3, 5, 5}));
  EXPECT_EQ(h.top_shape(1), (Shape{1, 3, 5, 5}));
}

TEST(Input, ForwardLeavesTheDataAlone) {
  LayerHarness h("type: 'Input' input_param { shape { dim: 3 } }", {});
  for (int i = 0; i < 3; ++i) h.top_data(0)[i] = float(i) + 0.5f;
  h.forward();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.top_data(0)[i], float(i) + 0.5f);
}

TEST(Input, WrongNumberOfShapesIsAnError) {
  try {
    LayerHarness h("type: 'Input' top: 'a' top: 'b' top: 'c' input_param { shape { dim: 1 } shape { dim: 2 } }", {});
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("2 shapes for 3 tops"), std::string::npos) << e.what();
  }
}
