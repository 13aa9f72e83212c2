// SPDX-License-Identifier: BSD-2-Clause
#include "flags.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "crema/core/host.hpp"
#include "crema/core/log.hpp"
#include "crema/core/memory_budget.hpp"
#include "crema/core/precision.hpp"
#include "crema/core/registry.hpp"
#include "net_stats.hpp"
#include "verbs.hpp"

namespace crema::tools {

namespace {

// A flag value read, and checked, by `read` as it is parsed; `read` throws with the message.
template <class T>
class CheckedValue : public po::typed_value<T> {
 public:
  using Read = std::function<T(const std::string&)>;
  CheckedValue(Read read, const std::string& value_name)
      : po::typed_value<T>(nullptr), read_(std::move(read)) {
    this->value_name(value_name);
  }
  void xparse(boost::any& store, const std::vector<std::string>& tokens) const override {
    store = read_(tokens.empty() ? std::string() : tokens.front());
  }

 private:
  Read read_;
};

[[noreturn]] void bad_value(const std::string& flag, const std::string& value,
                            const std::string& want) {
  throw po::error("-" + flag + " " + (value.empty() ? "''" : value) + ": " + want);
}

bool read_whole(const std::string& text, int64_t min, int64_t max, int64_t* out) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > max) return false;
  *out = v;
  return true;
}

template <class T>
po::typed_value<T>* whole_number(const std::string& flag, T min) {
  return new CheckedValue<T>(
      [flag, min](const std::string& text) {
        int64_t v = 0;
        if (!read_whole(text, min, std::numeric_limits<T>::max(), &v))
          bad_value(flag, text, "give a whole number of " + std::to_string(min) + " or more");
        return static_cast<T>(v);
      },
      "N");
}

std::string check_file(const std::string& flag, const std::string& path) {
  std::error_code ec;
  // Not po::error: the message needs no pointer to the help.
  if (!std::filesystem::exists(path, ec))
    throw std::runtime_error("-" + flag + ": no such file: " + path);
  if (std::filesystem::is_directory(path, ec))
    throw std::runtime_error("-" + flag + ": " + path + " is a directory, not a file");
  return path;
}

std::string either(const std::vector<std::string>& choices) {
  std::string s;
  for (size_t i = 0; i < choices.size(); ++i)
    s += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  return s;
}

// Boost's messages spell flags --flag; crema's are -flag.
std::string single_dash(std::string s) {
  for (size_t at = 0; (at = s.find("'--", at)) != std::string::npos;) s.erase(at + 1, 1);
  return s;
}

// --- help ---

// What add_common_options adds: listed apart in every verb's help.
const char* const kCommonFlags[] = {"plugin_dir", "threads", "log_file", "help"};

constexpr size_t kWidth = 100;      // help lines are wrapped to this width
constexpr size_t kFlagColumn = 26;  // where a flag's description starts

// `text` from column `col` (where the cursor is), broken before kWidth, continued at `indent`.
void wrap(std::ostream& out, const std::string& text, size_t col, size_t indent) {
  std::istringstream words(text);
  std::string w;
  bool line_start = true;
  while (words >> w) {
    if (!line_start && col + 1 + w.size() > kWidth) {
      out << "\n" << std::string(indent, ' ');
      col = indent;
      line_start = true;
    }
    if (!line_start) out << ' ', ++col;
    out << w;
    col += w.size();
    line_start = false;
  }
  out << "\n";
}

// "  -iterations N            what it does (default: 20)"
void print_flag(std::ostream& out, const po::option_description& o) {
  std::string value, default_text;
  if (o.semantic()->max_tokens() > 0) {
    value = o.semantic()->name();  // "NAME" or "NAME (=default)"
    const size_t d = value.find(" (=");
    if (d != std::string::npos) {
      default_text = value.substr(d + 3, value.size() - d - 4);
      value.resize(d);
    }
    if (value == po::arg) value = "VALUE";
  }
  std::string left = "  -" + o.long_name() + (value.empty() ? "" : " " + value);
  std::string text = o.description();
  if (!default_text.empty()) text += " (default: " + default_text + ")";
  if (left.size() + 2 > kFlagColumn) {
    out << left << "\n" << std::string(kFlagColumn, ' ');
  } else {
    out << left << std::string(kFlagColumn - left.size(), ' ');
  }
  wrap(out, text, kFlagColumn, kFlagColumn);
}

}  // namespace

