// SPDX-License-Identifier: BSD-2-Clause
// Central differences: d(objective)/dx ~ (f(x+h) - f(x-h)) / 2h, compared with the layer's
// backward pass as Caffe does: |numeric - analytic| <= threshold * max(|numeric|, |analytic|, 1).
#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>

#include "crema/testing/harness.hpp"

namespace crema::testing {

namespace {
struct Snapshot {
  std::vector<std::vector<float>> bottoms, params;
};

Snapshot save(LayerHarness& h) {
  Snapshot s;
  for (int b = 0; b < h.num_bottoms(); ++b) {
    float* x = h.bottom_data(b);
    s.bottoms.emplace_back(x, x + h.count(h.bottom_shape(b)));
  }
  for (int p = 0; p < h.num_params(); ++p) {
    float* x = h.param_data(p);
    s.params.emplace_back(x, x + h.count(h.param_shape(p)));
  }
  return s;
}

void restore(LayerHarness& h, const Snapshot& s) {
  for (int b = 0; b < h.num_bottoms(); ++b)
    std::copy(s.bottoms[b].begin(), s.bottoms[b].end(), h.bottom_data(b));
  for (int p = 0; p < h.num_params(); ++p)
    std::copy(s.params[p].begin(), s.params[p].end(), h.param_data(p));
}
}  // namespace

int GradientChecker::run(LayerHarness& h, int only_bottom, bool params, std::string* log) const {
  Snapshot base = save(h);
  const uint64_t counter = h.rng_counter();  // every forward below replays this stream
  h.set_rng_counter(counter);
  h.forward();
  std::mt19937_64 rng(seed_);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<std::vector<float>> weights;
  for (int t = 0; t < h.num_tops(); ++t) {
    weights.emplace_back(h.count(h.top_shape(t)));
    for (float& w : weights.back()) w = u(rng);
  }
  // The objective reads every top after a forward from the current inputs.
  auto objective = [&]() {
    h.set_rng_counter(counter);
    h.forward();
    double f = 0;
    for (int t = 0; t < h.num_tops(); ++t) {
      const float* y = h.top_data(t);
      for (size_t i = 0; i < weights[t].size(); ++i) f += double(weights[t][i]) * y[i];
    }
    return f;
  };
  // Analytic gradients.
  restore(h, base);
  h.set_rng_counter(counter);
  h.forward();
  for (int t = 0; t < h.num_tops(); ++t)
    std::copy(weights[t].begin(), weights[t].end(), h.top_diff(t));
  h.zero_param_diffs();
  h.backward();
  std::vector<std::vector<float>> grad_bottom, grad_param;
  for (int b = 0; b < h.num_bottoms(); ++b) {
    float* g = h.bottom_diff(b);
    grad_bottom.emplace_back(g, g + h.count(h.bottom_shape(b)));
  }
  for (int p = 0; p < h.num_params(); ++p) {
    float* g = h.param_diff(p);
    grad_param.emplace_back(g, g + h.count(h.param_shape(p)));
  }

  int failures = 0;
  std::ostringstream os;
  auto compare = [&](const char* what, int index, int64_t i, double analytic, double numeric) {
    double scale = std::max({std::fabs(numeric), std::fabs(analytic), 1.0});
    if (std::fabs(numeric - analytic) <= threshold_ * scale) return;
    if (++failures <= 20)
      os << h.type() << " " << what << " " << index << " element " << i << ": analytic " << analytic
         << " numeric " << numeric << "\n";
  };
  auto probe = [&](float* x, int64_t i) {
    float keep = x[i];
    x[i] = static_cast<float>(keep + step_);
    double plus = objective();
    restore(h, base);
    x[i] = static_cast<float>(keep - step_);
    double minus = objective();
    restore(h, base);
    return (plus - minus) / (2 * step_);
  };
  for (int b = 0; b < h.num_bottoms(); ++b) {
    if (only_bottom >= 0 && b != only_bottom) continue;
    if (!h.bottom_takes_gradient(b)) continue;
    for (int64_t i = 0; i < h.count(h.bottom_shape(b)); ++i) {
      const float x = base.bottoms[b][i];
      bool at_kink = false;
      for (double k : kinks_)
        at_kink = at_kink || (kink_range_ > 0 && std::fabs(x - k) < kink_range_);
      if (at_kink) continue;
      restore(h, base);
      double numeric = probe(h.bottom_data(b), i);
      compare("bottom", b, i, grad_bottom[b][i], numeric);
    }
  }
  if (params)
    for (int p = 0; p < h.num_params(); ++p) {
      if (h.param_is_state(p)) continue;
      for (int64_t i = 0; i < h.count(h.param_shape(p)); ++i) {
        restore(h, base);
        double numeric = probe(h.param_data(p), i);
        compare("param", p, i, grad_param[p][i], numeric);
      }
    }
  restore(h, base);
  h.set_rng_counter(counter);
  if (log)
    *log = os.str() + (failures > 20 ? "... and " + std::to_string(failures - 20) + " more\n" : "");
  return failures;
}

double max_device_disagreement(const std::string& layer_text,
                               const std::vector<Shape>& bottom_shapes,
                               const HarnessOptions& options, uint64_t seed,
                               const InputFill& input) {
  HarnessOptions cpu_opt = options, gpu_opt = options;
  cpu_opt.gpu = false;
  gpu_opt.gpu = true;
  LayerHarness cpu(layer_text, bottom_shapes, cpu_opt), gpu(layer_text, bottom_shapes, gpu_opt);
  if (!gpu.has_cuda_path())
    throw std::runtime_error(gpu.type() + " has no CUDA path: nothing to compare on the GPU");
  return max_disagreement(cpu, gpu, seed, input);
}

double max_math_disagreement(const std::string& layer_text, const std::vector<Shape>& bottom_shapes,
                             const HarnessOptions& options, int math, uint64_t seed,
                             const InputFill& input) {
  HarnessOptions fp32_opt = options, narrow_opt = options;
  fp32_opt.math = 0;
  narrow_opt.math = math;
  LayerHarness fp32(layer_text, bottom_shapes, fp32_opt),
      narrow(layer_text, bottom_shapes, narrow_opt);
  if (narrow.math() != math)
    throw std::runtime_error(narrow.type() + " does not compute in type " + std::to_string(math) +
                             " here: nothing to compare");
  return max_disagreement(fp32, narrow, seed, input);
}

namespace {
// a and b filled alike: forward, backward with the same top gradients (each a value of type
// `round`), and the largest relative difference of tops, bottom diffs and param diffs.
double compare_passes(LayerHarness& a, LayerHarness& b, uint64_t seed, int round) {
  for (int p = 0; p < a.num_params(); ++p)
    std::copy(a.param_data(p), a.param_data(p) + a.count(a.param_shape(p)), b.param_data(p));
  double worst = 0;
  auto diff = [&](const float* x, const float* y, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) {
      num = std::max(num, double(std::fabs(x[i] - y[i])));
      den = std::max(den, double(std::fabs(x[i])));
    }
    worst = std::max(worst, num / std::max(den, 1e-6));
  };
  a.forward();
  b.forward();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int t = 0; t < a.num_tops(); ++t) {
    int64_t n = a.count(a.top_shape(t));
    diff(a.top_data(t), b.top_data(t), n);
    for (int64_t i = 0; i < n; ++i)
      a.top_diff(t)[i] = b.top_diff(t)[i] = static_cast<float>(round_to_math(u(rng), round));
  }
  a.zero_param_diffs();
  b.zero_param_diffs();
  a.backward();
  b.backward();
  for (int k = 0; k < a.num_bottoms(); ++k)
    if (a.bottom_takes_gradient(k))
      diff(a.bottom_diff(k), b.bottom_diff(k), a.count(a.bottom_shape(k)));
  for (int p = 0; p < a.num_params(); ++p)
    if (!a.param_is_state(p)) diff(a.param_diff(p), b.param_diff(p), a.count(a.param_shape(p)));
  return worst;
}

}  // namespace

