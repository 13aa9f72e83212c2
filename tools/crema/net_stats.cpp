// SPDX-License-Identifier: BSD-2-Clause
#include "net_stats.hpp"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace crema::tools {

// Multiply-adds are counted where they dominate: a weight applied at every output position
// (Convolution, ConvolutionDepthwise, InnerProduct, Deconvolution) costs |W| x positions.
NetStats net_stats(Net& net) {
  NetStats s;
  for (int i = 0; i < net.num_layers(); ++i) {
    LayerInstance& l = net.layer(i);
    LayerStats ls;
    ls.name = l.name();
    ls.type = l.type();
    if (!net.tops(i).empty()) ls.top_shape = net.tops(i)[0]->shape();
    for (const ParamBlob& p : l.params())
      if (!p.is_state) ls.params += p.tensor->count();
    for (Tensor* t : net.tops(i))
      if (std::find(net.bottoms(i).begin(), net.bottoms(i).end(), t) == net.bottoms(i).end())
        ls.activations += t->count();
    if (!l.params().empty() && !net.tops(i).empty()) {
      const Tensor& w = *l.params()[0].tensor;
      const Tensor& top = *net.tops(i)[0];
      if (ls.type == "Convolution" || ls.type == "ConvolutionDepthwise") {
        ls.macs = double(w.count()) * top.count() / std::max<int64_t>(1, top.dim(1));
        if (ls.type == "ConvolutionDepthwise" && w.ndim() == 4 && w.dim(1) != 1)
          ls.macs = double(w.count()) / w.dim(1) * top.count() / top.dim(1);
      } else if (ls.type == "InnerProduct") {
        ls.macs = double(w.count()) * (top.count() / std::max<int64_t>(1, top.dim(-1)));
      }
    }
    s.params += ls.params;
    s.macs += ls.macs;
    s.activations += ls.activations;
    s.layers.push_back(ls);
  }
  return s;
}

double sgemm_gflops(int threads) {
  openblas_set_num_threads(threads);
  const int n = 1024;
  std::vector<float> a(n * n, 1.f), b(n * n, 0.5f), c(n * n);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  }
  return best;
}

}  // namespace crema::tools
