// SPDX-License-Identifier: BSD-2-Clause
#include "blas_probe.hpp"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace crema::tools {

double sgemm_gflops(int threads) {
  openblas_set_num_threads(threads);
  const int n = 1024;
  const size_t elems = static_cast<size_t>(n) * n;
  std::vector<float> a(elems, 1.f), b(elems, 0.5f), c(elems);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n,
                0.f, c.data(), n);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  }
  return best;
}

}  // namespace crema::tools
