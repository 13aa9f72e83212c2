// Binary protobuf and text file I/O (see crema/core/proto_io.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/message.h>

#include "crema/core/proto_io.hpp"

namespace crema {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path,
                       int err = 0) {
  std::string msg = what + " '" + path + "'";
  if (err != 0) msg += ": " + std::string(std::strerror(err));
  throw std::runtime_error(msg);
}

// Closes the descriptor on scope exit unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close()'s errno (0 on success).
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void read_binary_proto(const std::string& path,
                       google::protobuf::Message* message) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open binary proto", path, errno);
  FdGuard guard(fd);

  google::protobuf::io::FileInputStream raw(fd);
  google::protobuf::io::CodedInputStream coded(&raw);
  // The default 64 MB cap rejects large .caffemodel files; INT_MAX is the
  // most CodedInputStream can address.
  coded.SetTotalBytesLimit(INT_MAX);
  const bool parsed = message->ParsePartialFromCodedStream(&coded) &&
                      coded.ConsumedEntireMessage();
  if (raw.GetErrno() != 0) fail("cannot read", path, raw.GetErrno());
  if (!parsed) {
    fail("cannot parse " + message->GetTypeName() +
             " (truncated, over 2 GB, or not this message type) from",
         path);
  }
  if (!message->IsInitialized()) {
    fail(message->GetTypeName() + " misses required fields (" +
             message->InitializationErrorString() + ") in",
         path);
  }
}

void write_binary_proto_atomic(const std::string& path,
                               const google::protobuf::Message& message) {
  if (!message.IsInitialized()) {
    fail("cannot write " + message.GetTypeName() +
             " with missing required fields (" +
             message.InitializationErrorString() + ") to",
         path);
  }
  if (message.ByteSizeLong() > static_cast<size_t>(INT_MAX)) {
    fail("cannot write " + message.GetTypeName() +
             ": over protobuf's 2 GB message limit, to",
         path);
  }

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create temporary file for", path, errno);
  FdGuard guard(fd);
  // Any failure from here on must not leave the temporary file behind.
  auto abort_write = [&](const std::string& what, int err) {
    guard.close_now();
    ::unlink(tmp.c_str());
    fail(what, path, err);
  };

  {
    google::protobuf::io::FileOutputStream out(fd);
    const bool ok = message.SerializeToZeroCopyStream(&out) && out.Flush();
    if (!ok) abort_write("cannot write", out.GetErrno());
  }
  // fsync before rename: otherwise a crash can leave `path` renamed but
  // empty on file systems that reorder metadata and data.
  if (::fsync(fd) != 0) abort_write("cannot fsync temporary file for", errno);
  if (const int err = guard.close_now(); err != 0) {
    ::unlink(tmp.c_str());
    fail("cannot close temporary file for", path, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("cannot rename '" + tmp + "' to", path, err);
  }
  // Persist the rename itself; best effort, the data is already safe.
  const int dir = ::open(parent_dir(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::string read_text_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open text file", path, errno);
  FdGuard guard(fd);
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read text file", path, errno);
    }
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace crema
