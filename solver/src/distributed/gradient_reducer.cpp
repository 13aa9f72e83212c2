// SPDX-License-Identifier: BSD-2-Clause
#include "gradient_reducer.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>

namespace crema {

namespace {
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

GradientReducer::GradientReducer(Communicator& comm, Net& net, size_t bucket_bytes, bool overlap)
    : comm_(comm), net_(net), overlap_(overlap) {
  auto& params = net.learnable_params();
  const std::vector<int> ready = net.param_grad_ready_layers();
  // Backward order: the parameters the backward pass finishes first go first.
  std::vector<size_t> order(params.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ready[a] > ready[b]; });
  size_t bytes = 0;
  for (size_t k : order) {
    const size_t n = static_cast<size_t>(params[k].tensor->count());
    if (buckets_.empty() || (bytes > 0 && bytes + n * sizeof(float) > bucket_bytes)) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    b.params.push_back(k);
    b.ready_from = ready[k];  // the lowest so far: the order is descending
    bytes += n * sizeof(float);
    total_floats_ += n;
  }
  if (net.device() == CREMA_CPU)
    for (Bucket& b : buckets_) {
      size_t n = 0;
      for (size_t k : b.params) n += static_cast<size_t>(params[k].tensor->count());
      b.buffer.resize(n);
    }
}

void GradientReducer::begin_step() { next_ = 0; }

void GradientReducer::start(Bucket& b) {
  auto& params = net_.learnable_params();
  if (net_.device() == CREMA_CUDA) {  // NCCL sums each in place, on the compute stream
    for (size_t k : b.params)
      comm_.start_allreduce_sum(params[k].tensor->mutable_device_diff(),
                                static_cast<size_t>(params[k].tensor->count()), CREMA_CUDA);
    return;
  }
  const double t0 = now();
  float* out = b.buffer.data();
  for (size_t k : b.params) {
    const Tensor& t = *params[k].tensor;
    out = std::copy(t.host_diff(), t.host_diff() + t.count(), out);
  }
  stats_.pack_seconds += now() - t0;
  comm_.start_allreduce_sum(b.buffer.data(), b.buffer.size(), CREMA_CPU);
}

void GradientReducer::layers_done_from(int layer) {
  if (!overlap_) return;
  const double t0 = now();
  while (next_ < buckets_.size() && buckets_[next_].ready_from >= layer) start(buckets_[next_++]);
  comm_.progress();
  stats_.progress_seconds += now() - t0;
}

void GradientReducer::finish() {
  while (next_ < buckets_.size()) start(buckets_[next_++]);
  const double t0 = now();
  comm_.wait_all();
  stats_.wait_seconds += now() - t0;
  ++stats_.steps;
  if (net_.device() == CREMA_CUDA) return;
  const double t1 = now();
  auto& params = net_.learnable_params();
  for (Bucket& b : buckets_) {
    const float* in = b.buffer.data();
    for (size_t k : b.params) {
      Tensor& t = *params[k].tensor;
      std::copy(in, in + t.count(), t.mutable_host_diff());
      in += t.count();
    }
  }
  stats_.pack_seconds += now() - t1;
}

}  // namespace crema
