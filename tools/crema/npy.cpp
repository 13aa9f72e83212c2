// SPDX-License-Identifier: BSD-2-Clause
#include "npy.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace crema::tools {

namespace {
constexpr char kMagic[] = "\x93NUMPY";
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  char head[10];
  if (!in.read(head, 10) || std::memcmp(head, kMagic, 6) != 0)
    throw std::runtime_error(path + ": not a .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(head[6]);
  uint32_t header_len = static_cast<unsigned char>(head[8]) |
                        (static_cast<uint32_t>(static_cast<unsigned char>(head[9])) << 8);
  if (major >= 2) {  // a 4-byte length: two more bytes
    char more[2];
    if (!in.read(more, 2)) throw std::runtime_error(path + ": truncated .npy header");
    header_len |= (static_cast<uint32_t>(static_cast<unsigned char>(more[0])) << 16) |
                  (static_cast<uint32_t>(static_cast<unsigned char>(more[1])) << 24);
  }
  if (header_len > (1u << 20)) throw std::runtime_error(path + ": implausible .npy header");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len))
    throw std::runtime_error(path + ": truncated .npy header");
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([<|=]?)([fi])(\\d)'")))
    throw std::runtime_error(path + ": .npy dtype is not given");
  const std::string kind = m[2].str() + m[3].str();
  if (kind != "f4" && kind != "f8")
    throw std::runtime_error(path + ": .npy dtype " + kind + "; crema reads float32 and float64");
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True")))
    throw std::runtime_error(path + ": Fortran-order array; save it in C order");
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")))
    throw std::runtime_error(path + ": .npy shape is not given");
  NpyArray a;
  const std::string dims = m[1].str();
  const std::regex number("\\d+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it)
    a.shape.push_back(std::stoll(it->str()));
  int64_t n = 1;
  for (int64_t d : a.shape) n *= d;
  a.data.resize(static_cast<size_t>(n));
  if (kind == "f4") {
    in.read(reinterpret_cast<char*>(a.data.data()), n * 4);
  } else {
    std::vector<double> d(static_cast<size_t>(n));
    in.read(reinterpret_cast<char*>(d.data()), n * 8);
    for (int64_t i = 0; i < n; ++i) a.data[i] = static_cast<float>(d[i]);
  }
  if (!in) throw std::runtime_error(path + ": holds fewer values than its shape says");
  return a;
}

void write_npy(const std::string& path, const Shape& shape, const float* data) {
  std::string dims;
  int64_t n = 1;
  for (int64_t d : shape) dims += std::to_string(d) + ", ", n *= d;
  if (shape.size() > 1) dims.resize(dims.size() - 1);  // (2,) for one axis, (2, 3) otherwise
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // The magic, version, length and header together are a multiple of 64 bytes, ending in \n.
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(kMagic, 6);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const char len[2] = {static_cast<char>(header.size() & 0xff),
                       static_cast<char>((header.size() >> 8) & 0xff)};
  out.write(len, 2);
  out << header;
  out.write(reinterpret_cast<const char*>(data), n * 4);
  if (!out) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
}

void load_input(Net& net, const std::string& spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::runtime_error("-input " + spec + ": give BLOB=FILE.npy");
  const std::string blob = spec.substr(0, eq), path = spec.substr(eq + 1);
  if (!net.has_blob(blob))
    throw std::runtime_error("-input " + spec + ": the net has no blob '" + blob + "'");
  const NpyArray a = read_npy(path);
  Tensor* t = net.blob(blob);
  t->reshape(a.shape);
  net.reshape();
  std::copy(a.data.begin(), a.data.end(), t->mutable_host_data());
}

std::vector<std::string> save_outputs(const Net& net, const std::string& dir,
                                      const std::vector<std::string>& extra) {
  std::vector<std::string> names;
  for (int id : net.output_blob_indices()) names.push_back(net.blob_names()[id]);
  for (const std::string& name : extra) {
    if (!net.has_blob(name))
      throw std::runtime_error("-save_blob " + name + ": the net has no blob of that name");
    names.push_back(name);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("-save_outputs " + dir + ": " + ec.message());
  std::vector<std::string> written;
  for (const std::string& name : names) {
    std::string file = name;
    for (char& c : file)
      if (c == '/') c = '_';
    const Tensor* b = net.blob(name);
    std::string path = dir;
    path.append("/").append(file).append(".npy");
    write_npy(path, b->shape(), b->to_float().data());  // widened where stored in bf16 or fp16
    written.push_back(path);
  }
  return written;
}

}  // namespace crema::tools
