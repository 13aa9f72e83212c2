// SPDX-License-Identifier: BSD-2-Clause
// A net definition as crema reads one: TextFormat against the composed schema (every plugin's
// parameter block), the legacy upgrades, then what is done to the graph before any memory
// exists: the wiring checks, the phase filters and the Split insertion.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crema/core/host.hpp"
#include "crema/core/net_wiring.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crema::set_num_threads(1);
  crema::fuzz::quiet_protobuf();
  crema::Registry::global().types();  // load the plugins once, outside the measured runs
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return crema::fuzz::guarded([&] {
    const crema::pb::NetParameter net =
        crema::parse_net_text(text, "<fuzz>", crema::Registry::global());
    for (crema::pb::Phase phase : {crema::pb::TRAIN, crema::pb::TEST}) {
      crema::pb::NetState state;
      state.set_phase(phase);
      const crema::pb::NetParameter kept = crema::filter_net(net, state);
      try {
        crema::check_wiring(kept, "<fuzz>");
      } catch (const std::exception&) {
        continue;
      }
      crema::insert_splits(kept);
    }
  });
}
