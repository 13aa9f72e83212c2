// SPDX-License-Identifier: BSD-2-Clause
// One Caffe layer as the exporter sees it, and the exporters per layer family (export_*.cpp).
// Each reads its bottoms' current ONNX values from the builder, adds nodes and initializers,
// and defines its tops. A configuration ONNX cannot express throws, naming the layer.
#pragma once
#include <string>
#include <vector>

#include "crema.pb.h"
#include "crema/core/layer_instance.hpp"
#include "graph_builder.hpp"

namespace crema::onnx_io {

struct LayerToExport {
  const pb::LayerParameter& param;
  std::vector<Shape> bottom, top;    // shapes, as the built net inferred them
  std::vector<const Tensor*> blobs;  // the layer's parameter blobs, in Caffe's order
  const LayerInstance* instance;     // for the plugin hook
  std::string label() const { return "layer '" + param.name() + "' (" + param.type() + ")"; }
  [[noreturn]] void refuse(const std::string& why) const;
  // Blob `i`'s values; throws naming the layer when it has no such blob.
  std::vector<float> blob(size_t i) const;
};

using ExportFn = void (*)(const LayerToExport&, GraphBuilder&);
// The exporter of a built-in layer type, or nullptr.
ExportFn find_exporter(const std::string& type);
// A plugin layer's own mapping (the export hook of the plugin ABI, minor 3): false when the
// plugin provides none.
bool export_by_plugin(const LayerToExport& layer, GraphBuilder& g);

// export_conv.cpp
void export_convolution(const LayerToExport& l, GraphBuilder& g);  // also ConvolutionDepthwise
void export_inner_product(const LayerToExport& l, GraphBuilder& g);
// export_norm.cpp: BatchNorm, folding the Scale that follows it when `scale` is given.
void export_batch_norm(const LayerToExport& bn, const LayerToExport* scale, GraphBuilder& g);
void export_batch_norm_alone(const LayerToExport& l, GraphBuilder& g);
void export_scale(const LayerToExport& l, GraphBuilder& g);
void export_bias(const LayerToExport& l, GraphBuilder& g);
void export_lrn(const LayerToExport& l, GraphBuilder& g);
// export_pool.cpp
void export_pooling(const LayerToExport& l, GraphBuilder& g);
// export_activation.cpp
void export_relu(const LayerToExport& l, GraphBuilder& g);
void export_prelu(const LayerToExport& l, GraphBuilder& g);
void export_sigmoid(const LayerToExport& l, GraphBuilder& g);
void export_tanh(const LayerToExport& l, GraphBuilder& g);
void export_softmax(const LayerToExport& l, GraphBuilder& g);
void export_dropout(const LayerToExport& l, GraphBuilder& g);
// export_combine.cpp
void export_eltwise(const LayerToExport& l, GraphBuilder& g);
void export_axpy(const LayerToExport& l, GraphBuilder& g);
void export_concat(const LayerToExport& l, GraphBuilder& g);
void export_slice(const LayerToExport& l, GraphBuilder& g);
void export_split(const LayerToExport& l, GraphBuilder& g);
// export_reshape.cpp
void export_flatten(const LayerToExport& l, GraphBuilder& g);
void export_reshape(const LayerToExport& l, GraphBuilder& g);

// Shared by the exporters: `v` unsqueezed with trailing unit axes up to `rank` axes from
// `first_axis` (a per-channel vector of shape (C) against an (N, C, H, W) tensor when first
// axis 1 and rank 4 -> an initializer of shape (C, 1, 1)).
Shape broadcast_shape(const Shape& param_shape, int64_t axis, size_t rank);

}  // namespace crema::onnx_io
