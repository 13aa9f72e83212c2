// SPDX-License-Identifier: BSD-2-Clause
// The crema verbs; each takes the arguments after the verb name (argv[0] is the verb). The table
// holds what the help says of each (verbs.cpp).
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace crema::tools {
int run_train(int argc, char** argv);
int run_test(int argc, char** argv);
int run_time(int argc, char** argv);
int run_validate(int argc, char** argv);
int run_plugins(int argc, char** argv);
int run_check_plugin(int argc, char** argv);
int run_device_query(int argc, char** argv);
int run_convert(int argc, char** argv);
int run_summary(int argc, char** argv);
int run_draw(int argc, char** argv);
int run_plot(int argc, char** argv);
int run_export(int argc, char** argv);
int run_import(int argc, char** argv);

// Some of a verb's flags under a heading of their own in its help.
struct FlagGroup {
  const char* heading;
  std::vector<std::string> flags;
};

struct VerbInfo {
  const char* name;
  int (*run)(int, char**);
  const char* summary;            // one line in `crema help`
  const char* usage;              // "crema train -solver SOLVER.prototxt [flags]"
  const char* about;              // what the verb does, for people: a sentence or two
  std::vector<FlagGroup> groups;  // the verb's flags not named here are listed as "flags"
  std::vector<const char*> examples;
};

// In the order `crema help` lists them.
const std::vector<VerbInfo>& verb_table();
const VerbInfo* find_verb(const std::string& name);  // nullptr for an unknown verb
// `crema`, `crema help`: the verbs and how to get more.
void print_usage(std::ostream& out);
// `crema --version`: crema's version, the plugin ABI version and whether CUDA was built.
void print_version(std::ostream& out);
}  // namespace crema::tools
