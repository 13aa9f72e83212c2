// SPDX-License-Identifier: BSD-2-Clause
// A .caffemodel as crema reads one: read_weights_file (the binary NetParameter and its legacy
// upgrades) on the input written to a file, then copy_trained_layers_from into a small net built
// once (require_all on inputs of even length). Every blob's shape and count must be checked
// before anything is copied.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "crema/core/host.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "fuzz_support.hpp"

namespace {
std::unique_ptr<crema::Net> net;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crema::set_num_threads(1);
  crema::fuzz::quiet_protobuf();
  net = std::make_unique<crema::Net>(
      crema::parse_net_text(crema::fuzz::kWeightsNet, "<fuzz net>", crema::Registry::global()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = crema::fuzz::scratch().write("weights.caffemodel", data, size);
  return crema::fuzz::guarded([&] {
    const crema::pb::NetParameter weights = crema::read_weights_file(path);
    net->copy_trained_layers_from(weights, /*require_all=*/size % 2 == 0);
  });
}
