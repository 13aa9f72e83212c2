// SPDX-License-Identifier: BSD-2-Clause
// `crema convert` round trips: generated MNIST and CIFAR files -> LMDB -> the Data layer.
#include <gtest/gtest.h>

#include "crema/testing/harness.hpp"
#include "test_util.hpp"

namespace crema::tools {
int run_convert(int argc, char** argv);
}

using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;
using namespace crema::data::testing;

namespace {

uint8_t pix(int i, int k) { return static_cast<uint8_t>((i * 37 + k * 7) % 256); }

int convert(std::vector<std::string> args) {
  args.insert(args.begin(), "convert");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return crema::tools::run_convert(int(argv.size()), argv.data());
}

HarnessOptions test_phase() {
  HarnessOptions o;
  o.train = false;
  return o;
}

}  // namespace

TEST(Convert, MnistToLmdbReadsBackThroughData) {
  TempDir d;
  const int n = 1003, rows = 28, cols = 28;  // more than one 1000-record commit
  std::vector<uint8_t> images, labels;
  for (uint32_t v : {0x803u, uint32_t(n), uint32_t(rows), uint32_t(cols)}) append_be32(images, v);
  append_be32(labels, 0x801);
  append_be32(labels, n);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < rows * cols; ++k) images.push_back(pix(i, k));
    labels.push_back(uint8_t(i % 10));
  }
  write_file(d / "img", images);
  write_file(d / "lbl", labels);
  ASSERT_EQ(convert({"-format", "mnist", "-images", d / "img", "-labels", d / "lbl", "-output",
                     d / "db"}),
            0);
  LayerHarness h("type: 'Data' top: 'data' top: 'label' data_param { source: '" + d / "db" +
                     "' backend: LMDB batch_size: 100 }",
                 {}, test_phase());
  EXPECT_EQ(h.top_shape(0), (Shape{100, 1, 28, 28}));
  for (int b = 0; b < 11; ++b) {  // 1100 records: all of them, then a wrap to the first
    h.forward();
    for (int j = 0; j < 100; ++j) {
      const int i = (b * 100 + j) % n;
      ASSERT_EQ(h.top_data(1)[j], float(i % 10)) << "image " << i;
      for (int k = 0; k < rows * cols; ++k)
        ASSERT_EQ(h.top_data(0)[j * rows * cols + k], float(pix(i, k))) << "image " << i;
    }
  }
  // An existing output is never overwritten.
  EXPECT_THROW(convert({"-format", "mnist", "-images", d / "img", "-labels", d / "lbl", "-output",
                        d / "db"}),
               std::runtime_error);
}

TEST(Convert, Cifar10TestSplitToLmdb) {
  TempDir d;
  std::filesystem::create_directories(d / "cifar");
  std::vector<uint8_t> recs;
  for (int i = 0; i < 5; ++i) {
    recs.push_back(uint8_t(9 - i));
    for (int k = 0; k < 3072; ++k) recs.push_back(pix(i, k));
  }
  write_file(d / "cifar/test_batch.bin", recs);
  ASSERT_EQ(convert({"-format", "cifar10", "-input", d / "cifar", "-split", "test", "-output",
                     d / "db"}),
            0);
  LayerHarness h("type: 'Data' top: 'data' top: 'label' data_param { source: '" + d / "db" +
                     "' backend: LMDB batch_size: 5 } transform_param { scale: 0.5 }",
                 {}, test_phase());
  EXPECT_EQ(h.top_shape(0), (Shape{5, 3, 32, 32}));
  h.forward();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(h.top_data(1)[i], float(9 - i));
    for (int k = 0; k < 3072; ++k) ASSERT_EQ(h.top_data(0)[i * 3072 + k], pix(i, k) * 0.5f);
  }
  EXPECT_THROW(convert({"-format", "cifar10", "-input", d / "cifar", "-output", d / "db2"}),
               std::runtime_error);  // no data_batch_1.bin
}

// The real Fashion-MNIST test split through `crema convert` + Data equals MNISTData reading the
// .gz files directly (same transform, TEST phase).
TEST(Convert, FashionMnistLmdbMatchesMNISTData) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::ifstream(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << dir << " is not installed";
  TempDir d;
  ASSERT_EQ(convert({"-format", "mnist", "-images", dir + "/t10k-images-idx3-ubyte.gz", "-labels",
                     dir + "/t10k-labels-idx1-ubyte.gz", "-max_images", "500", "-output", d / "db"}),
            0);
  const std::string transform = " transform_param { scale: 0.00390625 mean_value: 20 crop_size: 24 }";
  LayerHarness lmdb("type: 'Data' top: 'data' top: 'label' data_param { source: '" + d / "db" +
                        "' backend: LMDB batch_size: 100 }" + transform,
                    {}, test_phase());
  LayerHarness idx("type: 'MNISTData' top: 'data' top: 'label' mnist_data_param { source: '" + dir +
                       "' split: 'test' max_images: 500 batch_size: 100 }" + transform,
                   {}, test_phase());
  for (int b = 0; b < 6; ++b) {
    lmdb.forward();
    idx.forward();
    for (int i = 0; i < 100; ++i) ASSERT_EQ(lmdb.top_data(1)[i], idx.top_data(1)[i]);
    for (int k = 0; k < 100 * 24 * 24; ++k) ASSERT_EQ(lmdb.top_data(0)[k], idx.top_data(0)[k]) << k;
  }
}
