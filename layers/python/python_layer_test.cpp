// SPDX-License-Identifier: BSD-2-Clause
// The Python layer through the real loader and an interpreter it starts itself: Caffe's pyloss
// example against the C++ EuclideanLoss and the gradient checker, errors with their tracebacks,
// tops shaped in setup. The modules are in test_modules/ (PYTHONPATH, set by CTest).
#include <gtest/gtest.h>

#include <string>

#include "crema/testing/harness.hpp"

using crema::testing::GradientChecker;
using crema::testing::LayerHarness;
using crema::testing::Shape;

namespace {
const char* kPyLoss =
    "type: 'Python' python_param { module: 'pyloss' layer: 'EuclideanLossLayer' }";

std::string error_of(const std::string& text, const std::vector<Shape>& shapes, bool forward) {
  try {
    LayerHarness h(text, shapes);
    if (forward) h.forward();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(PythonLayer, EuclideanLossMatchesTheCppLayer) {
  LayerHarness py(kPyLoss, {{4, 3, 2}, {4, 3, 2}});
  LayerHarness cpp("type: 'EuclideanLoss'", {{4, 3, 2}, {4, 3, 2}});
  for (LayerHarness* h : {&py, &cpp}) {
    h->fill_gaussian(0, 1.0, 0.0, 5);
    h->fill_gaussian(1, 1.0, 0.0, 6);
    h->forward();
    h->top_diff(0)[0] = 0.7f;
    h->backward();
  }
  EXPECT_NEAR(py.top_data(0)[0], cpp.top_data(0)[0], 1e-5);
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 24; ++i)
      EXPECT_NEAR(py.bottom_diff(b)[i], cpp.bottom_diff(b)[i], 1e-6) << "bottom " << b << " " << i;
}

TEST(PythonLayer, LossPassesTheGradientChecker) {
  LayerHarness h(kPyLoss, {{3, 5}, {3, 5}});
  h.fill_gaussian(0, 1.0, 0.0, 1);
  h.fill_gaussian(1, 1.0, 0.0, 2);
  std::string log;
  EXPECT_EQ(GradientChecker(1e-2, 1e-3).check(h, &log), 0) << log;
}

TEST(PythonLayer, ExceptionInForwardCarriesTheTraceback) {
  const std::string m =
      error_of("name: 'bad' type: 'Python' python_param { module: 'pyloss' layer: 'Raises' }",
               {{2, 3}}, true);
  EXPECT_NE(m.find("layer 'bad' (Python) forward: pyloss.Raises.forward() raised"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("Traceback (most recent call last)"), std::string::npos) << m;
  EXPECT_NE(m.find("pyloss.py"), std::string::npos) << m;
  EXPECT_NE(m.find("in divide_by_zero"), std::string::npos) << m;
  EXPECT_NE(m.find("ZeroDivisionError"), std::string::npos) << m;
}

TEST(PythonLayer, MissingModuleOrClassIsNamed) {
  std::string m = error_of("type: 'Python' python_param { module: 'no_such_module' layer: 'X' }",
                           {{2, 3}}, false);
  EXPECT_NE(m.find("ModuleNotFoundError"), std::string::npos) << m;
  EXPECT_NE(m.find("no_such_module"), std::string::npos) << m;
  m = error_of("type: 'Python' python_param { module: 'pyloss' layer: 'NoSuchClass' }", {{2, 3}},
               false);
  EXPECT_NE(m.find("NoSuchClass"), std::string::npos) << m;
  m = error_of("type: 'Python' python_param { module: 'pyloss' }", {{2, 3}}, false);
  EXPECT_NE(m.find("python_param needs module and layer"), std::string::npos) << m;
}

TEST(PythonLayer, TopShapedInSetupKeepsItsShape) {
  crema::testing::HarnessOptions test_phase;
  test_phase.train = false;
  LayerHarness h("type: 'Python' top: 'x' python_param { module: 'pyloss' layer: 'ShapedInSetup' "
                 "param_str: '4' }",
                 {}, test_phase);
  EXPECT_EQ(h.top_shape(0), (Shape{4, 3}));
  h.forward();
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(h.top_data(0)[i], i + 100.f);  // phase TEST = 1
}

TEST(PythonLayer, BlobsAreValidOnlyDuringTheirCall) {
  LayerHarness h("type: 'Python' python_param { module: 'pyloss' layer: 'KeepsBlob' }", {{2, 3}});
  h.forward();
  try {
    h.forward();
    FAIL() << "a retired blob was used";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("valid only during the call"), std::string::npos)
        << e.what();
  }
}

TEST(PythonLayer, TopShapeChangesOnlyInReshape) {
  const std::string m =
      error_of("type: 'Python' python_param { module: 'pyloss' layer: 'ReshapesInForward' }",
               {{2, 3}}, true);
  EXPECT_NE(m.find("can change in setup() or reshape() only"), std::string::npos) << m;
}
