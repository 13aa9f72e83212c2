// SPDX-License-Identifier: BSD-2-Clause
#include "net_stats.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "crema/core/net_wiring.hpp"
#include "crema/core/registry.hpp"

namespace crema::tools {

namespace {

bool aliases_a_bottom(Net& net, int i, const Tensor* t) {
  for (const Tensor* b : net.bottoms(i))
    if (b == t || t->shares_data_with(*b)) return true;
  return false;
}

// Window area of a Pooling layer (0 for global pooling: the whole bottom).
int64_t pool_window(const pb::PoolingParameter& p) {
  if (p.global_pooling()) return 0;
  const int64_t kh = p.has_kernel_h() ? p.kernel_h() : p.kernel_size();
  const int64_t kw = p.has_kernel_w() ? p.kernel_w() : p.kernel_size();
  return kh * kw;
}

// A data layer's batch_size, from whichever <type>_param holds one (plugins' parameter blocks
// are read through the composed schema); 0 when none does.
int64_t batch_size_of(const pb::LayerParameter& layer) {
  namespace gpb = google::protobuf;
  Registry& registry = Registry::global();
  const gpb::Descriptor* type = registry.message_type("LayerParameter");
  if (!type) return 0;
  std::unique_ptr<gpb::Message> m(registry.factory().GetPrototype(type)->New());
  if (!m->ParseFromString(layer.SerializeAsString())) return 0;
  std::vector<const gpb::FieldDescriptor*> fields;
  m->GetReflection()->ListFields(*m, &fields);
  for (const gpb::FieldDescriptor* f : fields) {
    if (f->cpp_type() != gpb::FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) continue;
    const gpb::Message& param = m->GetReflection()->GetMessage(*m, f);
    const gpb::FieldDescriptor* b = param.GetDescriptor()->FindFieldByName("batch_size");
    if (!b || b->is_repeated()) continue;
    const gpb::Reflection* r = param.GetReflection();
    switch (b->cpp_type()) {
      case gpb::FieldDescriptor::CPPTYPE_UINT32: return r->GetUInt32(param, b);
      case gpb::FieldDescriptor::CPPTYPE_INT32: return r->GetInt32(param, b);
      case gpb::FieldDescriptor::CPPTYPE_UINT64:
        return static_cast<int64_t>(r->GetUInt64(param, b));
      case gpb::FieldDescriptor::CPPTYPE_INT64: return r->GetInt64(param, b);
      default: break;
    }
  }
  return 0;
}

// "(get the data ... or measure the net without it: -input_shape 128,3,32,32 ...)" for the first
// layer without bottoms in the phase built; C, H and W are known for MNISTData and CIFARData, and
// a crop_size gives H and W.
std::string missing_data_hint(const pb::NetParameter& def, const NetOptions& opt) {
  pb::NetState state;
  state.set_phase(opt.phase);
  state.set_level(opt.level);
  for (const std::string& s : opt.stages) state.add_stage(s);
  std::string shape = "N,C,H,W";
  const pb::NetParameter built = filter_net(def, state);
  for (const pb::LayerParameter& l : built.layer()) {
    if (l.bottom_size() > 0 || l.top_size() == 0) continue;
    const int64_t n = batch_size_of(l);
    std::string c = "C", hw = "H,W";
    if (l.type() == "MNISTData") c = "1", hw = "28,28";
    if (l.type() == "CIFARData") c = "3", hw = "32,32";
    if (const uint32_t crop = l.transform_param().crop_size(); crop > 0)
      hw = std::to_string(crop) + "," + std::to_string(crop);
    shape = n > 0 ? std::to_string(n) : "N";
    shape.append(",").append(c).append(",").append(hw);
    break;
  }
  return "\n(get the data (see net_defs/README.md) or measure the net without it: -input_shape " +
         shape + " makes every data layer an Input of that shape)";
}

}  // namespace

void rethrow_with_data_hint(const std::exception& e, const pb::NetParameter& def,
                            const NetOptions& opt) {
  const std::string what = e.what();
  if (what.find("cannot open") == std::string::npos) throw;
  throw std::runtime_error(what + missing_data_hint(def, opt));
}

std::unique_ptr<Net> build_net(const pb::NetParameter& def, const NetOptions& opt) {
  return build_with_data_hint(def, opt, [&] { return std::make_unique<Net>(def, opt); });
}

// Multiply-adds are counted where they dominate: a weight applied at every output position
// (Convolution, ConvolutionDepthwise, InnerProduct, Deconvolution) costs |W| x positions. The
// element-wise layers are counted apart (other_ops), so that "MACs" stays the figure papers quote.
NetStats net_stats(Net& net) {
  NetStats s;
  const pb::NetParameter& def = net.definition();
  for (int i = 0; i < net.num_layers(); ++i) {
    LayerInstance& l = net.layer(i);
    LayerStats ls;
    ls.name = l.name();
    ls.type = l.type();
    if (!net.tops(i).empty()) ls.top_shape = net.tops(i)[0]->shape();
    if (i == 0 && !ls.top_shape.empty()) s.batch = ls.top_shape[0];
    for (const ParamBlob& p : l.params())
      if (!p.is_state) ls.params += p.tensor->count();
    for (Tensor* t : net.tops(i))
      if (!aliases_a_bottom(net, i, t)) ls.activations += t->count();
    if (!l.params().empty() && !net.tops(i).empty()) {
      const Tensor& w = *l.params()[0].tensor;
      const Tensor& top = *net.tops(i)[0];
      if (ls.type == "Convolution" || ls.type == "ConvolutionDepthwise") {
        ls.macs = double(w.count()) * top.count() / std::max<int64_t>(1, top.dim(1));
        if (ls.type == "ConvolutionDepthwise" && w.ndim() == 4 && w.dim(1) != 1)
          ls.macs = double(w.count()) / w.dim(1) * top.count() / top.dim(1);
      } else if (ls.type == "InnerProduct") {
        const int64_t rows = top.count() / std::max<int64_t>(1, top.dim(-1));  // exact
        ls.macs = double(w.count()) * double(rows);
      }
    }
    if (!net.tops(i).empty() && !net.bottoms(i).empty()) {
      const double out = static_cast<double>(net.tops(i)[0]->count());
      const double in = static_cast<double>(net.bottoms(i)[0]->count());
      if (ls.type == "BatchNorm" || ls.type == "Scale" || ls.type == "Bias" || ls.type == "ReLU" ||
          ls.type == "Dropout") {
        ls.other_ops = out;
      } else if (ls.type == "Eltwise") {
        ls.other_ops = out * std::max<size_t>(1, net.bottoms(i).size() - 1);
      } else if (ls.type == "Pooling" && i < def.layer_size()) {
        const int64_t window = pool_window(def.layer(i).pooling_param());
        ls.other_ops = window ? out * window : in;
      }
    }
    s.params += ls.params;
    s.macs += ls.macs;
    s.other_ops += ls.other_ops;
    s.activations += ls.activations;
    s.layers.push_back(ls);
  }
  return s;
}

Shape parse_shape(const std::string& text) {
  Shape shape;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
    }
    if (v <= 0 || used != item.size())
      throw std::runtime_error("bad shape '" + text +
                               "': give positive integers separated by commas, e.g. 1,3,224,224");
    shape.push_back(v);
  }
  if (shape.empty()) throw std::runtime_error("empty shape");
  return shape;
}

pb::NetParameter with_input_shape(const pb::NetParameter& def, const Shape& shape) {
  pb::NetParameter out = def;
  out.clear_layer();
  for (const pb::LayerParameter& l : def.layer()) {
    if (l.bottom_size() > 0 || l.top_size() == 0) {
      *out.add_layer() = l;
      continue;
    }
    pb::LayerParameter in;
    in.set_name(l.name());
    in.set_type("Input");
    for (const auto& t : l.top()) in.add_top(t);
    *in.mutable_include() = l.include();
    *in.mutable_exclude() = l.exclude();
    if (l.has_phase()) in.set_phase(l.phase());
    for (int t = 0; t < l.top_size(); ++t) {
      pb::BlobShape* s = in.mutable_input_param()->add_shape();
      if (t == 0)
        for (int64_t d : shape) s->add_dim(d);
      else
        s->add_dim(shape[0]);
    }
    *out.add_layer() = in;
  }
  return out;
}

}  // namespace crema::tools
