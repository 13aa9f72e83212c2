// SPDX-License-Identifier: BSD-2-Clause
// `crema convert` round trips: generated MNIST and CIFAR files -> LMDB -> the Data layer.
#include <gtest/gtest.h>

#include <cstring>

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
  argv.reserve(args.size());
  for (auto& a : args) argv.push_back(a.data());
  return crema::tools::run_convert(int(argv.size()), argv.data());
}

// An MNIST-like LMDB of n 28x28 images at d/name, through `crema convert`.
std::string mnist_lmdb(const TempDir& d, const std::string& name, int n) {
  std::vector<uint8_t> images, labels;
  for (uint32_t v : {0x803u, uint32_t(n), 28u, 28u}) append_be32(images, v);
  append_be32(labels, 0x801);
  append_be32(labels, n);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 28 * 28; ++k) images.push_back(pix(i, k));
    labels.push_back(uint8_t(i % 10));
  }
  write_file(d / (name + ".img"), images);
  write_file(d / (name + ".lbl"), labels);
  EXPECT_EQ(convert({"-format", "mnist", "-images", d / (name + ".img"), "-labels",
                     d / (name + ".lbl"), "-output", d / name}),
            0);
  return d / name;
}

// Where LMDB (0.9's format, 64-bit) keeps the record `key`: its leaf page's offset in data.mdb
// and the index of its node there. Pages: a 16-byte header (flags at 10, mp_lower at 12) and
// then the 2-byte offsets of the nodes; a node: data size (4 bytes), flags, key size, key, data.
struct Node {
  size_t page = 0;
  int index = -1;
  size_t offset = 0;  // of the node in the file
};
Node find_node(const std::string& file_bytes, const std::string& key) {
  uint32_t page_size;
  std::memcpy(&page_size, &file_bytes[40], 4);  // meta page 0's mm_psize
  auto u16 = [&](size_t at) {
    uint16_t v;
    std::memcpy(&v, &file_bytes[at], 2);
    return v;
  };
  for (size_t page = size_t{2} * page_size; page + page_size <= file_bytes.size();
       page += page_size) {
    if (u16(page + 10) != 0x02) continue;  // P_LEAF
    for (int i = 0; i < (u16(page + 12) - 16) / 2; ++i) {
      const size_t node = page + u16(page + 16 + 2 * static_cast<size_t>(i));
      if (file_bytes.compare(node + 8, u16(node + 6), key) == 0) return {page, i, node};
    }
  }
  return {};
}

std::string verify_error(const std::string& db) {
  try {
    return "exit status " + std::to_string(convert({"-verify", db}));
  } catch (const std::exception& e) {
    return e.what();
  }
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
  ASSERT_EQ(
      convert({"-format", "cifar10", "-input", d / "cifar", "-split", "test", "-output", d / "db"}),
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
  if (!std::ifstream(dir + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << dir << " is not installed";
  TempDir d;
  ASSERT_EQ(
      convert({"-format", "mnist", "-images", dir + "/t10k-images-idx3-ubyte.gz", "-labels",
               dir + "/t10k-labels-idx1-ubyte.gz", "-max_images", "500", "-output", d / "db"}),
      0);
  const std::string transform =
      " transform_param { scale: 0.00390625 mean_value: 20 crop_size: 24 }";
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

TEST(Convert, VerifyCountsRecordsAndShape) {
  TempDir d;
  const std::string db = mnist_lmdb(d, "db", 64);
  testing::internal::CaptureStdout();
  EXPECT_EQ(convert({"-verify", db}), 0);
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find(db + ": 64 records of 1x28x28 (uint8 data), all read and checked"),
            std::string::npos)
      << out;
  EXPECT_NE(verify_error(d / "nope").find("cannot open LMDB " + d / "nope"), std::string::npos);
}

// Damage inside leaf pages that the check at open does not read is reported with the last good
// record; where it crashes liblmdb, only the child process that reads the records dies.
TEST(Convert, VerifyReportsDamageInsidePages) {
  TempDir d;
  const std::string db = mnist_lmdb(d, "db", 64);
  std::ifstream in(db + "/data.mdb", std::ios::binary);
  const std::string good(std::istreambuf_iterator<char>(in), {});
  auto damaged = [&](const std::string& name, const std::string& bytes) {
    std::filesystem::create_directories(d / name);
    std::ofstream(d / name + "/data.mdb", std::ios::binary) << bytes;
    return d / name;
  };
  auto poke16 = [](std::string& bytes, size_t at, uint16_t v) { std::memcpy(&bytes[at], &v, 2); };

  // A node offset that points 64 KB into a 4 KB page, past the end of the file: SIGBUS in liblmdb.
  std::string far = good;
  const Node n30 = find_node(good, "00000030");
  ASSERT_GE(n30.index, 0);
  poke16(far, n30.page + 16 + 2 * static_cast<size_t>(n30.index), 0xFFF8);
  std::string e = verify_error(damaged("far", far));
  EXPECT_NE(e.find(d / "far" +
                   " is damaged: liblmdb crashed (signal SIGBUS) after record 29 (key '00000029')"),
            std::string::npos)
      << e;

  // A record's size in the middle of a page, now 2 GB: the record would run past the file.
  std::string size = good;
  const Node n40 = find_node(good, "00000040");
  ASSERT_GE(n40.index, 0);
  poke16(size, n40.offset + 2, 0x7FFF);  // the size's high half
  e = verify_error(damaged("size", size));
  EXPECT_NE(e.find(d / "size" +
                   " is damaged: a record's key (8 bytes) or value (2147418907 bytes) lies "
                   "outside the file, after record 39 (key '00000039')"),
            std::string::npos)
      << e;

  // A leaf page marked as a branch page: liblmdb's assertion aborts when the cursor reaches it.
  std::string flags = good;
  const Node n20 = find_node(good, "00000020");
  ASSERT_GE(n20.index, 0);
  poke16(flags, n20.page + 10, 0x01);
  e = verify_error(damaged("flags", flags));
  EXPECT_NE(e.find(d / "flags" + " is damaged: "), std::string::npos) << e;
  EXPECT_NE(e.find("after record 19 (key '00000019')"), std::string::npos) << e;
}
