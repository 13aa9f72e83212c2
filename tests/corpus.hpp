// SPDX-License-Identifier: BSD-2-Clause
// Where the tests find the Caffe prototxt corpus: $CREMA_CORPUS_DIR when set, else the directory
// CMake's CREMA_CORPUS_DIR cache variable named. A test that reads it starts with
// CREMA_REQUIRE_CORPUS(), which skips it, saying why, when the directory is absent; ctest shows
// such a test as skipped through SKIP_REGULAR_EXPRESSION "no corpus at " (tests/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#ifndef CREMA_CORPUS_DIR
#error "CREMA_CORPUS_DIR must name the prototxt corpus (tests/CMakeLists.txt defines it)"
#endif

namespace crema::test_corpus {

inline std::string dir() {
  const char* env = std::getenv("CREMA_CORPUS_DIR");
  return env && *env ? env : CREMA_CORPUS_DIR;
}

inline bool present() { return std::filesystem::is_directory(dir()); }

}  // namespace crema::test_corpus

#define CREMA_REQUIRE_CORPUS()                                                            \
  do {                                                                                    \
    if (!::crema::test_corpus::present())                                                 \
      GTEST_SKIP() << "no corpus at " << ::crema::test_corpus::dir()                      \
                   << " (point CREMA_CORPUS_DIR at one, in the environment or in CMake)"; \
  } while (0)
