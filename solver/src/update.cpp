// SPDX-License-Identifier: BSD-2-Clause
// One parameter update, Caffe's order: normalise by iter_size, regularise, clip the global
// gradient norm, turn the gradient into a step with the update rule, subtract it. On the CPU the
// stages run chunk by chunk in one pass over each parameter (two with clipping).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "crema/core/device.hpp"
#include "crema/core/host.hpp"
#include "crema/solver/solver.hpp"
#ifdef CREMA_WITH_CUDA
#include "update_gpu.hpp"
#endif

namespace crema {

namespace {
// Values of each tensor per chunk: the gradient, weights and history of one chunk stay in the L1
// cache from the gradient's normalisation to the weights' update, so each array is read and
// written once per step (one pass each way instead of one per stage), on the host's threads.
constexpr int64_t kUpdateChunk = 2048;

// fn(b, e) over [0, n) in chunks of kUpdateChunk, the chunks shared among the host's threads.
// Every element's arithmetic is the same on any number of threads.
template <class Fn>
void for_update_chunks(int64_t n, const Fn& fn) {
  parallel_for_on_host(n, 8 * kUpdateChunk, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; c += kUpdateChunk) fn(c, std::min(e, c + kUpdateChunk));
  });
}
}  // namespace

void Solver::apply_update_with_rate(float rate) {
  auto& params = net_->learnable_params();
  const float decay = param_.weight_decay();
  const bool l1 = param_.regularization_type() == "L1";
  if (!l1 && param_.regularization_type() != "L2")
    throw std::runtime_error("unknown regularization_type '" + param_.regularization_type() +
                             "' (L1, L2)");
  if (net_->device() == CREMA_CUDA) return apply_update_on_gpu(rate, l1);
  // The gradients are sums over iter_size passes on each of the ranks: their mean, as one
  // process with iter_size x ranks passes would take; then the decay.
  const float norm = 1.f / static_cast<float>(param_.iter_size() * world_size());
  auto regularise = [&](const LearnableParam& p, float* g, const float* w, int64_t b, int64_t e) {
    const float local_decay = decay * p.decay_mult;
    for (int64_t i = b; i < e; ++i) {
      float gi = g[i] * norm;
      if (local_decay != 0) gi += local_decay * (l1 ? (w[i] > 0) - (w[i] < 0) : w[i]);
      g[i] = gi;
    }
  };
  // Clipping needs every regularised gradient before any step: then a pass of its own.
  const bool clip = param_.clip_gradients() >= 0;
  float scale = 1.f;
  if (clip) {
    double sumsq = 0;
    for (LearnableParam& p : params) {
      float* g = p.tensor->mutable_host_diff();
      const float* w = p.tensor->host_data();
      for_update_chunks(p.tensor->count(),
                        [&](int64_t b, int64_t e) { regularise(p, g, w, b, e); });
      sumsq += p.tensor->sumsq_diff_host();
    }
    const double l2 = std::sqrt(sumsq);
    if (l2 > param_.clip_gradients()) scale = static_cast<float>(param_.clip_gradients() / l2);
  }
  const size_t np = params.size();
  for (size_t k = 0; k < np; ++k) {
    LearnableParam& p = params[k];
    float* g = p.tensor->mutable_host_diff();
    float* w = p.tensor->mutable_host_data();
    float* h0 = history_[k].mutable_host_data();
    float* h1 = rule_->history_per_param() > 1 ? history_[np + k].mutable_host_data() : nullptr;
    const float r = rate * p.lr_mult;
    for_update_chunks(p.tensor->count(), [&](int64_t b, int64_t e) {
      if (!clip) regularise(p, g, w, b, e);
      if (scale != 1.f)
        for (int64_t i = b; i < e; ++i) g[i] *= scale;
      // diff <- the step (Caffe's meaning of the diff after an update), then data -= diff.
      rule_->compute(e - b, r, iter_, g + b, h0 + b, h1 ? h1 + b : nullptr);
      for (int64_t i = b; i < e; ++i) w[i] -= g[i];
    });
  }
}

#ifdef CREMA_WITH_CUDA
void Solver::apply_update_on_gpu(float rate, bool l1) {
  auto& params = net_->learnable_params();
  void* stream = device::stream();
  // The mean over passes and ranks, and the loss scale divided out (exactly, for a power of two).
  const float norm = gpu_unscale_ / static_cast<float>(param_.iter_size() * world_size());
  for (LearnableParam& p : params)
    gpu_update::regularize(stream, p.tensor->count(), norm, param_.weight_decay() * p.decay_mult,
                           l1, p.tensor->device_data(), p.tensor->mutable_device_diff());
  float scale = 1.f;
  if (param_.clip_gradients() >= 0) {
    auto* sumsq = reinterpret_cast<double*>(norm_scratch_.mutable_device_data());
    device::memset_zero(sumsq, sizeof(double));
    for (LearnableParam& p : params)
      gpu_update::sumsq_accumulate(stream, p.tensor->count(), p.tensor->device_diff(), sumsq);
    // One small read-back per step, only when clipping is on.
    const double l2 = std::sqrt(*reinterpret_cast<const double*>(norm_scratch_.host_data()));
    if (l2 > param_.clip_gradients()) scale = static_cast<float>(param_.clip_gradients() / l2);
  }
  const RuleParams rule = rule_->params();
  const size_t np = params.size();
  for (size_t k = 0; k < np; ++k) {
    LearnableParam& p = params[k];
    float* h1 = rule_->history_per_param() > 1 ? history_[np + k].mutable_device_data() : nullptr;
    gpu_update::apply(stream, rule, p.tensor->count(), scale,
                      rule_->kernel_rate(rate * p.lr_mult, iter_), p.tensor->mutable_device_data(),
                      p.tensor->mutable_device_diff(), history_[k].mutable_device_data(), h1);
  }
}

bool Solver::gradients_finite_on_gpu() {
  auto* flag = reinterpret_cast<int*>(norm_scratch_.mutable_device_data());
  device::memset_zero(flag, sizeof(int));
  for (LearnableParam& p : net_->learnable_params())
    gpu_update::flag_nonfinite(device::stream(), p.tensor->count(), p.tensor->device_diff(), flag);
  // One 4-byte read-back per step, under dynamic loss scaling only.
  return *reinterpret_cast<const int*>(norm_scratch_.host_data()) == 0;
}
#else
void Solver::apply_update_on_gpu(float, bool) {
  throw std::runtime_error("crema was built without CUDA: no GPU update");
}
bool Solver::gradients_finite_on_gpu() {
  throw std::runtime_error("crema was built without CUDA: no GPU gradients");
}
#endif

}  // namespace crema
