// SPDX-License-Identifier: BSD-2-Clause
// Axpy (the fork layer of SE-Net, Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018):
// bottoms a (N,C) or (N,C,1,1), x (N,C,*), y of x's shape; one top of x's shape:
//   top[n,c,s] = a[n,c] * x[n,c,s] + y[n,c,s]
//   dE/da[n,c] = sum_s dE/dtop[n,c,s] * x[n,c,s]
//   dE/dx = a[n,c] * dE/dtop        dE/dy = dE/dtop
// Written against the plugin SDK only (crema/layer.hpp), as an outside author would: no
// parameter block, no core headers. CUDA: axpy.cu (the SDK's crema/cuda.hpp only).
// Reference: github.com/hujie-frank/SENet, axpy_layer.cpp.
#include <algorithm>
#include <cstring>
#include <vector>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "axpy_cuda.h"
#endif

namespace {
constexpr int64_t kWork = 1 << 14;  // elements per parallel task, about

// Plain functions with everything by value: the compiler sees no aliasing it must guard against.
void axpy_plane(float a, const float* x, const float* y, float* top, int64_t n) {
  for (int64_t i = 0; i < n; ++i) top[i] = a * x[i] + y[i];
}

// One (n, c) plane: returns sum(g * x) when x is given (float within 512-blocks, double
// across); dx = a g when dx is given, dy = g when dy is given.
double axpy_plane_backward(float a, const float* x, const float* g, float* dx, float* dy,
                           int64_t n) {
  double sum = 0;
  for (int64_t b = 0; x && b < n; b += 512) {
    const int64_t e = std::min(n, b + 512);
    float acc = 0.f;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = b; i < e; ++i) acc += g[i] * x[i];
    sum += acc;
  }
  if (dx)
    for (int64_t i = 0; i < n; ++i) dx[i] = a * g[i];
  if (dy) std::memcpy(dy, g, n * sizeof(float));
  return sum;
}
}  // namespace

class Axpy final : public crema::Layer<Axpy> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Axpy"};
    i.min_bottoms = i.max_bottoms = 3;
    return i;
  }
  explicit Axpy(const crema::Params&) {}

  void reshape(crema::Context& c) {
    const crema::TensorView a = c.bottom(0), x = c.bottom(1), y = c.bottom(2);
    const std::string shapes = crema::shape_string(a.shape()) + ", " +
                               crema::shape_string(x.shape()) + ", " +
                               crema::shape_string(y.shape());
    CREMA_CHECK(x.ndim() >= 2, "Axpy: x needs axes (N, C, ...); bottoms are " << shapes);
    CREMA_CHECK(a.ndim() >= 2 && a.dim(0) == x.dim(0) && a.dim(1) == x.dim(1) && a.count(2) == 1,
                "Axpy: a must be (N, C) or (N, C, 1, 1) with x's N and C; bottoms are " << shapes);
    CREMA_CHECK(x.shape() == y.shape(),
                "Axpy: x and y must have one shape; bottoms are " << shapes);
    planes_ = x.dim(0) * x.dim(1);
    S_ = x.count(2);
    c.top(0).set_shape(x.shape());
  }

  void forward_cpu(crema::Context& c) {
    const float* a = c.bottom(0).data();
    const float* x = c.bottom(1).data();
    const float* y = c.bottom(2).data();
    float* top = c.top(0).data();
    const int64_t S = S_;
    crema::parallel_for(planes_, std::max<int64_t>(1, kWork / std::max<int64_t>(S, 1)),
                        [&](int64_t p0, int64_t p1) {
                          for (int64_t p = p0; p < p1; ++p)
                            axpy_plane(a[p], x + p * S, y + p * S, top + p * S, S);
                        });
  }

  void backward_cpu(crema::Context& c) {
    const float* dtop = c.top(0).diff();
    const float* a = c.bottom(0).data();
    const float* x = c.bottom(1).data();
    float* da = c.propagate_down(0) ? c.bottom(0).diff() : nullptr;
    float* dx = c.propagate_down(1) ? c.bottom(1).diff() : nullptr;
    float* dy = c.propagate_down(2) ? c.bottom(2).diff() : nullptr;
    const int64_t S = S_;
    // d top / d a[n,c] = x[n,c,:];  d top / d x = a[n,c];  d top / d y = 1
    crema::parallel_for(planes_, std::max<int64_t>(1, kWork / std::max<int64_t>(S, 1)),
                        [&](int64_t p0, int64_t p1) {
                          for (int64_t p = p0; p < p1; ++p) {
                            const int64_t o = p * S;
                            const double s = axpy_plane_backward(a[p], da ? x + o : nullptr,
                                                                 dtop + o, dx ? dx + o : nullptr,
                                                                 dy ? dy + o : nullptr, S);
                            if (da) da[p] = static_cast<float>(s);
                          }
                        });
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    axpy_forward_cuda(c.cuda_stream(), planes_, S_, c.bottom(0).data(), c.bottom(1).data(),
                      c.bottom(2).data(), c.top(0).data());
  }

  void backward_cuda(crema::Context& c) {
    axpy_backward_cuda(c.cuda_stream(), planes_, S_, c.bottom(0).data(), c.bottom(1).data(),
                       c.top(0).diff(), c.propagate_down(0) ? c.bottom(0).diff() : nullptr,
                       c.propagate_down(1) ? c.bottom(1).diff() : nullptr,
                       c.propagate_down(2) ? c.bottom(2).diff() : nullptr);
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Axpy'", "2,3,1,1;2,3,4,5;2,3,4,5"}, {"type: 'Axpy'", "3,5;3,5,7;3,5,7"}};
  }

 private:
  int64_t planes_ = 0, S_ = 0;
};

CREMA_EXPORT_PLUGIN("axpy", "1.0.0", Axpy)
