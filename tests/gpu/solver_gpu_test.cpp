// SPDX-License-Identifier: BSD-2-Clause
// Training on the GPU agrees with training on the CPU: every optimiser's weights after a few steps
// (the update kernels), gradient clipping, and the loss curve of a short run of a small residual
// net (convolution, BatchNorm, Scale, ReLU, Eltwise, pooling, dropout, softmax loss) from the same
// seed; loss scaling of device gradients, and fp16 / bf16 training (tensor-core convolutions and
// inner products) against fp32. Skipped, never passed, without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "../solver/tiny_net.hpp"
#include "crema/core/device.hpp"
#include "crema/core/host.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/solver/solver.hpp"

namespace crema {
namespace {

namespace fs = std::filesystem;

// A residual unit with a projection shortcut, BN before the addition, on 2x3x8x8 inputs.
const char* kResidual = R"(
  name: "res"
  layer { name: "data" type: "DummyData" top: "x" top: "label"
    dummy_data_param { shape { dim: 4 dim: 3 dim: 8 dim: 8 } shape { dim: 4 }
                       data_filler { type: "gaussian" std: 1 }
                       data_filler { type: "uniform" min: 0 max: 3.99 } } }
  layer { name: "conv1" type: "Convolution" bottom: "x" top: "c1"
    convolution_param { num_output: 8 kernel_size: 3 pad: 1 bias_term: false weight_filler { type: "msra" } } }
  layer { name: "bn1" type: "BatchNorm" bottom: "c1" top: "c1" }
  layer { name: "sc1" type: "Scale" bottom: "c1" top: "c1" scale_param { bias_term: true } }
  layer { name: "relu1" type: "ReLU" bottom: "c1" top: "c1" }
  layer { name: "conv2" type: "Convolution" bottom: "c1" top: "c2"
    convolution_param { num_output: 8 kernel_size: 3 pad: 1 stride: 2 bias_term: false weight_filler { type: "msra" } } }
  layer { name: "bn2" type: "BatchNorm" bottom: "c2" top: "c2" }
  layer { name: "sc2" type: "Scale" bottom: "c2" top: "c2" scale_param { bias_term: true } }
  layer { name: "proj" type: "Convolution" bottom: "x" top: "p"
    convolution_param { num_output: 8 kernel_size: 1 stride: 2 bias_term: false weight_filler { type: "msra" } } }
  layer { name: "bnp" type: "BatchNorm" bottom: "p" top: "p" }
  layer { name: "scp" type: "Scale" bottom: "p" top: "p" scale_param { bias_term: true } }
  layer { name: "add" type: "Eltwise" bottom: "c2" bottom: "p" top: "s" }
  layer { name: "relu2" type: "ReLU" bottom: "s" top: "s" }
  layer { name: "pool" type: "Pooling" bottom: "s" top: "g" pooling_param { pool: AVE global_pooling: true } }
  layer { name: "drop" type: "Dropout" bottom: "g" top: "g" dropout_param { dropout_ratio: 0.2 } }
  layer { name: "fc" type: "InnerProduct" bottom: "g" top: "y" inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
)";

pb::SolverParameter solver_for(const char* net, const std::string& type, bool gpu) {
  pb::SolverParameter p = parse_solver_text("base_lr: 0.05 lr_policy: 'fixed' momentum: 0.9 "
                                            "weight_decay: 0.001 random_seed: 7 display: 0 "
                                            "average_loss: 1 snapshot_after_train: false",
                                            "<test>", Registry::global());
  *p.mutable_net_param() = parse_net_text(net, "<net>", Registry::global());
  p.set_type(type);
  if (type == "AdaGrad" || type == "RMSProp") p.clear_momentum();
  if (type == "AdaDelta") p.set_base_lr(1.0f), p.set_momentum(0.95f);
  if (type == "Adam") p.set_base_lr(0.01f), p.set_momentum2(0.999f);
  p.set_solver_mode(gpu ? pb::SolverParameter::GPU : pb::SolverParameter::CPU);
  p.set_snapshot_prefix((fs::temp_directory_path() / "crema_solver_gpu_test").string());
  return p;
}

SolverOptions quiet() {
  SolverOptions o;
  o.quiet = true;
  return o;
}

std::vector<float> weights(Solver& s) {
  std::vector<float> out;
  for (Tensor* t : s.net().all_params())
    out.insert(out.end(), t->host_data(), t->host_data() + t->count());
  return out;
}

// Largest |a - b| relative to the largest |a|.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 1e-12;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(a[i])));
  }
  return num / den;
}

class SolverGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (device::count() == 0) GTEST_SKIP() << "no CUDA device: " << device::unavailable_reason();
    set_num_threads(1);
  }
};

TEST_F(SolverGpuTest, EveryOptimiserMatchesTheCpu) {
  for (const char* type : {"SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"}) {
    Solver cpu(solver_for(test_nets::kTinyNet, type, false), quiet());
    Solver gpu(solver_for(test_nets::kTinyNet, type, true), quiet());
    ASSERT_EQ(gpu.net().device(), CREMA_CUDA) << type;
    cpu.step(10);
    gpu.step(10);
    std::vector<float> a = weights(cpu), b = weights(gpu);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_LT(relative_difference(a, b), 1e-4) << type;
  }
}

TEST_F(SolverGpuTest, ClippingAndL1MatchTheCpu) {
  auto make = [](bool gpu) {
    auto p = solver_for(test_nets::kTinyNet, "SGD", gpu);
    p.set_clip_gradients(0.05f);
    p.set_regularization_type("L1");
    p.set_iter_size(2);
    return p;
  };
  Solver cpu(make(false), quiet()), gpu(make(true), quiet());
  cpu.step(6);
  gpu.step(6);
  EXPECT_LT(relative_difference(weights(cpu), weights(gpu)), 1e-4);
}

TEST_F(SolverGpuTest, ResidualNetLossCurveMatchesTheCpu) {
  Solver cpu(solver_for(kResidual, "SGD", false), quiet()),
      gpu(solver_for(kResidual, "SGD", true), quiet());
  for (int it = 0; it < 15; ++it) {
    cpu.step(1);
    gpu.step(1);
    const float a = cpu.smoothed_loss(), b = gpu.smoothed_loss();
    ASSERT_TRUE(std::isfinite(b)) << "iteration " << it;
    EXPECT_NEAR(a, b, 1e-3 * std::max(1.f, std::fabs(a))) << "iteration " << it;
  }
  EXPECT_LT(relative_difference(weights(cpu), weights(gpu)), 1e-3);
}

TEST_F(SolverGpuTest, TrainingStepsAllocateNothingAfterTheFirst) {
  Solver gpu(solver_for(kResidual, "Adam", true), quiet());
  gpu.step(2);  // the first steps size every tensor, history and workspace
  const size_t before = device::malloc_count();
  gpu.step(5);
  EXPECT_EQ(device::malloc_count(), before);
}

// The loss scaler reads and rescales the gradients wherever they are (the device here): with a
// scale near FLT_MAX the first step overflows and is skipped, then training proceeds and the
// weights follow the CPU's run of the same net.
TEST_F(SolverGpuTest, DynamicLossScalingMatchesTheCpu) {
  const char* net = R"(
    global_grad_scale: 3.4e38 global_grad_scale_adaptive: true
    layer { name: "data" type: "DummyData" top: "x" top: "label"
      dummy_data_param { shape { dim: 8 dim: 6 } shape { dim: 8 }
                         data_filler { type: "gaussian" std: 1 }
                         data_filler { type: "uniform" min: 0 max: 2.99 } } }
    layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
      inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss"
            loss_weight: 4 })";
  Solver cpu(solver_for(net, "SGD", false), quiet()), gpu(solver_for(net, "SGD", true), quiet());
  ASSERT_EQ(gpu.net().device(), CREMA_CUDA);
  const std::vector<float> start = weights(gpu);
  gpu.step(1);
  EXPECT_EQ(weights(gpu), start) << "an overflowed step changed the weights";
  cpu.step(1);
  cpu.step(100);
  gpu.step(100);
  EXPECT_NE(weights(gpu), start) << "training never resumed";
  EXPECT_LT(relative_difference(weights(cpu), weights(gpu)), 1e-4);
}

