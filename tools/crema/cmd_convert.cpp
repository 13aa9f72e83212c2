// SPDX-License-Identifier: BSD-2-Clause
// crema convert: MNIST or CIFAR files -> an LMDB of Datum records, as Caffe's convert_mnist_data
// and convert_cifar_data write them (key "%08d" = the image's index, channels/height/width, raw
// uint8 `data`, label), for the Data layer. The files are read and validated by the same code as
// the MNISTData and CIFARData layers (layers/data_common).
//   crema convert -format mnist -images train-images-idx3-ubyte.gz -labels train-labels-idx1-ubyte.gz -output db
//   crema convert -format cifar10 -input cifar-10-batches-bin [-split test] -output db
//   crema convert -verify db   (reads every record, in a child process: cmd_convert_verify.cpp)
#include <lmdb.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "crema.pb.h"
#include "datasets.hpp"
#include "flags.hpp"
#include "verbs.hpp"

namespace crema::tools {

int verify_lmdb(const std::string& dir);  // cmd_convert_verify.cpp

namespace {

void check_mdb(int rc, const std::string& what) {
  if (rc != MDB_SUCCESS) throw std::runtime_error(what + ": " + mdb_strerror(rc));
}

// Writes key/value pairs into a new LMDB, committing every 1000 records like Caffe's tools.
class LmdbWriter {
 public:
  LmdbWriter(const std::string& path, size_t map_bytes) : path_(path) {
    if (std::filesystem::exists(path))
      throw std::runtime_error(path + " already exists: remove it or choose another -output");
    std::filesystem::create_directories(path);
    check_mdb(mdb_env_create(&env_), "mdb_env_create");
    check_mdb(mdb_env_set_mapsize(env_, map_bytes), "mdb_env_set_mapsize");
    check_mdb(mdb_env_open(env_, path.c_str(), 0, 0664), "cannot create LMDB " + path);
    begin();
  }
  ~LmdbWriter() {
    if (txn_) mdb_txn_abort(txn_);
    if (env_) mdb_env_close(env_);
  }
  void put(const std::string& key, const std::string& value) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    check_mdb(mdb_put(txn_, dbi_, &k, &v, 0), "writing " + path_);
    if (++pending_ == 1000) commit(), begin();
  }
  void finish() { commit(); }

 private:
  void begin() {
    check_mdb(mdb_txn_begin(env_, nullptr, 0, &txn_), "writing " + path_);
    check_mdb(mdb_dbi_open(txn_, nullptr, 0, &dbi_), "writing " + path_);
    pending_ = 0;
  }
  void commit() {
    MDB_txn* t = txn_;
    txn_ = nullptr;
    check_mdb(mdb_txn_commit(t), "writing " + path_);
  }
  std::string path_;
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  MDB_dbi dbi_ = 0;
  int pending_ = 0;
};

}  // namespace

int run_convert(int argc, char** argv) {
  po::options_description desc(
      "crema convert -format mnist -images FILE -labels FILE -output DB\n"
      "crema convert -format cifar10|cifar100 -input DIR|FILE [-split train|test] -output DB\n"
      "crema convert -verify DB");
  desc.add_options()("format", one_of("format", {"mnist", "cifar10", "cifar100"}),
                     "the files' format")("images", existing_file("images"),
                                          "mnist: the idx3 images file (plain or .gz)")(
      "labels", existing_file("labels"), "mnist: the idx1 labels file (plain or .gz)")(
      "input", po::value<std::string>()->value_name("DIR|FILE"),
      "cifar: the binary-version directory, or one .bin file")(
      "split", one_of("split", {"train", "test"})->default_value("train"), "cifar: which images")(
      "coarse_label", po::bool_switch(), "cifar100: store the coarse instead of the fine label")(
      "max_images", non_negative_int64("max_images")->default_value(0),
      "convert only the first N (0: all)")(
      "backend", po::value<std::string>()->default_value("lmdb")->value_name("lmdb"),
      "lmdb (leveldb is not supported)")("output", po::value<std::string>()->value_name("DB"),
                                         "the LMDB directory to create")(
      "verify", po::value<std::string>()->value_name("DB"),
      "read every record of the LMDB directory DB and check it as the Data layer will; damage "
      "that crashes liblmdb is reported, not fatal (it reads in a child process). Prints the "
      "record count and shape; exit status 0 when all is well, 1 otherwise");
  add_common_options(desc);
  auto vm = parse_flags(argc, argv, desc, "convert");
  if (vm.count("verify")) return verify_lmdb(vm["verify"].as<std::string>());
  auto need = [&](const char* flag) {
    if (!vm.count(flag))
      throw std::runtime_error(std::string("give -") + flag + " (see: crema convert -help)");
    return vm[flag].as<std::string>();
  };
  const std::string format = need("format"), output = need("output");
  if (vm["backend"].as<std::string>() != "lmdb")
    throw std::runtime_error("-backend " + vm["backend"].as<std::string>() +
                             " is not supported: crema writes and reads LMDB only");
  const int64_t max_images = vm["max_images"].as<int64_t>();
  data::ImageSet set;
  if (format == "mnist") {
    set = data::load_mnist(need("images"), need("labels"), max_images);
  } else if (format == "cifar10" || format == "cifar100") {
    data::CifarFormat f;
    f.cifar100 = format == "cifar100";
    f.coarse = vm["coarse_label"].as<bool>();
    set = data::load_cifar(data::cifar_files(need("input"), vm["split"].as<std::string>(), f), f,
                           max_images);
  } else {
    throw std::runtime_error("-format is mnist, cifar10 or cifar100, not '" + format + "'");
  }
  // Raw records of < 4 KB take one page each (two for CIFAR's overflow); leave generous room.
  const size_t per_record = static_cast<size_t>(set.image_bytes() + 64) / 4096 * 4096 + 8192;
  LmdbWriter db(output, static_cast<size_t>(set.size()) * per_record + (size_t{64} << 20));
  pb::Datum datum;
  datum.set_channels(set.channels);
  datum.set_height(set.height);
  datum.set_width(set.width);
  std::string value;
  char key[32];
  for (int64_t i = 0; i < set.size(); ++i) {
    datum.set_data(set.pixels.data() + i * set.image_bytes(),
                   static_cast<size_t>(set.image_bytes()));
    datum.set_label(static_cast<int>(set.labels[static_cast<size_t>(i)]));
    datum.SerializeToString(&value);
    std::snprintf(key, sizeof key, "%08lld", static_cast<long long>(i));
    db.put(key, value);
  }
  db.finish();
  std::cout << "wrote " << set.size() << " records (" << set.channels << "x" << set.height << "x"
            << set.width << ") to " << output << "\n";
  return 0;
}

}  // namespace crema::tools
