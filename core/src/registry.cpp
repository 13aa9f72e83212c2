// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/registry.hpp"

#include <dlfcn.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "crema.pb.h"
#include "crema/core/host.hpp"
#include "schema_composer.hpp"

namespace crema {

namespace fs = std::filesystem;
namespace gpb = google::protobuf;

// Accepted plugins are never dropped: live LayerInstances hold `const LayerType*` into `types`
// (std::map nodes stay where they are) and LayerType holds `const PluginInfo*` into `infos` (a
// deque: appending moves nothing). A rescan opens only libraries not seen before.
struct Registry::Impl {
  std::vector<std::string> flag_dirs;
  std::vector<std::string> flag_files;  // single libraries, loaded before any directory's
  std::set<std::string> warned_dirs;
  bool use_defaults = true;
  bool loaded = false;
  std::deque<boost::dll::shared_library> libs;  // kept open for the process's lifetime
  std::set<std::string> seen;                   // every library opened (accepted or refused)
  std::deque<PluginInfo> infos;
  std::vector<PluginInfo> plugins;  // the listing: infos in load order
  std::vector<Refusal> refusals;
  std::vector<std::string> warnings;
  std::map<std::string, std::map<uint32_t, LayerType>> types;  // type -> version -> layer
  std::map<std::string, std::string> type_owner;               // "type@v" -> path
  std::unique_ptr<SchemaComposer> schema = std::make_unique<SchemaComposer>();
  std::mutex mu;
};

Registry& Registry::global() {
  static Registry* r = new Registry();  // never destroyed: plugins stay loaded until exit
  return *r;
}

Registry::Registry() : impl_(new Impl) {}
Registry::~Registry() = default;

void Registry::add_search_dir(const std::string& dir) {
  impl_->flag_dirs.push_back(dir);
  impl_->loaded = false;
}

void Registry::add_plugin_file(const std::string& path) {
  impl_->flag_files.push_back(path);
  impl_->loaded = false;
}

void Registry::set_search_dirs(const std::vector<std::string>& dirs, bool use_defaults) {
  impl_->flag_dirs = dirs;
  impl_->use_defaults = use_defaults;
  impl_->loaded = false;
}

std::vector<std::string> Registry::search_dirs() const {
  std::vector<std::string> dirs = impl_->flag_dirs;
  if (!impl_->use_defaults) return dirs;
  if (const char* env = std::getenv("CREMA_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string d;
    while (std::getline(ss, d, ':'))
      if (!d.empty()) dirs.push_back(d);
  }
  boost::dll::fs::error_code ec;
  auto exe = boost::dll::program_location(ec);
  if (!ec) {
    fs::path bin = fs::path(exe.string()).parent_path();
    dirs.push_back((bin.parent_path() / "lib" / "crema" / "plugins").lexically_normal().string());
  }
  return dirs;
}

namespace {

std::string check_descriptor(const crema_plugin* p) {
  if (p->struct_size < offsetof(crema_plugin, tests))
    return "plugin descriptor too small (struct_size " + std::to_string(p->struct_size) + ")";
  if (p->abi_major != CREMA_ABI_MAJOR)
    return "ABI major version " + std::to_string(p->abi_major) + " but this crema speaks " +
           std::to_string(CREMA_ABI_MAJOR) + ": rebuild the plugin against this crema's SDK";
  if (p->abi_minor_required > CREMA_ABI_MINOR)
    return "needs ABI " + std::to_string(p->abi_major) + "." +
           std::to_string(p->abi_minor_required) + " but this crema provides " +
           std::to_string(CREMA_ABI_MAJOR) + "." + std::to_string(CREMA_ABI_MINOR);
  if (p->n_layers == 0 || !p->layers) return "declares no layer types";
  for (uint32_t i = 0; i < p->n_layers; ++i) {
    const crema_layer_desc& d = p->layers[i];
    std::string t = d.type ? d.type : "";
    if (d.struct_size < offsetof(crema_layer_desc, forward_cuda))
      return "layer descriptor " + std::to_string(i) + " too small";
    if (t.empty()) return "layer descriptor " + std::to_string(i) + " has no type name";
    if (!d.create || !d.destroy || !d.reshape || !d.forward_cpu)
      return "layer type '" + t + "' lacks create, destroy, reshape or forward_cpu";
    if (d.param_field_number && (!d.param_field || !d.param_message))
      return "layer type '" + t + "' gives a field number without param_field/param_message";
  }
  return "";
}

// Layer type i's extension (ABI minor 3), or nullptr when the plugin has none. Stepped by the
// plugin's own struct_size, so that later minors may grow the struct.
const crema_layer_ext* layer_extension(const crema_plugin& p, uint32_t i) {
  // NOLINTNEXTLINE(bugprone-sizeof-expression): the size of the pointer field itself is meant
  if (p.struct_size < offsetof(crema_plugin, layer_ext) + sizeof(p.layer_ext) || !p.layer_ext)
    return nullptr;
  const auto* base = reinterpret_cast<const unsigned char*>(p.layer_ext);
  const auto* ext =
      reinterpret_cast<const crema_layer_ext*>(base + size_t{i} * p.layer_ext->struct_size);
  return ext->struct_size >= offsetof(crema_layer_ext, cuda_math) + sizeof(uint32_t) ? ext
                                                                                     : nullptr;
}

// boost::dll reports only errno when dlopen fails ("Bad file descriptor"); dlerror() says why
// ("undefined symbol: foo", "invalid ELF header").
std::string load_error(const std::string& path, const boost::dll::fs::error_code& ec) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h) {
    ::dlclose(h);
    return ec.message();
  }
  const char* e = ::dlerror();
  return e ? e : ec.message();
}

bool world_writable(const std::string& path) {
  std::error_code ec;
  const fs::perms p = fs::status(path, ec).permissions();
  return !ec && (p & fs::perms::others_write) != fs::perms::none;
}

}  // namespace

