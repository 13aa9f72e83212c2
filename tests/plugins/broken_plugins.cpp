// SPDX-License-Identifier: BSD-2-Clause
// Deliberately broken plugins, one per shared library (BROKEN_KIND selects which), for the
// loader tests: each must be refused or fail with a message, never crash the host.
#include <stdexcept>

#include "crema/layer.hpp"

// A valid little layer (y = x) that the broken variants below bend.
class Echo final : public crema::Layer<Echo> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{ECHO_TYPE};
    return i;
  }
  explicit Echo(const crema::Params&) {
#if BROKEN_KIND == 6
    throw std::runtime_error("Echo refuses to be created");
#endif
  }
  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }
  void forward_cpu(crema::Context& c) {
#if BROKEN_KIND == 7
    (void)c;
    throw std::runtime_error("Echo failed in forward on purpose");
#else
    for (int64_t i = 0; i < c.bottom(0).count(); ++i) c.top(0).data()[i] = c.bottom(0).data()[i];
#endif
  }
};

#if BROKEN_KIND == 1  // wrong ABI major
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(const crema_host* h) {
  static crema_plugin p = *crema::detail::make_plugin<Echo>(h, "wrong_abi", "1.0.0");
  p.abi_major = CREMA_ABI_MAJOR + 1;
  return &p;
}
#elif BROKEN_KIND == 2  // needs a newer minor than the host has
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(const crema_host* h) {
  static crema_plugin p = *crema::detail::make_plugin<Echo>(h, "too_new", "1.0.0");
  p.abi_minor_required = CREMA_ABI_MINOR + 5;
  return &p;
}
#elif BROKEN_KIND == 3  // no entry function at all
extern "C" __attribute__((visibility("default"))) int not_a_plugin() { return 42; }
#elif BROKEN_KIND == 4  // the entry function throws
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(const crema_host*) {
  throw std::runtime_error("entry exploded");
}
#elif BROKEN_KIND == 5  // a schema that is not a FileDescriptorSet
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(const crema_host* h) {
  static const unsigned char garbage[] = {0xff, 0xff, 0xff, 0x01, 0x02};
  static crema_plugin p = *crema::detail::make_plugin<Echo>(h, "bad_schema", "1.0.0");
  p.schema = garbage;
  p.schema_size = sizeof(garbage);
  return &p;
}
#elif BROKEN_KIND == 8  // claims a parameter block the core lacks, without a schema
class NoSchema final : public crema::Layer<NoSchema> {
 public:
  static crema::LayerInfo info() { return crema::LayerInfo{"NoSchema", "no_schema_param"}; }
  explicit NoSchema(const crema::Params&) {}
  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }
  void forward_cpu(crema::Context&) {}
};
CREMA_EXPORT_PLUGIN("no_schema", "1.0.0", NoSchema)
#else  // 0, 6, 7: well-formed (6 and 7 fail later, in create and forward)
CREMA_EXPORT_PLUGIN("echo", "1.0.0", Echo)
#endif
