// SPDX-License-Identifier: BSD-2-Clause
// elementwise_bench: forward and backward of BatchNorm (TRAIN, batch statistics), Scale (with
// bias) and ReLU on a 64x16x32x32 input through the real plugins (LayerHarness), on one thread
// unless CREMA_NUM_THREADS says otherwise, out of place and in place; then, for reference, the
// other elementwise plugins of the same family (PReLU, Bias, Sigmoid, TanH, Dropout, Axpy, LRN).
//
//   elementwise_bench [iterations=50] [batch_norm]
//
// Per pass it prints the best and median time, and two bandwidths from the best time:
//   eff GB/s  = the tensors the pass must touch once: forward x + y, backward dy + x (or y) + dx
//   real GB/s = what this implementation moves (e.g. BatchNorm forward reads x twice, stats then
//               normalisation, and writes y and the copy of y kept for backward)
// and, for scale, a plain memcpy of the same size (read + write) on the same thread.
// Last, the layers that take bf16 storage (BatchNorm, ReLU and those on ResNet's shortcuts and
// stem: Eltwise, Split, Pooling), the layer alone on fp32 and on bf16 tensors, best forward and
// backward times; and BatchNorm with the Scale and ReLU it absorbs, in place. Then BatchNorm on
// bf16 tensors stored N,C,H,W and N,H,W,C (channels-last, as between oneDNN convolutions), alone
// and with the Scale and ReLU it absorbs, on 64x16x32x32 and on the shapes of ResNet-50's four
// stages at batch 8 (this part alone with the second argument batch_norm).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "crema/bf16.hpp"
#include "crema/core/host.hpp"
#include "crema/core/layer_instance.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/core/tensor.hpp"
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

// The layers that take bf16 storage, on fp32 and on bf16 tensors: the layer's own forward and
// backward through the host's LayerInstance, since the harness rounds into and widens out of its
// bf16 tensors inside forward() and backward() (more work than the layers' passes themselves).
// Values in [-scale, scale) from a hash of (i, stream): each bottom its own stream, so that
// MAX's winners (Eltwise, Pooling) fall as unpredictably as on real data.
void fill_tensor(crema::Tensor& t, bool diff, float scale, uint32_t stream = 0) {
  void* p = t.mutable_host_raw(diff);
  for (int64_t i = 0; i < t.count(); ++i) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u + (stream + 1) * 0x9e3779b9u;
    h ^= h >> 15;
    const float v = scale * (static_cast<float>(h % 2000) / 1000.f - 1.f);
    if (t.dtype() == CREMA_BFLOAT16)
      static_cast<uint16_t*>(p)[i] = crema::float_to_bf16(v);
    else
      static_cast<float*>(p)[i] = v;
  }
}

// Best forward and backward times of `text` on `bottoms` tensors of `shape` stored as `type`
// (bf16 4-D ones N,H,W,C where channels_last); false when the layer does not take that storage
// type (or order) on this machine.
bool time_layer(const char* text, int bottoms, bool in_place, const crema::Shape& shape,
                crema_dtype type, int iters, Stats& fwd, Stats& bwd, bool channels_last = false) {
  crema::Registry& registry = crema::Registry::global();
  const std::vector<std::string> dirs = registry.search_dirs();
  if (std::strlen(CREMA_BENCH_PLUGIN_DIR) &&
      std::find(dirs.begin(), dirs.end(), CREMA_BENCH_PLUGIN_DIR) == dirs.end())
    registry.add_search_dir(CREMA_BENCH_PLUGIN_DIR);
  crema::pb::LayerParameter lp = crema::parse_layer_text(text, "elementwise_bench", registry);
  lp.set_name("timed");
  lp.set_phase(crema::pb::TRAIN);
  for (int b = 0; b < bottoms; ++b) lp.add_bottom("x" + std::to_string(b));
  if (lp.top_size() == 0) lp.add_top("y");
  crema::LayerInstance layer(lp, registry);
  if (!layer.stores_in(type, CREMA_CPU)) return false;
  if (channels_last && !(layer.cpu_layouts() & CREMA_LAYOUT_CHANNELS_LAST)) return false;
  std::vector<std::unique_ptr<crema::Tensor>> tensors;
  std::vector<crema::Tensor*> bv, tv;
  auto make = [&](std::vector<crema::Tensor*>& into) {
    tensors.push_back(std::make_unique<crema::Tensor>());
    tensors.back()->set_dtype(type);
    if (channels_last) tensors.back()->set_channels_last(true);
    into.push_back(tensors.back().get());
  };
  for (int b = 0; b < bottoms; ++b) make(bv), bv.back()->reshape(shape);
  for (int t = 0; t < lp.top_size(); ++t) {
    if (t == 0 && in_place)
      tv.push_back(bv[0]);
    else
      make(tv);
  }
  const crema_exec exec = crema::cpu_exec();
  layer.setup(bv, tv, exec);
  if (layer.reshape(bv, tv, exec) > 0) throw std::runtime_error("no workspace here");
  for (size_t b = 0; b < bv.size(); ++b) fill_tensor(*bv[b], false, 1.f, static_cast<uint32_t>(b));
  const std::vector<float> x0 = bv[0]->to_float();
  // In place, forward overwrites its input: restore it (outside the timed region).
  fwd = time_it(
      iters,
      [&] {
        if (in_place) fill_tensor(*bv[0], false, 1.f);
      },
      [&] { layer.forward(bv, tv, exec); });
  for (crema::Tensor* t : tv) fill_tensor(*t, true, 0.5f);
  const std::vector<int8_t> propagate(bv.size(), 1);
  bwd = time_it(
      iters, [] {}, [&] { layer.backward(tv, bv, propagate, true, exec); });
  return true;
}

