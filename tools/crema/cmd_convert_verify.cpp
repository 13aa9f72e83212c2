// SPDX-License-Identifier: BSD-2-Clause
// crema convert -verify DIR: reads every record of an LMDB of Datum records and checks it as
// the Data layer will (one shape, sizes that match it). LMDB keeps no checksums and liblmdb
// trusts its pages, so damage inside a page can crash it (SIGSEGV, SIGBUS, or SIGABRT from its
// assertions): the records are read in a child process, which reports each one over a pipe,
// and the parent says what happened and after which record, whatever became of the child.
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "crema.pb.h"
#include "lmdb_check.hpp"

namespace crema::tools {

int verify_lmdb(const std::string& dir);  // called by run_convert

namespace {

const char* const kRewrite = "write it again (crema convert, or the Caffe tool that made it)";

// The child's lines on the pipe:
//   R <key>            one more record read and checked
//   A <text>           liblmdb failed an assertion and is about to abort
//   E <text>           what is wrong (the child exits 1)
//   D <shape summary>  every record read and checked
void send(int fd, char kind, const std::string& text) {
  std::string line = std::string(1, kind) + " " + text;
  for (char& c : line)
    if (c == '\n') c = ' ';
  line += '\n';
  for (size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string printable_key(const MDB_val& k) {
  std::string s(static_cast<const char*>(k.mv_data), std::min<size_t>(k.mv_size, 64));
  for (char& ch : s)
    if (ch < 32 || ch > 126) ch = '?';
  return "'" + s + (k.mv_size > 64 ? "...'" : "'");
}

// The parts one after the other in one string: for the messages built in the record loop.
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s += ... += parts);
  return s;
}

void report_assert(MDB_env* env, const char* msg) {
  send(*static_cast<int*>(mdb_env_get_userctx(env)), 'A', msg);
}

// The child's work: throws on what it finds; liblmdb may also crash it.
void walk(const std::string& dir, const data::LmdbLayout& layout, int fd) {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi;
  MDB_cursor* cursor = nullptr;
  auto check = [&](int rc, const std::string& what) {
    if (rc != MDB_SUCCESS) throw std::runtime_error(what + ": " + mdb_strerror(rc));
  };
  check(mdb_env_create(&env), "mdb_env_create");
  mdb_env_set_userctx(env, &fd);
  mdb_env_set_assert(env, report_assert);
  int rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0664);
  if (rc == EACCES) rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOLOCK, 0664);
  check(rc, "cannot open LMDB " + dir);
  check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), dir);
  check(mdb_dbi_open(txn, nullptr, 0, &dbi), dir);
  check(mdb_cursor_open(txn, dbi, &cursor), dir);

  MDB_val key{}, value{};
  const void* map = nullptr;
  pb::Datum first, datum;
  int64_t n = 0;
  std::string last = "before the first record";
  for (rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == MDB_SUCCESS;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT), ++n) {
    if (n == 0) map = data::lmdb_map_base(layout, mdb_txn_id(txn), key.mv_data, key.mv_size);
    if (map && !(data::lmdb_span_in_file(layout, map, key.mv_data, key.mv_size) &&
                 data::lmdb_span_in_file(layout, map, value.mv_data, value.mv_size)))
      throw std::runtime_error(cat(
          dir, " is damaged: a record's key (", std::to_string(key.mv_size), " bytes) or value (",
          std::to_string(value.mv_size), " bytes) lies outside the file, ", last, "; ", kRewrite));
    const std::string where = cat("record ", std::to_string(n), " (key ", printable_key(key), ")");
    pb::Datum& d = n == 0 ? first : datum;
    if (value.mv_size > INT_MAX ||
        !d.ParseFromArray(value.mv_data, static_cast<int>(value.mv_size)))
      throw std::runtime_error(cat(dir, " is damaged: ", where, " is not a Datum; ", kRewrite));
    if (d.encoded())
      throw std::runtime_error(cat(dir, ": ", where,
                                   " is an encoded image (JPEG/PNG); crema's Data "
                                   "layer reads raw datums only"));
    std::ostringstream shape;
    shape << d.channels() << "x" << d.height() << "x" << d.width();
    const int64_t want = int64_t{d.channels()} * d.height() * d.width();
    if (d.channels() <= 0 || d.height() <= 0 || d.width() <= 0 ||
        (n > 0 && (d.channels() != first.channels() || d.height() != first.height() ||
                   d.width() != first.width())))
      throw std::runtime_error(
          cat(dir, ": ", where, " has shape ", shape.str(),
              n > 0 ? cat(", the first record ", std::to_string(first.channels()), "x",
                          std::to_string(first.height()), "x", std::to_string(first.width()))
                    : std::string(),
              ": the Data layer reads one positive shape"));
    if (!(int64_t(d.data().size()) == want || (d.data().empty() && d.float_data_size() == want)))
      throw std::runtime_error(cat(dir, ": ", where, " has ", std::to_string(d.data().size()),
                                   " data bytes and ", std::to_string(d.float_data_size()),
                                   " float_data values for its ", shape.str(), " shape"));
    last = "after " + where;
    send(fd, 'R', last);
  }
  if (rc != MDB_NOTFOUND) {
    const bool damage = rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID;
    throw std::runtime_error(dir + (damage ? " is damaged" : "") +
                             ": liblmdb: " + mdb_strerror(rc) + ", " + last +
                             (damage ? std::string("; ") + kRewrite : ""));
  }
  if (n == 0) throw std::runtime_error(dir + " holds no records");
  send(fd, 'D',
       dir + ": " + std::to_string(n) + " records of " + std::to_string(first.channels()) + "x" +
           std::to_string(first.height()) + "x" + std::to_string(first.width()) +
           (first.data().empty() ? " (float_data)" : " (uint8 data)") + ", all read and checked");
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

std::string signal_name(int s) {
  switch (s) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    default: return std::to_string(s);
  }
}

}  // namespace

int verify_lmdb(const std::string& dir) {
  // What can be checked without liblmdb is checked here, with the precise message.
  const data::LmdbLayout layout = data::check_lmdb(dir);
  int pipe_fd[2];
  if (::pipe(pipe_fd) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(pipe_fd[0]);
    int code = 0;
    try {
      walk(dir, layout, pipe_fd[1]);
    } catch (const std::exception& e) {
      send(pipe_fd[1], 'E', e.what());
      code = 1;
    }
    ::_exit(code);  // no atexit handlers or stdio flushes of the parent's state
  }
  ::close(pipe_fd[1]);
  std::string buffered, last = "before the first record", assertion, error, done;
  char chunk[65536];
  for (;;) {
    const ssize_t got = ::read(pipe_fd[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    buffered.append(chunk, static_cast<size_t>(got));
    size_t start = 0;
    for (size_t nl; (nl = buffered.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string text = buffered.substr(start + 2, nl - start - 2);
      switch (buffered[start]) {
        case 'R': last = text; break;
        case 'A': assertion = text; break;
        case 'E': error = text; break;
        case 'D': done = text; break;
      }
    }
    buffered.erase(0, start);
  }
  ::close(pipe_fd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !done.empty()) {
    std::cout << done << "\n";
    return 0;
  }
  if (!error.empty()) throw std::runtime_error(error);
  if (WIFSIGNALED(status))
    throw std::runtime_error(
        dir + " is damaged: liblmdb crashed (signal " + signal_name(WTERMSIG(status)) +
        (assertion.empty() ? "" : ": " + assertion) + ") " + last + "; " + kRewrite);
  throw std::runtime_error("verifying " + dir + ": the reading process ended with status " +
                           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + " " +
                           last);
}

}  // namespace crema::tools
