// SPDX-License-Identifier: BSD-2-Clause
// The export driver: builds the net, walks its layers in order, hands each to its exporter
// (export_*.cpp) or to its plugin's hook, and declares the graph's inputs and outputs.
#include "export_net.hpp"

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include "crema/core/log.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "export_layers.hpp"
#include "net_stats.hpp"

namespace crema::onnx_io {

void LayerToExport::refuse(const std::string& why) const {
  throw std::runtime_error(label() + ": " + why);
}

std::vector<float> LayerToExport::blob(size_t i) const {
  if (i >= blobs.size())
    refuse("has " + std::to_string(blobs.size()) + " parameter blobs, blob " + std::to_string(i) +
           " was expected");
  const Tensor* t = blobs[i];
  return std::vector<float>(t->host_data(), t->host_data() + t->count());
}

ExportFn find_exporter(const std::string& type) {
  static const std::map<std::string, ExportFn> table = {
      {"Convolution", export_convolution},
      {"ConvolutionDepthwise", export_convolution},
      {"InnerProduct", export_inner_product},
      {"BatchNorm", export_batch_norm_alone},
      {"Scale", export_scale},
      {"Bias", export_bias},
      {"LRN", export_lrn},
      {"Pooling", export_pooling},
      {"ReLU", export_relu},
      {"PReLU", export_prelu},
      {"Sigmoid", export_sigmoid},
      {"TanH", export_tanh},
      {"Softmax", export_softmax},
      {"Dropout", export_dropout},
      {"Eltwise", export_eltwise},
      {"Axpy", export_axpy},
      {"Concat", export_concat},
      {"Slice", export_slice},
      {"Split", export_split},
      {"Flatten", export_flatten},
      {"Reshape", export_reshape},
  };
  auto it = table.find(type);
  return it == table.end() ? nullptr : it->second;
}

namespace {

bool is_loss_or_metric(const LayerInstance& l) {
  const std::string& t = l.type();
  return (l.desc().flags & CREMA_LAYER_LOSS) || t == "Accuracy" || t == "Silence" ||
         (t.size() > 4 && t.compare(t.size() - 4, 4, "Loss") == 0);
}

LayerToExport view(Net& net, int i) {
  LayerToExport l{net.layer(i).param(), {}, {}, {}, &net.layer(i)};
  for (const Tensor* b : net.bottoms(i)) l.bottom.push_back(b->shape());
  for (const Tensor* t : net.tops(i)) l.top.push_back(t->shape());
  for (const ParamBlob& p : net.layer(i).params()) l.blobs.push_back(p.tensor.get());
  return l;
}

}  // namespace

ExportResult export_onnx(const ExportOptions& options) {
  if (options.opset < kMinOpset || options.opset > kMaxOpset)
    throw std::runtime_error("-opset " + std::to_string(options.opset) + ": crema writes opsets " +
                             std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset));
  pb::NetParameter def = read_net_file(options.model);
  if (!options.input_shape.empty()) def = tools::with_input_shape(def, options.input_shape);
  NetOptions opt;
  opt.phase = pb::TEST;
  opt.source = options.model;
  opt.fill_params = options.weights.empty();
  opt.fuse = false;
  std::unique_ptr<Net> net = tools::build_net(def, opt);
  ExportResult result;
  if (!options.weights.empty()) {
    Net::WeightsCopy copy;
    try {
      copy = net->copy_trained_layers_from(read_weights_file(options.weights));
    } catch (const std::exception& e) {
      throw std::runtime_error(options.weights + ": " + e.what());
    }
    if (!copy.not_copied.empty()) result.notes.push_back(options.weights + ": " + copy.summary());
  } else {
    result.notes.push_back("no -weights: the model holds the fillers' initial values");
  }

  onnx::ModelProto& model = result.model;
  model.set_ir_version(8);  // the IR of opsets 13-17 (ONNX 1.10-1.12)
  model.set_producer_name("crema");
  model.set_producer_version(options.producer_version);
  model.add_opset_import()->set_version(options.opset);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name(net->name().empty() ? "crema" : net->name());
  GraphBuilder g(graph);

