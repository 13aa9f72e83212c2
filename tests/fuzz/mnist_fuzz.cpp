// SPDX-License-Identifier: BSD-2-Clause
// An MNIST split as load_mnist reads it: the images and the labels idx files (plain or gzip).
// The input is one byte of max_images (0..3; 0: all), a little-endian 16-bit length L, the
// labels file (its first L bytes, or what is left) and the images file (the rest).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "datasets.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const int64_t max_images = data[0] % 4;
  const size_t labels_size = std::min<size_t>(data[1] | (size_t{data[2]} << 8), size - 3);
  const crema::fuzz::Scratch& scratch = crema::fuzz::scratch();
  const std::string labels = scratch.write("labels-idx1-ubyte", data + 3, labels_size);
  const std::string images =
      scratch.write("images-idx3-ubyte", data + 3 + labels_size, size - 3 - labels_size);
  return crema::fuzz::guarded([&] { crema::data::load_mnist(images, labels, max_images); });
}
