// SPDX-License-Identifier: BSD-2-Clause
#include "schema_composer.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include "crema.pb.h"

namespace crema {

namespace gpb = google::protobuf;

namespace {

constexpr const char* kComposedPackage = "crema.composed";

// LayerParameter numbers: out-of-tree plugins take 10000 and up; below that only the blocks
// allocated to crema's own plugins in net_defs/FIELD_NUMBERS.md (docs/PLUGIN_ABI.md).
constexpr uint32_t kOutOfTreeFirst = 10000;
struct Allocated {
  uint32_t number;
  const char* field;
};
constexpr Allocated kInTreeBlocks[] = {{1100, "mnist_data_param"}, {1101, "cifar_data_param"}};

bool allocated_in_tree(uint32_t number, const std::string& field) {
  for (const Allocated& a : kInTreeBlocks)
    if (a.number == number && field == a.field) return true;
  return false;
}

struct CollectErrors : gpb::DescriptorPool::ErrorCollector {
  std::string text;
  void AddError(const std::string& filename, const std::string& element, const gpb::Message*,
                ErrorLocation, const std::string& message) override {
    if (!text.empty()) text += "; ";
    text += filename + ": " + element + ": " + message;
  }
};

gpb::FileDescriptorProto core_file() {
  gpb::FileDescriptorProto f;
  pb::NetParameter::descriptor()->file()->CopyTo(&f);
  return f;
}

struct Block {
  std::string field, message;  // message without leading dot
  uint32_t number;
  std::string path;
};

}  // namespace

struct SchemaComposer::Accepted {
  std::string path;
  const crema_plugin* plugin;
  std::vector<gpb::FileDescriptorProto> files;
  std::vector<Block> blocks;
};

SchemaComposer::SchemaComposer() = default;
SchemaComposer::~SchemaComposer() = default;

const crema_plugin* SchemaComposer::plugin(const std::string& path) const {
  for (const auto& a : accepted_)
    if (a->path == path) return a->plugin;
  return nullptr;
}

void SchemaComposer::remove_plugin(const std::string& path) {
  for (auto it = accepted_.begin(); it != accepted_.end(); ++it)
    if ((*it)->path == path) {
      accepted_.erase(it);
      return;
    }
}

std::string SchemaComposer::add_plugin(const std::string& path, const crema_plugin* p,
                                       std::vector<std::string>* warnings) {
  auto acc = std::make_unique<Accepted>();
  acc->path = path;
  acc->plugin = p;
  // 1. The plugin's own files must build on top of the core and the plugins accepted before.
  gpb::DescriptorPool scratch;
  CollectErrors errors;
  scratch.BuildFileCollectingErrors(core_file(), &errors);
  for (const auto& a : accepted_)
    for (const auto& f : a->files) scratch.BuildFile(f);
  if (p->schema && p->schema_size) {
    gpb::FileDescriptorSet set;
    if (!set.ParseFromArray(p->schema, static_cast<int>(p->schema_size)))
      return "its parameter schema is not a serialized FileDescriptorSet";
    for (const auto& f : set.file()) {
      if (f.name() == "crema.proto") continue;  // imported, provided by the host
      if (scratch.FindFileByName(f.name()))
        return "its schema file '" + f.name() + "' is already defined (by the core or a plugin)";
      if (!scratch.BuildFileCollectingErrors(f, &errors))
        return "its parameter schema does not build: " + errors.text;
      acc->files.push_back(f);
    }
  }
  // 2. Each parameter block: a core block, or a new field whose name and number are free.
  const gpb::Descriptor* core_layer = pb::LayerParameter::descriptor();
  for (uint32_t i = 0; i < p->n_layers; ++i) {
    const crema_layer_desc& d = p->layers[i];
    if (!d.param_field) continue;
    std::string field = d.param_field;
    const gpb::FieldDescriptor* core = core_layer->FindFieldByName(field);
    if (d.param_field_number == 0) {
      if (!core)
        return "layer type '" + std::string(d.type) + "' reads '" + field +
               "', which the core schema lacks, and gives no field number or message for it";
      continue;
    }
    if (core)
      return "layer type '" + std::string(d.type) + "': block '" + field +
             "' is already a core field of LayerParameter";
    // As compose() converts it: a number past int (never a valid field number) finds no core
    // field here and fails compose()'s build.
    if (const gpb::FieldDescriptor* taken =
            core_layer->FindFieldByNumber(static_cast<int>(d.param_field_number)))
      return "layer type '" + std::string(d.type) + "': field number " +
             std::to_string(d.param_field_number) + " is taken by core field '" + taken->name() +
             "'";
    std::string message = d.param_message;
    if (!message.empty() && message[0] == '.') message = message.substr(1);
    if (!scratch.FindMessageTypeByName(message))
      return "layer type '" + std::string(d.type) + "': its parameter message '" + message +
             "' is not in its schema";
    for (const auto& a : accepted_)
      for (const Block& b : a->blocks) {
        bool same = b.field == field && b.number == d.param_field_number && b.message == message;
        if (same) continue;
        if (b.field == field || b.number == d.param_field_number)
          return "layer type '" + std::string(d.type) + "': block '" + field +
                 "' = " + std::to_string(d.param_field_number) + " collides with '" + b.field +
                 "' = " + std::to_string(b.number) + " of " + b.path;
      }
    bool dup = false;
    for (const Block& b : acc->blocks) dup = dup || b.field == field;
    if (dup) continue;
    acc->blocks.push_back({field, message, d.param_field_number, path});
    if (warnings && d.param_field_number < kOutOfTreeFirst &&
        !allocated_in_tree(d.param_field_number, field))
      warnings->push_back(
          "layer type '" + std::string(d.type) + "': block '" + field +
          "' takes LayerParameter field number " + std::to_string(d.param_field_number) +
          ", free today, but plugins outside crema take " + std::to_string(kOutOfTreeFirst) +
          " and up (docs/PLUGIN_ABI.md, net_defs/FIELD_NUMBERS.md): lower "
          "numbers belong to the core and crema's own plugins");
  }
  accepted_.push_back(std::move(acc));
  return "";
}

std::string SchemaComposer::compose() {
  if (pool_) {
    retired_factories_.push_back(std::move(factory_));
    retired_pools_.push_back(std::move(pool_));
  }
  pool_ = std::make_unique<gpb::DescriptorPool>();
  CollectErrors errors;
  gpb::FileDescriptorProto core = core_file();
  if (!pool_->BuildFileCollectingErrors(core, &errors)) return errors.text;
  gpb::FileDescriptorProto composed;
  composed.set_name("crema_composed.proto");
  composed.set_package(kComposedPackage);
  composed.set_syntax(core.syntax());
  composed.add_dependency(core.name());
  for (const auto& a : accepted_)
    for (const auto& f : a->files) {
      if (!pool_->BuildFileCollectingErrors(f, &errors)) return errors.text;
      composed.add_dependency(f.name());
    }
  const std::string composed_prefix = std::string(".") + kComposedPackage + ".";
  for (const auto& m : core.message_type()) {
    if (m.name() != "NetParameter" && m.name() != "LayerParameter" && m.name() != "SolverParameter")
      continue;
    gpb::DescriptorProto* copy = composed.add_message_type();
    *copy = m;
    copy->clear_nested_type();  // nested types stay in crema.pb and are referenced from there
    copy->clear_enum_type();
    for (auto& f : *copy->mutable_field()) {
      if (f.type_name() == ".crema.pb.LayerParameter")
        f.set_type_name(composed_prefix + "LayerParameter");
      if (f.type_name() == ".crema.pb.NetParameter")
        f.set_type_name(composed_prefix + "NetParameter");
    }
    if (m.name() == "LayerParameter")
      for (const auto& a : accepted_)
        for (const Block& b : a->blocks) {
          bool present = false;
          for (const auto& f : copy->field()) present = present || f.name() == b.field;
          if (present) continue;
          gpb::FieldDescriptorProto* f = copy->add_field();
          f->set_name(b.field);
          f->set_number(static_cast<int>(b.number));
          f->set_label(gpb::FieldDescriptorProto::LABEL_OPTIONAL);
          f->set_type(gpb::FieldDescriptorProto::TYPE_MESSAGE);
          f->set_type_name("." + b.message);
        }
  }
  // Extension ranges and the nested-type references of the copies still resolve to crema.pb.
  if (!pool_->BuildFileCollectingErrors(composed, &errors)) return errors.text;
  factory_ = std::make_unique<gpb::DynamicMessageFactory>(pool_.get());
  return "";
}

const gpb::Descriptor* SchemaComposer::message_type(const std::string& core_name) const {
  const gpb::Descriptor* d =
      pool_->FindMessageTypeByName(std::string(kComposedPackage) + "." + core_name);
  return d ? d : pool_->FindMessageTypeByName("crema.pb." + core_name);
}

}  // namespace crema
