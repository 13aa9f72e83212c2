// SPDX-License-Identifier: BSD-2-Clause
// conv_bench: forward + backward of ResNet-20's convolution shapes (CIFAR 32x32, batch 64) through
// the Convolution plugin, in GFLOP/s, next to plain OpenBLAS sgemm of the same matrix shapes.
//   CREMA_NUM_THREADS=1 build/bin/conv_bench [batch] [--variants] [--only NAME-SUBSTRING]
//   CREMA_NUM_THREADS=1 build/bin/conv_bench 8 --resnet50     (ResNet-50's shapes instead)
// FLOPs of one pass = 2 * N * Cout * OH * OW * (Cin / group) * KH * KW; backward counts two such
// products (dW and dX). Two references run only the three GEMMs of an im2col convolution
// (M = Cout, K = Cin*KH*KW, P = output pixels), with OpenBLAS on the same thread(s):
//   caffe: per image, Caffe's orientation: Y[M][P] = W col, dW += dY col^T, dcol = W^T dY
//   sgemm: pixel-major, 1024-row blocks: Y^T[P][M] = col W^T, dW += dY^T^T col, dcol = dY^T W,
//          the best plain-sgemm shapes for these sizes: what im2col + GEMM could reach at most.
// "vs sgemm" is the sgemm time over the layer's forward + backward time.
// --variants also times the other GEMM plans (method, chunk budget: 0 KB = one image per chunk,
// 65536 KB = the whole batch in one chunk), and Winograd F(2x2, 3x3) with its chunk budgets
// (winograd: forward and dX; wino+dW: dW too).
#include <cblas.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crema/core/host.hpp"
#include "crema/testing/harness.hpp"

using crema::testing::LayerHarness;

namespace {
struct Case {
  const char* name;
  int cin, cout, hw, k, stride, pad;
};

// With one thread everything runs on this thread: its CPU time ignores the time other processes
// on a shared machine take from it. With more threads, wall-clock time.
bool g_cpu_clock = false;
double now() {
  timespec ts;
  clock_gettime(g_cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// Best mean time (seconds) of `fn` over a few rounds of enough calls to last ~0.2 s.
template <class Fn>
double time_best(const Fn& fn) {
  fn();
  double t0 = now();
  fn();
  double once = now() - t0;
  int reps = std::max(1, static_cast<int>(0.2 / std::max(once, 1e-6)));
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    double s = now();
    for (int r = 0; r < reps; ++r) fn();
    best = std::min(best, (now() - s) / reps);
  }
  return best;
}

struct ConvTimes {
  double fwd, bwd;
};

ConvTimes time_conv(const Case& c, int batch, const std::string& plugin_dir,
                    const char* type = "Convolution", int group = 1) {
  char text[512];
  std::snprintf(text, sizeof text,
                "type: '%s' convolution_param { num_output: %d kernel_size: %d stride: %d "
                "pad: %d group: %d weight_filler { type: 'msra' } }",
                type, c.cout, c.k, c.stride, c.pad, group);
  crema::testing::HarnessOptions opt;
  opt.plugin_dirs = {plugin_dir};
  LayerHarness h(text, {{batch, c.cin, c.hw, c.hw}}, opt);
  h.fill_gaussian(0, 1.0);
  h.forward();
  const int64_t n = h.count(h.top_shape(0));
  float* dy = h.top_diff(0);
  for (int64_t i = 0; i < n; ++i) dy[i] = 1e-3f * static_cast<float>(i % 7);
  ConvTimes t;
  t.fwd = time_best([&] { h.forward(); });
  t.bwd = time_best([&] { h.backward(); });
  return t;
}

// The three GEMMs of Caffe's convolution, one image of P pixels at a time.
double time_caffe(int m, int p, int k, int batch) {
  std::vector<float> w(size_t(m) * k, 0.01f), col(size_t(k) * p, 0.02f), y(size_t(m) * p, 0.03f);
  std::vector<float> dw(size_t(m) * k), dcol(size_t(k) * p);
  return time_best([&] {
    for (int n = 0; n < batch; ++n) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, p, k, 1.f, w.data(), k, col.data(),
                  p, 0.f, y.data(), p);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, p, 1.f, y.data(), p, col.data(), p,
                  1.f, dw.data(), k);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, p, m, 1.f, w.data(), k, y.data(), p,
                  0.f, dcol.data(), p);
    }
  });
}

