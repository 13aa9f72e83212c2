// SPDX-License-Identifier: BSD-2-Clause
// The verb table: what each verb does, its flag groups and examples, for `crema help` and
// `crema VERB -help` (the flags themselves, with their defaults, come from each verb's options).
#include "verbs.hpp"

#include "crema/core/device.hpp"
#include "crema/plugin_abi.h"
#include "crema/solver/comm.hpp"

#ifndef CREMA_VERSION
#error "CREMA_VERSION (the CMake project version) is set by tools/CMakeLists.txt"
#endif

namespace crema::tools {

const std::vector<VerbInfo>& verb_table() {
  static const std::vector<VerbInfo> table = {
      {"train",
       run_train,
       "train a net from a solver definition; resume or fine-tune",
       "crema train -solver SOLVER.prototxt [-weights W.caffemodel | -snapshot S.solverstate] "
       "[flags]",
       "Trains the net a solver definition (a SolverParameter prototxt) names for its max_iter "
       "iterations, testing every test_interval iterations and writing snapshots as it says. "
       "Ctrl-C writes a snapshot and stops; -snapshot resumes from one, -weights starts from "
       "trained weights (fine-tuning). Started by mpirun (or srun), each process is one rank of "
       "a data-parallel run; -gpu 0,1 (or -gpu all) without mpirun runs one rank a GPU, each a "
       "thread of this process, and -ranks N runs N ranks on the CPU that way "
       "(docs/DISTRIBUTED.md).",
       {{"what to train",
         {"solver", "weights", "snapshot", "overwrite", "iterations", "level", "stage"}},
        {"where it runs", {"gpu", "fuse", "precision"}},
        {"several ranks (mpirun, -gpu 0,1, -ranks N)", {"ranks", "allreduce_overlap", "bucket_mb"}},
        {"signals", {"sigint_effect", "sighup_effect"}}},
       {"crema train -solver net_defs/fashion_mnist/solver.prototxt",
        "crema train -solver net_defs/fashion_mnist/solver.prototxt "
        "-snapshot snapshots/fashion_mnist/resnet20_iter_1000.solverstate",
        "mpirun -np 2 crema train -solver net_defs/fashion_mnist/solver.prototxt -threads 1",
        "crema train -solver net_defs/fashion_mnist/solver.prototxt -gpu 0,1"}},
      {"test",
       run_test,
       "score trained weights on the net's TEST phase",
       "crema test -model NET.prototxt -weights W.caffemodel [flags]",
       "Runs the net's TEST phase for -iterations batches with the trained weights and prints "
       "each output (accuracy, loss) per batch and averaged.",
       {{"what to score", {"model", "weights", "iterations", "stage"}},
        {"where it runs", {"gpu", "fuse", "precision"}}},
       {"crema test -model net_defs/fashion_mnist/resnet20.prototxt "
        "-weights snapshots/fashion_mnist/resnet20_iter_2814.caffemodel -iterations 100"}},
      {"time",
       run_time,
       "time forward and backward per layer; GFLOP/s and peak memory",
       "crema time -model NET.prototxt [-input_shape N,C,H,W] [flags]",
       "Times forward and backward per layer over -iterations steps (after two warm-up ones), "
       "then the step's GFLOP/s against this machine's OpenBLAS sgemm rate and the peak memory. "
       "A net whose data is not installed is timed with -input_shape: every data layer becomes "
       "an Input of that shape, filled with random values.",
       {{"what to time", {"model", "input_shape", "phase", "iterations", "forward_only"}},
        {"where it runs", {"gpu", "fuse", "precision"}}},
       {"crema time -model net_defs/bench/resnet20_cifar_b64.prototxt -iterations 10",
        "crema time -model net_defs/cifar/resnet56.prototxt -input_shape 64,3,32,32"}},
      {"validate",
       run_validate,
       "check net and solver files without running them",
       "crema validate FILE.prototxt...",
       "Checks net and solver definitions without allocating anything: that they parse, that "
       "a plugin provides every layer type and that each net is wired for its phases; for a "
       "solver also its type, lr_policy and base_lr, with a warning for each field the chosen "
       "type or policy ignores. Exit status 0 when every file is usable.",
       {},
       {"crema validate net_defs/fashion_mnist/solver.prototxt",
        "crema validate net_defs/cifar/*.prototxt"}},
      {"summary",
       run_summary,
       "per-layer shapes, parameters, multiply-adds and memory",
       "crema summary -model NET.prototxt [-input_shape N,C,H,W] [flags]",
       "Builds the net (shapes only: no data is read, no weights filled) and prints each "
       "layer's output shape, parameters, multiply-adds and activation memory, then the totals.",
       {},
       {"crema summary -model net_defs/fashion_mnist/resnet20.prototxt",
        "crema summary -model net_defs/imagenet/resnet50.prototxt -input_shape 1,3,224,224"}},
      {"draw",
       run_draw,
       "draw a net as Graphviz DOT, SVG or PNG",
       "crema draw -model NET.prototxt [-out FILE.dot|FILE.svg|FILE.png] [flags]",
       "Draws the layers of one phase as Graphviz DOT (on stdout, or -out FILE.dot), or as SVG "
       "or PNG through Graphviz's `dot` (sudo apt-get install graphviz). In-place layers fold "
       "into the node before them; the layers of a residual block are boxed together.",
       {},
       {"crema draw -model net_defs/cifar/resnet20.prototxt -out resnet20.svg",
        "crema draw -model net_defs/cifar/resnet20.prototxt -phase TEST > resnet20.dot"}},
      {"plot",
       run_plot,
       "draw training curves of one or more runs into a PNG",
       "crema plot -log DIR [DIR...] [-out curves.png] [flags]",
       "Draws training loss, test loss, test accuracy and the learning rate against iterations "
       "from the metrics files crema train writes (<snapshot_prefix>_metrics.jsonl), one curve "
       "per run, the legend naming each run by its -log path. Drawn by Python's matplotlib "
       "(sudo apt-get install python3-matplotlib; CREMA_PYTHON names the python to use). "
       "For a live view: tensorboard --logdir DIR (docs/MONITORING.md).",
       {},
       {"crema plot -log snapshots/fashion_mnist",
        "crema plot -log runs/lr0.1 runs/lr0.01 -out lr_sweep.png"}},
      {"export",
       run_export,
       "write a net and its weights as an ONNX model",
       "crema export -model NET.prototxt [-weights W.caffemodel] -out NET.onnx [flags]",
       "Writes the net's TEST phase as an ONNX model (NCHW, float32 weights as initializers, "
       "a symbolic batch axis N) for ONNX Runtime, TensorRT or OpenVINO. BatchNorm + Scale "
       "become one BatchNormalization, pooling keeps Caffe's rounding and AVE divisors; a layer "
       "without a mapping is refused with its name and type (docs/ONNX.md). A train/test net "
       "needs -input_shape: its data layers become inputs, losses and Accuracy are dropped.",
       {{"what to write", {"model", "weights", "out", "opset", "input_shape"}}},
       {"crema export -model net_defs/imagenet/resnet50.prototxt -weights r50.caffemodel "
        "-out resnet50.onnx",
        "crema export -model net_defs/cifar/resnet20.prototxt -input_shape 1,3,32,32 "
        "-weights resnet20_iter_64000.caffemodel -out resnet20.onnx"}},
      {"import",
       run_import,
       "turn an ONNX model into a prototxt and caffemodel",
       "crema import -onnx MODEL.onnx -out NET.prototxt -weights NET.caffemodel [flags]",
       "Writes an ONNX model (Conv, BatchNormalization, Relu, Add, pooling, Gemm, MatMul, "
       "Softmax, Concat, Flatten, ...) as a deploy prototxt and its weights, for crema test "
       "and for fine-tuning with crema train; -train_net and -solver also write a train/test "
       "net over LMDB data and a solver. Unsupported operators are listed all at once, with "
       "their node names (docs/ONNX.md).",
       {{"what to read and write", {"onnx", "out", "weights", "batch"}},
        {"fine-tuning",
         {"train_net", "solver", "train_source", "test_source", "train_batch", "base_lr",
          "max_iter"}}},
       {"crema import -onnx resnet18.onnx -out resnet18.prototxt -weights resnet18.caffemodel",
        "crema import -onnx net.onnx -out net.prototxt -weights net.caffemodel "
        "-train_net train.prototxt -solver solver.prototxt -train_source train_lmdb "
        "-test_source test_lmdb"}},
      {"convert",
       run_convert,
       "write MNIST or CIFAR files into an LMDB for the Data layer",
       "crema convert -format mnist|cifar10|cifar100 ... -output DB  |  crema convert -verify DB",
       "Writes MNIST or CIFAR files into an LMDB of Datum records, as Caffe's convert tools "
       "do, for the Data layer; -verify reads an LMDB back and checks every record.",
       {{"what to read",
         {"format", "images", "labels", "input", "split", "coarse_label", "max_images"}},
        {"what to write", {"output", "backend"}},
        {"checking an LMDB", {"verify"}}},
       {"crema convert -format mnist -images train-images-idx3-ubyte.gz "
        "-labels train-labels-idx1-ubyte.gz -output mnist_train_lmdb",
        "crema convert -format cifar10 -input cifar-10-batches-bin -split test -output cifar_test",
        "crema convert -verify mnist_train_lmdb"}},
      {"plugins",
       run_plugins,
       "list the layer plugins found and where they were searched",
       "crema plugins [-schema] [flags]",
       "Lists the layer plugins found, with their layer types, versions, devices and parameter "
       "blocks, then the directories searched and every library refused, with the reason.",
       {},
       {"crema plugins", "crema plugins -plugin_dir my_layers/build -schema"}},
      {"check-plugin",
       run_check_plugin,
       "gradient-check the test configurations a plugin declares",
       "crema check-plugin PLUGIN.so... [flags]",
       "Loads a plugin through the loader training uses and runs every test configuration it "
       "declares: a finite-difference gradient check on the CPU and, where a GPU exists, on the "
       "GPU with CPU/GPU agreement. One PASS/FAIL/SKIP line per check; exit status 1 on a "
       "failure.",
       {},
       {"crema check-plugin build/lib/crema/plugins/relu.so",
        "crema check-plugin my_layer.so -threshold 1e-3"}},
      {"device_query",
       run_device_query,
       "show the GPU(s), or why there is none",
       "crema device_query [-gpu ID|all]",
       "Describes the GPUs CUDA sees, or says why there is none (exit status 1 then).",
       {},
       {"crema device_query", "crema device_query -gpu 0"}},
  };
  return table;
}

const VerbInfo* find_verb(const std::string& name) {
  for (const VerbInfo& v : verb_table())
    if (name == v.name) return &v;
  return nullptr;
}

void print_usage(std::ostream& out) {
  out << "usage: crema VERB [flags]\n\n"
         "crema " CREMA_VERSION ": Caffe's nets, solvers and commands; every layer a plugin.\n\n"
         "verbs:\n";
  for (const VerbInfo& v : verb_table()) {
    const std::string name = v.name;
    out << "  " << name << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') << v.summary
        << "\n";
  }
  out << "\ncrema help VERB (or crema VERB -help): what a verb does, its flags and examples.\n"
         "crema --version: the version, the plugin ABI and whether the GPU path is built.\n"
         "Flags are spelled as in Caffe (-flag value, -flag=value; --flag works too); every "
         "verb\ntakes -plugin_dir DIR, -threads N and -log_file FILE.\n\n"
         "start here: crema train -solver net_defs/fashion_mnist/solver.prototxt\n";
}

void print_version(std::ostream& out) {
  out << "crema " CREMA_VERSION "\n"
      << "plugin ABI " << CREMA_ABI_MAJOR << "." << CREMA_ABI_MINOR << "\n"
      << (device::built_with_cuda() ? "CUDA: built (crema device_query shows the GPUs)\n"
                                    : "CUDA: not built (CREMA_WITH_CUDA=OFF): CPU only\n")
      << (built_with_mpi() ? "MPI: yes (mpirun -np N crema train ...: docs/DISTRIBUTED.md)\n"
                           : "MPI: no (CREMA_WITH_MPI=OFF): one process\n");
}

}  // namespace crema::tools
