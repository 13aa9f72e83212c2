// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/filler.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

#include "crema/core/host.hpp"

namespace crema {

Filler Filler::from_params(const crema_params* p, const std::string& path) {
  const crema_host* h = host_table();
  auto num = [&](const char* field) {
    double v = 0;
    if (h->param_float(p, (path + "." + field).c_str(), 0, &v) != CREMA_OK)
      throw std::runtime_error(take_plugin_error());
    return static_cast<float>(v);
  };
  auto str = [&](const char* field) {
    const char* v = nullptr;
    if (h->param_string(p, (path + "." + field).c_str(), 0, &v) != CREMA_OK)
      throw std::runtime_error(take_plugin_error());
    return std::string(v);
  };
  Filler f;
  f.type = str("type");
  f.value = num("value");
  f.min = num("min");
  f.max = num("max");
  f.mean = num("mean");
  f.std = num("std");
  f.sparse = static_cast<int>(num("sparse"));
  f.variance_norm = str("variance_norm");
  return f;
}

void Filler::fill(Tensor& t, uint64_t seed) const {
  int64_t n = t.count();
  if (n == 0) return;
  float* x = t.mutable_host_data();
  std::mt19937_64 rng(seed);
  int64_t fan_in = t.ndim() > 0 ? n / t.dim(0) : n;
  int64_t fan_out = t.ndim() > 1 ? n / t.dim(1) : n;
  float norm = static_cast<float>(fan_in);
  if (variance_norm == "FAN_OUT") norm = static_cast<float>(fan_out);
  if (variance_norm == "AVERAGE") norm = (fan_in + fan_out) / 2.f;
  auto uniform = [&](float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    for (int64_t i = 0; i < n; ++i) x[i] = d(rng);
  };
  auto gaussian = [&](float m, float s) {
    std::normal_distribution<float> d(m, s);
    for (int64_t i = 0; i < n; ++i) x[i] = d(rng);
  };
  if (type == "constant") {
    for (int64_t i = 0; i < n; ++i) x[i] = value;
  } else if (type == "uniform") {
    uniform(min, max);
  } else if (type == "gaussian") {
    gaussian(mean, std);
    if (sparse >= 0) {
      // Each output keeps `sparse` non-zero inputs on average (Caffe's sparse gaussian).
      float keep = static_cast<float>(sparse) / static_cast<float>(t.ndim() > 1 ? t.dim(1) : n);
      std::bernoulli_distribution b(keep);
      for (int64_t i = 0; i < n; ++i) x[i] *= b(rng) ? 1.f : 0.f;
    }
  } else if (type == "xavier") {
    float scale = std::sqrt(3.f / norm);
    uniform(-scale, scale);
  } else if (type == "msra") {
    gaussian(0.f, std::sqrt(2.f / norm));
  } else if (type == "positive_unitball") {
    uniform(0.f, 1.f);
    int64_t dim = n / t.dim(0);
    for (int64_t r = 0; r < t.dim(0); ++r) {
      double s = 0;
      for (int64_t i = 0; i < dim; ++i) s += x[r * dim + i];
      for (int64_t i = 0; i < dim; ++i) x[r * dim + i] = static_cast<float>(x[r * dim + i] / s);
    }
  } else if (type == "bilinear") {
    if (t.ndim() != 4 || t.dim(2) != t.dim(3))
      throw std::runtime_error("bilinear filler needs a 4-d square kernel, got " + t.shape_string());
    int64_t k = t.dim(3);
    float f = std::ceil(k / 2.f);
    float c = (2 * f - 1 - static_cast<float>(static_cast<int>(f) % 2)) / (2.f * f);
    for (int64_t i = 0; i < n; ++i) {
      float xx = static_cast<float>(i % k), yy = static_cast<float>((i / k) % k);
      x[i] = (1 - std::fabs(xx / f - c)) * (1 - std::fabs(yy / f - c));
    }
  } else {
    throw std::runtime_error("unknown filler type '" + type + "'");
  }
}

}  // namespace crema
