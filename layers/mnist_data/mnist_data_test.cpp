// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <set>

#include "crema/testing/harness.hpp"
#include "test_util.hpp"

using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using namespace crema::data::testing;

namespace {

constexpr const char* kFashion = "/usr/share/datasets/fashion-mnist";

// Never 0, so a zero in the output can only come from padding.
uint8_t pix(int i, int y, int x) {
  return static_cast<uint8_t>(1 + (i * 37 + y * 11 + x * 3) % 250);
}

std::vector<uint8_t> idx_images(int n, int rows, int cols) {
  std::vector<uint8_t> b;
  for (uint32_t v : {0x803u, uint32_t(n), uint32_t(rows), uint32_t(cols)}) append_be32(b, v);
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x) b.push_back(pix(i, y, x));
  return b;
}
std::vector<uint8_t> idx_labels(int n) {
  std::vector<uint8_t> b;
  append_be32(b, 0x801);
  append_be32(b, uint32_t(n));
  for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i));  // label = index
  return b;
}
void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_TRUE(f);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  gzclose(f);
}
// Writes "<prefix>-images-idx3-ubyte" and labels, plain or gzip.
void write_set(const TempDir& d, const std::string& prefix, int n, int rows, int cols, bool gz) {
  std::string s = gz ? ".gz" : "";
  if (gz) {
    write_gz(d / (prefix + "-images-idx3-ubyte.gz"), idx_images(n, rows, cols));
    write_gz(d / (prefix + "-labels-idx1-ubyte.gz"), idx_labels(n));
  } else {
    write_file(d / (prefix + "-images-idx3-ubyte"), idx_images(n, rows, cols));
    write_file(d / (prefix + "-labels-idx1-ubyte"), idx_labels(n));
  }
}

std::string layer(const std::string& dir, const std::string& params,
                  const std::string& transform = "") {
  return "type: 'MNISTData' top: 'data' top: 'label' mnist_data_param { source: '" + dir + "' " +
         params + " } transform_param { " + transform + " }";
}
HarnessOptions phase(bool train, uint64_t seed = 1) {
  HarnessOptions o;
  o.train = train;
  o.seed = seed;
  return o;
}
std::vector<int> labels(LayerHarness& h) {
  std::vector<int> out;
  for (int64_t i = 0; i < h.count(h.top_shape(1)); ++i) out.push_back(int(h.top_data(1)[i]));
  return out;
}
std::vector<int> label_stream(LayerHarness& h, int batches) {
  std::vector<int> all;
  for (int b = 0; b < batches; ++b) {
    h.forward();
    for (int l : labels(h)) all.push_back(l);
  }
  return all;
}

}  // namespace

TEST(MNISTData, ShapesValuesAfterScaleAndMeanPlainAndGzip) {
  for (bool gz : {false, true}) {
    TempDir d;
    write_set(d, "train", 10, 4, 5, gz);
    LayerHarness h(layer(d.path(), "batch_size: 4"), {}, phase(false));
    // transform via a second harness with scale and mean
    LayerHarness t(layer(d.path(), "batch_size: 4", "scale: 0.5 mean_value: 10"), {}, phase(false));
    EXPECT_EQ(h.top_shape(0), (crema::testing::Shape{4, 1, 4, 5}));
    EXPECT_EQ(h.top_shape(1), (crema::testing::Shape{4}));
    h.forward();
    t.forward();
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(h.top_data(1)[i], float(i));
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 5; ++x) {
          EXPECT_EQ(h.top_data(0)[(i * 4 + y) * 5 + x], float(pix(i, y, x)));
          EXPECT_EQ(t.top_data(0)[(i * 4 + y) * 5 + x], (float(pix(i, y, x)) - 10.f) * 0.5f);
        }
    }
  }
}

TEST(MNISTData, TestPhaseIsSequentialAndWrapsAround) {
  TempDir d;
  write_set(d, "t10k", 10, 3, 3, false);
  LayerHarness h(layer(d.path(), "split: 'test' batch_size: 4"), {}, phase(false));
  EXPECT_EQ(label_stream(h, 3), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}));
  LayerHarness m(layer(d.path(), "split: 'test' batch_size: 4 max_images: 3"), {}, phase(false));
  EXPECT_EQ(label_stream(m, 1), (std::vector<int>{0, 1, 2, 0}));
}

