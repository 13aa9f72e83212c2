// SPDX-License-Identifier: BSD-2-Clause
// The communicator of ranks that are threads of one process (thread_ranks.hpp). Collectives meet
// at a barrier of a mutex and a condition variable; between two barriers each rank works on its
// own slice of every rank's published buffer, so no two threads write the same element.
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "crema/core/host.hpp"
#include "crema/core/log.hpp"
#include "crema/solver/thread_ranks.hpp"
#include "gpu_sum.hpp"

namespace crema {

namespace {

// What the ranks of one group share: the barrier and each rank's buffer in the collective
// under way.
struct Group {
  Group(int n, std::vector<int> g) : size(n), gpus(std::move(g)), slots(n, nullptr) {}
  const int size;
  const std::vector<int> gpus;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  uint64_t generation = 0;   // barriers completed
  int left = -1;             // the first rank that returned from its work, -1 while none has
  std::vector<void*> slots;  // slots[r]: rank r's buffer, published before a barrier

  std::string name(int r) const {
    return "rank " + std::to_string(r) +
           (gpus.empty() ? "" : " (GPU " + std::to_string(gpus[static_cast<size_t>(r)]) + ")");
  }

  // Returns once every rank has arrived; throws where a rank that returned can never arrive.
  void barrier(int rank) {
    std::unique_lock<std::mutex> lock(mu);
    const uint64_t mine = generation;
    if (++arrived == size) {
      arrived = 0;
      ++generation;
      cv.notify_all();
      return;
    }
    cv.wait(lock, [&] { return generation != mine || left >= 0; });
    if (generation == mine)
      throw std::runtime_error(name(left) + " has finished while " + name(rank) +
                               " waits for it in a collective (the ranks ran different steps)");
  }

  void leave(int rank) {
    std::lock_guard<std::mutex> lock(mu);
    if (left < 0) left = rank;
    cv.notify_all();
  }
};

// Logs and ends the process: the first caller wins, a second one waits here until the end.
[[noreturn]] void end_process(const std::string& message, int code) {
  static std::mutex once;
  once.lock();  // never unlocked: the process ends below
  CREMA_LOG(ERROR) << message;
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);  // std::exit would run destructors under the other ranks' feet
}

class ThreadRank final : public Communicator {
 public:
  ThreadRank(std::shared_ptr<Group> group, int rank) : group_(std::move(group)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size; }
  std::string describe() const override {
    std::string d = std::to_string(group_->size) + " threads in one process";
    for (size_t r = 0; r < group_->gpus.size(); ++r)
      d += (r == 0 ? " on GPUs " : ", ") + std::to_string(group_->gpus[r]);
    return d;
  }

  void allreduce_sum(float* data, size_t count, crema_device device) override {
    if (group_->size == 1 || count == 0) return;
    if (device == CREMA_CUDA) return gpu_.allreduce_sum(data, count);
    sum(data, count);
  }
  void allreduce_sum(double* data, size_t count) override {
    if (group_->size == 1 || count == 0) return;
    sum(data, count);
  }
  // Host buffers: summed now (nothing to overlap between threads that would each do the work);
  // GPU buffers: enqueued on the compute stream by NCCL, which is the overlap there.
  void start_allreduce_sum(float* data, size_t count, crema_device device) override {
    allreduce_sum(data, count, device);
  }
  void progress() override {}
  void wait_all() override {}

  void broadcast(void* data, size_t bytes, int root) override {
    if (group_->size == 1 || bytes == 0) return;
    group_->slots[static_cast<size_t>(rank_)] = data;
    group_->barrier(rank_);
    if (rank_ != root) std::memcpy(data, group_->slots[static_cast<size_t>(root)], bytes);
    group_->barrier(rank_);  // root's buffer stays untouched until every rank has copied it
  }
  void barrier() override { group_->barrier(rank_); }
  [[noreturn]] void abort(const std::string& message, int code) override {
    end_process(message, code);
  }

  void leave() { group_->leave(rank_); }
  std::string name() const { return group_->name(rank_); }