po::typed_value<int>* positive_int(const std::string& flag) { return whole_number<int>(flag, 1); }
po::typed_value<int>* non_negative_int(const std::string& flag) {
  return whole_number<int>(flag, 0);
}
po::typed_value<int64_t>* non_negative_int64(const std::string& flag) {
  return whole_number<int64_t>(flag, 0);
}

po::typed_value<std::string>* gpu_id(const std::string& flag, bool allow_all) {
  return new CheckedValue<std::string>(
      [flag, allow_all](const std::string& text) {
        int64_t id = 0;
        if ((allow_all && text == "all") || read_whole(text, 0, INT_MAX, &id)) return text;
        bad_value(
            flag, text,
            std::string("give a GPU number: 0 for the first (crema device_query lists them)") +
                (allow_all ? ", or all" : ""));
      },
      allow_all ? "ID|all" : "ID");
}

std::vector<int> read_gpu_list(const std::string& text) {
  std::vector<int> ids;
  std::stringstream ss(text);
  for (std::string word; std::getline(ss, word, ',');) ids.push_back(std::stoi(word));
  return ids;
}

po::typed_value<std::string>* gpu_list(const std::string& flag) {
  return new CheckedValue<std::string>(
      [flag](const std::string& text) {
        if (text == "all") return text;
        std::set<int64_t> seen;
        std::stringstream ss(text);
        std::string word;
        // getline drops a trailing empty word: "0," is caught by the last character.
        while (std::getline(ss, word, ',')) {
          int64_t id = 0;
          if (!read_whole(word, 0, INT_MAX, &id))
            bad_value(flag, text,
                      "give a GPU number (0 for the first; crema device_query lists them), a "
                      "comma list of them (0,1: one process trains on both, a thread a GPU), or "
                      "all");
          if (!seen.insert(id).second)
            bad_value(flag, text, "GPU " + word + " is listed twice: give each GPU once");
        }
        if (text.empty() || text.back() == ',')
          bad_value(flag, text, "a comma list of GPU numbers, such as 0,1, or all");
        return text;
      },
      "ID[,ID...]|all");
}

po::typed_value<std::string>* existing_file(const std::string& flag) {
  return new CheckedValue<std::string>(
      [flag](const std::string& path) { return check_file(flag, path); }, "FILE");
}

po::typed_value<std::string>* existing_files(const std::string& flag) {
  return new CheckedValue<std::string>(
      [flag](const std::string& list) {
        std::stringstream ss(list);
        std::string path;
        while (std::getline(ss, path, ','))
          if (!path.empty()) check_file(flag, path);
        return list;
      },
      "FILE[,FILE]");
}

po::typed_value<std::string>* one_of(const std::string& flag,
                                     const std::vector<std::string>& choices) {
  std::string name;
  for (const std::string& c : choices) name += (name.empty() ? "" : "|") + c;
  return new CheckedValue<std::string>(
      [flag, choices](const std::string& text) {
        for (const std::string& c : choices)
          if (text == c) return text;
        bad_value(flag, text, "give " + either(choices));
      },
      name);
}

po::typed_value<std::string>* shape_value(const std::string& flag) {
  return new CheckedValue<std::string>(
      [flag](const std::string& text) {
        try {
          parse_shape(text);
        } catch (const std::exception&) {
          bad_value(flag, text, "give positive whole numbers separated by commas, e.g. 64,3,32,32");
        }
        return text;
      },
      "N,C,H,W");
}

void add_common_options(po::options_description& desc) {
  auto add = desc.add_options();
  add("plugin_dir", po::value<std::vector<std::string>>()->composing()->value_name("DIR"),
      "also search this directory for layer plugins (repeatable; searched first)");
  add("threads", non_negative_int("threads")->default_value(0),
      "CPU threads for OpenBLAS and crema (0: CREMA_NUM_THREADS, else all cores)");
  add("log_file", po::value<std::string>()->value_name("FILE"),
      "append the log lines to this file too (they go to stderr)");
  add("help,h", "show this help");
}

void add_fuse_option(po::options_description& desc) {
  desc.add_options()(
      "fuse", po::value<bool>()->default_value(true, "true")->value_name("true|false"),
      "compute in-place layers inside the layer before them on the CPU (BatchNorm takes Scale and "
      "ReLU); -fuse=false runs every layer alone (CREMA_FUSE=0|1 overrides this flag)");
}

