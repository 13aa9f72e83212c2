// SPDX-License-Identifier: BSD-2-Clause
// crema validate FILE...: parses (and upgrades) net and solver definitions and checks each net's
// wiring and layer types for both phases, and a solver's settings (check_solver), without
// allocating anything.
#include <filesystem>
#include <iostream>
#include <set>

#include "crema/core/memory_budget.hpp"
#include "crema/core/net.hpp"
#include "crema/core/net_wiring.hpp"
#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/net_sources.hpp"
#include "crema/solver/solver_check.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {

bool looks_like_solver(const std::string& text) {
  for (const char* key : {"base_lr", "lr_policy", "max_iter", "train_net", "solver_mode", "net:"})
    if (text.find(key) != std::string::npos) return true;
  return false;
}

std::string state_name(const pb::NetState& s) {
  std::string n = pb::Phase_Name(s.phase());
  for (const auto& st : s.stage()) n += " stage " + st;
  return n;
}

// What the net of `state` will need, against the limit a run would use (crema train and test
// refuse a net over it before allocating). The net is built without filling or allocating; data
// layers open their files, so a net whose data is absent gets a note instead.
void report_memory(const pb::NetParameter& net, const pb::NetState& state,
                   const std::string& source, uint64_t max_memory) {
  NetOptions opt;
  opt.phase = state.phase();
  opt.level = state.level();
  opt.stages.assign(state.stage().begin(), state.stage().end());
  opt.fill_params = false;
  opt.check_memory = false;
  opt.source = source;
  const std::string where = source + " (" + state_name(state) + ")";
  MemoryNeed need;
  try {
    need = Net(net, opt).memory_needed();
  } catch (const std::exception& e) {
    std::cerr << "note: " << where << ": memory not computed: " << e.what() << "\n";
    return;
  }
  const MemoryLimit limit = memory_limit(max_memory);
  std::cout << where << ": needs " << format_bytes(need.bytes) << " (largest: " << need.largest
            << ", " << format_bytes(need.largest_bytes) << ")";
  if (limit.bytes)
    std::cout << "; " << format_bytes(limit.bytes) << " may be used (" << limit.source << ")";
  std::cout << "\n";
  if (limit.bytes && need.bytes > limit.bytes)
    throw std::runtime_error(where + " needs " + format_bytes(need.bytes) + " but " +
                             format_bytes(limit.bytes) + " may be used (" + limit.source +
                             "): crema train and test would refuse it");
}

// A plain net file is valid when it builds for at least one phase (deploy and TEST-only files
// are common); the phases that cannot build are reported as notes.
void check_net(const pb::NetParameter& net, const std::string& source, uint64_t max_memory,
               std::vector<pb::NetState> states = {}) {
  bool any_phase = states.empty();
  if (states.empty())
    for (pb::Phase phase : {pb::TRAIN, pb::TEST}) {
      pb::NetState s = net.state();
      s.set_phase(phase);
      states.push_back(s);
    }
  std::set<std::string> missing;
  std::vector<pb::NetState> wired;
  std::string phase_errors;
  int built = 0;
  for (const pb::NetState& state : states) {
    pb::NetParameter filtered = filter_net(net, state);
    try {
      check_wiring(filtered, source + " (" + state_name(state) + ")");
      ++built;
    } catch (const std::exception& e) {
      if (!any_phase) throw;
      phase_errors += std::string(e.what()) + "\n";
      continue;
    }
    pb::NetParameter split = insert_splits(filtered);
    for (const auto& l : split.layer())
      if (!Registry::global().has(l.type())) missing.insert(l.type());
    wired.push_back(state);
  }
  if (built == 0) throw std::runtime_error(phase_errors.substr(0, phase_errors.size() - 1));
  if (!phase_errors.empty()) std::cerr << "note: " << phase_errors;
  if (!missing.empty()) {
    std::string list;
    for (const auto& t : missing) list += (list.empty() ? "" : ", ") + t;
    throw std::runtime_error(source + ": no plugin provides layer type(s): " + list + "\n" +
                             Registry::global().describe_search());
  }
  for (const pb::NetState& state : wired) report_memory(net, state, source, max_memory);
}

}  // namespace

int run_validate(int argc, char** argv) {
  po::options_description desc("crema validate FILE...");
  add_common_options(desc);
  add_max_memory_option(desc);
  auto vm = parse_flags(argc, argv, desc, "validate", true);
  const uint64_t max_memory = max_memory_flag(vm);
  if (!vm.count("inputs")) throw std::runtime_error("give one or more .prototxt files");
  int bad = 0;
  for (const auto& path : vm["inputs"].as<std::vector<std::string>>()) {
    int solver_errors = 0;
    try {
      std::string text = read_text_file(path);
      if (looks_like_solver(text)) {
        pb::SolverParameter solver = parse_solver_text(text, path, Registry::global());
        // What train would refuse or run without learning is an error here; fields the type
        // or lr_policy ignores are warnings.
        for (const SolverIssue& issue : check_solver(solver)) {
          const bool refused = issue.level != SolverIssue::kWarning;
          std::cerr << path << (refused ? ": error: " : ": warning: ") << issue.message << "\n";
          solver_errors += refused;
        }
        for (const NetSource& n : solver_net_sources(solver, path)) {
          pb::NetParameter net = n.inline_net ? *n.inline_net : read_net_file(n.path);
          std::vector<pb::NetState> states;
          if (n.role != "test") {  // "net" or "train": built for TRAIN with train_state
            pb::NetState s = solver.train_state();
            s.set_phase(pb::TRAIN);
            states.push_back(s);
          }
          if (n.role != "train") {
            for (const auto& ts : solver.test_state())
              states.push_back(ts), states.back().set_phase(pb::TEST);
            if (solver.test_state_size() == 0)
              states.emplace_back(), states.back().set_phase(pb::TEST);
          }
          check_net(net, n.inline_net ? path + " (" + n.role + ")" : n.path, max_memory, states);
        }
      } else {
        check_net(parse_net_text(text, path, Registry::global()), path, max_memory);
      }
      if (solver_errors) {
        ++bad;
        continue;
      }
      std::cout << path << ": OK\n";
    } catch (const std::exception& e) {
      // Positioned errors already start with the file; the others get it here.
      std::string what = e.what();
      std::cerr << (what.rfind(path, 0) == 0 ? "" : path + ": ") << what << "\n";
      ++bad;
    }
  }
  return bad ? 1 : 0;
}

}  // namespace crema::tools
