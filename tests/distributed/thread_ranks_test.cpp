// SPDX-License-Identifier: BSD-2-Clause
// Ranks that are threads of one process (crema train -gpu 0,1), on the CPU: the collectives
// against sums computed here, a failing rank stops the process instead of hanging it, and two
// Solvers in two threads train what one Solver trains with iter_size 2 (or, with synchronised
// BatchNorm, with a batch twice as large).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "crema/core/host.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/comm.hpp"
#include "crema/solver/solver.hpp"
#include "crema/solver/thread_ranks.hpp"

namespace crema {
namespace {

namespace fs = std::filesystem;

// Runs fn(comm) on every communicator of a group of `size`, each in its own thread.
void on_every_rank(int size, const std::function<void(Communicator&)>& fn) {
  auto comms = make_thread_communicators(size);
  std::vector<std::thread> threads;
  threads.reserve(comms.size());
  for (auto& c : comms) threads.emplace_back([&fn, &c] { fn(*c); });
  for (std::thread& t : threads) t.join();
}

// Rank r's element i: values whose float sums round differently in different orders.
float value(int r, size_t i) {
  return static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 1.3 * r)) *
         std::pow(10.f, static_cast<float>((i + static_cast<size_t>(r)) % 7) - 3.f);
}

TEST(ThreadRanks, FloatSumsEqualTheRankOrderSumOnEveryRank) {
  for (int size : {1, 2, 3, 4})
    for (size_t count : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{1023},
                         size_t{1025}, size_t{4099}}) {
      std::vector<std::vector<float>> data(static_cast<size_t>(size));
      for (int r = 0; r < size; ++r)
        for (size_t i = 0; i < count; ++i) data[static_cast<size_t>(r)].push_back(value(r, i));
      // From the stored inputs (recomputing value() could fuse its product into the sum).
      std::vector<float> expected(count);
      for (size_t i = 0; i < count; ++i) {
        float s = data[0][i];
        for (size_t r = 1; r < data.size(); ++r) s += data[r][i];
        expected[i] = s;
      }
      on_every_rank(size, [&](Communicator& c) {
        c.allreduce_sum(data[static_cast<size_t>(c.rank())].data(), count, CREMA_CPU);
      });
      for (int r = 0; r < size; ++r)
        for (size_t i = 0; i < count; ++i)
          ASSERT_EQ(data[static_cast<size_t>(r)][i], expected[i])
              << "rank " << r << " of " << size << ", element " << i << " of " << count;
    }
}

TEST(ThreadRanks, StartedSumsAndDoubleSums) {
  for (int size : {2, 3})
    for (size_t count : {size_t{0}, size_t{7}, size_t{2050}}) {
      std::vector<std::vector<float>> f(static_cast<size_t>(size));
      std::vector<std::vector<double>> d(static_cast<size_t>(size));
      for (int r = 0; r < size; ++r)
        for (size_t i = 0; i < count; ++i) {
          f[static_cast<size_t>(r)].push_back(value(r, i));
          d[static_cast<size_t>(r)].push_back(
              1.0 / (1.0 + static_cast<double>(i + 3 * static_cast<size_t>(r))));
        }
      const auto f_in = f;
      const auto d_in = d;
      on_every_rank(size, [&](Communicator& c) {
        const auto r = static_cast<size_t>(c.rank());
        c.start_allreduce_sum(f[r].data(), count, CREMA_CPU);
        c.progress();
        c.wait_all();
        c.allreduce_sum(d[r].data(), count);
      });
      for (size_t i = 0; i < count; ++i) {
        float sf = f_in[0][i];
        double sd = d_in[0][i];
        for (size_t r = 1; r < f_in.size(); ++r) sf += f_in[r][i], sd += d_in[r][i];
        for (int r = 0; r < size; ++r) {
          ASSERT_EQ(f[static_cast<size_t>(r)][i], sf) << "rank " << r << ", element " << i;
          ASSERT_EQ(d[static_cast<size_t>(r)][i], sd) << "rank " << r << ", element " << i;
        }
      }
    }
}