TEST(MNISTData, ShuffleIsDeterministicPerSeedAndDiffersAcrossSeeds) {
  TempDir d;
  write_set(d, "train", 20, 3, 3, false);
  auto run = [&](uint64_t seed, const std::string& extra = "") {
    LayerHarness h(layer(d.path(), "batch_size: 8 " + extra), {}, phase(true, seed));
    std::vector<int> s = label_stream(h, 5);  // 40 = two epochs
    // The image goes with its label.
    for (int i = 0; i < 8; ++i) EXPECT_EQ(h.top_data(0)[i * 9 + 4], float(pix(s[32 + i], 1, 1)));
    return s;
  };
  std::vector<int> a = run(1), b = run(1), c = run(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int> e1(a.begin(), a.begin() + 20), e2(a.begin() + 20, a.end());
  EXPECT_EQ(std::set<int>(e1.begin(), e1.end()).size(), 20u);  // each epoch is a permutation
  EXPECT_EQ(std::set<int>(e2.begin(), e2.end()).size(), 20u);
  EXPECT_NE(e1, e2);  // reshuffled per epoch
  std::vector<int> seq = run(1, "shuffle: false");
  for (int i = 0; i < 40; ++i) EXPECT_EQ(seq[i], i % 20);
  // Augmentation draws from its own stream: the order does not change with mirror on.
  LayerHarness m(layer(d.path(), "batch_size: 8", "mirror: true"), {}, phase(true, 1));
  EXPECT_EQ(label_stream(m, 5), a);
}

TEST(MNISTData, RandomCropWithZeroPadding) {
  TempDir d;
  write_set(d, "train", 16, 6, 6, false);
  LayerHarness h(layer(d.path(), "batch_size: 16 pad: 2 shuffle: false", "crop_size: 6"), {},
                 phase(true));
  h.forward();
  std::set<std::pair<int, int>> offsets;
  for (int i = 0; i < 16; ++i) {
    const float* out = h.top_data(0) + int64_t{i} * 36;
    int found = 0;
    for (int dy = -2; dy <= 2; ++dy)
      for (int dx = -2; dx <= 2; ++dx) {
        bool ok = true;
        for (int y = 0; y < 6 && ok; ++y)
          for (int x = 0; x < 6 && ok; ++x) {
            int sy = y + dy, sx = x + dx;
            float want = sy >= 0 && sy < 6 && sx >= 0 && sx < 6 ? float(pix(i, sy, sx)) : 0.f;
            ok = out[y * 6 + x] == want;
          }
        if (ok) ++found, offsets.insert({dy, dx});
      }
    EXPECT_EQ(found, 1) << "image " << i << " is no padded crop of its source";
  }
  EXPECT_GT(offsets.size(), 4u);  // the offsets are random
  // TEST: the centre, i.e. the unpadded image; crop without pad in TEST: the centre window.
  LayerHarness t(layer(d.path(), "batch_size: 1 pad: 2", "crop_size: 6"), {}, phase(false));
  LayerHarness c(layer(d.path(), "batch_size: 1", "crop_size: 2"), {}, phase(false));
  t.forward();
  c.forward();
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x) EXPECT_EQ(t.top_data(0)[y * 6 + x], float(pix(0, y, x)));
  EXPECT_EQ(c.top_shape(0), (crema::testing::Shape{1, 1, 2, 2}));
  EXPECT_EQ(c.top_data(0)[0], float(pix(0, 2, 2)));
  EXPECT_EQ(c.top_data(0)[3], float(pix(0, 3, 3)));
}

TEST(MNISTData, MirrorInTrainOnly) {
  TempDir d;
  write_set(d, "train", 32, 3, 4, false);
  for (bool train : {true, false}) {
    LayerHarness h(layer(d.path(), "batch_size: 32 shuffle: false", "mirror: true"), {},
                   phase(train));
    h.forward();
    int flipped = 0;
    for (int i = 0; i < 32; ++i) {
      bool same = true, mirrored = true;
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 4; ++x) {
          float v = h.top_data(0)[(i * 3 + y) * 4 + x];
          same = same && v == pix(i, y, x);
          mirrored = mirrored && v == pix(i, y, 3 - x);
        }
      EXPECT_TRUE(same || mirrored) << "image " << i;
      flipped += mirrored;
    }
    if (train)
      EXPECT_TRUE(flipped > 4 && flipped < 28) << flipped << " of 32 mirrored";
    else
      EXPECT_EQ(flipped, 0);
  }
}

