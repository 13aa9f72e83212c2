// SPDX-License-Identifier: BSD-2-Clause
// Caffe-compatible flag parsing for the crema verbs: -solver x, -solver=x, --solver x, --solver=x.
#pragma once
#include <boost/program_options.hpp>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "crema/plugin_abi.h"

namespace crema::tools {

namespace po = boost::program_options;

// Options every verb accepts: -plugin_dir (repeatable), -threads, -log_file.
void add_common_options(po::options_description& desc);
// -fuse (default true): NetOptions::fuse, for the verbs that run nets (train, test, time).
void add_fuse_option(po::options_description& desc);
// -max_memory SIZE ("8G", "512M"; default: what the machine and its cgroup have free): a net
// that needs more is refused before anything is allocated. 0 when not given.
void add_max_memory_option(po::options_description& desc);
uint64_t max_memory_flag(const po::variables_map& vm);
// -precision fp32|bf16|fp16: NetOptions::precision (the math type of every layer that does not
// set its own). Unset when not given: the net file's default_forward_math ... decide.
void add_precision_option(po::options_description& desc);
std::optional<crema_dtype> precision_flag(const po::variables_map& vm);
// Parses argv (after the verb) into `vm`; positional arguments go to "inputs". -h, -help or
// --help anywhere prints the verb's help (print_verb_help) and exits 0. Throws with a usage hint
// on unknown flags and bad values, before anything else runs. Applies -plugin_dir, -threads and
// -log_file.
po::variables_map parse_flags(int argc, char** argv, const po::options_description& desc,
                              const std::string& verb, bool positional = false);

// Flag values that check themselves as they are parsed: a bad one stops the verb before it does
// anything, with a message that names the flag, the value and what it takes
// ("-iterations -5: give a whole number of 1 or more"). Each sets the value's name in the help.
po::typed_value<int>* positive_int(const std::string& flag);      // 1, 2, ...
po::typed_value<int>* non_negative_int(const std::string& flag);  // 0, 1, ...
po::typed_value<int64_t>* non_negative_int64(const std::string& flag);
// A GPU number (0, 1, ...); with allow_all also "all". std::stoi reads it afterwards.
po::typed_value<std::string>* gpu_id(const std::string& flag, bool allow_all = false);
// crema train's GPUs: one number, a comma list of distinct numbers (Caffe's -gpu 0,1: one
// process, a thread a GPU) or "all"; read_gpu_list reads a list back ("0,2": {0, 2}).
po::typed_value<std::string>* gpu_list(const std::string& flag);
std::vector<int> read_gpu_list(const std::string& text);
// A file that must exist: "-solver: no such file: PATH" otherwise.
po::typed_value<std::string>* existing_file(const std::string& flag);
// Comma-separated files (-weights a.caffemodel,b.caffemodel), each of which must exist.
po::typed_value<std::string>* existing_files(const std::string& flag);
// One of `choices`, spelled exactly.
po::typed_value<std::string>* one_of(const std::string& flag,
                                     const std::vector<std::string>& choices);
// A shape N,C,H,W (parse_shape): positive whole numbers separated by commas.
po::typed_value<std::string>* shape_value(const std::string& flag);

// A verb's help for people: what it does, its flags grouped with their defaults (spelled
// -flag VALUE), examples. The words come from the verb table (verbs.hpp), the flags from `desc`.
void print_verb_help(std::ostream& out, const std::string& verb,
                     const po::options_description& desc);

}  // namespace crema::tools
