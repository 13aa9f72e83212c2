// SPDX-License-Identifier: BSD-2-Clause
// Finds, loads and validates layer plugins, and owns the composed parameter schema.
//
// Search order: directories added with add_search_dir() (the -plugin_dir flag), then
// CREMA_PLUGIN_PATH (colon-separated), then lib/crema/plugins relative to the running executable.
// The current directory is never searched unless named. Every *.so there is opened once, on the
// first request; a library that fails any check is refused with its reason and never used. Adding
// or naming directories later rescans: libraries not seen before are opened, and nothing accepted
// is ever dropped (live layers hold their LayerType), so types found earlier stay found.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "crema/plugin_abi.h"

namespace google::protobuf {
class DescriptorPool;
class Descriptor;
class DynamicMessageFactory;
}  // namespace google::protobuf

namespace crema {

struct PluginInfo {
  std::string path;
  std::string name, version;
  std::vector<std::string> types;
  bool cpu = true, cuda = false;
};

struct LayerType {
  const crema_layer_desc* desc;
  const PluginInfo* plugin;
  // Math types besides fp32 per path (CREMA_DTYPE_BIT masks; crema_layer_ext, ABI minor 3).
  uint32_t cpu_math = 0, cuda_math = 0;
  // Storage types besides fp32 per path (crema_layer_ext, ABI minor 5): bf16 on the CPU, bf16
  // and fp16 on the GPU.
  uint32_t cpu_storage = 0, cuda_storage = 0;
  // Memory orders besides N,C,H,W the CPU path takes (crema_layer_ext, ABI minor 6).
  uint32_t cpu_layouts = 0;
  // The layer's ONNX form for crema export (crema_layer_ext, ABI minor 3), or nullptr.
  int32_t (*onnx_export)(void* self, const crema_io* io, const crema_onnx_graph** graph) = nullptr;
  // The bottoms whose gradient is top 0's unchanged (crema_layer_ext, ABI minor 8), or nullptr.
  uint32_t (*passes_gradient)(void* self) = nullptr;
};

struct Refusal {
  std::string path, reason;
};

class Registry {
 public:
  static Registry& global();
  Registry();
  ~Registry();

  // Before the first lookup; later calls rescan (adding what the new directory holds).
  void add_search_dir(const std::string& dir);
  // Only these directories (tests and tools that must not see the default ones): from now on;
  // plugins already loaded from other directories stay.
  void set_search_dirs(const std::vector<std::string>& dirs, bool use_defaults);
  // One library alone, loaded before the directories' (crema check-plugin: not its siblings).
  void add_plugin_file(const std::string& path);
  std::vector<std::string> search_dirs() const;

  // The layer type, at the highest version or the pinned one ("Swish@2"). Throws with the types
  // found, the directories searched and the libraries refused when none provides it.
  const LayerType& find(const std::string& type);
  bool has(const std::string& type);
  std::vector<std::string> types();
  const std::vector<PluginInfo>& plugins();
  const std::vector<Refusal>& refusals();
  // What the loader accepted but warned about (once, when it loaded the library), path first.
  const std::vector<std::string>& warnings();
  std::string describe_search() const;  // for error messages
  // The descriptor of an accepted plugin library (by canonical path), or nullptr.
  const crema_plugin* plugin_descriptor(const std::string& path);

  // The core schema composed with every plugin's parameter blocks.
  const google::protobuf::DescriptorPool& pool();
  const google::protobuf::Descriptor* message_type(const std::string& core_name);
  google::protobuf::DynamicMessageFactory& factory();
  // The text form of a layer's parameter message, for `crema plugins`.
  std::string param_schema(const LayerType& t);

 private:
  void ensure_loaded();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crema