TEST(ThreadRanks, BroadcastFromAnyRoot) {
  const int size = 3;
  for (int root = 0; root < size; ++root)
    for (size_t bytes : {size_t{0}, size_t{1}, size_t{13}, size_t{100000}}) {
      std::vector<std::vector<unsigned char>> data(size, std::vector<unsigned char>(bytes));
      for (int r = 0; r < size; ++r)
        for (size_t i = 0; i < bytes; ++i)
          data[static_cast<size_t>(r)][i] =
              static_cast<unsigned char>(i * 31 + 7 * static_cast<size_t>(r));
      on_every_rank(size, [&](Communicator& c) {
        c.broadcast(data[static_cast<size_t>(c.rank())].data(), bytes, root);
      });
      for (int r = 0; r < size; ++r)
        for (size_t i = 0; i < bytes; ++i)
          ASSERT_EQ(data[static_cast<size_t>(r)][i],
                    static_cast<unsigned char>(i * 31 + 7 * static_cast<size_t>(root)))
              << "root " << root << ", rank " << r << ", byte " << i;
    }
}

TEST(ThreadRanks, BarrierWaitsForEveryRank) {
  const int size = 4;
  std::atomic<int> arrived{0};
  std::vector<int> seen(size, -1);
  on_every_rank(size, [&](Communicator& c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * c.rank()));
    ++arrived;
    c.barrier();
    seen[static_cast<size_t>(c.rank())] = arrived.load();
  });
  for (int s : seen) EXPECT_EQ(s, size);
}

TEST(ThreadRanks, EachThreadSeesItsOwnWorld) {
  EXPECT_EQ(world().size(), 1);
  std::vector<std::string> seen(3);
  const int r0 = run_thread_ranks(3, {4, 5, 6}, [&](int r) {
    seen[static_cast<size_t>(r)] = std::to_string(world().rank()) + "/" +
                                   std::to_string(world().size()) + " " + world().describe();
    return 10 + r;
  });
  EXPECT_EQ(r0, 10);  // rank 0's result
  EXPECT_EQ(seen[0], "0/3 3 threads in one process on GPUs 4, 5, 6");
  EXPECT_EQ(seen[2], "2/3 3 threads in one process on GPUs 4, 5, 6");
  EXPECT_EQ(world().size(), 1);  // the calling thread's world is back
  EXPECT_EQ(make_thread_communicators(2)[1]->describe(), "2 threads in one process");
  EXPECT_THROW(make_thread_communicators(2, {0}), std::invalid_argument);
}

// A rank that throws ends the process with its message while the other waits in a collective:
// no hang (the death test would time out), exit code 1.
TEST(ThreadRanksDeathTest, AFailingRankStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_thread_ranks(2, {3, 5},
                               [](int r) {
                                 if (r == 1) throw std::runtime_error("the data file is gone");
                                 world().barrier();  // waits for rank 1, which never comes
                                 return 0;
                               }),
              ::testing::ExitedWithCode(1),
              "rank 1 \\(GPU 5\\) of 2 failed: the data file is gone; stopping every rank");
}

// A rank that returns while another still waits for it in a collective: the run stops with a
// message instead of waiting forever.
TEST(ThreadRanksDeathTest, ARankThatFinishesEarlyStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_thread_ranks(2, {},
                               [](int r) {
                                 if (r == 0) {
                                   float x = 1;
                                   world().allreduce_sum(&x, 1, CREMA_CPU);
                                 }
                                 return 0;
                               }),
              ::testing::ExitedWithCode(1),
              "rank 0 of 2 failed: rank 1 has finished while rank 0 waits for it in a collective");
}

// --- Solvers in threads against one Solver ---

SolverOptions quiet() {
  SolverOptions o;
  o.quiet = true;
  return o;
}

std::vector<float> learnable_weights(Solver& s) {
  std::vector<float> out;
  for (const LearnableParam& p : s.net().learnable_params())
    out.insert(out.end(), p.tensor->host_data(), p.tensor->host_data() + p.tensor->count());
  return out;
}

std::vector<float> all_blobs(Solver& s) {
  std::vector<float> out;
  for (Tensor* t : s.net().all_params())
    out.insert(out.end(), t->host_data(), t->host_data() + t->count());
  return out;
}

// The largest |a - b| - (atol + rtol |b|): <= 0 when every element agrees within tolerance.
float excess(const std::vector<float>& a, const std::vector<float>& b, float rtol, float atol) {
  EXPECT_EQ(a.size(), b.size());
  float worst = -1;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) - (atol + rtol * std::abs(b[i])));
  return worst;
}

