// SPDX-License-Identifier: BSD-2-Clause
// Deliberately broken plugins, one per shared library (BROKEN_KIND selects which), for the
// loader tests: each must be refused or fail with a message, never crash the host. A few are
// well-formed but odd, for what the loader and the harness must tolerate or say: a block number
// below the plugin range (11), an entry function that counts its calls (12), a descriptor as a
// plugin built before ABI 1.2 writes it (13). Some take the process down, for the host's
// isolation and crash reports: a call of a function nothing defines (14), an entry function that
// segfaults (15), a forward that segfaults (16), calls exit(3) (17) or never returns (18).
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "crema/layer.hpp"

#if BROKEN_KIND == 14  // linked with its undefined symbols left unresolved (CMakeLists.txt)
extern "C" void crema_test_defined_nowhere();
#endif

// A valid little layer (y = x) that the broken variants below bend.
class Echo final : public crema::Layer<Echo> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{ECHO_TYPE};
#if BROKEN_KIND == 9 || BROKEN_KIND == 10
    i.flags = CREMA_LAYER_IN_PLACE;
#endif
    return i;
  }
  explicit Echo(const crema::Params&) {
#if BROKEN_KIND == 6
    throw std::runtime_error("Echo refuses to be created");
#endif
  }
#if BROKEN_KIND == 9  // forgets to set its top's shape
  void reshape(crema::Context&) {}
#elif BROKEN_KIND == 10  // runs in place but gives its top another shape than the bottom's
  void reshape(crema::Context& c) { c.top(0).set_shape({c.bottom(0).count()}); }
#else
  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }
#endif
#if BROKEN_KIND == 13 || BROKEN_KIND >= 16
  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Echo'", "2,3"}, { "type: 'Echo'", "4" }};
  }
#endif
  void forward_cpu(crema::Context& c) {
#if BROKEN_KIND == 7
    (void)c;
    throw std::runtime_error("Echo failed in forward on purpose");
#elif BROKEN_KIND == 14
    (void)c;
    crema_test_defined_nowhere();
#elif BROKEN_KIND == 16
    (void)c;
    volatile int* volatile nowhere = nullptr;  // a store the compiler must make
    *nowhere = 1;
#elif BROKEN_KIND == 17
    (void)c;
    std::exit(3);
#elif BROKEN_KIND == 18
    (void)c;
    volatile bool forever = true;
    while (forever) {
    }
#else
    for (int64_t i = 0; i < c.bottom(0).count(); ++i) c.top(0).data()[i] = c.bottom(0).data()[i];
#endif
  }
};

#if BROKEN_KIND == 1  // wrong ABI major
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(
    const crema_host* h) {
  static crema_plugin p = *crema::detail::make_plugin<Echo>(h, "wrong_abi", "1.0.0");
  p.abi_major = CREMA_ABI_MAJOR + 1;
  return &p;
}
#elif BROKEN_KIND == 2   // needs a newer minor than the host has
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(
    const crema_host* h) {
  static crema_plugin p = *crema::detail::make_plugin<Echo>(h, "too_new", "1.0.0");
  p.abi_minor_required = CREMA_ABI_MINOR + 5;
  return &p;
}
#elif BROKEN_KIND == 3   // no entry function at all
extern "C" __attribute__((visibility("default"))) int not_a_plugin() { return 42; }
#elif BROKEN_KIND == 4   // the entry function throws
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(
    const crema_host*) {
  throw std::runtime_error("entry exploded");
}
#elif BROKEN_KIND == 5   // a schema that is not a FileDescriptorSet
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(
    const crema_host* h) {
  static const unsigned char garbage[] = {0xff, 0xff, 0xff, 0x01, 0x02};
  static crema_plugin p = *crema::detail::make_plugin<Echo>(h, "bad_schema", "1.0.0");
  p.schema = garbage;
  p.schema_size = sizeof(garbage);
  return &p;
}
#elif BROKEN_KIND == 8   // claims a parameter block the core lacks, without a schema
class NoSchema final : public crema::Layer<NoSchema> {
 public:
  static crema::LayerInfo info() { return crema::LayerInfo{"NoSchema", "no_schema_param"}; }
  explicit NoSchema(const crema::Params&) {}
  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }
  void forward_cpu(crema::Context&) {}
};
CREMA_EXPORT_PLUGIN("no_schema", "1.0.0", NoSchema)
#elif BROKEN_KIND == 11  // a parameter block numbered below the out-of-tree range
class LowNumber final : public crema::Layer<LowNumber> {
 public:
  static crema::LayerInfo info() {
    return crema::LayerInfo{"LowNumber", "low_number_param", 777, "crema.test.LowNumberParameter"};
  }
  explicit LowNumber(const crema::Params& p) : x_(p.get<float>("low_number_param.x")) {}
  void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }
  void forward_cpu(crema::Context& c) {
    for (int64_t i = 0; i < c.bottom(0).count(); ++i)
      c.top(0).data()[i] = x_ * c.bottom(0).data()[i];
  }

 private:
  float x_;
};
CREMA_EXPORT_PLUGIN("low_number", "1.0.0", LowNumber)
#elif BROKEN_KIND == 12  // well-formed; its version counts the calls of its entry function
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(
    const crema_host* h) {
  static int calls = 0;
  static std::string version;
  version = "1.0." + std::to_string(++calls);
  return crema::detail::make_plugin<Echo>(h, "counted", version.c_str());
}
#elif BROKEN_KIND == 13  // a descriptor as a minor-1 plugin writes it: no test settings
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(
    const crema_host* h) {
  static crema_plugin p = *crema::detail::make_plugin<Echo>(h, "old_minor", "1.0.0");
  p.struct_size = offsetof(crema_plugin, test_settings);
  // Never read: a non-null address no object has, for a read of it to fault.
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the invalid integer address is the point
  p.test_settings = reinterpret_cast<const crema_test_settings*>(uintptr_t{1});
  return &p;
}
#elif BROKEN_KIND == 15  // the entry function segfaults
extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry(
    const crema_host*) {
  const crema_plugin* volatile nowhere = nullptr;
  return nowhere + nowhere->struct_size;
}
#else  // 0, 6, 7, 9, 10, 14, 16-18: well-formed descriptors (all but 0 fail later)
CREMA_EXPORT_PLUGIN("echo", "1.0.0", Echo)
#endif
