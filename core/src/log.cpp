// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <stdexcept>

namespace crema {

namespace {
std::mutex g_mutex;  // whole lines: OpenMP threads may log at once
std::ofstream g_file;
thread_local LogSourceScope::Source t_source;

std::atomic<const std::string*> g_fatal_context{nullptr};

void write_all(const char* text, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, text, n);
    if (w <= 0) return;
    text += w;
    n -= static_cast<size_t>(w);
  }
}

void write_str(const char* text) { write_all(text, std::strlen(text)); }

// Async-signal-safe: write(2), sigaction and raise only.
void on_fatal_signal(int sig) {
  const char* name = sig == SIGSEGV   ? "SIGSEGV"
                     : sig == SIGBUS  ? "SIGBUS"
                     : sig == SIGFPE  ? "SIGFPE"
                     : sig == SIGILL  ? "SIGILL"
                     : sig == SIGABRT ? "SIGABRT"
                                      : "?";
  write_str("crema: fatal signal ");
  write_str(name);
  if (const std::string* context = g_fatal_context.load()) {
    write_str(" while running ");
    write_all(context->data(), context->size());
  }
  write_str("\n");
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  raise(sig);
}

const char* basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}
}  // namespace

FatalContextScope::FatalContextScope(const std::string* text)
    : saved_(g_fatal_context.exchange(text)) {}

FatalContextScope::~FatalContextScope() { g_fatal_context.store(saved_); }

void install_fatal_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_NODEFER;  // the re-raise from the handler arrives
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

void log_line(LogLevel level, const std::string& where, const std::string& message) {
  static const char kTags[] = {'I', 'W', 'E'};
  const int l = static_cast<int>(level);
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  char prefix[64];
  std::snprintf(prefix, sizeof(prefix), "%c%02d%02d %02d:%02d:%02d.%06ld %5d ",
                kTags[l < 0 || l > 2 ? 0 : l], t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                t.tm_sec, static_cast<long>(tv.tv_usec), static_cast<int>(getpid()));
  const std::string line = prefix + where + "] " + message + "\n";
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << line << std::flush;
  if (g_file.is_open()) g_file << line << std::flush;
}

void set_log_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_file.is_open()) g_file.close();
  if (path.empty()) return;
  g_file.open(path, std::ios::app);
  if (!g_file) throw std::runtime_error("cannot open the log file '" + path + "'");
}

LogSourceScope::LogSourceScope(const std::string* type, const std::string* name)
    : saved_(t_source) {
  t_source = {type, name};
}

LogSourceScope::~LogSourceScope() { t_source = saved_; }

LogSourceScope::Source LogSourceScope::current() { return t_source; }

void LogSourceScope::log_plugin_line(LogLevel level, const char* message) {
  std::string where = "plugin";
  if (t_source.type) where = *t_source.type + (t_source.name ? ":" + *t_source.name : "");
  log_line(level, where, message ? message : "");
}

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level), file_(file), line_(line) {}

LogMessage::~LogMessage() {
  log_line(level_, std::string(basename_of(file_)) + ":" + std::to_string(line_), os_.str());
}

}  // namespace crema
