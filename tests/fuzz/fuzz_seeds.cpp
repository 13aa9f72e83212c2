// SPDX-License-Identifier: BSD-2-Clause
// Writes the binary seed inputs of the fuzz targets (scripts/fuzz.sh runs it), each a small valid
// file or a close variant, so that fuzzing starts past the first checks of every reader:
//   caffemodel/  the weights net's own weights, and the same weights in the V1 and V0 formats
//   solverstate/ the state solver's snapshot (it names the weights the target keeps beside it)
//   mnist/       idx files, plain and gzip, in the target's input layout (mnist_fuzz.cpp)
//   cifar/       CIFAR-10 and CIFAR-100 records, plain and gzip (cifar_fuzz.cpp)
//   datum/       Datum records: pixels, float data, encoded
//   lmdb_check/  a data.mdb of a few Datum records, as crema convert writes them
//   net_prototxt/, solver_prototxt/  nets and solvers in the legacy formats
// usage: fuzz_seeds OUTDIR
#include <lmdb.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "crema/core/host.hpp"
#include "crema/core/net.hpp"
#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/solver.hpp"
#include "fuzz_support.hpp"

namespace fs = std::filesystem;
using Bytes = std::string;

namespace {

fs::path out_dir;

void put(const std::string& target, const std::string& name, const Bytes& bytes) {
  fs::create_directories(out_dir / target);
  std::ofstream(out_dir / target / name, std::ios::binary) << bytes;
}

Bytes gzip(const Bytes& plain) {
  const fs::path tmp = out_dir / "tmp.gz";
  gzFile f = gzopen(tmp.c_str(), "wb9");
  gzwrite(f, plain.data(), static_cast<unsigned>(plain.size()));
  gzclose(f);
  std::ifstream in(tmp, std::ios::binary);
  Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(tmp);
  return out;
}

Bytes be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

void caffemodel_seeds() {
  crema::Net net(
      crema::parse_net_text(crema::fuzz::kWeightsNet, "<seed>", crema::Registry::global()));
  crema::pb::NetParameter now;
  net.to_proto(&now);
  put("caffemodel", "current.caffemodel", now.SerializeAsString());
  // The same blobs in the older formats, with the legacy 4-d blob shapes.
  crema::pb::NetParameter v1, v0;
  for (const crema::pb::LayerParameter& l : now.layer()) {
    if (l.type() != "Convolution" && l.type() != "InnerProduct") continue;
    const bool conv = l.type() == "Convolution";
    crema::pb::V1LayerParameter* a = v1.add_layers();
    a->set_name(l.name());
    a->set_type(conv ? crema::pb::V1LayerParameter::CONVOLUTION
                     : crema::pb::V1LayerParameter::INNER_PRODUCT);
    crema::pb::V0LayerParameter* b = v0.add_layers()->mutable_layer();
    b->set_name(l.name());
    b->set_type(conv ? "conv" : "innerproduct");
    for (const crema::pb::BlobProto& blob : l.blobs()) {
      crema::pb::BlobProto legacy;
      std::vector<int64_t> d(blob.shape().dim().begin(), blob.shape().dim().end());
      while (d.size() < 4) d.insert(d.begin(), 1);
      legacy.set_num(static_cast<int32_t>(d[0]));
      legacy.set_channels(static_cast<int32_t>(d[1]));
      legacy.set_height(static_cast<int32_t>(d[2]));
      legacy.set_width(static_cast<int32_t>(d[3]));
      *legacy.mutable_data() = blob.data();
      *a->add_blobs() = legacy;
      *b->add_blobs() = legacy;
    }
  }
  put("caffemodel", "v1.caffemodel", v1.SerializeAsString());
  put("caffemodel", "v0.caffemodel", v0.SerializeAsString());
}

void solverstate_seeds() {
  crema::pb::SolverParameter param =
      crema::parse_solver_text(crema::fuzz::kStateSolver, "<seed>", crema::Registry::global());
  const fs::path dir = out_dir / "solver_run";
  fs::create_directories(dir);
  param.set_snapshot_prefix((dir / "fuzz").string());
  param.set_metrics_file((dir / "metrics.jsonl").string());
  crema::SolverOptions options;
  options.quiet = true;
  crema::Solver solver(param, options);
  solver.step(12);  // past the first step value: current_step 1, momentum in the history
  const std::string weights = solver.snapshot();
  crema::pb::SolverState state;
  crema::read_binary_proto(weights.substr(0, weights.size() - 10) + "solverstate", &state);
  // The weights as the target keeps them, beside the state it restores.
  state.set_learned_net(crema::fuzz::kStateWeightsName);
  put("solverstate", "iter_12.solverstate", state.SerializeAsString());
  state.clear_learned_net();
  put("solverstate", "no_weights.solverstate", state.SerializeAsString());
  fs::remove_all(dir);
}

void mnist_seeds() {
  auto images = [](uint32_t n, uint32_t rows, uint32_t cols) {
    Bytes b = be32(0x803) + be32(n) + be32(rows) + be32(cols);
    for (uint32_t i = 0; i < n * rows * cols; ++i) b += static_cast<char>(i * 7);
    return b;
  };
  auto labels = [](uint32_t n) {
    Bytes b = be32(0x801) + be32(n);
    for (uint32_t i = 0; i < n; ++i) b += static_cast<char>(i % 10);
    return b;
  };
  // max_images, the labels file's length (16 bits, little-endian), labels, images.
  auto input = [](int max_images, const Bytes& l, const Bytes& i) {
    return Bytes{static_cast<char>(max_images), static_cast<char>(l.size() & 0xff),
                 static_cast<char>(l.size() >> 8)} +
           l + i;
  };
  put("mnist", "plain", input(0, labels(3), images(3, 4, 5)));
  put("mnist", "limited", input(2, labels(4), images(4, 3, 3)));
  put("mnist", "gzip", input(0, gzip(labels(5)), gzip(images(5, 6, 6))));
}

void cifar_seeds() {
  auto records = [](int n, int label_bytes) {
    Bytes b;
    for (int r = 0; r < n; ++r) {
      for (int k = 0; k < label_bytes; ++k) b += static_cast<char>((r + k) % 10);
      for (int i = 0; i < 3072; ++i) b += static_cast<char>(i + r);
    }
    return b;
  };
  // The first byte: bit 0 CIFAR-100, bit 1 coarse, bits 2-3 the image limit.
  put("cifar", "cifar10", Bytes(1, '\x00') + records(1, 1));
  put("cifar", "cifar100_fine", Bytes(1, '\x01') + records(1, 2));
  put("cifar", "cifar100_coarse_limit1", Bytes(1, '\x07') + records(2, 2));
  put("cifar", "cifar10_gzip", Bytes(1, '\x00') + gzip(records(2, 1)));
}

std::vector<crema::pb::Datum> datums() {
  std::vector<crema::pb::Datum> out(3);
  out[0].set_channels(1), out[0].set_height(2), out[0].set_width(3), out[0].set_label(4);
  out[0].set_data(Bytes("\x01\x02\x03\x04\x05\x06", 6));
  out[1].set_channels(2), out[1].set_height(1), out[1].set_width(2), out[1].set_label(1);
  for (float f : {0.5f, -1.0f, 2.0f, 3.5f}) out[1].add_float_data(f);
  out[2].set_channels(3), out[2].set_height(2), out[2].set_width(2), out[2].set_encoded(true);
  out[2].set_data(Bytes("\x89PNG\r\n\x1a\n", 8));
  return out;
}

void datum_seeds() {
  const std::vector<crema::pb::Datum> d = datums();
  for (size_t i = 0; i < d.size(); ++i)
    put("datum", "datum" + std::to_string(i), d[i].SerializeAsString());
}

void lmdb_seeds() {
  const fs::path dir = out_dir / "lmdb_tmp";
  fs::create_directories(dir);
  MDB_env* env;
  MDB_txn* txn;
  MDB_dbi dbi;
  mdb_env_create(&env);
  mdb_env_set_mapsize(env, 1 << 20);
  if (mdb_env_open(env, dir.c_str(), 0, 0664) != 0) throw std::runtime_error("mdb_env_open");
  mdb_txn_begin(env, nullptr, 0, &txn);
  mdb_dbi_open(txn, nullptr, 0, &dbi);
  std::vector<crema::pb::Datum> records = datums();
  records.pop_back();  // the Data layer wants one shape: the first record's
  records[1] = records[0];
  for (size_t i = 0; i < records.size(); ++i) {
    std::string key = "0000000" + std::to_string(i), value = records[i].SerializeAsString();
    MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
    mdb_put(txn, dbi, &k, &v, 0);
  }
  mdb_txn_commit(txn);
  mdb_env_close(env);
  std::ifstream in(dir / "data.mdb", std::ios::binary);
  put("lmdb_check", "data.mdb",
      Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
  fs::remove_all(dir);
}

void legacy_text_seeds() {
  put("net_prototxt", "v0.prototxt", R"(name: "v0"
input: "data" input_dim: 1 input_dim: 1 input_dim: 8 input_dim: 8
layers { layer { name: "pad1" type: "padding" pad: 1 } bottom: "data" top: "pad1" }
layers { layer { name: "conv1" type: "conv" num_output: 4 kernelsize: 3 stride: 1 }
         bottom: "pad1" top: "conv1" }
layers { layer { name: "relu1" type: "relu" } bottom: "conv1" top: "conv1" }
layers { layer { name: "pool1" type: "pool" pool: MAX kernelsize: 2 stride: 2 }
         bottom: "conv1" top: "pool1" }
layers { layer { name: "ip" type: "innerproduct" num_output: 3 } bottom: "pool1" top: "ip" }
layers { layer { name: "prob" type: "softmax" } bottom: "ip" top: "prob" }
)");
  put("net_prototxt", "v1.prototxt", R"(name: "v1"
layers { name: "data" type: DATA top: "data" top: "label"
  data_param { source: "db" batch_size: 4 scale: 0.00390625 mirror: true }
  include { phase: TRAIN } }
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" blobs_lr: 1 blobs_lr: 2
  convolution_param { num_output: 4 kernel_size: 3 } }
layers { name: "ip" type: INNER_PRODUCT bottom: "conv" top: "ip"
  inner_product_param { num_output: 3 } }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "ip" bottom: "label" top: "loss" }
layers { name: "acc" type: ACCURACY bottom: "ip" bottom: "label" top: "acc"
  include { phase: TEST } }
)");
  put("solver_prototxt", "legacy.prototxt", R"(net: "net.prototxt"
solver_type: NESTEROV base_lr: 0.01 momentum: 0.9 lr_policy: "step" stepsize: 100 gamma: 0.5
max_iter: 1000 snapshot: 100 snapshot_prefix: "snap" solver_mode: CPU
)");
  put("solver_prototxt", "inline_net.prototxt", crema::fuzz::kStateSolver);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds OUTDIR\n";
    return 2;
  }
  out_dir = argv[1];
  crema::set_num_threads(1);
  try {
    caffemodel_seeds();
    solverstate_seeds();
    mnist_seeds();
    cifar_seeds();
    datum_seeds();
    lmdb_seeds();
    legacy_text_seeds();
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
