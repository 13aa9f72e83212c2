// SPDX-License-Identifier: BSD-2-Clause
// crema import: an ONNX model as a Caffe deploy net and its weights, and on request a train/test
// net and a solver to fine-tune it.
#pragma once
#include <string>
#include <vector>

#include "crema.pb.h"
#include "onnx/onnx.pb.h"

namespace crema::onnx_io {

struct ImportOptions {
  int64_t batch = 1;  // for a symbolic or unknown first input axis
};

struct ImportResult {
  pb::NetParameter deploy;   // Input layers, then one layer (or two) per node
  pb::NetParameter weights;  // the same layers with their blobs (.caffemodel)
  std::vector<std::string> notes;
};

// Converts the graph (read with read_onnx). Every node whose operator has no Caffe form is
// listed, all at once with the node names, in the exception; so are configurations Caffe cannot
// express (asymmetric padding whose output sizes differ, an average pool's divisor Caffe counts
// otherwise).
ImportResult import_onnx(const onnx::ModelProto& model, const ImportOptions& options);

// What crema import -train_net writes: the deploy net with its Input layers replaced by Data
// layers (LMDB, TRAIN and TEST sources, pixel values scaled by 1/256), a final Softmax dropped,
// and SoftmaxWithLoss + Accuracy (TEST) on the logits.
struct TrainNetOptions {
  std::string train_source, test_source;
  int batch = 32;
  float scale = 1.f / 256;
};
pb::NetParameter train_test_net(const pb::NetParameter& deploy, const TrainNetOptions& options);
// A solver for it: SGD with momentum 0.9, a fixed learning rate.
pb::SolverParameter fine_tune_solver(const std::string& train_net, float base_lr, int max_iter,
                                     const std::string& snapshot_prefix);

}  // namespace crema::onnx_io
