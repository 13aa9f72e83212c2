// SPDX-License-Identifier: BSD-2-Clause
// Reading dataset files plain or gzip-compressed alike (zlib's gzread passes plain files
// through), with errors that name the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crema::data {

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

class InputFile {
 public:
  explicit InputFile(const std::string& path);  // throws "cannot open PATH: reason"
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to n bytes; fewer only at the end of the file.
  size_t read(void* buf, size_t n);
  // Reads exactly n bytes or throws "PATH is truncated: ... `what` ...".
  void read_exact(void* buf, size_t n, const std::string& what);
  // The same into `out`, grown as the bytes arrive: a header that claims more than the file
  // holds is refused as truncated without allocating what it claimed.
  void read_exact_growing(std::vector<uint8_t>& out, size_t n, const std::string& what);
  // The rest of the file.
  std::vector<uint8_t> read_all();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* gz_;  // gzFile, kept opaque so users need not include zlib.h
};

// Big-endian 32-bit integer (idx headers).
inline uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace crema::data
