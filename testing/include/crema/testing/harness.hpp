// SPDX-License-Identifier: BSD-2-Clause
// Test support for layer plugins, built-in and out-of-tree alike: a harness that loads a layer
// through the real plugin loader from a prototxt snippet, and a finite-difference gradient
// checker in the style of Caffe's.
//
//   crema::testing::LayerHarness h("type: 'Swish' swish_param { beta: 1.5 }", {{2, 3, 4, 5}});
//   h.fill_gaussian(0, 1.0);
//   crema::testing::GradientChecker(1e-2, 1e-3).check(h);
//
// A plugin's declared configurations (its static tests()) run through one entry point,
// check_config(): crema check-plugin, crema's CPU and GPU sweeps and plugin tests alike.
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
  bool gpu = false;       // run on CUDA (callers skip when no GPU exists)
  bool in_place = false;  // top 0 is bottom 0 (the layer must declare it may be)
  // Searched besides CREMA_TEST_PLUGIN_DIR (CTest sets it to the plugin's folder),
  // CREMA_PLUGIN_PATH and lib/crema/plugins beside the test binary's folder. Plugins stay loaded
  // for the process: a type found once keeps its library.
  std::vector<std::string> plugin_dirs;
  uint64_t seed = 1;
  // The type to ask the layer to compute in (a crema_dtype: 0 fp32, 1 bf16, 2 fp16); asked only
  // where the layer declares it and the machine can, as a net asks (LayerHarness::math()).
  int math = 0;
  // The type the layer's bottoms and tops are stored in (a crema_dtype; data and diff alike),
  // where the layer declares it for the device (crema_layer_ext.cpu_storage / cuda_storage; fp16
  // only on the GPU) and the machine can:
  // bottom_storage / top_storage per tensor, else `storage` for all. The float accessors below
  // keep working on fp32 copies: forward() rounds the bottoms into the layer's tensors and widens
  // its tops back, backward() likewise the top gradients and the bottom gradients.
  int storage = 0;
  std::vector<int> bottom_storage, top_storage;
  // The layer's 4-D bf16 tensors stored N,H,W,C, as a net stores them between layers that all
  // declared that order (crema_layer_ext.cpu_layouts; a layer without CREMA_LAYOUT_MIXED only
  // where all its 4-D tensors are bf16). The accessors stay N,C,H,W fp32.
  bool channels_last = false;
  // The bottoms whose gradient the layer passes through unchanged (crema_layer_ext
  // .passes_gradient, ABI 1.8) hold it in top 0's diff memory, as a net may give them.
  bool share_passed_gradients = false;
};

