// SPDX-License-Identifier: BSD-2-Clause
// A CIFAR binary file as load_cifar reads it (plain or gzip). The first input byte picks the
// format (bit 0: CIFAR-100, bit 1: its coarse labels) and the image limit (bits 2-3: 0..3,
// 0: all); the rest is the file.
#include <cstddef>
#include <cstdint>

#include "datasets.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  crema::data::CifarFormat format;
  format.cifar100 = data[0] & 1;
  format.coarse = data[0] & 2;
  const int64_t limit = (data[0] >> 2) & 3;
  const std::string path = crema::fuzz::scratch().write("batch.bin", data + 1, size - 1);
  return crema::fuzz::guarded([&] { crema::data::load_cifar({path}, format, limit); });
}
