// SPDX-License-Identifier: BSD-2-Clause
// Test support for layer plugins, built-in and out-of-tree alike: a harness that loads a layer
// through the real plugin loader from a prototxt snippet, and a finite-difference gradient
// checker in the style of Caffe's.
//
//   crema::testing::LayerHarness h("type: 'Swish' swish_param { beta: 1.5 }", {{2, 3, 4, 5}});
//   h.fill_gaussian(0, 1.0);
//   crema::testing::GradientChecker(1e-2, 1e-3).check(h);
//
// Only std types cross this header, so tests do not depend on the host's internals.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace crema::testing {

using Shape = std::vector<int64_t>;

struct HarnessOptions {
  bool train = true;
  bool gpu = false;                   // run on CUDA (callers skip when no GPU exists)
  bool in_place = false;              // top 0 is bottom 0
  std::vector<std::string> plugin_dirs;  // empty: CREMA_TEST_PLUGIN_DIR, then the defaults
  uint64_t seed = 1;
};

class LayerHarness {
 public:
  LayerHarness(const std::string& layer_text, const std::vector<Shape>& bottom_shapes,
               const HarnessOptions& options = {});
  ~LayerHarness();
  LayerHarness(LayerHarness&&) noexcept;

  int num_bottoms() const;
  int num_tops() const;
  int num_params() const;
  Shape bottom_shape(int i) const;
  Shape top_shape(int i) const;
  Shape param_shape(int i) const;
  int64_t count(const Shape& s) const;

  // Host pointers; reading or writing them moves the data to the host first.
  float* bottom_data(int i);
  float* bottom_diff(int i);
  float* top_data(int i);
  float* top_diff(int i);
  float* param_data(int i);
  float* param_diff(int i);
  bool param_is_state(int i) const;

  void fill_gaussian(int bottom, double std, double mean = 0.0, uint64_t seed = 7);
  void fill_uniform(int bottom, double lo, double hi, uint64_t seed = 7);
  void fill_params_gaussian(double std, uint64_t seed = 11);

  void reshape();
  // Each forward gets the next random-stream counter (dropout masks, data batches); the
  // gradient checker pins it so that repeated forwards see the same stream.
  void forward();
  uint64_t rng_counter() const;
  void set_rng_counter(uint64_t counter);
  // Gradients flow to every bottom not listed in no_grad and to the parameters.
  void backward(const std::vector<bool>& propagate_down = {});
  void zero_param_diffs();
  // Bottoms the layer never differentiates (labels), from its descriptor.
  bool bottom_takes_gradient(int i) const;
  std::string type() const;
  // Whether the layer has its own CUDA forward (without one, a GPU harness runs it on the CPU).
  bool has_cuda_path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Central differences against the layer's backward pass. The objective is sum_k w_k * top_k with
// fixed random weights w, so one backward gives the whole analytic gradient. Elements whose input
// lies within `kink_range` of `kink` (ReLU's 0) are skipped, as in Caffe.
class GradientChecker {
 public:
  GradientChecker(double step = 1e-2, double threshold = 1e-3, uint64_t seed = 1701,
                  double kink = 0.0, double kink_range = -1.0)
      : step_(step), threshold_(threshold), seed_(seed), kink_(kink), kink_range_(kink_range) {}
  // Checks every element of every bottom that takes a gradient and of every learnable param.
  // Returns the number of mismatches; `log` gets one line per mismatch (the first 20).
  //   EXPECT_EQ(checker.check(h, &log), 0) << log;
  int check(LayerHarness& h, std::string* log = nullptr) const { return run(h, -1, true, log); }
  // Only bottom `bottom` (parameters excluded).
  int check_bottom(LayerHarness& h, int bottom, std::string* log = nullptr) const {
    return run(h, bottom, false, log);
  }

 private:
  int run(LayerHarness& h, int only_bottom, bool params, std::string* log) const;
  double step_, threshold_;
  uint64_t seed_;
  double kink_, kink_range_;
};

// Bottom shapes as written in a TestConfig: "2,3,4,5;2,3" -> {{2,3,4,5},{2,3}}.
std::vector<Shape> parse_shapes(const std::string& spec);

// Whether a CUDA device can run the GPU variants of the tests.
bool gpu_available();

// Forward and backward on CPU and GPU from the same inputs and weights; returns the largest
// relative difference over tops, bottom diffs and param diffs. Throws when the layer has no CUDA
// path (it would run on the CPU twice and agree trivially).
double max_device_disagreement(const std::string& layer_text,
                               const std::vector<Shape>& bottom_shapes, const HarnessOptions& options,
                               uint64_t seed = 3);

}  // namespace crema::testing
