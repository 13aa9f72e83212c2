// SPDX-License-Identifier: BSD-2-Clause
// crema's one logger: the host, the solver, the crema command and (through crema_host.log) the
// plugins write through it. Lines have glog's shape, which Caffe's log parsers (parse_log.py,
// plot_training_log.py) read:
//   I1206 18:50:22.123456 12345 solver.cpp:123] message
// level (I, W, E), month and day, local time to the microsecond, process id, then where the line
// comes from: the source file's name and line, or for a plugin (whose source location does not
// cross the C ABI) the layer calling it, "Convolution:conv1", else "plugin". Lines go to stderr,
// and to a log file as well once set_log_file() names one.
//   CREMA_LOG(INFO) << "Iteration " << iter;
//   CREMA_LOG_IF(WARNING, slow) << "...";
#pragma once
#include <sstream>
#include <string>

namespace crema {

enum class LogLevel { kInfo = 0, kWarning = 1, kError = 2 };

// One line; `where` stands where glog has file:line.
void log_line(LogLevel level, const std::string& where, const std::string& message);
// Appends every line to `path` too (created if missing); "" stops. Throws when it cannot open it.
void set_log_file(const std::string& path);

// The layer a plugin call on this thread runs for (the host sets it around every call), named in
// the lines the plugin logs. Holds the pointers, not copies: they must outlive the scope.
class LogSourceScope {
 public:
  LogSourceScope(const std::string* type, const std::string* name);
  ~LogSourceScope();
  LogSourceScope(const LogSourceScope&) = delete;
  LogSourceScope& operator=(const LogSourceScope&) = delete;

  struct Source {
    const std::string* type = nullptr;
    const std::string* name = nullptr;
  };
  static Source current();
  static void log_plugin_line(LogLevel level, const char* message);  // crema_host.log

 private:
  Source saved_;
};

// The layer in progress, for the report of a fatal signal: set by the host around every plugin
// call, process-wide (a plugin's OpenMP threads crash for the layer the caller runs). `text`
// ("layer 'conv1' (Convolution) of plugin /p/x.so") is formatted beforehand, since a signal
// handler may only write(2) it, and must outlive the scope.
class FatalContextScope {
 public:
  explicit FatalContextScope(const std::string* text);
  ~FatalContextScope();
  FatalContextScope(const FatalContextScope&) = delete;
  FatalContextScope& operator=(const FatalContextScope&) = delete;

 private:
  const std::string* saved_;
};

// Handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT that write
// "crema: fatal signal SIGSEGV while running <the FatalContextScope text>" to stderr, then restore
// the default action and raise the signal again (the process dies by it, core dump included).
void install_fatal_signal_handlers();

// Collects one line and writes it when destroyed (the end of the CREMA_LOG statement).
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return os_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream os_;
};

namespace log_severity {
constexpr LogLevel INFO = LogLevel::kInfo, WARNING = LogLevel::kWarning, ERROR = LogLevel::kError;
}
// Turns `stream << ...` into void, so that CREMA_LOG_IF is one expression (glog's trick).
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace crema

#define CREMA_LOG(severity) \
  ::crema::LogMessage(::crema::log_severity::severity, __FILE__, __LINE__).stream()
#define CREMA_LOG_IF(severity, condition) \
  !(condition) ? (void)0 : ::crema::LogVoidify() & CREMA_LOG(severity)