  std::vector<std::string> refused;
  std::map<std::string, Shape> shape_of;  // per blob, for the graph's inputs and outputs
  std::vector<std::string> input_blobs, written;
  int64_t batch = -1;
  for (int i = 0; i < net->num_layers(); ++i) {
    LayerInstance& layer = net->layer(i);
    const LayerToExport l = view(*net, i);
    for (int t = 0; t < l.param.top_size(); ++t) shape_of[l.param.top(t)] = l.top[t];
    try {
      if (l.param.bottom_size() == 0) {
        if (layer.type() != "Input")
          l.refuse("a data layer: export a deploy net, or give -input_shape N,C,H,W to make its "
                   "data an input");
        for (const auto& t : l.param.top()) {
          g.alias(t, t);
          input_blobs.push_back(t);
          if (batch < 0 && !shape_of[t].empty()) batch = shape_of[t][0];
        }
        continue;
      }
      if (is_loss_or_metric(layer)) {
        if (layer.type() == "SoftmaxWithLoss") {
          const std::string in = g.value(l.param.bottom(0));
          const std::string prob = g.define("prob", l.param.name());
          shape_of["prob"] = l.bottom[0];
          set_attr(g.node("Softmax", l.param.name(), {in}, {prob}), "axis",
                   static_cast<int64_t>(l.param.softmax_param().axis()));
          written.emplace_back("prob");
          result.notes.push_back(l.label() + ": exported as its Softmax, output 'prob'");
        } else {
          result.notes.push_back(l.label() + ": dropped (training only)");
        }
        continue;
      }
      // BatchNorm then a Scale on its top: one BatchNormalization.
      if (layer.type() == "BatchNorm" && i + 1 < net->num_layers() &&
          net->layer(i + 1).type() == "Scale" && net->layer(i + 1).param().bottom_size() == 1 &&
          net->layer(i + 1).param().bottom(0) == l.param.top(0)) {
        const LayerToExport s = view(*net, i + 1);
        export_batch_norm(l, &s, g);
        for (int t = 0; t < s.param.top_size(); ++t) shape_of[s.param.top(t)] = s.top[t];
        written.push_back(s.param.top(0));
        ++i;  // the Scale is done
        continue;
      }
      if (ExportFn fn = find_exporter(layer.type())) {
        fn(l, g);
      } else if (!export_by_plugin(l, g)) {
        l.refuse("no ONNX mapping (its plugin provides no export hook)");
      }
      for (const auto& t : l.param.top()) written.push_back(t);
    } catch (const std::exception& e) {
      refused.emplace_back(e.what());
      // Later layers may read this layer's tops: let them, so that every refusal is found.
      for (const auto& t : l.param.top())
        if (!g.has_value(t)) g.alias(t, t);
    }
  }
  if (!refused.empty()) {
    std::string m = options.model + ": " + std::to_string(refused.size()) +
                    " layer(s) cannot be exported to ONNX:";
    for (const auto& r : refused) m += "\n  " + r;
    throw std::runtime_error(m);
  }

  // Inputs: the data blobs some node reads. Outputs: blobs whose current value no node reads.
  std::set<std::string> read, computed;
  for (const auto& n : graph->node()) {
    for (const auto& in : n.input()) read.insert(in);
    for (const auto& out : n.output()) computed.insert(out);
  }
  for (const auto& b : input_blobs) {
    if (!read.count(b)) {
      result.notes.push_back("input '" + b + "' is read by no exported layer: left out");
      continue;
    }
    onnx::ValueInfoProto* v = graph->add_input();
    v->set_name(b);
    set_float_type(*v, shape_of[b], true);
  }
  std::set<std::string> declared;
  for (const auto& b : written) {
    const std::string& value = g.value(b);
    if (read.count(value) || declared.count(value) || !computed.count(value)) continue;
    declared.insert(value);
    onnx::ValueInfoProto* v = graph->add_output();
    v->set_name(value);
    const Shape& s = shape_of[b];
    set_float_type(*v, s, !s.empty() && s[0] == batch);
  }
  if (graph->output_size() == 0)
    throw std::runtime_error(options.model + ": the net has no outputs");
  return result;
}

}  // namespace crema::onnx_io
