// SPDX-License-Identifier: BSD-2-Clause
#include "onnx_file.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace crema::onnx_io {

namespace {

int64_t element_count(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > (int64_t{1} << 40) / d))
      throw std::runtime_error("tensor '" + t.name() + "' has an impossible shape");
    n *= d;
  }
  return n;
}

size_t element_bytes(int32_t type) {
  switch (type) {
    case onnx::TensorProto::FLOAT: return 4;
    case onnx::TensorProto::DOUBLE: return 8;
    case onnx::TensorProto::INT32: return 4;
    case onnx::TensorProto::INT64: return 8;
    default: return 0;
  }
}

// Values stored in the tensor (raw or typed fields), without converting them.
int64_t stored_count(const onnx::TensorProto& t) {
  if (t.has_raw_data()) {
    const size_t b = element_bytes(t.data_type());
    return b ? static_cast<int64_t>(t.raw_data().size() / b) : -1;
  }
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: return t.float_data_size();
    case onnx::TensorProto::DOUBLE: return t.double_data_size();
    case onnx::TensorProto::INT32: return t.int32_data_size();
    case onnx::TensorProto::INT64: return t.int64_data_size();
    default: return -1;
  }
}

void check_tensor(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    throw std::runtime_error("tensor '" + t.name() +
                             "' keeps its data in an external file, which crema does not read");
  const int64_t stored = stored_count(t), need = element_count(t);
  if (stored >= 0 && stored != need)
    throw std::runtime_error("tensor '" + t.name() + "' holds " + std::to_string(stored) +
                             " values where its shape needs " + std::to_string(need) +
                             " (a truncated or damaged file?)");
}

}  // namespace

onnx::ModelProto read_onnx(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  onnx::ModelProto model;
  if (data.empty()) throw std::runtime_error(path + ": empty file, not an ONNX model");
  if (!model.ParseFromString(data))
    throw std::runtime_error(path + ": not a valid ONNX model (the protobuf does not parse: " +
                             "a truncated or damaged file, or another format)");
  try {
    if (!model.has_graph() || model.graph().node_size() == 0)
      throw std::runtime_error("no graph, or a graph without nodes (a truncated file?)");
    const onnx::GraphProto& g = model.graph();
    std::set<std::string> defined;
    for (const auto& t : g.initializer()) {
      check_tensor(t);
      defined.insert(t.name());
    }
    for (const auto& v : g.input()) defined.insert(v.name());
    for (const auto& n : g.node()) {
      for (const auto& a : n.attribute())
        if (a.has_t()) check_tensor(a.t());
      for (const std::string& i : n.input())
        if (!i.empty() && !defined.count(i))
          throw std::runtime_error("node '" + n.name() + "' (" + n.op_type() + ") reads '" + i +
                                   "', which no graph input, initializer or earlier node defines");
      for (const std::string& o : n.output()) defined.insert(o);
    }
    for (const auto& o : g.output())
      if (!defined.count(o.name()))
        throw std::runtime_error("graph output '" + o.name() + "' is computed by no node");
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  return model;
}

void write_onnx(const std::string& path, const onnx::ModelProto& model) {
  std::string data;
  if (!model.SerializeToString(&data))
    throw std::runtime_error(path + ": the model does not serialize (over 2 GB?)");
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write failed: " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename the written file into place: " + why);
  }
}

namespace {
template <typename T>
T raw_at(const std::string& raw, int64_t i) {
  T v;
  std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
  return v;
}
}  // namespace

std::vector<float> tensor_floats(const onnx::TensorProto& t) {
  check_tensor(t);
  const int64_t n = element_count(t);
  std::vector<float> out(static_cast<size_t>(n));
  const bool raw = t.has_raw_data();
  for (int64_t i = 0; i < n; ++i) {
    switch (t.data_type()) {
      case onnx::TensorProto::FLOAT:
        out[i] = raw ? raw_at<float>(t.raw_data(), i) : t.float_data(static_cast<int>(i));
        break;
      case onnx::TensorProto::DOUBLE:
        out[i] = static_cast<float>(raw ? raw_at<double>(t.raw_data(), i)
                                        : t.double_data(static_cast<int>(i)));
        break;
      case onnx::TensorProto::INT32:
        out[i] = static_cast<float>(raw ? raw_at<int32_t>(t.raw_data(), i)
                                        : t.int32_data(static_cast<int>(i)));
        break;
      case onnx::TensorProto::INT64:
        out[i] = static_cast<float>(raw ? raw_at<int64_t>(t.raw_data(), i)
                                        : t.int64_data(static_cast<int>(i)));
        break;
      default:
        throw std::runtime_error("tensor '" + t.name() + "' has data type " +
                                 std::to_string(t.data_type()) +
                                 "; crema reads float, double, int32 and int64 tensors");
    }
  }
  return out;
}

std::vector<int64_t> tensor_ints(const onnx::TensorProto& t) {
  check_tensor(t);
  const int64_t n = element_count(t);
  std::vector<int64_t> out(static_cast<size_t>(n));
  const bool raw = t.has_raw_data();
  for (int64_t i = 0; i < n; ++i) {
    if (t.data_type() == onnx::TensorProto::INT64)
      out[i] = raw ? raw_at<int64_t>(t.raw_data(), i) : t.int64_data(static_cast<int>(i));
    else if (t.data_type() == onnx::TensorProto::INT32)
      out[i] = raw ? raw_at<int32_t>(t.raw_data(), i) : t.int32_data(static_cast<int>(i));
    else
      throw std::runtime_error("tensor '" + t.name() + "' should hold integers");
  }
  return out;
}

Shape tensor_shape(const onnx::TensorProto& t) { return Shape(t.dims().begin(), t.dims().end()); }

}  // namespace crema::onnx_io
