// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/prototxt.hpp"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>

#include "crema/core/proto_io.hpp"
#include "crema/core/registry.hpp"
#include "crema/core/upgrade.hpp"

namespace crema {

namespace gpb = google::protobuf;

namespace {

// Protobuf names its types by package; users know them by the message name alone.
std::string tidy(std::string m) {
  for (const char* prefix : {"crema.composed.", "crema.pb."}) {
    size_t pos;
    while ((pos = m.find(prefix)) != std::string::npos) m.erase(pos, std::strlen(prefix));
  }
  return m;
}

// The identifier a column points into or just after ("  bogus: 3" -> bogus), to name the field.
std::string field_before(const std::string& line, int column) {
  int end = std::min<int>(column, static_cast<int>(line.size()));
  while (end > 0 &&
         !(std::isalnum(static_cast<unsigned char>(line[end - 1])) || line[end - 1] == '_'))
    --end;
  int begin = end;
  while (begin > 0 &&
         (std::isalnum(static_cast<unsigned char>(line[begin - 1])) || line[begin - 1] == '_'))
    --begin;
  return line.substr(begin, end - begin);
}

struct Collector : gpb::io::ErrorCollector {
  std::string source;
  std::vector<std::string> lines;
  std::ostringstream out;
  int count = 0;
  std::string hint;
  void AddError(int line, gpb::io::ColumnNumber column, const std::string& message) override {
    std::string text = line < static_cast<int>(lines.size()) ? lines[line] : "";
    std::string what = tidy(message);
    size_t named = message.find("has no field named \"");
    if (named != std::string::npos) {
      // Point at the unknown name itself, not at the token after it.
      std::string field = message.substr(named + 20);
      field = field.substr(0, field.find('"'));
      size_t at = text.rfind(field, column);
      if (at != std::string::npos) column = static_cast<int>(at);
      // An unknown *_param block in a layer is most often a plugin that was not found.
      if (hint.empty() && message.find("LayerParameter") != std::string::npos && field.size() > 6 &&
          field.substr(field.size() - 6) == "_param")
        hint = "no loaded plugin provides the parameter block '" + field + "'";
    } else if (what.size() >= 5 && what.compare(what.size() - 5, 5, "got: ") == 0) {
      what = "unexpected end of file (a '}' is missing?)";
    } else if (what.find("Expected") == 0) {
      // The field is the name before the ':' left of the column, or before the column itself
      // when the ':' is missing ("name \"x\"").
      std::string before = text.substr(0, std::min<size_t>(column, text.size()));
      size_t colon = before.rfind(':');
      std::string field = field_before(
          before, static_cast<int>(colon == std::string::npos ? before.size() : colon));
      if (!field.empty()) what += " (field '" + field + "')";
    }
    if (count++ < 10)
      out << source << ":" << line + 1 << ":" << column + 1 << ": error: " << what << "\n";
  }
  void AddWarning(int line, gpb::io::ColumnNumber column, const std::string& message) override {
    (void)line, (void)column, (void)message;  // deprecation notes; not the user's problem
  }
};

// Parses text into the composed message `core_name`, then into the generated class T.
template <class T>
T parse_composed(const std::string& text, const std::string& source, const std::string& core_name,
                 Registry& registry) {
  const gpb::Descriptor* d = registry.message_type(core_name);
  std::unique_ptr<gpb::Message> msg(registry.factory().GetPrototype(d)->New());
  Collector errors;
  errors.source = source;
  std::stringstream lines(text);
  for (std::string l; std::getline(lines, l);) errors.lines.push_back(l);
  gpb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, msg.get())) {
    if (errors.count == 0) errors.out << source << ": error: not a valid " << core_name << "\n";
    if (!errors.hint.empty())
      errors.out << "  " << errors.hint << "\n" << registry.describe_search() << "\n";
    std::string s = errors.out.str();
    throw ParseError(s.substr(0, s.size() - 1));
  }
  T out;
  if (!out.ParseFromString(msg->SerializeAsString()))
    throw ParseError(source + ": error: internal: composed " + core_name + " does not round-trip");
  return out;
}

}  // namespace

pb::NetParameter parse_net_text(const std::string& text, const std::string& source,
                                Registry& registry) {
  auto net = parse_composed<pb::NetParameter>(text, source, "NetParameter", registry);
  if (net_needs_upgrade(net)) upgrade_net(&net, source);
  return net;
}

// The Python layer (layers/python) imports its modules from the folders of the definitions this
// process read too, as Caffe users keep a layer's .py beside its prototxt: they are listed in
// CREMA_DEFINITION_DIRS (colon-separated, in the order first read), since plugins see no paths.
// One writer at a time: the ranks of `crema train -gpu 0,1` read their nets in their threads.
static void note_definition_dir(const std::string& path) {
  static std::mutex writing;
  const std::lock_guard<std::mutex> lock(writing);
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
  const char* now = std::getenv("CREMA_DEFINITION_DIRS");
  const std::string list = now ? now : "";
  if (dir.find(':') != std::string::npos ||
      (":" + list + ":").find(":" + dir + ":") != std::string::npos)
    return;
  setenv("CREMA_DEFINITION_DIRS", (list.empty() ? dir : list + ":" + dir).c_str(), 1);
}

pb::NetParameter read_net_file(const std::string& path, Registry& registry) {
  pb::NetParameter net = parse_net_text(read_text_file(path), path, registry);
  note_definition_dir(path);
  return net;
}

pb::NetParameter read_net_file(const std::string& path) {
  return read_net_file(path, Registry::global());
}

pb::SolverParameter parse_solver_text(const std::string& text, const std::string& source,
                                      Registry& registry) {
  auto solver = parse_composed<pb::SolverParameter>(text, source, "SolverParameter", registry);
  if (solver_needs_upgrade(solver)) upgrade_solver(&solver, source);
  return solver;
}

pb::SolverParameter read_solver_file(const std::string& path) {
  pb::SolverParameter solver = parse_solver_text(read_text_file(path), path, Registry::global());
  note_definition_dir(path);  // for a net defined inside the solver file
  return solver;
}

pb::LayerParameter parse_layer_text(const std::string& text, const std::string& source,
                                    Registry& registry) {
  return parse_composed<pb::LayerParameter>(text, source, "LayerParameter", registry);
}

pb::NetParameter read_weights_file(const std::string& path) {
  pb::NetParameter net;
  if (path.size() > 9 && path.substr(path.size() - 9) == ".prototxt") {
    net = read_net_file(path);
  } else {
    read_binary_proto(path, &net);
    if (net_needs_upgrade(net)) upgrade_net(&net, path);
  }
  return net;
}

}  // namespace crema
