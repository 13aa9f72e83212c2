// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>
#include <lmdb.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>

#include "crema.pb.h"
#include "crema/layer.hpp"
#include "crema/testing/harness.hpp"
#include "datum.hpp"
#include "test_util.hpp"

using crema::testing::HarnessOptions;
using crema::testing::LayerHarness;
using crema::testing::Shape;
using namespace crema::data::testing;

namespace {

uint8_t pix(int i, int k) { return static_cast<uint8_t>(1 + (i * 37 + k * 7) % 250); }

crema::pb::Datum raw_datum(int i, int c, int h, int w) {
  crema::pb::Datum d;
  d.set_channels(c);
  d.set_height(h);
  d.set_width(w);
  std::string bytes;
  for (int k = 0; k < c * h * w; ++k) bytes.push_back(char(pix(i, k)));
  d.set_data(bytes);
  d.set_label(i * 3 - 1);  // -1 for the first: negative labels survive the wire format
  return d;
}

// Writes records "00000000".. in one transaction.
void write_lmdb(const std::string& path, const std::vector<crema::pb::Datum>& records) {
  MDB_env* env;
  MDB_txn* txn;
  MDB_dbi dbi;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_mapsize(env, 64 << 20), 0);
  std::filesystem::create_directories(path);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0664), 0);
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  for (size_t i = 0; i < records.size(); ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "%08d", int(i));
    std::string value = records[i].SerializeAsString();
    MDB_val k{8, key}, v{value.size(), value.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  }
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}
std::vector<crema::pb::Datum> raw_records(int n, int c, int h, int w) {
  std::vector<crema::pb::Datum> r;
  r.reserve(n);
  for (int i = 0; i < n; ++i) r.push_back(raw_datum(i, c, h, w));
  return r;
}

std::string layer(const std::string& source, const std::string& params,
                  const std::string& transform = "") {
  return "type: 'Data' top: 'data' top: 'label' data_param { source: '" + source + "' " + params +
         " } transform_param { " + transform + " }";
}
HarnessOptions phase(bool train, uint64_t seed = 1) {
  HarnessOptions o;
  o.train = train;
  o.seed = seed;
  return o;
}
std::string error_of(const std::string& text) {
  try {
    LayerHarness h(text, {}, phase(false));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
// DIR/data.mdb with `bytes` in it.
std::string lmdb_dir(const TempDir& d, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(d / name);
  std::ofstream(d / name + "/data.mdb", std::ios::binary) << bytes;
  return d / name;
}
template <class T>
void poke(std::string& bytes, size_t offset, T v) {
  std::memcpy(&bytes[offset], &v, sizeof v);
}
std::vector<int> labels(LayerHarness& h) {
  std::vector<int> out;
  for (int64_t i = 0; i < h.top_shape(1)[0]; ++i) out.push_back(int(h.top_data(1)[i]));
  return out;
}

}  // namespace

TEST(Data, ShapesValuesLabelsSequentialAndWrapping) {
  TempDir d;
  write_lmdb(d / "db", raw_records(10, 3, 4, 5));
  LayerHarness h(layer(d / "db", "backend: LMDB batch_size: 4",
                       "scale: 0.25 mean_value: 1 mean_value: 2 mean_value: 3"),
                 {}, phase(false));
  EXPECT_EQ(h.top_shape(0), (Shape{4, 3, 4, 5}));
  EXPECT_EQ(h.top_shape(1), (Shape{4}));
  h.forward();
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 60; ++k) {
      const int channel = k / 20;  // mean_value 1, 2, 3 for the channels of 4x5 = 20 pixels
      ASSERT_EQ(h.top_data(0)[i * 60 + k], (float(pix(i, k)) - float(1 + channel)) * 0.25f);
    }
  EXPECT_EQ(labels(h), (std::vector<int>{-1, 2, 5, 8}));
  h.forward();
  h.forward();
  EXPECT_EQ(labels(h), (std::vector<int>{23, 26, -1, 2}));  // records 8, 9, then 0, 1
}

TEST(Data, FloatDataAndUnsetBackendOnAnLmdb) {
  TempDir d;
  std::vector<crema::pb::Datum> r(3);
  for (int i = 0; i < 3; ++i) {
    r[i].set_channels(1), r[i].set_height(2), r[i].set_width(3), r[i].set_label(i);
    for (int k = 0; k < 6; ++k) r[i].add_float_data(i + 0.25f * k - 1.f);
  }
  write_lmdb(d / "db", r);
  LayerHarness h(layer(d / "db", "batch_size: 3", "scale: 2"), {}, phase(false));
  h.forward();
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 6; ++k) EXPECT_EQ(h.top_data(0)[i * 6 + k], (i + 0.25f * k - 1.f) * 2.f);
}

