// SPDX-License-Identifier: BSD-2-Clause
// Readers for the MNIST (idx) and CIFAR (binary version) files, shared by the MNISTData and
// CIFARData plugins and by `crema convert`, so all three validate the files the same way.
// Every error names the file and what was expected.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "image_set.hpp"

namespace crema::data {

// The images and labels files of an MNIST-style split in `dir`: "train" and "test" name the
// standard files (train-*, t10k-*), anything else is the prefix itself; each name is tried
// plain and .gz, and with the "images.idx3" spelling.
std::pair<std::string, std::string> find_mnist_files(const std::string& dir, const std::string& split);
// idx3 unsigned-byte images (magic 0x00000803) and idx1 labels (0x00000801), plain or .gz; only
// the first max_images (0: all).
ImageSet load_mnist(const std::string& images_path, const std::string& labels_path,
                    int64_t max_images);

struct CifarFormat {
  bool cifar100 = false;
  bool coarse = false;  // CIFAR-100: the coarse instead of the fine label
  int label_bytes() const { return cifar100 ? 2 : 1; }
  int record() const { return label_bytes() + 3 * 32 * 32; }
  int classes() const { return !cifar100 ? 10 : coarse ? 20 : 100; }
  const char* name() const { return cifar100 ? "CIFAR-100" : "CIFAR-10"; }
};
// `source` is a .bin file, or a directory: split "train" gives data_batch_1..5.bin (CIFAR-10)
// or train.bin (CIFAR-100), "test" test_batch.bin or test.bin (each may also be .gz).
std::vector<std::string> cifar_files(const std::string& source, const std::string& split,
                                     const CifarFormat& f);
ImageSet load_cifar(const std::vector<std::string>& files, const CifarFormat& f, int64_t max_images);

}  // namespace crema::data