void time_storage(int iters) {
  struct Timed {
    const char* name;
    const char* text;
    int bottoms;
    bool in_place;
  };
  const Timed cases[] = {
      {"BatchNorm", "type: 'BatchNorm'", 1, false},
      {"BatchNorm in-place", "type: 'BatchNorm'", 1, true},
      {"ReLU", "type: 'ReLU'", 1, false},
      {"ReLU in-place", "type: 'ReLU'", 1, true},
      {"Eltwise SUM", "type: 'Eltwise' eltwise_param { operation: SUM }", 2, false},
      {"Eltwise PROD", "type: 'Eltwise' eltwise_param { operation: PROD }", 2, false},
      {"Eltwise MAX", "type: 'Eltwise' eltwise_param { operation: MAX }", 2, false},
      {"Split 2 tops (copy)", "type: 'Split' top: 'a' top: 'b'", 1, false},
      {"Pooling MAX 3x3/2",
       "type: 'Pooling' pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }", 1, false},
      {"Pooling AVE global", "type: 'Pooling' pooling_param { pool: AVE global_pooling: true }", 1,
       false},
  };
  std::printf("\nthe layer alone, fp32 vs bf16 storage (best of %d):\n", iters);
  for (const Timed& c : cases) {
    Stats f32, b32, f16, b16;
    time_layer(c.text, c.bottoms, c.in_place, {64, 16, 32, 32}, CREMA_FLOAT32, iters, f32, b32);
    if (!time_layer(c.text, c.bottoms, c.in_place, {64, 16, 32, 32}, CREMA_BFLOAT16, iters, f16,
                    b16)) {
      std::printf("%-22s forward  fp32 %7.3f ms | backward fp32 %7.3f ms (no bf16 storage)\n",
                  c.name, f32.best_ms, b32.best_ms);
      continue;
    }
    std::printf("%-22s forward  fp32 %7.3f  bf16 %7.3f ms | backward fp32 %7.3f  bf16 %7.3f ms\n",
                c.name, f32.best_ms, f16.best_ms, b32.best_ms, b16.best_ms);
  }
}

// ResNet's BatchNorm + Scale (bias) + ReLU in place, the Scale and ReLU absorbed by BatchNorm (as
// the net runs them on the CPU), on a tensor of `shape` stored as `type` (N,H,W,C where
// channels_last); dz restored before each backward (which writes dx over it). False when
// BatchNorm does not take that storage here.
bool time_absorbed(const crema::Shape& shape, crema_dtype type, bool channels_last, int iters,
                   Stats& f, Stats& b) {
  crema::Registry& registry = crema::Registry::global();  // searched by time_layer already
  auto layer = [&](const std::string& text) {
    return crema::layer_from_text(text + " bottom: 'x' top: 'x'", "elementwise_bench", registry);
  };
  auto bn = layer("name: 'bn' type: 'BatchNorm'");
  auto scale = layer("name: 'scale' type: 'Scale' scale_param { bias_term: true }");
  auto relu = layer("name: 'relu' type: 'ReLU'");
  if (!bn->stores_in(type, CREMA_CPU)) return false;
  if (channels_last && !(bn->cpu_layouts() & CREMA_LAYOUT_CHANNELS_LAST)) return false;
  crema::Tensor x;
  x.set_dtype(type);
  if (channels_last) x.set_channels_last(true);
  x.reshape(shape);
  const std::vector<crema::Tensor*> v = {&x};
  const crema_exec exec = crema::cpu_exec();
  bn->setup(v, v, exec);
  bn->reshape(v, v, exec);
  const std::vector<crema::LayerInstance*> absorbed = {scale.get(), relu.get()};
  for (crema::LayerInstance* l : absorbed) {
    l->setup(v, v, exec);
    l->reshape(v, v, exec);
    l->fill_params(1);
    if (!bn->absorb(*l)) throw std::runtime_error("BatchNorm did not absorb " + l->type());
  }
  f = time_it(
      iters, [&] { fill_tensor(x, false, 1.f); }, [&] { bn->forward(v, v, exec, absorbed); });
  b = time_it(
      iters, [&] { fill_tensor(x, true, 0.5f); },
      [&] {
        bn->backward(v, v, {1}, true, exec, absorbed, {1, 1});
      });
  return true;
}

