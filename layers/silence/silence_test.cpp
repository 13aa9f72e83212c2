// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>

#include <algorithm>

#include "crema/core/device.hpp"
#include "crema/core/layer_instance.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "crema/core/tensor.hpp"

namespace {
crema::pb::LayerParameter silence_param(int bottoms) {
  std::string text = "name: 'silence' type: 'Silence'";
  for (int i = 0; i < bottoms; ++i) text += " bottom: 'b" + std::to_string(i) + "'";
  return crema::parse_layer_text(text, "<test>", crema::Registry::global());
}
crema_exec gpu_exec() {
  crema_exec ex{};
  ex.struct_size = sizeof(ex);
  ex.phase = CREMA_TRAIN;
  ex.device = CREMA_CUDA;
  ex.num_threads = 1;
  crema::device::select(0);
  ex.cuda_stream = crema::device::stream();
  ex.cublas_handle = crema::device::cublas_handle();
  ex.cudnn_handle = crema::device::cudnn_handle();
  return ex;
}
crema_exec cpu_exec() {
  crema_exec ex{};
  ex.struct_size = sizeof(ex);
  ex.phase = CREMA_TRAIN;
  ex.device = CREMA_CPU;
  ex.num_threads = 1;
  return ex;
}
}  // namespace

TEST(Silence, DescriptorHasNoTopsAndNoBackward) {
  crema::LayerInstance layer(silence_param(1), crema::Registry::global());
  EXPECT_EQ(layer.desc().min_tops, 0);
  EXPECT_EQ(layer.desc().max_tops, 0);
  EXPECT_EQ(layer.desc().max_bottoms, -1);
  EXPECT_TRUE(layer.desc().flags & CREMA_LAYER_NO_BACKWARD);
}

TEST(Silence, ForwardNothingBackwardZerosRequestedDiffs) {
  crema::LayerInstance layer(silence_param(2), crema::Registry::global());
  crema::Tensor a(crema::Shape{2, 3}), b(crema::Shape{5});
  std::vector<crema::Tensor*> bottoms{&a, &b}, tops;
  crema_exec ex = cpu_exec();
  layer.setup(bottoms, tops, ex);
  layer.reshape(bottoms, tops, ex);
  float* ad = a.mutable_host_data();
  for (int i = 0; i < 6; ++i) ad[i] = float(i);
  layer.forward(bottoms, tops, ex);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.host_data()[i], float(i));
  float* ag = a.mutable_host_diff();
  float* bg = b.mutable_host_diff();
  std::fill(ag, ag + 6, 5.f);
  std::fill(bg, bg + 5, 5.f);
  layer.backward(tops, bottoms, {1, 0}, false, ex);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.host_diff()[i], 0.f);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.host_diff()[i], 5.f);  // not asked for
}

TEST(Silence, RefusesTops) {
  crema::pb::LayerParameter p = silence_param(1);
  p.add_top("t");
  crema::LayerInstance layer(p, crema::Registry::global());
  crema::Tensor a(crema::Shape{2}), t;
  std::vector<crema::Tensor*> bottoms{&a}, tops{&t};
  crema_exec ex = cpu_exec();
  EXPECT_THROW(layer.setup(bottoms, tops, ex), std::exception);
}

TEST(Silence, SilencesANetOutput) {
  crema::Registry& reg = crema::Registry::global();
  crema::Net net(crema::parse_net_text("layer { name: 'x' type: 'Input' top: 'x' top: 'y' "
                                       "input_param { shape { dim: 2 dim: 3 } } }\n"
                                       "layer { name: 's' type: 'Silence' bottom: 'x' }\n",
                                       "<net>", reg),
                 {}, reg);
  net.forward();
  net.backward();
  // Only 'y' is left as an output.
  ASSERT_EQ(net.output_blob_indices().size(), 1u);
  EXPECT_EQ(net.blob_names()[net.output_blob_indices()[0]], "y");
}

TEST(Silence, GpuBackwardZerosRequestedDiffs) {
  if (crema::device::count() == 0) GTEST_SKIP() << "no CUDA device";
  crema::LayerInstance layer(silence_param(2), crema::Registry::global());
  ASSERT_TRUE(layer.has_cuda());
  crema::Tensor a(crema::Shape{2, 3}), b(crema::Shape{5});
  std::vector<crema::Tensor*> bottoms{&a, &b}, tops;
  crema_exec ex = gpu_exec();
  layer.setup(bottoms, tops, ex);
  layer.reshape(bottoms, tops, ex);
  float* ad = a.mutable_host_data();
  for (int i = 0; i < 6; ++i) ad[i] = float(i);
  layer.forward(bottoms, tops, ex);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.host_data()[i], float(i));
  std::fill(a.mutable_host_diff(), a.mutable_host_diff() + 6, 5.f);
  std::fill(b.mutable_host_diff(), b.mutable_host_diff() + 5, 5.f);
  layer.backward(tops, bottoms, {1, 0}, false, ex);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.host_diff()[i], 0.f);  // zeroed on the device
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.host_diff()[i], 5.f);  // not asked for
}

TEST(Silence, GpuNet) {
  if (crema::device::count() == 0) GTEST_SKIP() << "no CUDA device";
  crema::Registry& reg = crema::Registry::global();
  crema::Net net(crema::parse_net_text("layer { name: 'x' type: 'Input' top: 'x' top: 'y' "
                                       "input_param { shape { dim: 2 dim: 3 } } }\n"
                                       "layer { name: 's' type: 'Silence' bottom: 'x' }\n",
                                       "<net>", reg),
                 {}, reg);
  net.set_device(CREMA_CUDA);
  net.forward();
  net.backward();
  ASSERT_EQ(net.output_blob_indices().size(), 1u);
}
