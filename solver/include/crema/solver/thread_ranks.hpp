// SPDX-License-Identifier: BSD-2-Clause
// Ranks that are threads of one process: `crema train -gpu 0,1` (Caffe's one process driving
// several GPUs) runs one Solver a GPU, each in its own thread with its own communicator, and
// trains what `mpirun -np 2 crema train -gpu all` trains (docs/DISTRIBUTED.md).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "crema/solver/comm.hpp"

namespace crema {

// The communicators of `size` ranks that are threads of this process: element r is rank r's, for
// one thread at a time. `gpus` (empty on the CPU, else one GPU id a rank) names each rank's GPU
// in describe() and in failures.
// Host sums: every rank publishes its buffer; after a barrier each sums its own slice of the
// vector over all ranks in rank order (rank 0's + rank 1's + ...) and writes the result to every
// rank; a second barrier ends the call. Every rank holds the same bits, those of that fixed
// order. start_allreduce_sum on a host buffer sums at once: CPU threads overlap no sum with the
// backward pass. GPU buffers are summed by NCCL on each thread's compute stream (one NCCL
// communicator a rank), or through host memory in a build without NCCL.
// abort() logs its message and ends the process at once (std::_Exit after flushing): the other
// ranks stop too, whatever collective they wait in.
std::vector<std::unique_ptr<Communicator>> make_thread_communicators(
    int size, const std::vector<int>& gpus = {});

// Runs body(r) for every rank r of `size` in its own thread (rank 0 in the calling thread), with
// world() = rank r's communicator (ScopedWorld) and BatchNorm's synchronised statistics routed
// to it, and returns rank 0's result once every rank has returned. A rank that throws stops the
// process with exit code 1 after logging "rank R (GPU G) of N failed: WHY; stopping every rank";
// so does a rank left waiting in a collective for one that has already returned.
int run_thread_ranks(int size, const std::vector<int>& gpus,
                     const std::function<int(int rank)>& body);

}  // namespace crema
