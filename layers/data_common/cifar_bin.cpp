// SPDX-License-Identifier: BSD-2-Clause
// CIFAR binary version (https://www.cs.toronto.edu/~kriz/cifar.html): files are concatenated
// records of 1 label byte (CIFAR-10) or 2 (CIFAR-100: coarse, fine) and 3072 pixel bytes, the
// red, green and blue 32x32 planes, row-major.
#include <algorithm>

#include "crema/layer.hpp"
#include "datasets.hpp"
#include "file_io.hpp"

namespace crema::data {

namespace {

// Appends the records of one file, up to `limit` images in the set (0: no limit).
void read_cifar_file(const std::string& path, const CifarFormat& f, int64_t limit, ImageSet& set) {
  std::vector<uint8_t> bytes = InputFile(path).read_all();
  const size_t rec = static_cast<size_t>(f.record());
  CREMA_CHECK(!bytes.empty() && bytes.size() % rec == 0,
              path << " is truncated or not " << f.name() << ": " << bytes.size()
                   << " bytes is not a whole number of " << rec << "-byte records ("
                   << f.label_bytes() << " label byte(s) + 3072 pixels)");
  int64_t n = static_cast<int64_t>(bytes.size() / rec);
  if (limit > 0) n = std::min(n, limit - set.size());
  set.pixels.reserve(set.pixels.size() + static_cast<size_t>(n) * 3072);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes.data() + i * rec;
    const int label = f.cifar100 && !f.coarse ? r[1] : r[0];
    CREMA_CHECK(label < f.classes(), path << ": record " << i << " has label " << label
                                          << ", expected 0.." << f.classes() - 1 << " for "
                                          << f.name() << " (wrong format?)");
    set.labels.push_back(static_cast<float>(label));
    set.pixels.insert(set.pixels.end(), r + f.label_bytes(), r + rec);
  }
}

}  // namespace

std::vector<std::string> cifar_files(const std::string& source, const std::string& split,
                                     const CifarFormat& f) {
  CREMA_CHECK(!source.empty(), "no CIFAR source given");
  if (!is_directory(source)) return {source};  // one file; InputFile names it if it is missing
  CREMA_CHECK(split == "train" || split == "test",
              "the CIFAR split is 'train' or 'test', not '" << split << "'");
  std::vector<std::string> names;
  if (f.cifar100) names = {split == "train" ? "train.bin" : "test.bin"};
  else if (split == "test") names = {"test_batch.bin"};
  else
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  std::vector<std::string> paths;
  for (const std::string& n : names) {
    std::string p = source + "/" + n;
    if (!file_exists(p) && file_exists(p + ".gz")) p += ".gz";
    CREMA_CHECK(file_exists(p), p << " does not exist (the " << split << " split of " << f.name()
                                  << " in " << source << ")");
    paths.push_back(p);
  }
  return paths;
}

ImageSet load_cifar(const std::vector<std::string>& files, const CifarFormat& f, int64_t limit) {
  ImageSet set;
  set.channels = 3;
  set.height = set.width = 32;
  for (const std::string& path : files) {
    if (limit > 0 && set.size() >= limit) break;
    read_cifar_file(path, f, limit, set);
  }
  return set;
}

}  // namespace crema::data
