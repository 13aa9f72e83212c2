// SPDX-License-Identifier: BSD-2-Clause
// A solver definition as crema reads one: TextFormat against the composed schema, then the
// legacy upgrades (solver_type, inline nets in the old formats).
#include <cstddef>
#include <cstdint>
#include <string>

#include "crema/core/host.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crema::set_num_threads(1);
  crema::fuzz::quiet_protobuf();
  crema::Registry::global().types();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return crema::fuzz::guarded(
      [&] { crema::parse_solver_text(text, "<fuzz>", crema::Registry::global()); });
}
