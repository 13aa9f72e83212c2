// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/metrics_writer.hpp"
#include "number_format.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <sstream>

namespace crema {

namespace {

// Keeps the lines of `path` whose "iter" is below `iter` (and any line without one), written to
// a temporary and renamed over the file.
void keep_records_before(const std::string& path, int iter) {
  std::ifstream in(path);
  if (!in) return;
  const std::string key = "{\"iter\":";  // every record starts with it
  std::ostringstream kept;
  bool dropped = false;
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) == 0 &&
        std::strtol(line.c_str() + key.size(), nullptr, 10) >= iter) {
      dropped = true;
      continue;
    }
    kept << line << "\n";
  }
  in.close();
  if (!dropped) return;
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  std::ofstream out(tmp, std::ios::trunc);
  out << kept.str();
  out.close();
  if (!out || std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
}
}  // namespace

void MetricsWriter::open(const std::string& path) {
  path_ = path;
  started_ = false;
  if (out_.is_open()) out_.close();
  events_ = EventWriter();
}

std::string MetricsWriter::events_dir() const {
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  return dir.empty() ? "." : dir;
}

void MetricsWriter::start() {
  started_ = true;
  if (path_.empty()) return;
  // snapshot_prefix's directory is made by the first snapshot, which may come later or never.
  std::error_code ec;
  std::filesystem::create_directories(events_dir(), ec);
  if (resume_at_ >= 0) {
    keep_records_before(path_, resume_at_);
    out_.open(path_, std::ios::app);
  } else {
    out_.open(path_, std::ios::trunc);
  }
  if (tensorboard_) events_.open(events_dir(), resume_at_ >= 0 ? resume_at_ : 0);
}

void MetricsWriter::write_display(int iter, float lr, float smoothed_loss, double images_per_s) {
  std::ostringstream js;
  js << "{\"iter\":" << iter << ",\"lr\":" << format_number(lr)
     << ",\"loss\":" << format_number(smoothed_loss)
     << ",\"images_per_s\":" << format_number(images_per_s) << "}";
  write(js.str());
  std::vector<std::pair<std::string, float>> scalars = {{"train/loss", smoothed_loss},
                                                        {"train/lr", lr}};
  // 0 means not measured (the first display): no point rather than a dip to zero.
  if (images_per_s > 0) scalars.push_back({"train/images_per_s", static_cast<float>(images_per_s)});
  events_.write_scalars(iter, scalars);
}

void MetricsWriter::write_test(int iter, int test_net,
                               const std::vector<std::pair<std::string, double>>& means) {
  std::ostringstream js;
  js << "{\"iter\":" << iter << ",\"test_net\":" << test_net;
  for (const auto& [name, mean] : means) js << ",\"" << name << "\":" << format_number(mean);
  js << "}";
  write(js.str());
  const std::string group = test_net == 0 ? "test/" : "test" + std::to_string(test_net) + "/";
  std::vector<std::pair<std::string, float>> scalars;
  scalars.reserve(means.size());
  for (const auto& [name, mean] : means)
    scalars.push_back({group + name, static_cast<float>(mean)});
  events_.write_scalars(iter, scalars);
}

void MetricsWriter::write(const std::string& json_object) {
  if (!started_) start();
  if (!out_.is_open()) return;
  out_ << json_object << "\n";
  out_.flush();
}

}  // namespace crema