// Trains `p` on `ranks` threads for p.max_iter() iterations; returns each rank's blobs.
std::vector<std::vector<float>> train_on_threads(
    const pb::SolverParameter& p, int ranks,
    const std::function<std::vector<float>(Solver&)>& blobs) {
  std::vector<std::vector<float>> out(static_cast<size_t>(ranks));
  run_thread_ranks(ranks, {}, [&](int r) {
    Solver s(p, quiet());
    s.step(p.max_iter());
    out[static_cast<size_t>(r)] = blobs(s);
    return 0;
  });
  return out;
}

std::vector<float> train_alone(const pb::SolverParameter& p,
                               const std::function<std::vector<float>(Solver&)>& blobs) {
  Solver s(p, quiet());
  s.step(p.max_iter());
  return blobs(s);
}

pb::SolverParameter solver(const std::string& net, const std::string& type) {
  pb::SolverParameter p = parse_solver_text(
      "lr_policy: 'fixed' weight_decay: 0.0005 random_seed: 7 display: 0 max_iter: 20 "
      "snapshot_after_train: false solver_mode: CPU",
      "<test>", Registry::global());
  p.set_type(type);
  if (type == "SGD") p.set_base_lr(0.05f), p.set_momentum(0.9f);
  if (type == "Adam") p.set_base_lr(0.005f), p.set_momentum(0.9f), p.set_momentum2(0.999f);
  *p.mutable_net_param() = parse_net_text(net, "<net>", Registry::global());
  p.set_snapshot_prefix(
      (fs::temp_directory_path() / ("crema_thread_ranks_" + std::to_string(::getpid())) / "snap")
          .string());
  return p;
}

// Random inputs drawn from (seed, rng_counter): rank r of 2 at step k draws batch 2k + r, what
// one process with iter_size 2 draws in its sub-iteration r. BatchNorm normalises over each
// rank's own 8 images, as it does over each sub-iteration's; dropout's masks follow the counter.
const char* kDummyNet = R"(
  name: "tiny"
  layer { name: "data" type: "DummyData" top: "x" top: "label"
    dummy_data_param { shape { dim: 8 dim: 6 } shape { dim: 8 }
                       data_filler { type: "gaussian" std: 1 }
                       data_filler { type: "uniform" min: 0 max: 2.99 } } }
  layer { name: "fc1" type: "InnerProduct" bottom: "x" top: "h"
    inner_product_param { num_output: 5 bias_term: false weight_filler { type: "xavier" } } }
  layer { name: "bn" type: "BatchNorm" bottom: "h" top: "h" }
  layer { name: "scale" type: "Scale" bottom: "h" top: "h" scale_param { bias_term: true } }
  layer { name: "relu" type: "ReLU" bottom: "h" top: "h" }
  layer { name: "drop" type: "Dropout" bottom: "h" top: "h" dropout_param { dropout_ratio: 0.3 } }
  layer { name: "fc2" type: "InnerProduct" bottom: "h" top: "y"
    inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
)";

class ThreadRanksSolver : public ::testing::Test {
 protected:
  void SetUp() override {
    set_num_threads(1);
    fs::create_directories(fs::temp_directory_path() /
                           ("crema_thread_ranks_" + std::to_string(::getpid())));
  }
  void TearDown() override {
    fs::remove_all(fs::temp_directory_path() /
                   ("crema_thread_ranks_" + std::to_string(::getpid())));
  }
};