 private:
  // This rank's slice [begin, end) of every rank's buffer: summed in rank order, written back to
  // every rank. A block at a time through `acc`, so the inner loops run over contiguous memory.
  template <typename T>
  void sum(T* data, size_t count) {
    Group& g = *group_;
    const size_t n = static_cast<size_t>(g.size), r = static_cast<size_t>(rank_);
    g.slots[r] = data;
    g.barrier(rank_);
    const size_t begin = count / n * r + std::min(r, count % n);
    const size_t end = begin + count / n + (r < count % n ? 1 : 0);
    constexpr size_t kBlock = 1024;
    T acc[kBlock];
    for (size_t at = begin; at < end; at += kBlock) {
      const size_t m = std::min(kBlock, end - at);
      const T* first = static_cast<const T*>(g.slots[0]) + at;
      std::copy(first, first + m, acc);
      for (size_t p = 1; p < n; ++p) {
        const T* x = static_cast<const T*>(g.slots[p]) + at;
        for (size_t i = 0; i < m; ++i) acc[i] += x[i];
      }
      for (size_t p = 0; p < n; ++p) std::copy(acc, acc + m, static_cast<T*>(g.slots[p]) + at);
    }
    g.barrier(rank_);  // every slice written before any rank reads its result
  }

  std::shared_ptr<Group> group_;
  int rank_;
  GpuSum gpu_{*this};
};

std::vector<std::unique_ptr<ThreadRank>> make_ranks(int size, const std::vector<int>& gpus) {
  if (size < 1) throw std::invalid_argument("thread ranks: size " + std::to_string(size));
  if (!gpus.empty() && gpus.size() != static_cast<size_t>(size))
    throw std::invalid_argument("thread ranks: " + std::to_string(gpus.size()) + " GPUs for " +
                                std::to_string(size) + " ranks");
  auto group = std::make_shared<Group>(size, gpus);
  std::vector<std::unique_ptr<ThreadRank>> ranks;
  ranks.reserve(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) ranks.push_back(std::make_unique<ThreadRank>(group, r));
  return ranks;
}

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int size,
                                                                     const std::vector<int>& gpus) {
  std::vector<std::unique_ptr<Communicator>> out;
  out.reserve(static_cast<size_t>(size));
  for (auto& r : make_ranks(size, gpus)) out.push_back(std::move(r));
  return out;
}

int run_thread_ranks(int size, const std::vector<int>& gpus,
                     const std::function<int(int rank)>& body) {
  auto ranks = make_ranks(size, gpus);
  std::vector<int> results(static_cast<size_t>(size), 0);
  auto run_rank = [&](int r) {
    ThreadRank& comm = *ranks[static_cast<size_t>(r)];
    const std::string failed = comm.name() + " of " + std::to_string(size) + " failed: ";
    try {
      ScopedWorld scoped(comm);
      // OpenMP's thread count is a per-thread setting, and OpenBLAS's OpenMP build reads it at
      // each call: a new thread would run every GEMM on all cores, fighting the other ranks.
      set_num_threads(num_threads());
      results[static_cast<size_t>(r)] = body(r);
    } catch (const std::bad_alloc&) {
      comm.abort(failed + "out of memory; stopping every rank", 1);
    } catch (const std::exception& e) {
      comm.abort(failed + e.what() + "; stopping every rank", 1);
    } catch (...) {
      comm.abort(failed + "an unknown exception; stopping every rank", 1);
    }
    comm.leave();
  };
  route_host_allreduce_to_world();
  std::vector<std::thread> threads;
  try {
    for (int r = 1; r < size; ++r) threads.emplace_back(run_rank, r);
  } catch (const std::system_error& e) {  // the ranks started wait for the missing ones
    end_process("cannot start the thread of rank " + std::to_string(threads.size() + 1) + ": " +
                    e.what(),
                1);
  }
  run_rank(0);
  for (std::thread& t : threads) t.join();
  if (world().size() == 1) set_host_allreduce(nullptr);  // MPI's routing (the same) stays
  return results[0];
}

}  // namespace crema