TEST(MNISTData, ErrorsNameTheFile) {
  auto error_of = [](const std::string& text) {
    try {
      LayerHarness h(text, {}, phase(false));
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  TempDir d;
  std::string missing = error_of(layer(d.path(), "batch_size: 2"));
  EXPECT_NE(missing.find(d / "train-images-idx3-ubyte"), std::string::npos) << missing;

  std::vector<uint8_t> bad = idx_images(2, 3, 3);
  bad[3] = 0x01;  // claims one dimension
  write_file(d / "train-images-idx3-ubyte", bad);
  write_file(d / "train-labels-idx1-ubyte", idx_labels(2));
  std::string magic = error_of(layer(d.path(), "batch_size: 2"));
  EXPECT_NE(magic.find(d / "train-images-idx3-ubyte"), std::string::npos) << magic;
  EXPECT_NE(magic.find("expected 0x00000803"), std::string::npos) << magic;

  std::vector<uint8_t> cut = idx_images(5, 3, 3);
  cut.resize(cut.size() - 4);
  write_file(d / "train-images-idx3-ubyte", cut);
  write_file(d / "train-labels-idx1-ubyte", idx_labels(5));
  std::string trunc = error_of(layer(d.path(), "batch_size: 2"));
  EXPECT_NE(trunc.find(d / "train-images-idx3-ubyte" + " is truncated"), std::string::npos)
      << trunc;

  // A header claiming 2^30 images of 2x2 (4 GB) in a file of a few KB: refused as truncated
  // without allocating what it claims (the peak memory stays far below 4 GB).
  std::vector<uint8_t> liar = idx_images(1000, 2, 2), liar_labels = idx_labels(1000);
  for (std::vector<uint8_t>* v : {&liar, &liar_labels})
    (*v)[4] = 0x40, (*v)[5] = (*v)[6] = (*v)[7] = 0;
  write_file(d / "train-images-idx3-ubyte", liar);
  write_file(d / "train-labels-idx1-ubyte", liar_labels);
  std::string claimed = error_of(layer(d.path(), "batch_size: 2"));
  EXPECT_NE(claimed.find("is truncated"), std::string::npos) << claimed;
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  EXPECT_LT(usage.ru_maxrss, 1 << 20) << "peak resident KB";  // under 1 GB

  write_file(d / "train-images-idx3-ubyte", idx_images(5, 3, 3));
  write_file(d / "train-labels-idx1-ubyte", idx_labels(4));
  std::string count = error_of(layer(d.path(), "batch_size: 2"));
  EXPECT_NE(count.find("holds 4 labels"), std::string::npos) << count;

  write_file(d / "train-labels-idx1-ubyte", idx_labels(5));

  std::string crop = error_of(layer(d.path(), "batch_size: 2", "crop_size: 8"));
  EXPECT_NE(crop.find("crop_size 8"), std::string::npos) << crop;
  std::string mean = error_of(layer(d.path(), "batch_size: 2", "mean_file: 'm.binaryproto'"));
  EXPECT_NE(mean.find("mean_value"), std::string::npos) << mean;
}

TEST(MNISTData, RealFashionMnistFirstBatch) {
  std::string images = std::string(kFashion) + "/train-images-idx3-ubyte.gz";
  if (!std::ifstream(images)) GTEST_SKIP() << images << " is not installed";
  LayerHarness h(layer(kFashion, "batch_size: 64", "scale: 0.00390625"), {}, phase(false));
  EXPECT_EQ(h.top_shape(0), (crema::testing::Shape{64, 1, 28, 28}));
  h.forward();
  gzFile f = gzopen(images.c_str(), "rb");
  std::vector<uint8_t> raw(16 + 64 * 784);
  ASSERT_EQ(gzread(f, raw.data(), unsigned(raw.size())), int(raw.size()));
  gzclose(f);
  for (int i = 0; i < 64 * 784; ++i) ASSERT_EQ(h.top_data(0)[i], raw[16 + i] * 0.00390625f) << i;
  for (int l : labels(h)) EXPECT_TRUE(l >= 0 && l <= 9) << l;
}

// Images/s the layer delivers with a full TRAIN transform (scale, mean, pad + crop, mirror).
TEST(MNISTData, Throughput) {
  TempDir d;
  std::string dir = kFashion;
  if (!std::ifstream(dir + "/train-images-idx3-ubyte.gz")) {
    write_set(d, "train", 10000, 28, 28, false);
    dir = d.path();
  }
  LayerHarness h(layer(dir, "batch_size: 64 pad: 2",
                       "scale: 0.00390625 mean_value: 33 crop_size: 28 mirror: true"),
                 {}, phase(true));
  h.forward();  // the first batch waits for the thread to start
  const int batches = 2000;
  auto t0 = std::chrono::steady_clock::now();
  for (int b = 0; b < batches; ++b) h.forward();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double rate = batches * 64 / s;
  std::cout << "MNISTData (scale, mean, pad 2 + crop 28, mirror; batch 64): " << rate
            << " images/s\n";
  RecordProperty("images_per_second", std::to_string(int64_t(rate)));
  EXPECT_GT(rate, 1000.0);
}