double max_disagreement(LayerHarness& a, LayerHarness& b, uint64_t seed, const InputFill& input) {
  for (int k = 0; k < a.num_bottoms(); ++k) {
    a.fill(k, input, seed + k);
    b.fill(k, input, seed + k);
  }
  return compare_passes(a, b, seed, 0);
}

double max_storage_disagreement(const std::string& layer_text,
                                const std::vector<Shape>& bottom_shapes,
                                const HarnessOptions& options, int storage, uint64_t seed,
                                const InputFill& input) {
  HarnessOptions fp32_opt = options, narrow_opt = options;
  fp32_opt.storage = 0;
  fp32_opt.bottom_storage.clear();
  fp32_opt.top_storage.clear();
  fp32_opt.channels_last = false;
  narrow_opt.storage = storage;
  LayerHarness fp32(layer_text, bottom_shapes, fp32_opt),
      narrow(layer_text, bottom_shapes, narrow_opt);
  if (!narrow.stores_in(storage))
    throw std::runtime_error(narrow.type() + " does not take tensors stored in type " +
                             std::to_string(storage) + " here: nothing to compare");
  // Both runs see the values the narrow one stores: the difference is the layer's own.
  for (int k = 0; k < fp32.num_bottoms(); ++k) {
    fp32.fill(k, input, seed + k);
    float* x = fp32.bottom_data(k);
    const int64_t n = fp32.count(fp32.bottom_shape(k));
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(round_to_math(x[i], storage));
    std::copy(x, x + n, narrow.bottom_data(k));
  }
  return compare_passes(fp32, narrow, seed, storage);
}

}  // namespace crema::testing
