// SPDX-License-Identifier: BSD-2-Clause
// Eltwise's CPU loops, written once over the storage types (float, or uint16_t for bf16) with
// crema::load; each works on one chunk of elements, arithmetic in fp32, into an fp32 chunk that
// a bf16 tensor then takes rounded once (store_chunk). Plain functions with everything by value,
// so that GCC sees no aliasing to guard against and vectorises the conversions.
#pragma once
#include <cstdint>
#include <limits>
#include <type_traits>

#include "crema/bf16.hpp"

// Elements per chunk: an fp32 accumulator of 8 KB stays in L1 while the bottoms stream through.
constexpr int64_t kEltwiseChunk = 2048;

// SUM: acc = c0 x0, then acc += ck xk (the fp32 path's own order, so its bits stay the same).
template <class X>
void sum_first(const X* x, float c, float* acc, int64_t m) {
  for (int64_t i = 0; i < m; ++i) acc[i] = c * crema::load(x + i);
}
template <class X>
void sum_add(const X* x, float c, float* acc, int64_t m) {
  for (int64_t i = 0; i < m; ++i) acc[i] += c * crema::load(x + i);
}
// PROD: acc = x0, then acc *= xk.
template <class X>
void prod_first(const X* x, float* acc, int64_t m) {
  for (int64_t i = 0; i < m; ++i) acc[i] = crema::load(x + i);
}
template <class X>
void prod_mul(const X* x, float* acc, int64_t m) {
  for (int64_t i = 0; i < m; ++i) acc[i] *= crema::load(x + i);
}
// MAX: the first bottom holding the largest value wins (strictly greater replaces).
inline void max_init(float* acc, int* arg, int64_t m) {
  for (int64_t i = 0; i < m; ++i) acc[i] = -std::numeric_limits<float>::infinity(), arg[i] = 0;
}
template <class X>
void max_step(const X* x, int k, float* acc, int* arg, int64_t m) {
  for (int64_t i = 0; i < m; ++i) {
    const float v = crema::load(x + i), best = acc[i];
    const bool gt = v > best;  // branch-free, so that the loop vectorises
    acc[i] = gt ? v : best;
    arg[i] = gt ? k : arg[i];
  }
}

// Backward into an fp32 chunk dx: top type T (data and diff), bottom type B.
template <class T>
void sum_backward(const T* dy, float c, float* dx, int64_t m) {
  for (int64_t i = 0; i < m; ++i) dx[i] = c * crema::load(dy + i);
}
template <class T>
void max_backward(const T* dy, const int* arg, int k, float* dx, int64_t m) {
  for (int64_t i = 0; i < m; ++i) dx[i] = arg[i] == k ? crema::load(dy + i) : 0.f;
}
// PROD with stable_prod_grad: false: dE/dx_k = y / x_k * dE/dy.
template <class T, class B>
void prod_backward_by_division(const T* y, const B* x, const T* dy, float* dx, int64_t m) {
  for (int64_t i = 0; i < m; ++i)
    dx[i] = crema::load(y + i) / crema::load(x + i) * crema::load(dy + i);
}
// PROD: dE/dx_k = (the product of the other bottoms, in dx) * dE/dy.
template <class T>
void prod_backward_from_product(const T* dy, float* dx, int64_t m) {
  for (int64_t i = 0; i < m; ++i) dx[i] = dx[i] * crema::load(dy + i);
}
