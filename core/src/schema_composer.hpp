// SPDX-License-Identifier: BSD-2-Clause
// Composes the core schema with the parameter messages plugins ship, so that the prototxt parser
// accepts `swish_param { beta: 1.5 }` although the core was compiled without it.
//
// The composed pool holds crema.proto unchanged, every plugin's own .proto files, and one more
// file, package crema.composed, with copies of NetParameter, LayerParameter and SolverParameter
// in which LayerParameter gains one field per plugin block. Field numbers are untouched, so a
// composed message serialises to bytes the generated crema::pb classes read (plugin blocks are
// kept there as unknown fields) and Caffe reads.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crema/plugin_abi.h"

namespace google::protobuf {
class DescriptorPool;
class Descriptor;
class DynamicMessageFactory;
class FileDescriptorProto;
}  // namespace google::protobuf

namespace crema {

class SchemaComposer {
 public:
  SchemaComposer();
  ~SchemaComposer();
  // Checks a plugin's schema and blocks against the core and the plugins accepted so far.
  // Returns "" when accepted, else the reason to refuse it; what is accepted but questionable
  // (a field number outside the plugin ranges) goes to `warnings`.
  std::string add_plugin(const std::string& path, const crema_plugin* plugin,
                         std::vector<std::string>* warnings = nullptr);
  void remove_plugin(const std::string& path);
  const crema_plugin* plugin(const std::string& path) const;
  // Builds the composed pool; "" on success. The pool and factory of an earlier composition stay
  // alive (messages made from them live on in layers created before a rescan).
  std::string compose();
  bool composed() const { return pool_ != nullptr; }

  const google::protobuf::DescriptorPool& pool() const { return *pool_; }
  const google::protobuf::Descriptor* message_type(const std::string& core_name) const;
  google::protobuf::DynamicMessageFactory& factory() const { return *factory_; }

 private:
  struct Accepted;
  std::vector<std::unique_ptr<Accepted>> accepted_;
  // Declared pools first: a factory goes before the pool it reads from.
  std::vector<std::unique_ptr<google::protobuf::DescriptorPool>> retired_pools_;
  std::vector<std::unique_ptr<google::protobuf::DynamicMessageFactory>> retired_factories_;
  std::unique_ptr<google::protobuf::DescriptorPool> pool_;
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory_;
};

}  // namespace crema
