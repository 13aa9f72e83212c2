// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <set>

#include "crema/testing/harness.hpp"
#include "test_util.hpp"

using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;
using namespace crema::data::testing;

namespace {

constexpr int kImage = 3 * 32 * 32;

// Never 0 (so zeros come from padding only); pix(i, 0) identifies image i.
uint8_t pix(int i, int k) { return static_cast<uint8_t>(1 + (i * 37 + k * 7 + k / 1024 * 5) % 250); }

// Records first..first+n-1; CIFAR-10 label i % 10; CIFAR-100 coarse i % 20, fine i % 100.
std::vector<uint8_t> records(int first, int n, bool cifar100) {
  std::vector<uint8_t> b;
  for (int i = first; i < first + n; ++i) {
    if (cifar100) b.push_back(uint8_t(i % 20));
    b.push_back(uint8_t(cifar100 ? i % 100 : i % 10));
    for (int k = 0; k < kImage; ++k) b.push_back(pix(i, k));
  }
  return b;
}
// CIFAR-10 layout: five training files of 3 images (0..14) and a test file of 4.
void write_cifar10(const TempDir& d) {
  for (int f = 0; f < 5; ++f)
    write_file(d / ("data_batch_" + std::to_string(f + 1) + ".bin"), records(3 * f, 3, false));
  write_file(d / "test_batch.bin", records(100, 4, false));
}

std::string layer(const std::string& source, const std::string& params,
                  const std::string& transform = "") {
  return "type: 'CIFARData' top: 'data' top: 'label' cifar_data_param { source: '" + source +
         "' " + params + " } transform_param { " + transform + " }";
}
HarnessOptions phase(bool train, uint64_t seed = 1) {
  HarnessOptions o;
  o.train = train;
  o.seed = seed;
  return o;
}
// The image index of each item of the batch, from its first pixel.
std::vector<int> ids(LayerHarness& h) {
  std::vector<int> out;
  const int64_t n = h.top_shape(0)[0], item = h.count(h.top_shape(0)) / n;
  for (int64_t i = 0; i < n; ++i) {
    int v = int(h.top_data(0)[i * item]);
    int id = 0;
    while (pix(id, 0) != v) ++id;
    out.push_back(id);
  }
  return out;
}
std::string error_of(const std::string& text) {
  try {
    LayerHarness h(text, {}, phase(false));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(CIFARData, Cifar10ShapesValuesLabelsAndSequentialTest) {
  TempDir d;
  write_cifar10(d);
  LayerHarness h(layer(d.path(), "batch_size: 4", "scale: 0.5 mean_value: 10 mean_value: 20 mean_value: 30"),
                 {}, phase(false));
  EXPECT_EQ(h.top_shape(0), (Shape{4, 3, 32, 32}));
  EXPECT_EQ(h.top_shape(1), (Shape{4}));
  h.forward();
  const float mean[3] = {10, 20, 30};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(h.top_data(1)[i], float(i % 10));
    for (int k = 0; k < kImage; ++k)
      ASSERT_EQ(h.top_data(0)[i * kImage + k], (float(pix(i, k)) - mean[k / 1024]) * 0.5f) << k;
  }
  // 15 images across five files, in order, wrapping at the end of the epoch.
  LayerHarness s(layer(d.path(), "batch_size: 6"), {}, phase(false));
  std::vector<int> seen;
  for (int b = 0; b < 3; ++b) {
    s.forward();
    for (int id : ids(s)) seen.push_back(id);
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0, 1, 2}));
  LayerHarness t(layer(d.path(), "split: 'test' batch_size: 5"), {}, phase(false));
  t.forward();
  EXPECT_EQ(ids(t), (std::vector<int>{100, 101, 102, 103, 100}));
}

TEST(CIFARData, Cifar100FineByDefaultCoarseOnRequest) {
  TempDir d;
  write_file(d / "train.bin", records(0, 30, true));
  LayerHarness fine(layer(d.path(), "format: CIFAR100 batch_size: 30"), {}, phase(false));
  LayerHarness coarse(layer(d.path(), "format: CIFAR100 coarse_label: true batch_size: 30"), {},
                      phase(false));
  fine.forward();
  coarse.forward();
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(fine.top_data(1)[i], float(i % 100));
    EXPECT_EQ(coarse.top_data(1)[i], float(i % 20));
  }
  EXPECT_EQ(ids(fine)[29], 29);
}

