// SPDX-License-Identifier: BSD-2-Clause
// Batch prefetching for the data layers: one std::thread keeps up to `depth` transformed batches
// ready, so forward() only copies. Batches are recycled (no allocation per batch). What the
// thread throws is kept and rethrown by the pop() that would have received the failed batch,
// and by every pop() after it.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace crema::data {

struct Batch {
  std::vector<float> data;
  std::vector<float> label;
};

class Prefetcher {
 public:
  // `fill` runs on the prefetch thread only, once per batch, in order.
  using Fill = std::function<void(Batch&)>;
  Prefetcher(size_t data_count, size_t label_count, int depth, Fill fill);
  ~Prefetcher();  // stops and joins the thread
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Blocks until the next batch is ready and copies it out (label may be null).
  void pop(float* data, float* label);
  // Batches waiting right now (for tests and diagnostics).
  int ready() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Batch> slots_;
  std::deque<Batch*> free_, full_;
  std::exception_ptr error_;
  bool stop_ = false;
  Fill fill_;
  std::thread thread_;  // last member: starts after everything it touches exists
};

}  // namespace crema::data
