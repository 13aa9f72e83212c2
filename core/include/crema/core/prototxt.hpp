// SPDX-License-Identifier: BSD-2-Clause
// Reading net and solver definitions: prototxt text parsed against the composed schema (so plugin
// parameter blocks are accepted), legacy formats upgraded, errors as file:line:column.
#pragma once
#include <stdexcept>
#include <string>

#include "crema.pb.h"

namespace crema {

class Registry;

// A definition that does not parse; what() is "file:line:column: message" (one per line).
class ParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

pb::NetParameter parse_net_text(const std::string& text, const std::string& source,
                                Registry& registry);
pb::NetParameter read_net_file(const std::string& path, Registry& registry);
pb::NetParameter read_net_file(const std::string& path);
pb::SolverParameter parse_solver_text(const std::string& text, const std::string& source,
                                      Registry& registry);
pb::SolverParameter read_solver_file(const std::string& path);
// One LayerParameter in text form (tests, `crema check-plugin`).
pb::LayerParameter parse_layer_text(const std::string& text, const std::string& source,
                                    Registry& registry);
// Weights: binary NetParameter (.caffemodel), or text when the file name ends in .prototxt.
pb::NetParameter read_weights_file(const std::string& path);

}  // namespace crema
