// SPDX-License-Identifier: BSD-2-Clause
#include "crema/solver/signals.hpp"

#include <atomic>
#include <csignal>
#include <stdexcept>

namespace crema {

namespace {
std::atomic<int> g_pending{0};  // a SignalAction, set from the handler
SignalAction g_on_int = SignalAction::kStop, g_on_hup = SignalAction::kSnapshot;

extern "C" void on_signal(int sig) {
  SignalAction a = sig == SIGINT ? g_on_int : g_on_hup;
  // A stop outranks a snapshot request that has not been served yet.
  if (a != SignalAction::kNone && g_pending.load() != static_cast<int>(SignalAction::kStop))
    g_pending.store(static_cast<int>(a));
}
}  // namespace

SignalAction parse_signal_action(const std::string& name) {
  if (name == "stop") return SignalAction::kStop;
  if (name == "snapshot") return SignalAction::kSnapshot;
  if (name == "none") return SignalAction::kNone;
  throw std::runtime_error("signal effect '" + name + "': use stop, snapshot or none");
}

void install_signal_handlers(SignalAction on_sigint, SignalAction on_sighup) {
  g_on_int = on_sigint;
  g_on_hup = on_sighup;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

SignalAction signal_requested() { return static_cast<SignalAction>(g_pending.load()); }
void clear_signal_request() { g_pending.store(0); }

}  // namespace crema
