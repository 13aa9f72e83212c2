// SPDX-License-Identifier: BSD-2-Clause
// idx format (http://yann.lecun.com/exdb/mnist/): big-endian int32 magic 0x00000803 (unsigned
// bytes, 3 dims), count, rows, cols, then count*rows*cols pixels; labels: magic 0x00000801,
// count, then count bytes.
#include <algorithm>
#include <cstdio>

#include "crema/layer.hpp"
#include "datasets.hpp"
#include "file_io.hpp"

namespace crema::data {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803, kLabelsMagic = 0x00000801;

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string find_idx(const std::string& dir, const std::string& split, const std::string& kind,
                     const std::string& idx) {
  const std::string prefix = split == "test" ? "t10k" : split;
  const std::string stem = dir + "/" + prefix + "-" + kind;
  std::string tried;
  for (const char* sep : {"-", "."})
    for (const char* ext : {"", ".gz"}) {
      std::string path = (stem + sep).append(idx).append("-ubyte").append(ext);
      if (file_exists(path)) return path;
      tried += (tried.empty() ? "" : ", ") + path;
    }
  throw crema::Error("no MNIST " + kind + " file for split '" + split + "': tried " + tried);
}

// The dimensions in the header of an idx file of unsigned bytes with `ndims` dimensions.
std::vector<uint32_t> read_header(InputFile& f, uint32_t magic, int ndims, const char* what) {
  uint8_t buf[16];
  f.read_exact(buf, 4 * static_cast<size_t>(ndims + 1), std::string("the idx header of ") + what);
  CREMA_CHECK(read_be32(buf) == magic, f.path() << ": magic number " << hex(read_be32(buf))
                                                << ", expected " << hex(magic) << " (idx file of "
                                                << what << ")");
  std::vector<uint32_t> dims;
  dims.reserve(ndims);
  for (int d = 0; d < ndims; ++d) dims.push_back(read_be32(buf + 4 * static_cast<size_t>(d + 1)));
  return dims;
}

}  // namespace

std::pair<std::string, std::string> find_mnist_files(const std::string& dir,
                                                     const std::string& split) {
  return {find_idx(dir, split, "images", "idx3"), find_idx(dir, split, "labels", "idx1")};
}

ImageSet load_mnist(const std::string& images_path, const std::string& labels_path,
                    int64_t max_images) {
  InputFile images(images_path), labels(labels_path);
  std::vector<uint32_t> d = read_header(images, kImagesMagic, 3, "images (count, rows, cols)");
  std::vector<uint32_t> l = read_header(labels, kLabelsMagic, 1, "labels (count)");
  CREMA_CHECK(d[1] >= 1 && d[1] <= 4096 && d[2] >= 1 && d[2] <= 4096,
              images_path << ": images of " << d[1] << "x" << d[2]
                          << " pixels, expected 1..4096 rows and columns (28x28 for MNIST)");
  CREMA_CHECK(d[0] == l[0], images_path << " holds " << d[0] << " images but " << labels_path
                                        << " holds " << l[0] << " labels: expected the same count");
  CREMA_CHECK(d[0] > 0, images_path << " holds no images");
  const int64_t n = max_images > 0 ? std::min<int64_t>(max_images, d[0]) : int64_t{d[0]};
  ImageSet set;
  set.channels = 1;
  set.height = static_cast<int>(d[1]);
  set.width = static_cast<int>(d[2]);
  // Read as the data arrives: a header claiming 2^31 images in a small file is refused as
  // truncated, not allocated first.
  images.read_exact_growing(set.pixels, static_cast<size_t>(n * set.image_bytes()),
                            std::to_string(n) + " images of " + std::to_string(d[1]) + "x" +
                                std::to_string(d[2]) + " (header: " + std::to_string(d[0]) +
                                " images)");
  std::vector<uint8_t> bytes;
  labels.read_exact_growing(bytes, static_cast<size_t>(n),
                            std::to_string(n) + " labels (header: " + std::to_string(l[0]) +
                                " labels)");
  set.labels.assign(bytes.begin(), bytes.end());
  return set;
}

}  // namespace crema::data
