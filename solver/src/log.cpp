// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>

namespace crema {

void log_line(const std::string& where, const std::string& message) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  char prefix[64];
  std::snprintf(prefix, sizeof(prefix), "I%02d%02d %02d:%02d:%02d.%06ld %5d ", t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec, static_cast<long>(tv.tv_usec), static_cast<int>(getpid()));
  std::cerr << prefix << where << "] " << message << std::endl;
}

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

void MetricsFile::open(const std::string& path, bool append) {
  path_ = path;
  out_.open(path, append ? std::ios::app : std::ios::trunc);
}

void MetricsFile::write(const std::string& json_object) {
  if (!out_.is_open()) return;
  out_ << json_object << "\n";
  out_.flush();
}

}  // namespace crema