void Registry::ensure_loaded() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->loaded) return;
  Impl& s = *impl_;
  const size_t first_new = s.infos.size();
  auto warn = [&](const std::string& w) {
    s.warnings.push_back(w);
    host_table()->log(CREMA_LOG_WARNING, s.warnings.back().c_str());
  };
  auto warn_writable = [&](const std::string& p, const char* what) {
    std::string w = p;
    w += ": plugin ";
    w += what;
    w +=
        " is writable by everyone: anyone on this machine could change what crema loads (chmod o-w ";
    w += p;
    w += ")";
    warn(w);
  };
  // The libraries named alone first, then each directory's.
  std::vector<std::vector<fs::path>> groups{{s.flag_files.begin(), s.flag_files.end()}};
  for (const std::string& dir : search_dirs()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".so") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (!files.empty() && world_writable(dir) && s.warned_dirs.insert(dir).second)
      warn_writable(dir, "directory");
    groups.push_back(std::move(files));
  }
  for (const std::vector<fs::path>& files : groups) {
    std::error_code ec;
    for (const fs::path& f : files) {
      // A path that cannot be resolved (a symlink loop) is named as found.
      std::string path = fs::weakly_canonical(f, ec).string();
      if (ec || path.empty()) path = f.string();
      if (!s.seen.insert(path).second) continue;
      auto refuse = [&](const std::string& why) { s.refusals.push_back({path, why}); };
      if (world_writable(path)) warn_writable(path, "file");
      boost::dll::shared_library lib;
      boost::dll::fs::error_code lec;
      // Bound now: a plugin calling a function nothing defines is refused here, naming it,
      // instead of dying with "symbol lookup error" when the call comes.
      lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, lec);
      if (lec) {
        refuse("cannot be loaded: " + load_error(path, lec));
        continue;
      }
      if (!lib.has(CREMA_ENTRY_SYMBOL)) {
        refuse(std::string("no '") + CREMA_ENTRY_SYMBOL + "' entry function: not a crema plugin");
        continue;
      }
      const crema_plugin* p = nullptr;
      try {
        auto entry = lib.get<const crema_plugin*(const crema_host*)>(CREMA_ENTRY_SYMBOL);
        p = entry(host_table());
      } catch (const std::exception& e) {
        refuse(std::string("entry function threw: ") + e.what());
        continue;
      } catch (...) {
        refuse("entry function threw an unknown exception");
        continue;
      }
      if (!p) {
        refuse("entry function refused to load: " + take_plugin_error());
        continue;
      }
      std::string why = check_descriptor(p);
      std::vector<std::string> warnings;
      if (why.empty()) why = s.schema->add_plugin(path, p, &warnings);
      if (why.empty()) {
        for (uint32_t i = 0; i < p->n_layers && why.empty(); ++i) {
          const crema_layer_desc& d = p->layers[i];
          std::string key = std::string(d.type) + "@" + std::to_string(d.layer_version);
          auto it = s.type_owner.find(key);
          if (it != s.type_owner.end())
            why = "layer type '" + std::string(d.type) + "' version " +
                  std::to_string(d.layer_version) + " is already provided by " + it->second;
        }
      }
      if (!why.empty()) {
        s.schema->remove_plugin(path);
        refuse(why);
        continue;
      }
      for (const std::string& w : warnings) {
        s.warnings.emplace_back(path).append(": ").append(w);
        host_table()->log(CREMA_LOG_WARNING, s.warnings.back().c_str());
      }
      s.libs.push_back(std::move(lib));
      PluginInfo info;
      info.path = path;
      info.name = p->name ? p->name : fs::path(path).stem().string();
      info.version = p->version ? p->version : "";
      for (uint32_t i = 0; i < p->n_layers; ++i) {
        info.types.push_back(p->layers[i].type);
        info.cuda = info.cuda || p->layers[i].forward_cuda != nullptr;
      }
      s.infos.push_back(info);
      s.plugins.push_back(info);
      for (uint32_t i = 0; i < p->n_layers; ++i) {
        const crema_layer_desc& d = p->layers[i];
        s.type_owner[std::string(d.type) + "@" + std::to_string(d.layer_version)] = path;
        LayerType type{&d, &s.infos.back()};
        if (const crema_layer_ext* ext = layer_extension(*p, i)) {
          type.cpu_math = ext->cpu_math & ~CREMA_DTYPE_BIT(CREMA_FLOAT32);
          type.cuda_math = ext->cuda_math & ~CREMA_DTYPE_BIT(CREMA_FLOAT32);
          if (ext->struct_size >= offsetof(crema_layer_ext, onnx_export) + sizeof(ext->onnx_export))
            type.onnx_export = ext->onnx_export;
          if (ext->struct_size >= offsetof(crema_layer_ext, cuda_storage) + sizeof(uint32_t)) {
            // fp16 blobs only on the GPU: a CPU has no fp16 arithmetic crema uses.
            type.cpu_storage = ext->cpu_storage & CREMA_DTYPE_BIT(CREMA_BFLOAT16);
            type.cuda_storage = ext->cuda_storage &
                                (CREMA_DTYPE_BIT(CREMA_BFLOAT16) | CREMA_DTYPE_BIT(CREMA_FLOAT16));
          }
          if (ext->struct_size >= offsetof(crema_layer_ext, cpu_layouts) + sizeof(uint32_t))
            type.cpu_layouts = ext->cpu_layouts & (CREMA_LAYOUT_CHANNELS_LAST | CREMA_LAYOUT_MIXED);
          if (ext->struct_size >=
              offsetof(crema_layer_ext, passes_gradient) + sizeof(ext->passes_gradient))
            type.passes_gradient = ext->passes_gradient;
        }
        s.types[d.type][d.layer_version] = type;
      }
    }
  }
  // The schema grows only with new plugins; the pools of earlier compositions stay alive for the
  // messages made from them.
  if (s.infos.size() > first_new || !s.schema->composed()) {
    std::string err = s.schema->compose();
    if (!err.empty()) throw std::runtime_error("composing plugin parameter schemas: " + err);
  }
  s.loaded = true;
}

