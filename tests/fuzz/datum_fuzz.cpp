// SPDX-License-Identifier: BSD-2-Clause
// One LMDB record's value as the Data layer decodes it: decode_datum on the bytes, twice into
// the same view (the layer reuses it from record to record).
#include <cstddef>
#include <cstdint>

#include "datum.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static crema::data::DatumView view;
  return crema::fuzz::guarded([&] {
    crema::data::decode_datum(data, size, view);
    // What the layer reads of a decoded record: every pixel byte must lie in the input.
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < view.data_size; ++i) sum = sum + view.data[i];
    crema::data::decode_datum(data, size, view);
  });
}
