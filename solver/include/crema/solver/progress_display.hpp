// SPDX-License-Identifier: BSD-2-Clause
// What a training run shows while it runs: Caffe's display lines every `display` iterations
//   Iteration 100 (52.1 iter/s, 1.92s/100 iters), loss = 0.43
//       Train net output #0: loss = 0.41 (* 1 = 0.41 loss)
//   Iteration 100, lr = 0.01
// (Caffe's parse_log.py, tests/tools/train_e2e.sh and tools/experiments read this wording), then
// crema's own line, worded so that none of those parsers takes it for one of theirs (no
// "Iteration N", no ", loss = ", no "lr = "):
//   Progress: 100/2814 iterations (3.6%), epoch 0.21 of 6, 1520 images/s, ETA 0:05:12
// and on a terminal a live "[iter/max] loss, img/s, ETA" line timed from each iteration's wall
// time.
#pragma once
#include <chrono>
#include <cstdint>

#include "crema/core/net.hpp"

namespace crema {

// The live line on stderr when it is a terminal; no-op otherwise.
class ProgressLine {
 public:
  ProgressLine();
  void update(int iter, int max_iter, float loss, double images_per_s, double seconds_per_iter);
  void clear();

 private:
  bool tty_;
  bool shown_ = false;
};

class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool quiet) : quiet_(quiet) {}

  // A step() begins: the timing starts afresh (a pause between calls is no iteration's time).
  void begin();
  // An iteration's forward and backward are done.
  void count_iteration() { ++iters_since_display_; }
  // Caffe's display lines for iteration `iter`, with the train net's outputs; returns the
  // iterations per second since the previous display (0 at the first display of a step()).
  double display(int iter, int display_every, float smoothed_loss, float lr, const Net& net);
  // crema's progress line after them: iterations done of max_iter, the epoch when the epoch's
  // images are known (epoch_images > 0), images/s and the time left at `iters_per_s` (when
  // measured, > 0).
  void log_progress(int iter, int max_iter, double iters_per_s, int images_per_iter,
                    int64_t epoch_images);
  // An iteration's update is done, `iter` iterations in all: redraws the live line.
  void iteration_done(int iter, int max_iter, float smoothed_loss, int images_per_iter);
  // Takes the live line off the terminal (before other output).
  void clear() { line_.clear(); }
  // The latest iteration's wall time: the live line's rate and ETA.
  double seconds_per_iter() const { return seconds_per_iter_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool quiet_;
  ProgressLine line_;
  Clock::time_point t_display_ = Clock::now(), t_last_ = Clock::now();
  int iters_since_display_ = 0;
  double seconds_per_iter_ = 0;
};

}  // namespace crema
