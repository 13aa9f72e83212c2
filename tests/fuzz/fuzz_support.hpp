// SPDX-License-Identifier: BSD-2-Clause
// What the fuzz targets share: a scratch folder in memory for the readers that take a path, the
// small nets that the weights and solver-state targets load into (the seed writer builds the
// same ones), and the rule that crema's own errors are answers, not findings.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include <google/protobuf/stubs/logging.h>

namespace crema::fuzz {

// A folder of this process's own under /dev/shm (tmpfs: a file per input costs microseconds),
// removed at exit.
class Scratch {
 public:
  Scratch() {
    namespace fs = std::filesystem;
    const fs::path shm = "/dev/shm";
    dir_ = (fs::is_directory(shm) ? shm : fs::temp_directory_path()) /
           ("crema-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // Writes `size` bytes to NAME in the folder; returns its path.
  std::string write(const std::string& name, const uint8_t* data, size_t size) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string dir() const { return dir_.string(); }

 private:
  std::filesystem::path dir_;
};

// Protobuf logs each string field that is not UTF-8 as it copies a parsed message; thousands of
// such lines a second slow the fuzzing down and say nothing that crema's answer does not.
inline void quiet_protobuf() {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

inline Scratch& scratch() {
  static Scratch s;
  return s;
}

// Runs `read` on one input. A std::exception is the reader refusing the input with a message,
// which is what it should do; anything else (a crash, a sanitizer report, a leak, a hang, an
// allocation past -malloc_limit_mb) reaches libFuzzer as a finding. CREMA_FUZZ_VERBOSE=1 prints
// the messages (to see why a seed or a reproducer is refused).
template <class F>
int guarded(F&& read) {
  static const bool verbose = std::getenv("CREMA_FUZZ_VERBOSE") != nullptr;
  try {
    read();
    if (verbose) std::fprintf(stderr, "crema-fuzz: accepted\n");
  } catch (const std::exception& e) {
    if (verbose) std::fprintf(stderr, "crema-fuzz: refused: %s\n", e.what());
  }
  return 0;
}

// The net that .caffemodel inputs are copied into: every kind of parameter blob the copy checks
// (4-d convolution weights, 1-d biases, BatchNorm's three statistics blobs, 2-d weights).
inline const char* kWeightsNet = R"(
  name: "fuzz_weights"
  layer { name: "data" type: "Input" top: "x"
    input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } } }
  layer { name: "conv" type: "Convolution" bottom: "x" top: "c"
    convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" } } }
  layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" }
  layer { name: "scale" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }
  layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
  layer { name: "ip" type: "InnerProduct" bottom: "c" top: "y"
    inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
)";

// The solver whose state .solverstate inputs restore (SGD with momentum: one history blob per
// parameter; two learning-rate steps, so current_step has a range to check).
inline const char* kStateSolver = R"(
  type: "SGD" base_lr: 0.01 momentum: 0.9 lr_policy: "multistep" gamma: 0.1
  stepvalue: 10 stepvalue: 20 max_iter: 30 display: 0 random_seed: 3 solver_mode: CPU
  snapshot_after_train: false
  net_param {
    name: "fuzz_state"
    layer { name: "data" type: "DummyData" top: "x" top: "label"
      dummy_data_param { shape { dim: 4 dim: 5 } shape { dim: 4 }
                         data_filler { type: "gaussian" std: 1 }
                         data_filler { type: "uniform" min: 0 max: 2.99 } } }
    layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y"
      inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
  }
)";

// The solver-state target keeps the weights its state files name beside them, as snapshots are.
inline const char* kStateWeightsName = "fuzz_state.caffemodel";

}  // namespace crema::fuzz
