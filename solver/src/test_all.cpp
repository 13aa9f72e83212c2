// SPDX-License-Identifier: BSD-2-Clause
// Scoring the test nets: test_iter forward passes each, every output averaged over them. In a
// data-parallel run the ranks share the passes and sum what they scored.
#include <iomanip>
#include <sstream>

#include "crema/core/log.hpp"
#include "crema/solver/comm.hpp"
#include "crema/solver/solver.hpp"

namespace crema {

std::vector<std::pair<std::string, float>> Solver::test_all() {
  std::vector<std::pair<std::string, float>> first;
  for (int t = 0; t < num_test_nets(); ++t) {
    Net& net = *test_nets_[t];
    if (t == 0) average_state_blobs();  // every rank scores one model
    CREMA_LOG_IF(INFO, !options_.quiet) << "Iteration " << iter_ << ", Testing net (#" << t << ")";
    std::vector<std::pair<int, int64_t>> slots;  // (blob, element)
    for (int id : net.output_blob_indices())
      for (int64_t j = 0; j < net.blob_at(id)->count(); ++j) slots.push_back({id, j});
    std::vector<double> sums(slots.size() + 1, 0.0);  // the outputs, then the loss
    const int iters = param_.test_iter(t);
    // Rank r of N scores batches r, r + N, ...: the ranks together score each batch once.
    for (int i = comm_.rank(); i < iters; i += comm_.size()) {
      net.set_rng_counter(static_cast<uint64_t>(i));
      sums.back() += net.forward();
      size_t k = 0;
      for (int id : net.output_blob_indices()) {
        const Tensor* b = net.blob_at(id);
        const float* x = b->host_data();
        for (int64_t j = 0; j < b->count(); ++j, ++k) sums[k] += x[j];
      }
    }
    comm_.allreduce_sum(sums.data(), sums.size());
    const double loss = sums.back();
    sums.pop_back();
    CREMA_LOG_IF(INFO, !options_.quiet && param_.test_compute_loss())
        << "Test loss: " << loss / iters;
    std::vector<std::pair<std::string, double>> means;
    for (size_t k = 0; k < sums.size(); ++k) {
      const int id = slots[k].first;
      const double mean = sums[k] / iters;
      const float w = net.blob_loss_weight(id);
      std::ostringstream os;
      os << std::setprecision(6) << "    Test net output #" << k << ": " << net.blob_names()[id]
         << " = " << mean;
      if (w != 0) os << " (* " << w << " = " << w * mean << " loss)";
      CREMA_LOG_IF(INFO, !options_.quiet) << os.str();
      const std::string element = slots[k].second ? "_" + std::to_string(slots[k].second) : "";
      means.push_back({net.blob_names()[id] + element, mean});
      if (t == 0) first.push_back({net.blob_names()[id], static_cast<float>(mean)});
    }
    metrics_.write_test(iter_, t, means);
  }
  last_scores_ = first;
  last_test_iter_ = iter_;
  return first;
}

}  // namespace crema