const LayerType& Registry::find(const std::string& type_spec) {
  ensure_loaded();
  std::string type = type_spec;
  uint32_t version = 0;
  size_t at = type_spec.find('@');
  if (at != std::string::npos) {
    type = type_spec.substr(0, at);
    version = static_cast<uint32_t>(std::stoul(type_spec.substr(at + 1)));
  }
  auto it = impl_->types.find(type);
  if (it != impl_->types.end()) {
    if (version == 0) return it->second.rbegin()->second;
    auto v = it->second.find(version);
    if (v != it->second.end()) return v->second;
  }
  std::ostringstream os;
  os << "unknown layer type '" << type_spec << "': no plugin provides it.\n" << describe_search();
  throw std::runtime_error(os.str());
}

bool Registry::has(const std::string& type) {
  ensure_loaded();
  return impl_->types.count(type.substr(0, type.find('@'))) > 0;
}

std::vector<std::string> Registry::types() {
  ensure_loaded();
  std::vector<std::string> out;
  for (const auto& kv : impl_->types) out.push_back(kv.first);
  return out;
}

const std::vector<PluginInfo>& Registry::plugins() {
  ensure_loaded();
  return impl_->plugins;
}

const std::vector<Refusal>& Registry::refusals() {
  ensure_loaded();
  return impl_->refusals;
}

const std::vector<std::string>& Registry::warnings() {
  ensure_loaded();
  return impl_->warnings;
}

std::string Registry::describe_search() const {
  std::ostringstream os;
  os << "  searched:";
  auto dirs = search_dirs();
  if (dirs.empty()) os << " (no directories)";
  for (const auto& d : dirs) os << "\n    " << d;
  os << "\n  types found:";
  if (impl_->types.empty()) os << " (none)";
  for (const auto& kv : impl_->types) os << " " << kv.first;
  for (const auto& r : impl_->refusals) os << "\n  refused " << r.path << ": " << r.reason;
  os << "\n  (add directories with -plugin_dir DIR or CREMA_PLUGIN_PATH=DIR1:DIR2)";
  return os.str();
}

const crema_plugin* Registry::plugin_descriptor(const std::string& path) {
  ensure_loaded();
  std::error_code ec;
  return impl_->schema->plugin(fs::weakly_canonical(path, ec).string());
}

const gpb::DescriptorPool& Registry::pool() {
  ensure_loaded();
  return impl_->schema->pool();
}

const gpb::Descriptor* Registry::message_type(const std::string& core_name) {
  ensure_loaded();
  return impl_->schema->message_type(core_name);
}

gpb::DynamicMessageFactory& Registry::factory() {
  ensure_loaded();
  return impl_->schema->factory();
}

std::string Registry::param_schema(const LayerType& t) {
  ensure_loaded();
  if (!t.desc->param_field) return "";
  const gpb::Descriptor* layer = message_type("LayerParameter");
  const gpb::FieldDescriptor* f = layer->FindFieldByName(t.desc->param_field);
  if (!f || !f->message_type()) return "";
  return f->message_type()->DebugString();
}

}  // namespace crema
