// SPDX-License-Identifier: BSD-2-Clause
#include "file_io.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "crema/layer.hpp"

namespace crema::data {

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

InputFile::InputFile(const std::string& path) : path_(path), gz_(nullptr) {
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  CREMA_CHECK(f != nullptr,
              "cannot open " << path << ": " << (errno ? std::strerror(errno) : "out of memory"));
  gzbuffer(f, 1 << 18);
  gz_ = f;
}

InputFile::~InputFile() {
  if (gz_) gzclose(static_cast<gzFile>(gz_));
}

size_t InputFile::read(void* buf, size_t n) {
  gzFile f = static_cast<gzFile>(gz_);
  size_t done = 0;
  while (done < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
    int got = gzread(f, static_cast<char*>(buf) + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      CREMA_CHECK(false, "cannot read " << path_ << ": "
                                        << (code == Z_ERRNO ? std::strerror(errno) : msg));
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

void InputFile::read_exact(void* buf, size_t n, const std::string& what) {
  size_t got = read(buf, n);
  CREMA_CHECK(got == n, path_ << " is truncated: expected " << n << " bytes of " << what
                              << ", the file ends after " << got);
}

void InputFile::read_exact_growing(std::vector<uint8_t>& out, size_t n, const std::string& what) {
  constexpr size_t kChunk = size_t{64} << 20;
  out.clear();
  while (out.size() < n) {
    const size_t size = out.size(), want = std::min(kChunk, n - size);
    out.resize(size + want);
    const size_t got = read(out.data() + size, want);
    out.resize(size + got);
    CREMA_CHECK(got == want, path_ << " is truncated: expected " << n << " bytes of " << what
                                   << ", the file ends after " << out.size());
  }
}

std::vector<uint8_t> InputFile::read_all() {
  std::vector<uint8_t> out;
  size_t size = 0;
  for (;;) {
    out.resize(size + (1 << 20));
    size_t got = read(out.data() + size, 1 << 20);
    size += got;
    if (got < (1 << 20)) break;
  }
  out.resize(size);
  return out;
}

}  // namespace crema::data
