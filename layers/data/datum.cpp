// SPDX-License-Identifier: BSD-2-Clause
// Wire format: https://protobuf.dev/programming-guides/encoding/ -- each field is a varint key
// (number << 3 | wire type) and a payload: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
#include "datum.hpp"

#include <cstring>

#include "crema/layer.hpp"

namespace crema::data {

namespace {

struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  size_t offset(const uint8_t* base) const { return static_cast<size_t>(p - base); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      CREMA_CHECK(p < end, "malformed Datum: a varint runs past the end");
      const uint8_t b = *p++;
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    throw crema::Error("malformed Datum: a varint is longer than 10 bytes");
  }
  const uint8_t* take(uint64_t n) {
    CREMA_CHECK(n <= static_cast<uint64_t>(end - p),
                "malformed Datum: a field of " << n << " bytes runs past the end");
    const uint8_t* start = p;
    p += n;
    return start;
  }
  float fixed32_float() {
    float f;
    std::memcpy(&f, take(4), 4);  // little-endian on the wire and on every host crema runs on
    return f;
  }
};

}  // namespace

void decode_datum(const uint8_t* bytes, size_t size, DatumView& out) {
  std::vector<float> keep = std::move(out.float_data);  // keep its capacity
  keep.clear();
  out = DatumView{};
  out.float_data = std::move(keep);
  Cursor c{bytes, bytes + size};
  while (c.p < c.end) {
    const size_t at = c.offset(bytes);
    const uint64_t key = c.varint();
    const uint64_t field = key >> 3;
    const int wire = static_cast<int>(key & 7);
    auto expect = [&](int want) {
      CREMA_CHECK(wire == want, "malformed Datum: field " << field << " at byte " << at
                                                          << " has wire type " << wire
                                                          << ", expected " << want);
    };
    switch (field) {
      case 1: case 2: case 3: case 5: {
        expect(0);
        const auto v = static_cast<int32_t>(c.varint());  // int32: negatives are 10-byte varints
        (field == 1 ? out.channels : field == 2 ? out.height : field == 3 ? out.width : out.label) = v;
        break;
      }
      case 4: {
        expect(2);
        out.data_size = static_cast<size_t>(c.varint());
        out.data = c.take(out.data_size);
        break;
      }
      case 6:
        if (wire == 5) {
          out.float_data.push_back(c.fixed32_float());
        } else {
          expect(2);
          const uint64_t n = c.varint();
          CREMA_CHECK(n % 4 == 0, "malformed Datum: packed float_data of " << n << " bytes");
          for (uint64_t i = 0; i < n / 4; ++i) out.float_data.push_back(c.fixed32_float());
        }
        break;
      case 7:
        expect(0);
        out.encoded = c.varint() != 0;
        break;
      default:  // not ours: skip it
        CREMA_CHECK(field != 0, "malformed Datum: field number 0 at byte " << at);
        if (wire == 0) c.varint();
        else if (wire == 1) c.take(8);
        else if (wire == 2) c.take(c.varint());
        else if (wire == 5) c.take(4);
        else CREMA_CHECK(false, "malformed Datum: wire type " << wire << " at byte " << at);
    }
  }
}

}  // namespace crema::data
