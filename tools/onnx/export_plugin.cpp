// SPDX-License-Identifier: BSD-2-Clause
// A plugin layer's own ONNX mapping, through the plugin ABI's export hook (crema_layer_ext.
// onnx_export, minor 3): the plugin describes a chain of nodes in plain C structs; here they
// become nodes and initializers. Every array is stepped by its elements' struct_size, so that
// later minors may grow them.
#include <algorithm>
#include <string>
#include <vector>

#include "export_layers.hpp"

namespace crema::onnx_io {

namespace {

template <class T>
const T& element(const T* base, size_t i) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(base);
  return *reinterpret_cast<const T*>(bytes + i * base->struct_size);
}

void add_attr(onnx::NodeProto& n, const crema_onnx_attr& a, const LayerToExport& l) {
  if (!a.name) l.refuse("its ONNX export hook gives an attribute without a name");
  switch (a.type) {
    case CREMA_ONNX_INT: set_attr(n, a.name, a.i); break;
    case CREMA_ONNX_FLOAT: set_attr(n, a.name, static_cast<float>(a.f)); break;
    case CREMA_ONNX_INTS:
      set_attr(n, a.name, std::vector<int64_t>(a.ints, a.ints + a.count));
      break;
    case CREMA_ONNX_FLOATS: {
      onnx::AttributeProto* p = n.add_attribute();
      p->set_name(a.name);
      p->set_type(onnx::AttributeProto::FLOATS);
      for (int32_t i = 0; i < a.count; ++i) p->add_floats(a.floats[i]);
      break;
    }
    case CREMA_ONNX_STRING: {
      onnx::AttributeProto* p = n.add_attribute();
      p->set_name(a.name);
      p->set_type(onnx::AttributeProto::STRING);
      p->set_s(a.s ? a.s : "");
      break;
    }
    default:
      l.refuse("its ONNX export hook gives attribute '" + std::string(a.name) +
               "' of an unknown type");
  }
}

}  // namespace

bool export_by_plugin(const LayerToExport& l, GraphBuilder& g) {
  if (!l.instance) return false;
  const crema_onnx_graph* graph = l.instance->onnx_export(l.bottom, l.top);
  if (!graph) return false;
  if (graph->n_nodes < 1) l.refuse("its ONNX export hook gives no nodes");
  if (l.param.top_size() != 1) l.refuse("the ONNX export hook describes one-top layers only");
  const std::string& name = l.param.name();
  std::vector<std::string> bottoms;
  for (const auto& b : l.param.bottom()) bottoms.push_back(g.value(b));
  std::vector<std::string> params(l.blobs.size()), consts(static_cast<size_t>(graph->n_consts));
  std::vector<std::string> outputs;
  auto value = [&](int32_t ref) -> std::string {
    if (ref >= 0 && ref < static_cast<int32_t>(bottoms.size())) return bottoms[ref];
    const int32_t kind = ref & ~0xFFFF, i = ref & 0xFFFF;
    if (kind == CREMA_ONNX_PARAM(0) && i < static_cast<int32_t>(params.size())) {
      if (params[i].empty())
        params[i] = g.floats(name + "/param" + std::to_string(i), l.blobs[i]->shape(), l.blob(i));
      return params[i];
    }
    if (kind == CREMA_ONNX_CONST(0) && i < graph->n_consts) {
      if (consts[i].empty()) {
        const crema_onnx_const& c = element(graph->consts, static_cast<size_t>(i));
        Shape dims(c.dims, c.dims + c.ndim);
        int64_t count = 1;
        for (int64_t d : dims) count *= d;
        consts[i] = g.floats(name + "/const" + std::to_string(i), dims,
                             std::vector<float>(c.data, c.data + count));
      }
      return consts[i];
    }
    if (kind == CREMA_ONNX_NODE(0) && i < static_cast<int32_t>(outputs.size())) return outputs[i];
    l.refuse("its ONNX export hook names value " + std::to_string(ref) + ", which is none");
  };
  for (int32_t k = 0; k < graph->n_nodes; ++k) {
    const crema_onnx_node& node = element(graph->nodes, static_cast<size_t>(k));
    if (!node.op_type) l.refuse("its ONNX export hook gives a node without an op_type");
    std::vector<std::string> in;
    in.reserve(static_cast<size_t>(std::max(node.n_inputs, 0)));
    for (int32_t j = 0; j < node.n_inputs; ++j) in.push_back(value(node.inputs[j]));
    const bool last = k + 1 == graph->n_nodes;
    const std::string out = last ? g.define(l.param.top(0), name)
                                 : g.fresh(name + "/" + std::to_string(k));
    onnx::NodeProto& n =
        g.node(node.op_type, last ? name : name + "/" + std::to_string(k), in, {out});
    for (int32_t j = 0; j < node.n_attrs; ++j)
      add_attr(n, element(node.attrs, static_cast<size_t>(j)), l);
    outputs.push_back(out);
  }
  return true;
}

}  // namespace crema::onnx_io