TEST(Data, CropAndMirrorInTrainCentreInTest) {
  TempDir d;
  write_lmdb(d / "db", raw_records(16, 1, 5, 6));
  LayerHarness h(layer(d / "db", "backend: LMDB batch_size: 16", "crop_size: 3 mirror: true"), {},
                 phase(true));
  h.forward();
  int mirrored = 0;
  for (int i = 0; i < 16; ++i) {
    int found = 0;
    for (int flip = 0; flip < 2; ++flip)
      for (int y0 = 0; y0 <= 2; ++y0)
        for (int x0 = 0; x0 <= 3; ++x0) {
          bool ok = true;
          for (int y = 0; y < 3; ++y)
            for (int x = 0; x < 3; ++x)
              ok = ok && h.top_data(0)[i * 9 + y * 3 + (flip ? 2 - x : x)] ==
                             float(pix(i, (y0 + y) * 6 + x0 + x));
          if (ok) ++found, mirrored += flip;
        }
    EXPECT_GE(found, 1) << "image " << i;
  }
  EXPECT_GT(mirrored, 0);
  LayerHarness t(layer(d / "db", "backend: LMDB batch_size: 1", "crop_size: 3 mirror: true"), {},
                 phase(false));
  t.forward();
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x)
      EXPECT_EQ(t.top_data(0)[y * 3 + x], float(pix(0, (1 + y) * 6 + 1 + x)));
}

TEST(Data, RandSkipIsSeededThenSequential) {
  TempDir d;
  write_lmdb(d / "db", raw_records(50, 1, 2, 2));
  auto first = [&](uint64_t seed) {
    LayerHarness h(layer(d / "db", "backend: LMDB batch_size: 3 rand_skip: 40"), {},
                   phase(false, seed));
    h.forward();
    std::vector<int> l = labels(h);
    EXPECT_EQ(l[1], l[0] + 3);
    return (l[0] + 1) / 3;
  };
  EXPECT_EQ(first(7), first(7));
  std::set<int> starts;
  for (uint64_t s = 1; s <= 8; ++s) starts.insert(first(s));
  EXPECT_GT(starts.size(), 3u);
  for (int s : starts) EXPECT_LT(s, 40);
}

TEST(Data, ErrorsAreClear) {
  TempDir d;
  std::string missing = error_of(layer(d / "nope", "backend: LMDB batch_size: 2"));
  EXPECT_NE(missing.find("cannot open LMDB " + d / "nope"), std::string::npos) << missing;
  std::string leveldb = error_of(layer(d / "nope", "backend: LEVELDB batch_size: 2"));
  EXPECT_NE(leveldb.find("LEVELDB is not supported"), std::string::npos) << leveldb;
  std::string unset = error_of(layer(d.path(), "batch_size: 2"));
  EXPECT_NE(unset.find("backend is unset"), std::string::npos) << unset;

  std::vector<crema::pb::Datum> enc = raw_records(2, 1, 2, 2);
  enc[0].set_encoded(true);
  write_lmdb(d / "enc", enc);
  std::string encoded = error_of(layer(d / "enc", "backend: LMDB batch_size: 2"));
  EXPECT_NE(encoded.find("record '00000000' of " + d / "enc" + " is an encoded image"),
            std::string::npos)
      << encoded;
}

// A bad record met by the prefetch thread fails the forward that would have delivered it.
TEST(Data, ThreadErrorsReachForward) {
  TempDir d;
  std::vector<crema::pb::Datum> r = raw_records(8, 1, 2, 2);
  r[5] = raw_datum(5, 1, 3, 3);
  write_lmdb(d / "db", r);
  LayerHarness h(layer(d / "db", "backend: LMDB batch_size: 4"), {}, phase(false));
  h.forward();  // records 0..3
  EXPECT_EQ(labels(h), (std::vector<int>{-1, 2, 5, 8}));
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      h.forward();
      ADD_FAILURE() << "no error";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("record '00000005' of " + d / "db" + " is 1x3x3"),
                std::string::npos)
          << e.what();
    }
  }
}

