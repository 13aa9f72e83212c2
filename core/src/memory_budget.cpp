// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/memory_budget.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace crema {

namespace {

// The first number in a file ("max" and absent files give 0: no limit).
uint64_t read_number(const std::string& path) {
  std::ifstream f(path);
  std::string word;
  if (!(f >> word) || word.empty() || !std::isdigit(static_cast<unsigned char>(word[0]))) return 0;
  return std::stoull(word);
}

uint64_t mem_available() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// What the process's cgroup still allows: v2's memory.max - memory.current, or v1's
// limit_in_bytes - usage_in_bytes (v1 reports "no limit" as a huge number).
uint64_t cgroup_remaining() {
  uint64_t limit = read_number("/sys/fs/cgroup/memory.max");
  uint64_t used = read_number("/sys/fs/cgroup/memory.current");
  if (limit == 0) {
    limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    used = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    if (limit >= (uint64_t{1} << 60)) limit = 0;
  }
  if (limit == 0) return 0;
  return limit > used ? limit - used : 1;
}

void take_smaller(MemoryLimit& m, uint64_t bytes, const char* source) {
  if (bytes == 0 || (m.bytes != 0 && m.bytes <= bytes)) return;
  m.bytes = bytes;
  m.source = source;
}

}  // namespace

MemoryLimit memory_limit(uint64_t requested) {
  MemoryLimit m;
  take_smaller(m, requested, "-max_memory");
  take_smaller(m, cgroup_remaining(), "the cgroup's memory.max");
  take_smaller(m, mem_available(), "MemAvailable in /proc/meminfo");
  return m;
}

uint64_t parse_bytes(const std::string& text) {
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  std::string unit = text.substr(used);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  if (!unit.empty() && unit.back() == 'I') unit.pop_back();  // "GiB"
  const double scale = unit.empty()  ? 1
                       : unit == "K" ? 1024.0
                       : unit == "M" ? 1048576.0
                       : unit == "G" ? 1073741824.0
                       : unit == "T" ? 1099511627776.0
                                     : -1;
  if (!(v > 0) || scale < 0 || !std::isfinite(v * scale) || v * scale >= 1.8e19)
    throw std::runtime_error("bad memory size '" + text + "': give e.g. 8G, 512M or a byte count");
  return static_cast<uint64_t>(v * scale);
}

std::string format_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace crema
