// SPDX-License-Identifier: BSD-2-Clause
#include "prefetch.hpp"

#include <algorithm>

namespace crema::data {

Prefetcher::Prefetcher(size_t data_count, size_t label_count, int depth, Fill fill)
    : slots_(static_cast<size_t>(std::max(depth, 1))), fill_(std::move(fill)) {
  for (Batch& b : slots_) {
    b.data.resize(data_count);
    b.label.resize(label_count);
    free_.push_back(&b);
  }
  thread_ = std::thread([this] { run(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Prefetcher::run() {
  for (;;) {
    Batch* b = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !free_.empty(); });
      if (stop_) return;
      b = free_.front();
      free_.pop_front();
    }
    try {
      fill_(*b);  // outside the lock: this is the work that overlaps the net's compute
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;  // the reader's state is unknown after a failure: stop producing
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      full_.push_back(b);
    }
    cv_.notify_all();
  }
}

void Prefetcher::pop(float* data, float* label) {
  Batch* b = nullptr;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !full_.empty() || error_; });
    if (full_.empty()) std::rethrow_exception(error_);
    b = full_.front();
    full_.pop_front();
  }
  std::copy(b->data.begin(), b->data.end(), data);
  if (label) std::copy(b->label.begin(), b->label.end(), label);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(b);
  }
  cv_.notify_all();
}

int Prefetcher::ready() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(full_.size());
}

}  // namespace crema::data
