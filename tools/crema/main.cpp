// SPDX-License-Identifier: BSD-2-Clause
// The crema command: one binary, one verb per job (verbs.cpp), Caffe's flag spellings.
// Help goes to stdout with exit status 0; a wrong verb is an error (stderr, exit status 2).
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>

#include "crema/core/log.hpp"
#include "verbs.hpp"

int main(int argc, char** argv) {
  using namespace crema::tools;
  // A plugin that crashes is named on the way down: the layer and library in progress.
  crema::install_fatal_signal_handlers();
  const std::string first = argc < 2 ? "help" : argv[1];
  if (first == "help" || first == "-help" || first == "--help" || first == "-h") {
    if (argc < 3 || first != "help") {
      print_usage(std::cout);
      return 0;
    }
    const VerbInfo* verb = find_verb(argv[2]);
    if (!verb) {
      std::cerr << "crema help: unknown verb '" << argv[2] << "' (crema help lists them)\n";
      return 2;
    }
    char help_flag[] = "-help";
    char* args[] = {argv[2], help_flag, nullptr};
    return verb->run(2, args);  // prints the verb's help and exits 0
  }
  if (first == "version" || first == "-version" || first == "--version") {
    print_version(std::cout);
    return 0;
  }
  const VerbInfo* verb = find_verb(first);
  if (!verb) {
    std::cerr << "crema: unknown verb '" << first << "'\n\n";
    print_usage(std::cerr);
    return 2;
  }
  // crema's own errors are runtime_errors that say what is wrong; anything else escaping a verb is
  // a library's text about crema's internals, so the user is told what it means instead.
  const std::string prefix = "crema " + first + ": ";
  try {
    return verb->run(argc - 1, argv + 1);
  } catch (const std::bad_alloc&) {
    std::cerr << prefix << "out of memory (the allocation failed; -max_memory and crema validate "
              << "show what the net needs)" << std::endl;
  } catch (const std::runtime_error& e) {
    std::cerr << prefix << e.what() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << prefix << "internal error (" << e.what() << "): a bug in crema, please report it "
              << "with the command and its files" << std::endl;
  }
  return 1;
}
