// Reading and writing protobuf messages and text files.  All functions throw
// std::runtime_error with a message naming the path on failure.
#pragma once

#include <string>

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace crema {

// Parses a binary message (e.g. a .caffemodel or .binaryproto).  Messages
// larger than protobuf's default 64 MB limit (VGG-16 weights are ~550 MB)
// are accepted up to 2 GB, the wire format's limit.
void read_binary_proto(const std::string& path,
                       google::protobuf::Message* message);

// Serialises `message` to `path` atomically: writes `path.tmp.<pid>`,
// fsyncs it, then renames it over `path`, so readers never see a truncated
// file even if the process dies mid-write.
void write_binary_proto_atomic(const std::string& path,
                               const google::protobuf::Message& message);

// Returns the whole content of a text file (e.g. a prototxt).
std::string read_text_file(const std::string& path);

}  // namespace crema
