// SPDX-License-Identifier: BSD-2-Clause
// TensorBoard event files: CRC-32C against the standard check values, records and events
// byte for byte against what TensorBoard's own Python writer and TensorFlow's protobuf classes
// produce for the same input (tensorboard 2.21: RecordWriter, event_pb2.Event.SerializeToString),
// and where the metrics writer puts them. tests/tools/tensorboard_test.sh reads a real run's file
// with TensorBoard's reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "crema/solver/crc32c.hpp"
#include "crema/solver/event_writer.hpp"
#include "crema/solver/metrics_writer.hpp"

namespace crema {
namespace {

namespace fs = std::filesystem;

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string h;
  for (unsigned char c : bytes) h += {digits[c >> 4], digits[c & 15]};
  return h;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

uint64_t little_endian(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
uint64_t le64(const std::string& s, size_t at) { return little_endian(s, at, 8); }
uint32_t le32(const std::string& s, size_t at) {
  return static_cast<uint32_t>(little_endian(s, at, 4));
}

// The records of a TFRecord file, each CRC checked.
std::vector<std::string> read_records(const fs::path& p) {
  const std::string s = read_file(p);
  std::vector<std::string> records;
  size_t at = 0;
  while (at < s.size()) {
    if (at + 12 > s.size()) {
      ADD_FAILURE() << "torn header at " << at;
      break;
    }
    const uint64_t n = le64(s, at);
    EXPECT_EQ(le32(s, at + 8), mask_crc32c(crc32c(s.data() + at, 8))) << "length CRC at " << at;
    if (at + 12 + n + 4 > s.size()) {
      ADD_FAILURE() << "torn record at " << at;
      break;
    }
    const std::string data = s.substr(at + 12, n);
    EXPECT_EQ(le32(s, at + 12 + n), mask_crc32c(crc32c(data.data(), data.size())));
    records.push_back(data);
    at += 12 + n + 4;
  }
  return records;
}

// RFC 3720 (iSCSI), appendix B.4, and the usual "123456789" check value.
TEST(Crc32c, StandardCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::string zeros(32, '\0'), ones(32, '\xFF'), up(32, 0), down(32, 0);
  for (int i = 0; i < 32; ++i) up[i] = static_cast<char>(i), down[i] = static_cast<char>(31 - i);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32c, ContinuesOverMoreBytes) {
  const std::string all = "The quick brown fox jumps over the lazy dog";
  for (size_t cut : {size_t{0}, size_t{1}, size_t{17}, all.size()})
    EXPECT_EQ(crc32c(all.data() + cut, all.size() - cut, crc32c(all.data(), cut)),
              crc32c(all.data(), all.size()))
        << "cut at " << cut;
}

TEST(Crc32c, MaskRotatesAndAddsTensorFlowsConstant) {
  EXPECT_EQ(mask_crc32c(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(0x00008000u), 0xa282ead9u);  // bit 15 rotates to bit 0
  EXPECT_EQ(mask_crc32c(0x00000001u), 0xa284ead8u);  // bit 0 rotates to bit 17
}

TEST(TfEvents, RecordFramingMatchesTensorBoardsWriter) {
  EXPECT_EQ(hex(tfevents::frame_record("hello")), "0500000000000000eab2043e68656c6c6fbb1f1c19");
}

TEST(TfEvents, EventsMatchTensorFlowsProtobufEncoding) {
  EXPECT_EQ(hex(tfevents::file_version_event(1700000000.25)),
            "0900001040fc54d9411a0d627261696e2e4576656e743a32");
  EXPECT_EQ(hex(tfevents::session_start_event(1700000000.5, 1234)),
            "0900002040fc54d94110d2093a020801");
  EXPECT_EQ(hex(tfevents::scalars_event(1700000001.0, 300,
                                        {{"train/loss", 0.6875f}, {"test/accuracy", 0.9f}})),
            "0900004040fc54d94110ac022a290a110a0a747261696e2f6c6f7373150000303f0a140a0d746573742f"
            "6163637572616379156666663f");
}

class EventFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("crema_event_writer_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<fs::path> event_files(const fs::path& dir) const {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
  }
  fs::path dir_;
};

TEST_F(EventFiles, FileVersionThenStartThenOneEventPerWrite) {
  EventWriter w;
  w.open(dir_.string(), 40);
  ASSERT_TRUE(w.is_open());
  EXPECT_TRUE(std::regex_match(fs::path(w.path()).filename().string(),
                               std::regex(R"(events\.out\.tfevents\.[0-9]{10}\.[^/]+)")))
      << w.path();
  w.write_scalars(50, {{"train/loss", 0.5f}});
  w.write_scalars(60, {});  // nothing to say: no event
  // Flushed as written: the file is complete while the writer is still open.
  const std::vector<std::string> records = read_records(w.path());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_NE(records[0].find("brain.Event:2"), std::string::npos);
  EXPECT_EQ(hex(records[1]).substr(18), "10283a020801");  // step 40, SessionLog START
  EXPECT_EQ(hex(records[2]).substr(18), "10322a130a110a0a747261696e2f6c6f7373150000003f");
}

TEST_F(EventFiles, ASecondFileInTheSameSecondKeepsTheFirst) {
  EventWriter a, b;
  a.open(dir_.string(), 0);
  b.open(dir_.string(), 10);
  ASSERT_TRUE(a.is_open() && b.is_open());
  EXPECT_NE(a.path(), b.path());
  EXPECT_LT(a.path(), b.path()) << "TensorBoard reads a directory's files in name order";
  EXPECT_EQ(read_records(a.path()).size(), 2u);
}

TEST_F(EventFiles, AnUnwritableDirectoryWarnsAndWritesNothing) {
  EventWriter w;
  w.open((dir_ / "no" / "such" / "dir").string(), 0);
  EXPECT_FALSE(w.is_open());
  w.write_scalars(1, {{"train/loss", 1.0f}});  // no crash, nothing written
  EXPECT_FALSE(fs::exists(dir_ / "no"));
}

TEST_F(EventFiles, MetricsWriterPutsTheSameRecordsBesideItsFile) {
  MetricsWriter m;
  m.open((dir_ / "runs" / "a_metrics.jsonl").string());  // the directory does not exist yet
  EXPECT_EQ(m.events_dir(), (dir_ / "runs").string());
  m.write_display(0, 0.1f, 2.5f, 0);
  m.write_display(10, 0.1f, 1.5f, 640);
  m.write_test(10, 0, {{"accuracy", 0.75}, {"loss", 0.5}});
  m.write_test(10, 1, {{"accuracy", 0.25}});
  ASSERT_TRUE(fs::exists(dir_ / "runs" / "a_metrics.jsonl"));
  const auto files = event_files(dir_ / "runs");
  ASSERT_EQ(files.size(), 1u);
  const std::vector<std::string> r = read_records(files[0]);
  ASSERT_EQ(r.size(), 6u);  // version, start, two displays, two tests
  auto has = [](const std::string& rec, const std::string& tag) {
    return rec.find(tag) != std::string::npos;
  };
  EXPECT_TRUE(has(r[2], "train/loss") && has(r[2], "train/lr") && !has(r[2], "images_per_s"))
      << "images/s 0 (not measured) is left out";
  EXPECT_TRUE(has(r[3], "train/images_per_s"));
  EXPECT_TRUE(has(r[4], "test/accuracy") && has(r[4], "test/loss"));
  EXPECT_TRUE(has(r[5], "test1/accuracy"));
}

TEST_F(EventFiles, OffOrWithoutAMetricsFileNoEventFile) {
  MetricsWriter off;
  off.set_tensorboard(false);
  off.open((dir_ / "off_metrics.jsonl").string());
  off.write_display(0, 0.1f, 2.5f, 0);
  EXPECT_TRUE(fs::exists(dir_ / "off_metrics.jsonl"));
  EXPECT_FALSE(off.tensorboard());
  MetricsWriter none;
  none.open("");
  none.write_display(0, 0.1f, 2.5f, 0);
  EXPECT_FALSE(none.tensorboard());
  EXPECT_TRUE(event_files(dir_).empty());
}

TEST_F(EventFiles, AResumedRunStartsAtItsSnapshot) {
  MetricsWriter m;
  m.open((dir_ / "m.jsonl").string());
  m.resume_at(200);
  m.write_display(200, 0.1f, 1.0f, 0);
  const auto files = event_files(dir_);
  ASSERT_EQ(files.size(), 1u);
  const std::vector<std::string> r = read_records(files[0]);
  ASSERT_GE(r.size(), 2u);
  EXPECT_EQ(hex(r[1]).substr(18), "10c8013a020801");  // step 200, SessionLog START
}

}  // namespace
}  // namespace crema
