// SPDX-License-Identifier: BSD-2-Clause
// How much memory crema may take, known before it takes any: the smallest of a user's limit
// (-max_memory), what the container's cgroup still allows, and the kernel's MemAvailable. A net
// that needs more is refused with the figures instead of dying by bad_alloc or the OOM killer.
#pragma once
#include <cstdint>
#include <string>

namespace crema {

struct MemoryLimit {
  uint64_t bytes = 0;  // 0: nothing is known (no /proc, no cgroup, no flag)
  std::string source;  // "-max_memory", "cgroup memory.max", "MemAvailable"
};

// The limit in force; `requested` (bytes, 0 for none) is the user's own.
MemoryLimit memory_limit(uint64_t requested = 0);
// "8G", "512M", "64k", "1.5G" or a plain byte count; throws on anything else.
uint64_t parse_bytes(const std::string& text);
// 1536 -> "1.5 KiB", 3 << 30 -> "3.0 GiB".
std::string format_bytes(uint64_t bytes);

}  // namespace crema
