// SPDX-License-Identifier: BSD-2-Clause
// A decoder for Caffe's Datum (crema.proto) in the protobuf wire format, written by hand
// because plugins must not link libprotobuf:
//   1 channels, 2 height, 3 width, 5 label: int32 varints; 4 data: bytes; 6 float_data:
//   repeated float (fixed32, unpacked as Caffe writes it, or packed); 7 encoded: bool.
// Unknown fields are skipped; the last value of a repeated scalar wins, as in protobuf.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crema::data {

struct DatumView {
  int32_t channels = 0, height = 0, width = 0, label = 0;
  bool encoded = false;
  const uint8_t* data = nullptr;  // points into the decoded buffer
  size_t data_size = 0;
  std::vector<float> float_data;  // reused between records
};

// Throws crema::Error("malformed Datum: ...") on input that is not a Datum.
void decode_datum(const uint8_t* bytes, size_t size, DatumView& out);

}  // namespace crema::data
