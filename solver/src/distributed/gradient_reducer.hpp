// SPDX-License-Identifier: BSD-2-Clause
// Sums the parameter gradients of one step over every rank, in buckets that start while the
// backward pass still runs: Net's backward listener reports each layer it has passed, and a
// bucket whose parameters are all finished is sent (MPI_Iallreduce, or NCCL on the compute
// stream) while the layers below compute. finish() sends what is left and waits for all.
// Without overlap every bucket starts in finish(), after the backward pass.
#pragma once
#include <cstddef>
#include <vector>

#include "crema/core/net.hpp"
#include "crema/solver/comm.hpp"

namespace crema {

class GradientReducer {
 public:
  GradientReducer(Communicator& comm, Net& net, size_t bucket_bytes, bool overlap);
  // Before the backward pass whose gradients complete the step.
  void begin_step();
  // The backward listener: layers from `layer` on are done.
  void layers_done_from(int layer);
  // Starts what is left, waits, and leaves the summed gradients in the parameters' diffs.
  void finish();

  // Measurements for the closing log line and the benchmark.
  struct Stats {
    int steps = 0;
    double wait_seconds = 0;      // in finish(): communication the backward pass did not hide
    double progress_seconds = 0;  // in MPI calls between layers (taken from the backward pass)
    double pack_seconds = 0;      // copying gradients into and out of bucket buffers
  };
  const Stats& stats() const { return stats_; }
  size_t num_buckets() const { return buckets_.size(); }
  size_t total_floats() const { return total_floats_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into net.learnable_params(), in backward order
    int ready_from = 0;          // the bucket is complete once layers from here on are done
    std::vector<float> buffer;   // CPU: the packed gradients
  };
  void start(Bucket& b);
  Communicator& comm_;
  Net& net_;
  bool overlap_;
  std::vector<Bucket> buckets_;
  size_t next_ = 0;  // first bucket not started this step
  size_t total_floats_ = 0;
  Stats stats_;
};

}  // namespace crema