TEST(CIFARData, ShuffleDeterministicPerSeed) {
  TempDir d;
  write_cifar10(d);
  auto run = [&](uint64_t seed) {
    LayerHarness h(layer(d.path(), "batch_size: 15"), {}, phase(true, seed));
    std::vector<int> all;
    for (int b = 0; b < 2; ++b) {
      h.forward();
      std::vector<int> batch = ids(h);
      EXPECT_EQ(std::set<int>(batch.begin(), batch.end()).size(), 15u);  // one epoch each
      for (int i = 0; i < 15; ++i) EXPECT_EQ(h.top_data(1)[i], float(batch[i] % 10));
      all.insert(all.end(), batch.begin(), batch.end());
    }
    return all;
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

TEST(CIFARData, Pad4Crop32RandomShiftWithZeroBorderAndMirror) {
  TempDir d;
  write_cifar10(d);
  LayerHarness h(layer(d.path(), "batch_size: 15 pad: 4 shuffle: false",
                       "crop_size: 32 mirror: true mean_value: 100 scale: 2"),
                 {}, phase(true));
  h.forward();
  std::set<std::vector<int>> seen;  // (dy, dx, mirrored)
  for (int i = 0; i < 15; ++i) {
    const float* out = h.top_data(0) + i * kImage;
    int found = 0;
    for (int flip = 0; flip < 2; ++flip)
      for (int dy = -4; dy <= 4; ++dy)
        for (int dx = -4; dx <= 4; ++dx) {
          bool ok = true;
          for (int k = 0; k < kImage && ok; ++k) {
            int c = k / 1024, y = k / 32 % 32, x = k % 32;
            int sy = y + dy, sx = (flip ? 31 - x : x) + dx;
            bool inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
            float want = inside ? (float(pix(i, c * 1024 + sy * 32 + sx)) - 100.f) * 2.f : 0.f;
            ok = out[k] == want;
          }
          if (ok) ++found, seen.insert({dy, dx, flip});
        }
    EXPECT_EQ(found, 1) << "image " << i << " is no shifted (mirrored) copy with a zero border";
  }
  EXPECT_GT(seen.size(), 5u);
}

TEST(CIFARData, ErrorsNameTheFile) {
  TempDir d;
  write_cifar10(d);
  std::remove((d / "data_batch_3.bin").c_str());
  std::string missing = error_of(layer(d.path(), "batch_size: 2"));
  EXPECT_NE(missing.find(d / "data_batch_3.bin"), std::string::npos) << missing;

  std::vector<uint8_t> cut = records(6, 3, false);
  cut.resize(cut.size() - 100);
  write_file(d / "data_batch_3.bin", cut);
  std::string trunc = error_of(layer(d.path(), "batch_size: 2"));
  EXPECT_NE(trunc.find(d / "data_batch_3.bin" + " is truncated"), std::string::npos) << trunc;

  write_file(d / "c100.bin", records(0, 3073, true));  // 3073 CIFAR-100 records: whole 3073-byte
  std::string wrong = error_of(layer(d / "c100.bin", "batch_size: 2"));  // CIFAR-10 records too
  EXPECT_NE(wrong.find(d / "c100.bin" + ": record"), std::string::npos) << wrong;

  std::string nofile = error_of(layer(d / "nope.bin", "batch_size: 2"));
  EXPECT_NE(nofile.find("cannot open " + d / "nope.bin"), std::string::npos) << nofile;
  std::string split = error_of(layer(d.path(), "split: 'val' batch_size: 2"));
  EXPECT_NE(split.find("'val'"), std::string::npos) << split;
}

TEST(CIFARData, SingleFileAndMaxImages) {
  TempDir d;
  write_file(d / "one.bin", records(40, 7, false));
  LayerHarness h(layer(d / "one.bin", "batch_size: 4 max_images: 3"), {}, phase(false));
  h.forward();
  EXPECT_EQ(ids(h), (std::vector<int>{40, 41, 42, 40}));
}
