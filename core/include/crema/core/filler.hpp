// SPDX-License-Identifier: BSD-2-Clause
// Caffe's weight fillers: constant, uniform, gaussian (with sparse), xavier, msra, bilinear,
// positive_unitball. Deterministic for a given seed.
#pragma once
#include <cstdint>
#include <string>

#include "crema/core/tensor.hpp"

struct crema_params;

namespace crema {

struct Filler {
  std::string type = "constant";
  float value = 0, min = 0, max = 1, mean = 0, std = 1;
  int sparse = -1;
  std::string variance_norm = "FAN_IN";  // FAN_IN, FAN_OUT, AVERAGE

  static Filler constant(float v) {
    Filler f;
    f.value = v;
    return f;
  }
  // Reads a FillerParameter message at `path` of a layer's parameters.
  static Filler from_params(const crema_params* p, const std::string& path);
  void fill(Tensor& t, uint64_t seed) const;
};

}  // namespace crema
