// SPDX-License-Identifier: BSD-2-Clause
// Caffe-compatible flag parsing for the crema verbs: -solver x, -solver=x, --solver x, --solver=x.
#pragma once
#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace crema::tools {

namespace po = boost::program_options;

// Options every verb accepts: -plugin_dir (repeatable), -threads.
void add_common_options(po::options_description& desc);
// Parses argv (after the verb) into `vm`; positional arguments go to "inputs". Throws with a
// usage hint on unknown flags. Applies -plugin_dir and -threads.
po::variables_map parse_flags(int argc, char** argv, const po::options_description& desc,
                              const std::string& verb, bool positional = false);

}  // namespace crema::tools