// The residual net in fp16 (dynamic loss scaling from 1024) and bf16 on the tensor cores, against
// the same run in fp32 on the GPU: the convolutions and the inner product compute in the type (the
// precision line names them), and the loss curve follows fp32's. Bound: inputs rounded to 2^-11
// (fp16) or 2^-8 (bf16) of themselves move a loss of about 1.4 by a few 1e-3 over 15 steps of
// this net; 2% (fp16) and 5% (bf16) leave room for that and fail a path that is wrong (a bad
// gradient sends the curve off by far more within a few steps). Skipped on a GPU without tensor
// cores for the type.
void reduced_precision_follows_fp32(crema_dtype math, const char* name, int capability,
                                    double tolerance) {
  const int cc = device::compute_capability();
  if (cc < capability)
    GTEST_SKIP() << "this GPU has compute capability " << cc / 10 << "." << cc % 10 << ": " << name
                 << " tensor cores need " << capability / 10 << ".0";
  const std::string net = std::string("global_grad_scale: 1024 global_grad_scale_adaptive: true") +
                          kResidual;
  SolverOptions reduced = quiet();
  reduced.precision = math;
  Solver fp32(solver_for(net.c_str(), "SGD", true), quiet()),
      narrow(solver_for(net.c_str(), "SGD", true), reduced);
  const std::string summary = narrow.net().precision_summary();
  EXPECT_NE(summary.find(std::string(name) + " in 4 of"), std::string::npos) << summary;
  EXPECT_NE(summary.find("(Convolution, InnerProduct)"), std::string::npos) << summary;
  // The blobs between the layers that take 2-byte storage on the GPU are stored in it: all but
  // the data, the pooled features around Dropout (which declares none), the logits and the loss.
  EXPECT_NE(summary.find(std::string(name) + " storage for"), std::string::npos) << summary;
  for (const char* blob : {"c1", "c2", "p", "s"})
    EXPECT_EQ(narrow.net().blob(blob)->dtype(), math) << blob;
  EXPECT_EQ(narrow.net().blob("x")->dtype(), CREMA_FLOAT32);
  for (int it = 0; it < 15; ++it) {
    fp32.step(1);
    narrow.step(1);
    const float a = fp32.smoothed_loss(), b = narrow.smoothed_loss();
    ASSERT_TRUE(std::isfinite(b)) << "iteration " << it;
    EXPECT_NEAR(a, b, tolerance * std::max(1.f, std::fabs(a))) << "iteration " << it;
  }
}

TEST_F(SolverGpuTest, Fp16ResidualNetFollowsFp32) {
  reduced_precision_follows_fp32(CREMA_FLOAT16, "fp16", 70, 0.02);
}

TEST_F(SolverGpuTest, Bf16ResidualNetFollowsFp32) {
  reduced_precision_follows_fp32(CREMA_BFLOAT16, "bf16", 80, 0.05);
}

TEST_F(SolverGpuTest, GpuModeRunsEveryLayerOnTheGpu) {
  // A layer without a CUDA path would silently fall back to the CPU; the residual net's layers
  // (data layer aside) must all have one.
  Solver gpu(solver_for(kResidual, "SGD", true), quiet());
  for (int i = 0; i < gpu.net().num_layers(); ++i) {
    const auto& layer = gpu.net().layer(i);
    if (layer.type() == "DummyData") continue;
    EXPECT_TRUE(layer.has_cuda()) << layer.type();
  }
}

}  // namespace
}  // namespace crema
