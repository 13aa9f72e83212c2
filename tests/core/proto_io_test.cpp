// Tests of crema/core/proto_io.hpp: binary round trips (incl. > 64 MB),
// atomic writes and error messages that name the path.
#include "crema/core/proto_io.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "crema.pb.h"

namespace crema {
namespace {

class ProtoIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crema_proto_io_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST_F(ProtoIoTest, BinaryRoundTrip) {
  pb::NetParameter net;
  net.set_name("tiny");
  auto* layer = net.add_layer();
  layer->set_name("ip");
  layer->set_type("InnerProduct");
  auto* blob = layer->add_blobs();
  blob->mutable_shape()->add_dim(2);
  blob->add_data(1.5f);
  blob->add_data(-2.0f);

  const std::string file = path("tiny.caffemodel");
  write_binary_proto_atomic(file, net);
  pb::NetParameter back;
  read_binary_proto(file, &back);
  EXPECT_EQ(back.SerializeAsString(), net.SerializeAsString());
  EXPECT_NE(::access((file + ".tmp." + std::to_string(::getpid())).c_str(),
                     F_OK),
            0);  // temporary file renamed away
}

TEST_F(ProtoIoTest, ReadsMessagesOver64MB) {
  pb::BlobProto blob;
  const int n = 18 * 1024 * 1024;  // 72 MB of floats
  blob.mutable_data()->Resize(n, 0.25f);
  const std::string file = path("big.binaryproto");
  write_binary_proto_atomic(file, blob);
  pb::BlobProto back;
  read_binary_proto(file, &back);
  ASSERT_EQ(back.data_size(), n);
  EXPECT_EQ(back.data(n - 1), 0.25f);
}

TEST_F(ProtoIoTest, OverwriteReplacesContent) {
  const std::string file = path("w.binaryproto");
  pb::Datum a;
  a.set_label(1);
  write_binary_proto_atomic(file, a);
  a.set_label(7);
  write_binary_proto_atomic(file, a);
  pb::Datum back;
  read_binary_proto(file, &back);
  EXPECT_EQ(back.label(), 7);
}

TEST_F(ProtoIoTest, ErrorsNameThePath) {
  const std::string missing = path("nope.caffemodel");
  pb::NetParameter net;
  std::string msg = error_of([&] { read_binary_proto(missing, &net); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;

  msg = error_of([&] { read_text_file(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;

  const std::string garbage = path("garbage.caffemodel");
  std::ofstream(garbage) << "this is not protobuf \xff\xff\xff";
  msg = error_of([&] { read_binary_proto(garbage, &net); });
  EXPECT_NE(msg.find(garbage), std::string::npos) << msg;

  const std::string no_dir = path("missing_dir/out.caffemodel");
  msg = error_of([&] { write_binary_proto_atomic(no_dir, net); });
  EXPECT_NE(msg.find(no_dir), std::string::npos) << msg;
}

TEST_F(ProtoIoTest, ReadTextFile) {
  const std::string file = path("net.prototxt");
  const std::string text = "name: \"x\"\nlayer {\n}\n";
  std::ofstream(file) << text;
  EXPECT_EQ(read_text_file(file), text);
}

}  // namespace
}  // namespace crema
