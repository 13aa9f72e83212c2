// SPDX-License-Identifier: BSD-2-Clause
// elementwise_bench: forward and backward of BatchNorm (TRAIN, batch statistics), Scale (with
// bias) and ReLU on a 64x16x32x32 input through the real plugins (LayerHarness), on one thread
// unless CREMA_NUM_THREADS says otherwise, out of place and in place; then, for reference, the
// other elementwise plugins of the same family (PReLU, Bias, Sigmoid, TanH, Dropout, Axpy, LRN).
//
//   elementwise_bench [iterations=50]
//
// Per pass it prints the best and median time, and two bandwidths from the best time:
//   eff GB/s  = the tensors the pass must touch once: forward x + y, backward dy + x (or y) + dx
//   real GB/s = what this implementation moves (e.g. BatchNorm forward reads x twice, stats then
//               normalisation, and writes y and the copy of y kept for backward)
// and, for scale, a plain memcpy of the same size (read + write) on the same thread.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crema/testing/harness.hpp"

#ifndef CREMA_BENCH_PLUGIN_DIR
#define CREMA_BENCH_PLUGIN_DIR ""
#endif

using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;

namespace {
using Clock = std::chrono::steady_clock;

struct Stats {
  double best_ms, median_ms;
};

template <class Prepare, class Run>
Stats time_it(int iters, const Prepare& prepare, const Run& run) {
  std::vector<double> ms;
  for (int i = 0; i < iters + 3; ++i) {
    prepare();
    auto t0 = Clock::now();
    run();
    auto t1 = Clock::now();
    if (i >= 3) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2]};
}

void report(const char* layer, const char* pass, const Stats& s, double tensor_bytes, int eff_units,
            int real_units) {
  std::printf("%-22s %-8s best %7.3f ms  median %7.3f ms  eff %6.1f GB/s  real %6.1f GB/s\n", layer,
              pass, s.best_ms, s.median_ms, eff_units * tensor_bytes / (s.best_ms * 1e6),
              real_units * tensor_bytes / (s.best_ms * 1e6));
}

struct Case {
  const char* name;
  const char* text;
  bool in_place;
  int fwd_eff, fwd_real, bwd_eff, bwd_real;
  std::vector<std::vector<int64_t>> extra_bottoms = {};  // after the 64x16x32x32 one
};
}  // namespace

int main(int argc, char** argv) {
  setenv("CREMA_NUM_THREADS", "1", 0);  // keep a caller's choice
  const int iters = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  const std::vector<int64_t> shape = {64, 16, 32, 32};
  const int64_t count = 64 * 16 * 32 * 32;
  const double bytes = count * sizeof(float);

  HarnessOptions base;
  if (std::strlen(CREMA_BENCH_PLUGIN_DIR)) base.plugin_dirs = {CREMA_BENCH_PLUGIN_DIR};
  std::printf(
      "input 64x16x32x32 float (%.1f MiB per tensor), CREMA_NUM_THREADS=%s, %d iterations\n",
      bytes / (1 << 20), std::getenv("CREMA_NUM_THREADS"), iters);

  // Reference: memcpy of one tensor (read + write).
  {
    std::vector<float> a(count, 1.f), b(count);
    Stats s = time_it(
        iters, [] {}, [&] { std::memcpy(b.data(), a.data(), bytes); });
    report("memcpy", "copy", s, bytes, 2, 2);
  }

  const std::vector<Case> cases = {
      // BatchNorm: fwd = stats (read x) + (read x, write y [, write kept y in place]);
      // bwd = sums (dy, y or x) + (dy, y or x, dx)
      {"BatchNorm", "type: 'BatchNorm'", false, 2, 3, 3, 5},
      {"BatchNorm in-place", "type: 'BatchNorm'", true, 2, 4, 3, 5},
      // Scale + bias: fwd read x write y (+ the copy of x in place); bwd one pass dy, x, dx
      {"Scale", "type: 'Scale' scale_param { bias_term: true }", false, 2, 2, 3, 3},
      {"Scale in-place", "type: 'Scale' scale_param { bias_term: true }", true, 2, 3, 3, 3},
      {"ReLU", "type: 'ReLU'", false, 2, 2, 3, 3},
      {"ReLU in-place", "type: 'ReLU'", true, 2, 2, 3, 3},
      // The rest of the family (real = eff: one pass each way, except PReLU in place's copy of x).
      {"PReLU in-place", "type: 'PReLU'", true, 2, 3, 3, 3},
      {"Bias in-place", "type: 'Bias'", true, 2, 2, 1, 1},
      {"Sigmoid in-place", "type: 'Sigmoid'", true, 2, 2, 3, 3},
      {"TanH in-place", "type: 'TanH'", true, 2, 2, 3, 3},
      {"Dropout in-place", "type: 'Dropout'", true, 2, 2, 2, 2},
      {"Axpy", "type: 'Axpy'", false, 3, 3, 4, 4, {{64, 16, 32, 32}, {64, 16, 32, 32}}},
      {"LRN across", "type: 'LRN' lrn_param { local_size: 5 alpha: 1e-4 }", false, 2, 3, 3, 4},
      {"LRN within",
       "type: 'LRN' lrn_param { local_size: 3 alpha: 5e-5 norm_region: WITHIN_CHANNEL }", false, 2,
       3, 3, 4},
  };
  for (const Case& c : cases) {
    HarnessOptions o = base;
    o.train = true;
    o.in_place = c.in_place;
    std::vector<std::vector<int64_t>> shapes = {shape};
    if (std::string(c.name) == "Axpy") shapes = {{64, 16, 1, 1}};  // a, then x and y
    for (const auto& b : c.extra_bottoms) shapes.push_back(b);
    LayerHarness h(c.text, shapes, o);
    for (int b = 0; b < h.num_bottoms(); ++b) h.fill_gaussian(b, 1.0, 0.0, 5 + b);
    std::vector<float> x(h.bottom_data(0), h.bottom_data(0) + h.count(shapes[0])), dy(count);
    for (int64_t i = 0; i < count; ++i) dy[i] = 0.001f * static_cast<float>(i % 1000) - 0.5f;
    // Inputs are restored outside the timed region (in place, each pass overwrites its input).
    float* xb = h.bottom_data(0);
    float* gt = h.top_diff(0);
    Stats f = time_it(
        iters,
        [&] {
          if (c.in_place) std::memcpy(xb, x.data(), bytes);
        },
        [&] { h.forward(); });
    h.forward();
    Stats b = time_it(
        iters, [&] { std::memcpy(gt, dy.data(), bytes); }, [&] { h.backward(); });
    report(c.name, "forward", f, bytes, c.fwd_eff, c.fwd_real);
    report(c.name, "backward", b, bytes, c.bwd_eff, c.bwd_real);
  }
  return 0;
}