void time_batch_norm_absorbed(int iters) {
  std::printf("%-22s", "BN+Scale+ReLU in-place");
  Stats f[2], b[2];
  const crema_dtype types[2] = {CREMA_FLOAT32, CREMA_BFLOAT16};
  for (int k = 0; k < 2; ++k) {
    if (!time_absorbed({64, 16, 32, 32}, types[k], false, iters, f[k], b[k])) {
      std::printf(" (no bf16 storage)\n");
      return;
    }
  }
  std::printf(" forward  fp32 %7.3f  bf16 %7.3f ms | backward fp32 %7.3f  bf16 %7.3f ms\n",
              f[0].best_ms, f[1].best_ms, b[0].best_ms, b[1].best_ms);
}

// BatchNorm on bf16 tensors stored N,C,H,W and N,H,W,C: the layer alone (out of place and in
// place) and with the Scale and ReLU it absorbs.
void time_batch_norm_layouts(int iters) {
  const crema::Shape shapes[] = {
      {64, 16, 32, 32}, {8, 256, 56, 56}, {8, 512, 28, 28}, {8, 1024, 14, 14}, {8, 2048, 7, 7}};
  std::printf("\nBatchNorm on bf16, N,C,H,W vs N,H,W,C (best of %d):\n", iters);
  for (const crema::Shape& s : shapes) {
    char name[64];
    std::snprintf(name, sizeof name, "%lldx%lldx%lldx%lld", static_cast<long long>(s[0]),
                  static_cast<long long>(s[1]), static_cast<long long>(s[2]),
                  static_cast<long long>(s[3]));
    for (int variant = 0; variant < 3; ++variant) {
      static const char* const kind[3] = {"BN", "BN in-place", "BN+Scale+ReLU in-place"};
      Stats f[2], b[2];
      bool ok = true;
      for (int last = 0; last < 2 && ok; ++last)
        ok = variant < 2 ? time_layer("type: 'BatchNorm'", 1, variant == 1, s, CREMA_BFLOAT16,
                                      iters, f[last], b[last], last == 1)
                         : time_absorbed(s, CREMA_BFLOAT16, last == 1, iters, f[last], b[last]);
      if (!ok) {
        std::printf("%-14s %-22s (no bf16 or N,H,W,C storage here)\n", name, kind[variant]);
        continue;
      }
      std::printf(
          "%-14s %-22s forward  NCHW %7.3f  NHWC %7.3f ms | backward NCHW %7.3f  NHWC %7.3f ms\n",
          name, kind[variant], f[0].best_ms, f[1].best_ms, b[0].best_ms, b[1].best_ms);
    }
  }
}
}  // namespace

int run(int argc, char** argv) {
  setenv("CREMA_NUM_THREADS", "1", 0);  // keep a caller's choice
  const int iters = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  if (argc > 2 && std::string(argv[2]) == "batch_norm") {
    time_batch_norm_layouts(iters);
    return 0;
  }
  const std::vector<int64_t> shape = {64, 16, 32, 32};
  const int64_t count = int64_t{64} * 16 * 32 * 32;
  const size_t tensor_bytes = static_cast<size_t>(count) * sizeof(float);
  const double bytes = static_cast<double>(tensor_bytes);

  HarnessOptions base;
  if (std::strlen(CREMA_BENCH_PLUGIN_DIR)) base.plugin_dirs = {CREMA_BENCH_PLUGIN_DIR};
  std::printf(
      "input 64x16x32x32 float (%.1f MiB per tensor), CREMA_NUM_THREADS=%s, %d iterations\n",
      bytes / (1 << 20), std::getenv("CREMA_NUM_THREADS"), iters);

  // Reference: memcpy of one tensor (read + write).
  {
    std::vector<float> a(count, 1.f), b(count);
    Stats s = time_it(
        iters, [] {}, [&] { std::memcpy(b.data(), a.data(), tensor_bytes); });
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
          if (c.in_place) std::memcpy(xb, x.data(), tensor_bytes);
        },
        [&] { h.forward(); });
    h.forward();
    Stats b = time_it(
        iters, [&] { std::memcpy(gt, dy.data(), tensor_bytes); }, [&] { h.backward(); });
    report(c.name, "forward", f, bytes, c.fwd_eff, c.fwd_real);
    report(c.name, "backward", b, bytes, c.bwd_eff, c.bwd_real);
  }
  time_storage(iters);
  time_batch_norm_absorbed(iters);
  time_batch_norm_layouts(iters);
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "elementwise_bench: %s\n", e.what());
    return 1;
  }
}
