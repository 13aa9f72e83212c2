// SPDX-License-Identifier: BSD-2-Clause
// The metrics file (<snapshot_prefix>_metrics.jsonl, or the solver's metrics_file): one JSON
// object a line, flushed as written, which tools/experiments/expmetrics.py reads:
//   {"iter":50,"lr":0.0987,"loss":0.44,"images_per_s":504.3}     a training display
//   {"iter":469,"test_net":0,"accuracy":0.91,"loss":0.25}        a test pass of test net #0
// The file is touched only when the first record is written: a run that fails while loading
// leaves an earlier run's file as it was and creates none. The same records go as scalars into a
// TensorBoard event file in the metrics file's directory (event_writer.hpp) unless turned off.
#pragma once
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "crema/solver/event_writer.hpp"

namespace crema {

class MetricsWriter {
 public:
  // Where the records go. At the first record a fresh run starts the file afresh.
  void open(const std::string& path);
  // A run resumed at iteration `iter`: at the first record the file keeps the records of the
  // iterations before `iter` (those after it belong to the run that went on past the snapshot)
  // and the run's own follow them, so that the file reads as one run.
  void resume_at(int iter) { resume_at_ = iter; }
  const std::string& path() const { return path_; }
  // TensorBoard events beside the metrics file (default on): train/loss, train/lr,
  // train/images_per_s, and each test output as test/<name> (test<k>/<name> for test net k > 0).
  void set_tensorboard(bool on) { tensorboard_ = on; }
  bool tensorboard() const { return tensorboard_ && !path_.empty(); }
  // The event files' directory ("." for the working directory).
  std::string events_dir() const;

  // lr and loss as the display lines print them; images_per_s 0 when not measured.
  void write_display(int iter, float lr, float smoothed_loss, double images_per_s);
  // Each output's mean, named by its blob ("<blob>_<k>" for element k > 0 of a larger output).
  void write_test(int iter, int test_net, const std::vector<std::pair<std::string, double>>& means);

 private:
  void write(const std::string& json_object);
  void start();
  std::ofstream out_;
  std::string path_;
  int resume_at_ = -1;  // -1: a fresh run
  bool started_ = false;
  bool tensorboard_ = true;
  EventWriter events_;
};

}  // namespace crema
