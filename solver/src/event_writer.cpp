// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/event_writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "crema/core/log.hpp"
#include "crema/solver/crc32c.hpp"

namespace crema {

namespace tfevents {

namespace {

// Protobuf's wire format, the three kinds of field an Event needs.
enum WireType { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, int field, WireType type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | type);
}

template <typename T>
void put_little_endian(std::string& out, T v) {
  static_assert(std::is_unsigned_v<T>);
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

// Event's wall_time (1) and step (2), the start of every event.
std::string event_head(double wall_time, int64_t step) {
  std::string e;
  uint64_t bits = 0;
  std::memcpy(&bits, &wall_time, sizeof(bits));
  put_tag(e, 1, kFixed64);
  put_little_endian(e, bits);
  if (step != 0) {  // proto3: a zero is left out
    put_tag(e, 2, kVarint);
    put_varint(e, static_cast<uint64_t>(step));
  }
  return e;
}

}  // namespace

std::string frame_record(const std::string& data) {
  std::string r;
  put_little_endian(r, static_cast<uint64_t>(data.size()));
  put_little_endian(r, mask_crc32c(crc32c(r.data(), r.size())));
  r += data;
  put_little_endian(r, mask_crc32c(crc32c(data.data(), data.size())));
  return r;
}

std::string file_version_event(double wall_time) {
  std::string e = event_head(wall_time, 0);
  put_bytes(e, 3, "brain.Event:2");
  return e;
}

std::string session_start_event(double wall_time, int64_t step) {
  std::string session_log;
  put_tag(session_log, 1, kVarint);
  put_varint(session_log, 1);  // SessionLog.START
  std::string e = event_head(wall_time, step);
  put_bytes(e, 7, session_log);
  return e;
}

std::string scalars_event(double wall_time, int64_t step,
                          const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof(bits));
    put_tag(v, 2, kFixed32);
    put_little_endian(v, bits);
    put_bytes(summary, 1, v);
  }
  std::string e = event_head(wall_time, step);
  put_bytes(e, 5, summary);
  return e;
}

}  // namespace tfevents

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  std::string host = name;
  for (char& c : host)
    if (c == '/') c = '_';
  return host;
}

}  // namespace

void EventWriter::open(const std::string& dir, int64_t start_step) {
  namespace fs = std::filesystem;
  if (out_.is_open()) out_.close();
  const double now = now_seconds();
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "%010lld", static_cast<long long>(now));
  const fs::path base = fs::path(dir.empty() ? "." : dir) /
                        ("events.out.tfevents." + std::string(stamp) + "." + host_name());
  // A run resumed within the same second (after kill -9) keeps the earlier file: ".1" sorts
  // after it, as TensorBoard reads a directory's files in name order.
  std::error_code ec;
  path_ = base.string();
  for (int n = 1; fs::exists(path_, ec); ++n) path_ = base.string() + "." + std::to_string(n);
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    CREMA_LOG(WARNING) << "TensorBoard: cannot write " << path_ << " (" << std::strerror(errno)
                       << "): no event file for this run";
    out_.close();
    return;
  }
  write_event(tfevents::file_version_event(now));
  write_event(tfevents::session_start_event(now, start_step));
}

void EventWriter::write_scalars(int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars) {
  if (scalars.empty()) return;
  write_event(tfevents::scalars_event(now_seconds(), step, scalars));
}

void EventWriter::write_event(const std::string& event) {
  if (!out_.is_open()) return;
  out_ << tfevents::frame_record(event);
  out_.flush();
  if (!out_) {
    CREMA_LOG(WARNING) << "TensorBoard: writing " << path_ << " failed (" << std::strerror(errno)
                       << "): no more events for this run";
    out_.close();
  }
}

}  // namespace crema