// Tolerance: the ranks add the two gradients in one float addition, iter_size accumulates the
// second into the first inside each layer's backward (BLAS with beta = 1): the same terms, rounded
// in another order, an ulp or so apart per step, carried through 20 steps of momentum or Adam.
// Measured: at most 6e-8 apart (weights of order 0.1 to 1), both rules. rtol 1e-5 with atol 1e-6
// leaves a 15x margin and is 10x tighter than the MPI equivalence test's (compare_caffemodels.py);
// the control below (one batch a step instead of two) exceeds it by far.
TEST_F(ThreadRanksSolver, TwoThreadsTrainWhatIterSizeTwoTrains) {
  for (const std::string type : {"SGD", "Adam"}) {
    pb::SolverParameter ranks = solver(kDummyNet, type);
    pb::SolverParameter iter_size = ranks;
    iter_size.set_iter_size(2);
    const auto threads = train_on_threads(ranks, 2, learnable_weights);
    const std::vector<float> alone = train_alone(iter_size, learnable_weights);
    EXPECT_EQ(threads[0], threads[1]) << type << ": the ranks hold different weights";
    EXPECT_LE(excess(threads[0], alone, 1e-5f, 1e-6f), 0.f)
        << type << ": 2 threads and iter_size 2 trained other weights";
    if (type == "SGD") {
      const std::vector<float> control = train_alone(ranks, learnable_weights);
      EXPECT_GT(excess(threads[0], control, 1e-5f, 1e-6f), 1e-3f)
          << "the comparison cannot tell 2 ranks from one process without iter_size";
    }
  }
}

// crema train -snapshot with threads: every rank restores the state rank 0 wrote, rank 0's is
// broadcast, and the run goes on as if it had never stopped (Adam: its history travels too).
TEST_F(ThreadRanksSolver, ResumingContinuesTheSameRun) {
  pb::SolverParameter p = solver(kDummyNet, "Adam");
  p.set_snapshot(10);
  const auto straight = train_on_threads(p, 2, learnable_weights);
  const std::string state = p.snapshot_prefix() + "_iter_10.solverstate";
  ASSERT_TRUE(fs::exists(state)) << state;
  std::vector<std::vector<float>> resumed(2);
  std::vector<int> resumed_at(2, -1);
  run_thread_ranks(2, {}, [&](int r) {
    Solver s(p, quiet());
    s.restore(state);
    resumed_at[static_cast<size_t>(r)] = s.iter();
    s.step(p.max_iter() - s.iter());
    resumed[static_cast<size_t>(r)] = learnable_weights(s);
    return 0;
  });
  EXPECT_EQ(resumed_at, std::vector<int>({10, 10}));
  EXPECT_EQ(resumed[0], straight[0]) << "the resumed run trained other weights";
  EXPECT_EQ(resumed[1], straight[0]);
}

// batch_norm_param { sync: true } reduces through the host's allreduce, which each thread routes
// to its own rank: statistics over both ranks' 16 images, as one process with batch 16 computes
// them (running statistics included). MNISTData: rank r of 2 with batch 8 reads the images batch
// 16 reads. The statistics are sums of two rank sums instead of one: measured 5e-6 apart after
// 20 steps, within the MPI test's rtol 1e-4, atol 1e-5; without sync they are 1.7 apart.
// Skipped without Fashion-MNIST.
TEST_F(ThreadRanksSolver, SynchronisedBatchNormEqualsTheDoubleBatch) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist"))
    GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  auto net = [](int batch, bool sync) {
    return std::string(R"(
      name: "tiny"
      layer { name: "mnist" type: "MNISTData" top: "data" top: "label"
        transform_param { scale: 0.00390625 }
        mnist_data_param { split: "train" batch_size: )") +
           std::to_string(batch) + R"( max_images: 200 } }
      layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 5 stride: 2 bias_term: false
                            weight_filler { type: "msra" } } }
      layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" )" +
           (sync ? "batch_norm_param { sync: true }" : "") + R"( }
      layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1"
        scale_param { bias_term: true } }
      layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
      layer { name: "fc" type: "InnerProduct" bottom: "conv1" top: "fc"
        inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
      layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
    )";
  };
  const auto synced = train_on_threads(solver(net(8, true), "SGD"), 2, all_blobs);
  const auto per_rank = train_on_threads(solver(net(8, false), "SGD"), 2, all_blobs);
  const std::vector<float> batch16 = train_alone(solver(net(16, false), "SGD"), all_blobs);
  EXPECT_EQ(synced[0], synced[1]);
  EXPECT_LE(excess(synced[0], batch16, 1e-4f, 1e-5f), 0.f)
      << "synchronised BatchNorm on 2 threads differs from batch 16";
  EXPECT_GT(excess(per_rank[0], batch16, 1e-4f, 1e-5f), 1e-3f)
      << "per-rank BatchNorm statistics cannot be told from synchronised ones";
}

}  // namespace
}  // namespace crema
