// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/progress_display.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include "crema/core/log.hpp"
#include "number_format.hpp"

namespace crema {

ProgressLine::ProgressLine() : tty_(isatty(STDERR_FILENO)) {}

void ProgressLine::update(int iter, int max_iter, float loss, double images_per_s,
                          double seconds_per_iter) {
  if (!tty_) return;
  long eta = static_cast<long>(seconds_per_iter * (max_iter - iter));
  char line[160];
  std::snprintf(line, sizeof(line), "\r[%d/%d] loss %.4f  %.0f img/s  ETA %ld:%02ld:%02ld ", iter,
                max_iter, loss, images_per_s, eta / 3600, eta / 60 % 60, eta % 60);
  std::cerr << line << std::flush;
  shown_ = true;
}

void ProgressLine::clear() {
  if (tty_ && shown_) std::cerr << "\r\033[K";
  shown_ = false;
}

void ProgressDisplay::begin() {
  t_display_ = t_last_ = Clock::now();
  iters_since_display_ = 0;
}

double ProgressDisplay::display(int iter, int display_every, float smoothed_loss, float lr,
                                const Net& net) {
  const double secs = std::chrono::duration<double>(Clock::now() - t_display_).count();
  const double ips = iters_since_display_ > 1 ? (iters_since_display_ - 1) / std::max(secs, 1e-9)
                                              : 0;
  line_.clear();
  CREMA_LOG_IF(INFO, !quiet_) << "Iteration " << iter << " (" << format_number(ips) << " iter/s, "
                              << format_number(secs) << "s/" << display_every
                              << " iters), loss = " << format_number(smoothed_loss);
  int k = 0;
  for (int id : net.output_blob_indices()) {
    const Tensor* b = net.blob_at(id);
    const float* x = b->host_data();
    const float w = net.blob_loss_weight(id);
    for (int64_t j = 0; j < b->count(); ++j) {
      const std::string extra =
          w != 0 ? " (* " + format_number(w) + " = " + format_number(w * x[j]) + " loss)" : "";
      CREMA_LOG_IF(INFO, !quiet_) << "    Train net output #" << k++ << ": " << net.blob_names()[id]
                                  << " = " << format_number(x[j]) << extra;
    }
  }
  CREMA_LOG_IF(INFO, !quiet_) << "Iteration " << iter << ", lr = " << format_number(lr);
  t_display_ = Clock::now();
  iters_since_display_ = 0;
  return ips;
}

void ProgressDisplay::log_progress(int iter, int max_iter, double iters_per_s, int images_per_iter,
                                   int64_t epoch_images) {
  if (quiet_) return;
  std::ostringstream os;
  os << std::fixed << "Progress: " << iter << "/" << max_iter << " iterations";
  if (max_iter > 0) os << " (" << std::setprecision(1) << 100.0 * iter / max_iter << "%)";
  if (epoch_images > 0) {
    const double per_epoch = static_cast<double>(epoch_images) / images_per_iter;
    os << ", epoch " << std::setprecision(2) << iter / per_epoch << " of " << std::defaultfloat
       << std::setprecision(3) << max_iter / per_epoch << std::fixed;
  }
  if (iters_per_s > 0) {
    const long eta = std::lround(std::max(0, max_iter - iter) / iters_per_s);
    char left[32];
    std::snprintf(left, sizeof(left), "%ld:%02ld:%02ld", eta / 3600, eta / 60 % 60, eta % 60);
    os << ", " << std::setprecision(0) << iters_per_s * images_per_iter << " images/s, ETA "
       << left;
  }
  CREMA_LOG(INFO) << os.str();
}

void ProgressDisplay::iteration_done(int iter, int max_iter, float smoothed_loss,
                                     int images_per_iter) {
  const Clock::time_point now = Clock::now();
  seconds_per_iter_ = std::chrono::duration<double>(now - t_last_).count();
  t_last_ = now;
  line_.update(iter, max_iter, smoothed_loss, images_per_iter / std::max(seconds_per_iter_, 1e-9),
               seconds_per_iter_);
}

}  // namespace crema