// The same products pixel-major, in blocks of 1024 rows covering all `rows` output pixels.
double time_pixel_major(int m, int64_t rows, int k) {
  const int p = 1024;
  std::vector<float> w(size_t(m) * k, 0.01f), col(size_t(k) * p, 0.02f), y(size_t(m) * p, 0.03f);
  std::vector<float> dw(size_t(m) * k), dcol(size_t(k) * p);
  return time_best([&] {
    for (int64_t r = 0; r < rows; r += p) {
      const int b = static_cast<int>(std::min<int64_t>(p, rows - r));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, m, k, 1.f, col.data(), k, w.data(), k,
                  0.f, y.data(), m);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, k, b, 1.f, y.data(), m, col.data(), k,
                  1.f, dw.data(), k);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, k, m, 1.f, y.data(), m, w.data(), k,
                  0.f, dcol.data(), k);
    }
  });
}
}  // namespace

int main(int argc, char** argv) {
  int batch = 64;
  bool variants = false;
  std::string only;
  bool resnet50 = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--variants") == 0)
      variants = true;
    else if (std::strcmp(argv[i], "--resnet50") == 0)
      resnet50 = true;
    else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      only = argv[++i];
    else
      batch = std::atoi(argv[i]);
  }
  crema::set_num_threads(0);  // CREMA_NUM_THREADS, else all cores; OpenBLAS follows
  g_cpu_clock = crema::num_threads() == 1;
  const char* env_dir = std::getenv("CREMA_TEST_PLUGIN_DIR");
  const std::string plugin_dir = env_dir ? env_dir : CONV_BENCH_PLUGIN_DIR;
  const Case cases[] = {
      {"conv1 3->16 3x3 32x32", 3, 16, 32, 3, 1, 1}, {"16->16 3x3 32x32", 16, 16, 32, 3, 1, 1},
      {"32->32 3x3 16x16", 32, 32, 16, 3, 1, 1},     {"64->64 3x3 8x8", 64, 64, 8, 3, 1, 1},
      {"16->32 3x3 s2 32x32", 16, 32, 32, 3, 2, 1},  {"16->32 1x1 s2 32x32", 16, 32, 32, 1, 2, 0},
      {"64->64 1x1 8x8", 64, 64, 8, 1, 1, 0},
  };
  // --resnet50: its distinct shapes per stage (run with batch 8, as net_defs/bench/resnet50_b8).
  const Case r50_cases[] = {
      {"r50 stem 7x7 s2 224", 3, 64, 224, 7, 2, 3},    {"r50 64->256 1x1 56", 64, 256, 56, 1, 1, 0},
      {"r50 256->64 1x1 56", 256, 64, 56, 1, 1, 0},    {"r50 64 3x3 56", 64, 64, 56, 3, 1, 1},
      {"r50 256 3x3 s2 28", 256, 256, 28, 3, 2, 1},    {"r50 128 3x3 28", 128, 128, 28, 3, 1, 1},    {"r50 1024->256 1x1 14", 1024, 256, 14, 1, 1, 0},
      {"r50 256->1024 1x1 14", 256, 1024, 14, 1, 1, 0}, {"r50 256 3x3 14", 256, 256, 14, 3, 1, 1},
      {"r50 2048->512 1x1 7", 2048, 512, 7, 1, 1, 0},  {"r50 512->2048 1x1 7", 512, 2048, 7, 1, 1, 0},
      {"r50 512 3x3 7", 512, 512, 7, 3, 1, 1},
  };
  std::printf("batch %d, %d thread(s), %s time; GFLOP/s (fwd+bwd counts 3 products)\n", batch,
              crema::num_threads(), g_cpu_clock ? "thread CPU" : "wall");
  std::printf("%-22s %8s %8s %7s %7s %8s %8s %8s\n", "shape", "fwd ms", "bwd ms", "fwd GF",
              "f+b GF", "caffe GF", "sgemm GF", "vs sgemm");
  double total_conv = 0, total_gemm = 0, total_caffe = 0;
  std::vector<Case> chosen(cases, cases + sizeof(cases) / sizeof(cases[0]));
  if (resnet50) chosen.assign(r50_cases, r50_cases + sizeof(r50_cases) / sizeof(r50_cases[0]));
  for (const Case& c : chosen) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    const int out = (c.hw + 2 * c.pad - c.k) / c.stride + 1;
    const int m = c.cout, k = c.cin * c.k * c.k;
    const int64_t n = int64_t{batch} * out * out;
    const double flops = 2.0 * m * n * k;
    ConvTimes t = time_conv(c, batch, plugin_dir);
    const double caffe = time_caffe(m, out * out, k, batch), g = time_pixel_major(m, n, k);
    total_conv += t.fwd + t.bwd;
    total_gemm += g;
    total_caffe += caffe;
    std::printf("%-22s %8.3f %8.3f %7.1f %7.1f %8.1f %8.1f %7.0f%%\n", c.name, t.fwd * 1e3,
                t.bwd * 1e3, flops / t.fwd * 1e-9, 3 * flops / (t.fwd + t.bwd) * 1e-9,
                3 * flops / caffe * 1e-9, 3 * flops / g * 1e-9, 100.0 * g / (t.fwd + t.bwd));
    if (variants) {
      // Other plans through the plugin's tuning hooks (see layers/convolution/conv_gemm.hpp).
      // winograd: forward and dX by Winograd F(2x2, 3x3) (3x3 stride 1 only; elsewhere the
      // same as the GEMM plan), dW by the row-shift method with its default chunk.
      const struct {
        const char *rowshift_min, *chunk_kb, *winograd;
      } plans[] = {{"1000000000", "0", "0"},   {"1000000000", "128", "0"},
                   {"1000000000", "512", "0"}, {"1000000000", "2048", "0"},
                   {"1000000000", "65536", "0"}, {"1", "0", "0"},
                   {"1", "512", "0"},          {"1", "2048", "0"},
                   {"64", "0", "1"},           {"64", "512", "1"},
                   {"64", "2048", "1"},        {"64", "0", "2"},
                   {"64", "512", "2"},         {"64", "2048", "2"}};
      for (const auto& v : plans) {
        const bool wino = v.winograd[0] != '0';  // 2: dW by Winograd too
        setenv("CREMA_CONV_ROWSHIFT_MIN", v.rowshift_min, 1);
        setenv(wino ? "CREMA_CONV_WINOGRAD_CHUNK_KB" : "CREMA_CONV_CHUNK_KB", v.chunk_kb, 1);
        setenv("CREMA_CONV_WINOGRAD", wino ? "1" : "0", 1);
        setenv("CREMA_CONV_WINOGRAD_DW", v.winograd[0] == '2' ? "1" : "0", 1);
        ConvTimes t2 = time_conv(c, batch, plugin_dir);
        std::printf("  %-9s chunk %5s KB  %8.3f %8.3f %7.1f %7.1f\n",
                    v.winograd[0] == '2' ? "wino+dW"
                    : wino               ? "winograd"
                    : v.rowshift_min[0] == '1' && !v.rowshift_min[1] ? "rowshift"
                                                                     : "im2col",
                    v.chunk_kb, t2.fwd * 1e3, t2.bwd * 1e3, flops / t2.fwd * 1e-9,
                    3 * flops / (t2.fwd + t2.bwd) * 1e-9);
        unsetenv("CREMA_CONV_CHUNK_KB");
        unsetenv("CREMA_CONV_WINOGRAD_CHUNK_KB");
      }
      unsetenv("CREMA_CONV_ROWSHIFT_MIN");
      unsetenv("CREMA_CONV_WINOGRAD");
      unsetenv("CREMA_CONV_WINOGRAD_DW");
    }
  }
  // Depthwise 3x3 (MobileNetV2's expanded 96 channels at 32x32): the direct-loop plugin, and the
  // same layer as a grouped Convolution.
  const Case dwc = {"depthwise 96 3x3 32x32", 96, 96, 32, 3, 1, 1};
  if (only.empty() || std::string(dwc.name).find(only) != std::string::npos) {
    const double flops = 2.0 * batch * 96 * 32 * 32 * 9;
    for (const char* type : {"ConvolutionDepthwise", "Convolution"}) {
      ConvTimes t = time_conv(dwc, batch, plugin_dir, type, 96);
      std::printf("%-22s %8.3f %8.3f %7.1f %7.1f   (%s)\n", dwc.name, t.fwd * 1e3, t.bwd * 1e3,
                  flops / t.fwd * 1e-9, 3 * flops / (t.fwd + t.bwd) * 1e-9, type);
    }
  }
  std::printf(
      "total fwd+bwd %.2f ms; GEMMs alone: pixel-major sgemm %.2f ms (%.0f%%), Caffe's %.2f ms\n",
      total_conv * 1e3, total_gemm * 1e3, 100.0 * total_gemm / total_conv, total_caffe * 1e3);
  return 0;
}
