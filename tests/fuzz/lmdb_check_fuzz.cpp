// SPDX-License-Identifier: BSD-2-Clause
// An LMDB's data.mdb as check_lmdb looks at it before liblmdb maps the file: the input is the
// file, in a folder of its own as Caffe writes LMDBs.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "fuzz_support.hpp"
#include "lmdb_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const crema::fuzz::Scratch& scratch = crema::fuzz::scratch();
  static const std::string dir = [&] {
    std::filesystem::create_directories(scratch.path("lmdb"));
    return scratch.path("lmdb");
  }();
  scratch.write("lmdb/data.mdb", data, size);
  return crema::fuzz::guarded([&] { crema::data::check_lmdb(dir); });
}