// How a configuration's inputs are drawn (every bottom alike).
struct InputFill {
  enum Kind { kGaussian, kUniform };
  Kind kind = kGaussian;
  double std = 1.0;              // kGaussian: N(0, std^2)
  double lo = -1.0, hi = 1.0;    // kUniform: [lo, hi)
  std::string describe() const;  // "gaussian N(0, 1)", "uniform [-2, 2)"
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
  void fill(int bottom, const InputFill& input, uint64_t seed = 7);
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
  // The type the layer is asked to compute in (HarnessOptions::math where it can, else 0), and
  // the narrower types it declares for this harness's device that this machine can run.
  int math() const;
  std::vector<int> narrower_math() const;
  // Whether the layer takes tensors stored in `type` on this harness's device (and machine), and
  // the narrower storage types it does (bf16, fp16: a crema_dtype each).
  bool stores_in(int type) const;
  // Whether the layer takes 4-D bf16 tensors N,H,W,C on the CPU (crema_layer_ext.cpu_layouts).
  bool takes_channels_last() const;
  // The layer's descriptor flags (CREMA_LAYER_IN_PLACE, CREMA_LAYER_SHARES_DATA, ...).
  uint32_t flags() const;
  // The bottoms (bit i) whose gradient the layer passes through unchanged (ABI 1.8).
  uint32_t passes_gradient() const;
  std::vector<int> narrower_storage() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Central differences against the layer's backward pass. The objective is sum_k w_k * top_k with
// fixed random weights w, so one backward gives the whole analytic gradient. Elements whose input
// lies within `kink_range` of a kink (ReLU's 0; with_kinks for several) are skipped, as in Caffe.
class GradientChecker {
 public:
  GradientChecker(double step = 1e-2, double threshold = 1e-3, uint64_t seed = 1701,
                  double kink = 0.0, double kink_range = -1.0)
      : step_(step), threshold_(threshold), seed_(seed), kinks_{kink}, kink_range_(kink_range) {}
  // Replaces the kinks: inputs within kink_range of any of them are not probed.
  GradientChecker& with_kinks(std::vector<double> kinks, double kink_range) {
    kinks_ = std::move(kinks);
    kink_range_ = kink_range;
    return *this;
  }
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
  std::vector<double> kinks_;
  double kink_range_;
};

// Bottom shapes as written in a TestConfig: "2,3,4,5;2,3" -> {{2,3,4,5},{2,3}}.
std::vector<Shape> parse_shapes(const std::string& spec);

// Whether a CUDA device can run the GPU variants of the tests.
bool gpu_available();
// GPU 0's compute capability as major * 10 + minor (80 for 8.0); 0 without a GPU. fp16 tensor
// cores need 70, bf16 80: tests of those paths skip below, saying so.
int gpu_compute_capability();
// v rounded to the nearest value of `math` (a crema_dtype), ties to even, by the definition:
// bf16 keeps 8 significant bits and fp32's range; fp16 11 bits, subnormals down to 2^-24, and
// overflows to infinity past 65504. fp32: v as a float. For references of narrower-math paths.
double round_to_math(double v, int math);

// Forward and backward on CPU and GPU from the same inputs and weights; returns the largest
// relative difference over tops, bottom diffs and param diffs. Throws when the layer has no CUDA
// path (it would run on the CPU twice and agree trivially).
// Two harnesses of one layer, filled alike (inputs from `seed`, the first one's weights copied),
// forward and backward with the same top gradients: the largest relative difference (to the
// first one's largest magnitude) over tops, bottom diffs and param diffs.
double max_disagreement(LayerHarness& a, LayerHarness& b, uint64_t seed, const InputFill& input);
// The same layer computing in fp32 and in `math` (a crema_dtype) on the CPU or GPU of `options`.
// Throws when the layer does not compute in `math` there.
double max_math_disagreement(const std::string& layer_text, const std::vector<Shape>& bottom_shapes,
                             const HarnessOptions& options, int math, uint64_t seed,
                             const InputFill& input = {});
// The same layer with its bottoms and tops stored in fp32 and in `storage` (a crema_dtype), from
// the same inputs and top gradients, both rounded to `storage`: what the narrow storage itself
// changes. Throws when the layer does not take that storage type here.
double max_storage_disagreement(const std::string& layer_text,
                                const std::vector<Shape>& bottom_shapes,
                                const HarnessOptions& options, int storage, uint64_t seed,
                                const InputFill& input = {});
double max_device_disagreement(const std::string& layer_text,
                               const std::vector<Shape>& bottom_shapes,
                               const HarnessOptions& options, uint64_t seed = 3,
                               const InputFill& input = {});

// One test configuration a plugin declares (crema::TestConfig in its tests()), with the checker
// settings it leaves out resolved to their defaults.
struct DeclaredConfig {
  std::string plugin_path;               // the library that declares it
  std::vector<std::string> plugin_dirs;  // where the harness finds it (its folder last)
  std::string layer_text, bottom_shapes;
  InputFill input;  // default: N(0, 1)
  double step = 1e-2, threshold = 1e-2;
  std::vector<double> kinks;
  double kink_range = 1e-2;  // default: the step
  // "inputs: uniform [-2, 2) on every bottom; checker: step 0.01, threshold 0.01, kinks -1, 1
  // (range 0.01)"
  std::string describe() const;
};

// The configurations the plugin library at `plugin_path` declares, loaded through the real loader
// (its folder is searched after `plugin_dirs`). Throws when the loader refuses the library.
std::vector<DeclaredConfig> declared_configs(const std::string& plugin_path,
                                             const std::vector<std::string>& plugin_dirs = {});

struct CheckOptions {
  bool cpu = true;
  bool gpu = true;          // when a CUDA device exists; otherwise one skipped result says so
  double agreement = 1e-4;  // the largest relative CPU/GPU difference accepted
  // Each narrower math type the layer declares (bf16 ...) against its fp32 path, on the CPU and
  // (cuda_math, on a GPU with tensor cores for the type) on the GPU. bf16 keeps 8 significant
  // bits: each rounded input is off by up to 2^-9 (0.2%), and a sum of many such products by
  // about that much of its magnitude; 2% of the largest value leaves room for cancellation
  // without passing a wrong result (a wrong index or a missing term is off by O(100%)).
  // fp16 keeps 11 bits, so the same bound holds for it with room to spare; on the GPU
  // cuDNN also rounds its outputs to the type once (bf16: 2^-9 more).
  bool narrower = true;
  double narrower_tolerance = 2e-2;
  std::vector<std::string> plugin_dirs;  // empty: the configuration's
};

struct CheckResult {
  std::string check;  // "cpu", "gpu" (gradient checks), "cpu/gpu" (agreement), "cpu bf16",
                      // "gpu fp16", "gpu bf16" (narrower math against fp32), "cpu bf16 storage",
                      // "gpu bf16 storage", "gpu fp16 storage" (bottoms and tops stored in that
                      // type against fp32 storage; ", bf16 math" / ", fp16 math" computing in
                      // the storage type too, ", N,H,W,C" on the CPU with the 4-D tensors
                      // channels-last; ", fp32 bottoms" / ", fp32 tops" with the narrow type
                      // on one side only, ", in place" with top 0 on bottom 0)
  bool passed = false, skipped = false;
  std::string detail;  // mismatches, the error, the difference, or why it was skipped
};

// Runs one declared configuration as declared: its inputs drawn as it says, the CPU gradient
// check, and when a GPU exists the GPU gradient check and CPU/GPU agreement (skipped, with the
// reason, without a device or without a CUDA path in the layer).
std::vector<CheckResult> check_config(const DeclaredConfig& config,
                                      const CheckOptions& options = {});

}  // namespace crema::testing
