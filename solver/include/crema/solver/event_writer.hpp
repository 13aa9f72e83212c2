// SPDX-License-Identifier: BSD-2-Clause
// TensorBoard event files: events.out.tfevents.<time>.<host> beside the metrics file, holding
// tensorflow.Event records in TFRecord framing, so that `tensorboard --logdir DIR` shows a run's
// scalars while it trains. The few protobuf fields needed are encoded here by hand, with
// TensorFlow's field numbers (tensorflow/core/util/event.proto, framework/summary.proto):
//   Event      { double wall_time = 1; int64 step = 2; string file_version = 3;
//                Summary summary = 5; SessionLog session_log = 7; }
//   Summary    { repeated Value value = 1; }
//   Value      { string tag = 1; float simple_value = 2; }
//   SessionLog { SessionStatus status = 1; }  (START = 1)
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace crema {

namespace tfevents {
// One TFRecord: uint64 length, masked CRC-32C of those 8 bytes, the data, masked CRC-32C of the
// data; integers little-endian.
std::string frame_record(const std::string& data);
// The first event of every file: file_version "brain.Event:2".
std::string file_version_event(double wall_time);
// SessionLog START at `step`: TensorBoard then drops the points at `step` and after that earlier
// files in the directory hold, as the metrics file drops the records a resumed run replaces.
std::string session_start_event(double wall_time, int64_t step);
// A Summary of scalar values (tag, value) at `step`.
std::string scalars_event(double wall_time, int64_t step,
                          const std::vector<std::pair<std::string, float>>& scalars);
}  // namespace tfevents

class EventWriter {
 public:
  // Creates a new event file in `dir` ("" for the working directory) and writes the file_version
  // event and SessionLog START at `start_step`. Where the file cannot be written it says so in a
  // warning and writes nothing (training goes on).
  void open(const std::string& dir, int64_t start_step);
  bool is_open() const { return out_.is_open(); }
  const std::string& path() const { return path_; }
  // One event with these scalars at `step`, flushed at once so that a live run shows.
  void write_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars);

 private:
  void write_event(const std::string& event);
  std::ofstream out_;
  std::string path_;
};

}  // namespace crema