// Damage that crashed the process inside liblmdb (SIGBUS on a truncated file, SIGFPE on a page
// size of 0, an assertion's SIGABRT on a root at page 1, SIGSEGV on a first record that claims
// duplicates) or that liblmdb refused with a bare MDB_INVALID is refused at open, naming the
// file and what is wrong with it.
TEST(Data, RefusesTruncatedAndDamagedFiles) {
  TempDir d;
  write_lmdb(d / "db", raw_records(64, 3, 16, 16));  // a branch page over a dozen leaf pages
  const std::string good = read_bytes(d / "db/data.mdb");
  uint32_t page = 0;
  std::memcpy(&page, &good[40], 4);  // meta 0's mm_psize (LMDB's layout: lmdb_check.cpp)
  ASSERT_EQ(good.size() % page, 0u);
  ASSERT_GE(good.size() / page, 12u);
  auto refused = [&](const std::string& name, const std::string& bytes, const std::string& what) {
    const std::string dir = lmdb_dir(d, name, bytes);
    std::string e = "no error";
    try {  // opened and read through: the truncated file crashed only in the pages it lacks
      LayerHarness h(layer(dir, "backend: LMDB batch_size: 64"), {}, phase(false));
      h.forward();
      h.forward();
    } catch (const std::exception& x) {
      e = x.what();
    }
    EXPECT_NE(e.find("Data: LMDB " + dir + "/data.mdb is damaged: "), std::string::npos)
        << name << ": " << e;
    EXPECT_NE(e.find(what), std::string::npos) << name << ": " << e;
  };
  refused("half", good.substr(0, good.size() / 2 / page * page), "truncated: its newest meta page");
  refused("one_page", good.substr(0, page), "it has " + std::to_string(page) + " bytes, less than");
  std::string magic = good;
  poke(magic, 16, uint32_t{0});
  refused("magic", magic, "meta page 0 has magic 0x0 instead of LMDB's 0xbeefc0de");
  std::string garbage(good.size(), '\0');
  std::mt19937 rng(5);
  for (char& c : garbage) c = char(rng());
  refused("garbage", garbage, "page 0 is not a meta page");
  // Valid meta pages over garbage: the root page gives it away.
  std::string tree = good.substr(0, size_t{2} * page) + garbage.substr(size_t{2} * page);
  refused("tree", tree, "the root page");
  std::string psize = good;
  poke(psize, 40, uint32_t{0});
  refused("psize", psize, "meta page 0 gives a page size of 0");
  std::string root = good;  // the main tree's root (mm_dbs[1].md_root) in the newer meta, page 1
  poke(root, page + 88 + 40, uint64_t{1});
  refused("root", root, "puts the root of the records' tree at page 1");
  std::string dup = good;  // the first record's node (flags 2 bytes after its size) says F_DUPDATA
  const size_t first = good.find("00000000");
  ASSERT_NE(first, std::string::npos);
  poke(dup, first - 8 + 4, uint16_t{0x04});
  refused("dup", dup, "the first record claims duplicates");
  EXPECT_NE(error_of(layer(d / "db/data.mdb", "backend: LMDB batch_size: 2"))
                .find("not a single-file LMDB"),
            std::string::npos);
  LayerHarness h(layer(d / "db", "backend: LMDB batch_size: 64"), {}, phase(false));  // intact
}

TEST(Datum, DecoderMatchesProtobuf) {
  crema::pb::Datum d = raw_datum(3, 2, 3, 1);
  d.set_encoded(false);
  std::string s = d.SerializeAsString();
  crema::data::DatumView v;
  crema::data::decode_datum(reinterpret_cast<const uint8_t*>(s.data()), s.size(), v);
  EXPECT_EQ(v.channels, 2);
  EXPECT_EQ(v.height, 3);
  EXPECT_EQ(v.width, 1);
  EXPECT_EQ(v.label, 8);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.data), v.data_size), d.data());
  // Negative label, unpacked float_data, an unknown field (99: varint), and packed floats.
  crema::pb::Datum f;
  f.set_label(-7);
  f.add_float_data(1.5f);
  f.add_float_data(-2.f);
  std::string t = f.SerializeAsString() + std::string("\x98\x06\x05", 3) +
                  std::string("\x32\x04\x00\x00\x80\x3f", 6);  // field 6 packed: 1.0f
  crema::data::decode_datum(reinterpret_cast<const uint8_t*>(t.data()), t.size(), v);
  EXPECT_EQ(v.label, -7);
  EXPECT_EQ(v.data_size, 0u);
  EXPECT_EQ(v.float_data, (std::vector<float>{1.5f, -2.f, 1.f}));
  std::string cut = s.substr(0, s.size() - 3);
  EXPECT_THROW(
      crema::data::decode_datum(reinterpret_cast<const uint8_t*>(cut.data()), cut.size(), v),
      crema::Error);
}
