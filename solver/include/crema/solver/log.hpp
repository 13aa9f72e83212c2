// SPDX-License-Identifier: BSD-2-Clause
// Caffe-compatible training log lines (glog's "I1128 09:30:00.123456  1234 solver.cpp:42] ..."
// prefix, so Caffe's parse_log.py and plotting scripts read crema logs), a live progress line
// on a terminal, and a JSON-lines metrics file.
#pragma once
#include <fstream>
#include <sstream>
#include <string>

namespace crema {

// One log line to stderr with a glog-style prefix.
void log_line(const std::string& where, const std::string& message);

class ProgressLine {
 public:
  ProgressLine();
  // Redraws "[iter/max] loss ... img/s ETA" when stderr is a terminal; no-op otherwise.
  void update(int iter, int max_iter, float loss, double images_per_s, double seconds_per_iter);
  void clear();

 private:
  bool tty_;
  bool shown_ = false;
};

class MetricsFile {
 public:
  void open(const std::string& path, bool append);
  bool is_open() const { return out_.is_open(); }
  void write(const std::string& json_object);
  const std::string& path() const { return path_; }

 private:
  std::ofstream out_;
  std::string path_;
};

}  // namespace crema