void add_max_memory_option(po::options_description& desc) {
  desc.add_options()(
      "max_memory",
      new CheckedValue<uint64_t>(
          [](const std::string& text) {
            try {
              return parse_bytes(text);
            } catch (const std::exception&) {
              bad_value("max_memory", text, "give a size such as 8G, 512M or a byte count");
            }
          },
          "SIZE"),
      "refuse a net that needs more memory than SIZE (8G, 512M; default: what the machine and "
      "its cgroup have free), before anything is allocated");
}

uint64_t max_memory_flag(const po::variables_map& vm) {
  return vm.count("max_memory") ? vm["max_memory"].as<uint64_t>() : 0;
}

void add_precision_option(po::options_description& desc) {
  desc.add_options()(
      "precision",
      new CheckedValue<int>(  // a crema_dtype
          [](const std::string& text) {
            try {
              return static_cast<int>(parse_precision(text));
            } catch (const std::exception&) {
              bad_value("precision", text, "give fp32, bf16 or fp16");
            }
          },
          "fp32|bf16|fp16"),
      "the type convolutions and inner products compute in (products of rounded inputs, fp32 "
      "sums; weights, statistics, losses and the update stay fp32), over the net file's "
      "default_forward_math; layers that set their own keep it (docs/PRECISION.md)");
}

std::optional<crema_dtype> precision_flag(const po::variables_map& vm) {
  if (!vm.count("precision")) return std::nullopt;
  return static_cast<crema_dtype>(vm["precision"].as<int>());
}

void print_verb_help(std::ostream& out, const std::string& verb,
                     const po::options_description& desc) {
  const VerbInfo* info = find_verb(verb);
  out << "usage: " << (info ? info->usage : "crema " + verb + " [flags]") << "\n\n";
  if (info) wrap(out, info->about, 0, 0), out << "\n";
  // The verb's own flags, under the table's headings, then the rest; then the common ones.
  const std::set<std::string> common(std::begin(kCommonFlags), std::end(kCommonFlags));
  std::set<std::string> listed;
  if (info)
    for (const FlagGroup& g : info->groups) {
      std::vector<const po::option_description*> flags;
      for (const std::string& name : g.flags)
        if (const po::option_description* o = desc.find_nothrow(name, false)) flags.push_back(o);
      if (flags.empty()) continue;
      out << g.heading << ":\n";
      for (const po::option_description* o : flags) {
        print_flag(out, *o);
        listed.insert(o->long_name());
      }
      out << "\n";
    }
  bool heading = false;
  for (const auto& o : desc.options()) {
    if (common.count(o->long_name()) || listed.count(o->long_name())) continue;
    if (!heading) out << (listed.empty() ? "flags:\n" : "other flags:\n"), heading = true;
    print_flag(out, *o);
  }
  if (heading) out << "\n";
  out << "flags every verb takes:\n";
  for (const char* name : kCommonFlags)
    if (const po::option_description* o = desc.find_nothrow(name, false)) print_flag(out, *o);
  out << "\n";
  if (info && !info->examples.empty()) {
    out << "examples:\n";
    for (const char* e : info->examples) out << "  " << e << "\n";
  }
}

po::variables_map parse_flags(int argc, char** argv, const po::options_description& desc,
                              const std::string& verb, bool positional) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "-help" || a == "--help") {
      print_verb_help(std::cout, verb, desc);
      std::exit(0);
    }
  }
  po::variables_map vm;
  po::positional_options_description pos;
  po::options_description all(desc);
  if (positional) {
    all.add_options()("inputs", po::value<std::vector<std::string>>()->composing(), "files");
    pos.add("inputs", -1);
  }
  int style = po::command_line_style::unix_style | po::command_line_style::allow_long_disguise;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).style(style).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw std::runtime_error(single_dash(e.what()) + " (see: crema " + verb + " -help)");
  }
  if (vm.count("plugin_dir"))
    for (const auto& d : vm["plugin_dir"].as<std::vector<std::string>>())
      Registry::global().add_search_dir(d);
  set_num_threads(vm["threads"].as<int>());
  if (vm.count("log_file")) set_log_file(vm["log_file"].as<std::string>());
  return vm;
}

}  // namespace crema::tools
