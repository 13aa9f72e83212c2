// SPDX-License-Identifier: BSD-2-Clause
// Malformed definitions are reported as file:line:column with what is wrong.
#include <gtest/gtest.h>

#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_net_text(text, "net.prototxt", Registry::global());
  } catch (const ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(Prototxt, UnknownFieldNamesLineColumnAndField) {
  std::string m = error_of("name: 'n'\nlayer {\n  name: 'a'\n  bogus: 3\n}\n");
  EXPECT_NE(m.find("net.prototxt:4:3:"), std::string::npos) << m;
  EXPECT_NE(m.find("bogus"), std::string::npos) << m;
}

TEST(Prototxt, MissingColonKeepsThePosition) {
  std::string m = error_of("name \"x\"\n");
  EXPECT_NE(m.find("net.prototxt:1:"), std::string::npos) << m;
  EXPECT_NE(m.find("name"), std::string::npos) << m;
  m = error_of("layer {\n  name: 'a'\n  type \"Input\"\n}\n");
  EXPECT_NE(m.find("net.prototxt:3:"), std::string::npos) << m;
  EXPECT_NE(m.find("'type'"), std::string::npos) << m;
}

TEST(Prototxt, WrongTypeNamesTheValue) {
  std::string m = error_of("layer {\n  name: 'a' loss_weight: \"heavy\"\n}\n");
  EXPECT_NE(m.find("net.prototxt:2:"), std::string::npos) << m;
  EXPECT_NE(m.find("loss_weight"), std::string::npos) << m;
}

TEST(Prototxt, MissingBraceIsReportedAtTheEnd) {
  std::string m = error_of("layer {\n  name: 'a'\n  type: 'ReLU'\n");
  EXPECT_NE(m.find("net.prototxt:4:"), std::string::npos) << m;
  EXPECT_NE(m.find('}'), std::string::npos) << m;
}

TEST(Prototxt, UnknownEnumValueNamesIt) {
  std::string m = error_of("layer {\n  name: 'p'\n  pooling_param { pool: MEDIAN }\n}\n");
  EXPECT_NE(m.find("net.prototxt:3:"), std::string::npos) << m;
  EXPECT_NE(m.find("MEDIAN"), std::string::npos) << m;
}

TEST(Prototxt, UnknownParamBlockSaysNoPluginProvidesIt) {
  std::string m = error_of("layer {\n  name: 'x'\n  frob_param { a: 1 }\n}\n");
  EXPECT_NE(m.find("frob_param"), std::string::npos) << m;
  EXPECT_NE(m.find("no loaded plugin provides"), std::string::npos) << m;
  EXPECT_NE(m.find("searched"), std::string::npos) << m;
}

TEST(Prototxt, MissingFileNamesThePath) {
  try {
    read_net_file("/no/such/net.prototxt");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/net.prototxt"), std::string::npos) << e.what();
  }
}

TEST(Prototxt, SolverTypoIsReported) {
  try {
    parse_solver_text("base_lr: 0.1\nmomentom: 0.9\n", "solver.prototxt", Registry::global());
    FAIL();
  } catch (const ParseError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("solver.prototxt:2:1:"), std::string::npos) << m;
    EXPECT_NE(m.find("momentom"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace crema
