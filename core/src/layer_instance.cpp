// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/layer_instance.hpp"

#include <algorithm>
#include <cstddef>

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <sstream>
#include <stdexcept>

#include "crema/core/device.hpp"
#include "crema/core/filler.hpp"
#include "crema/core/log.hpp"
#include "crema/core/precision.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {

constexpr Tensor::Access kNone = Tensor::Access::kNone, kRead = Tensor::Access::kRead,
                         kWrite = Tensor::Access::kWrite;

LayerInstance::LayerInstance(const pb::LayerParameter& param, Registry& registry) : param_(param) {
  type_ = &registry.find(param.type());
  desc_ = type_->desc;
  fatal_context_ = label() + " of plugin " + type_->plugin->path;
  // The plugin reads its parameters through the composed schema, where its own block is a
  // real field (in the generated class it is an unknown field).
  const google::protobuf::Descriptor* d = registry.message_type("LayerParameter");
  dynamic_param_.reset(registry.factory().GetPrototype(d)->New());
  dynamic_param_->ParseFromString(param.SerializeAsString());
  params_handle_.layer = dynamic_param_.get();
  params_handle_.layer_name = param.name();
  void* self = nullptr;
  LogSourceScope source(&param_.type(), &param_.name());  // lines the plugin logs name the layer
  FatalContextScope fatal(&fatal_context_);
  if (desc_->create(host_table(), &params_handle_, &self) != CREMA_OK || !self)
    throw std::runtime_error(label() + ": " + take_plugin_error());
  self_ = self;
}

LayerInstance::~LayerInstance() {
  if (self_) desc_->destroy(self_);
}

const std::string& LayerInstance::plugin_path() const { return type_->plugin->path; }

bool LayerInstance::computes_in(crema_dtype math, crema_device device) const {
  if (math == CREMA_FLOAT32) return true;
  const uint32_t declared = device == CREMA_CUDA ? type_->cuda_math : type_->cpu_math;
  // bf16 on a CPU without bf16 dot products would be emulated, slower than fp32.
  if (device == CREMA_CPU && math == CREMA_BFLOAT16 && !cpu_has_bf16()) return false;
  // Likewise fp16 / bf16 on a GPU without tensor cores for the type.
  if (device == CREMA_CUDA && !gpu_lacks_math(math).empty()) return false;
  return declared & CREMA_DTYPE_BIT(math);
}

bool LayerInstance::stores_in(crema_dtype type, crema_device device) const {
  if (type == CREMA_FLOAT32) return true;
  const uint32_t declared = device == CREMA_CUDA ? type_->cuda_storage : type_->cpu_storage;
  if (device == CREMA_CPU && type == CREMA_BFLOAT16 && !cpu_has_bf16()) return false;
  if (device != CREMA_CUDA && type == CREMA_FLOAT16) return false;
  // A layer without a CUDA path runs on the CPU in a GPU net, where it declared nothing.
  if (device == CREMA_CUDA && !has_cuda()) return false;
  return declared & CREMA_DTYPE_BIT(type);
}

uint32_t LayerInstance::cpu_layouts() const { return type_->cpu_layouts; }

uint32_t LayerInstance::passes_gradient() const {
  return type_->passes_gradient && self_ ? type_->passes_gradient(self_) : 0;
}

std::string LayerInstance::label() const {
  return "layer '" + param_.name() + "' (" + param_.type() + ")";
}

void LayerInstance::fail(const std::string& stage, const std::vector<Tensor*>& bottom) const {
  std::ostringstream os;
  os << label() << " " << stage << ": " << take_plugin_error();
  if (!bottom.empty()) {
    os << " [bottom shapes:";
    for (size_t i = 0; i < bottom.size(); ++i)
      os << " " << param_.bottom(static_cast<int>(i)) << bottom[i]->shape_string();
    os << "]";
  }
  throw std::runtime_error(os.str());
}

crema_io LayerInstance::make_io(std::vector<crema_tensor>& b, std::vector<crema_tensor>& t,
                                std::vector<crema_tensor>& p) {
  crema_io io{};
  io.struct_size = sizeof(io);
  io.bottom = b.data();
  io.n_bottom = static_cast<int32_t>(b.size());
  io.top = t.data();
  io.n_top = static_cast<int32_t>(t.size());
  io.param = p.data();
  io.n_param = static_cast<int32_t>(p.size());
  return io;
}

void LayerInstance::setup(const std::vector<Tensor*>& bottom, const std::vector<Tensor*>& top,
                          const crema_exec& exec) {
  auto count_ok = [](int n, int lo, int hi) { return n >= lo && (hi < 0 || n <= hi); };
  auto range = [](int lo, int hi) {
    return lo == hi
               ? std::to_string(lo)
               : std::to_string(lo) + ".." + (hi < 0 ? std::string("any") : std::to_string(hi));
  };
  int nb = static_cast<int>(bottom.size()), nt = static_cast<int>(top.size());
  if (!count_ok(nb, desc_->min_bottoms, desc_->max_bottoms))
    throw std::runtime_error(label() + " takes " + range(desc_->min_bottoms, desc_->max_bottoms) +
                             " bottom(s), got " + std::to_string(nb));
  if (!count_ok(nt, desc_->min_tops, desc_->max_tops))
    throw std::runtime_error(label() + " produces " + range(desc_->min_tops, desc_->max_tops) +
                             " top(s), got " + std::to_string(nt));
  if (!in_place_ok())
    for (size_t i = 0; i < top.size(); ++i)
      if (std::find(bottom.begin(), bottom.end(), top[i]) != bottom.end())
        throw std::runtime_error(in_place_refusal(top_label(i)));
  std::vector<crema_tensor> b, t, p;
  for (Tensor* x : bottom) b.push_back(x->view(CREMA_CPU, kNone, kNone));
  for (Tensor* x : top) t.push_back(x->view(CREMA_CPU, kNone, kNone));
  crema_io io = make_io(b, t, p);
  crema_param_decls decls;
  LogSourceScope source(&param_.type(), &param_.name());
  FatalContextScope fatal(&fatal_context_);
  if (desc_->setup && desc_->setup(self_, &exec, &io, &decls) != CREMA_OK) fail("setup", bottom);
  params_.clear();
  for (size_t i = 0; i < decls.decls.size(); ++i) {
    const auto& d = decls.decls[i];
    ParamBlob pb;
    pb.tensor = std::make_shared<Tensor>(d.shape);
    pb.is_state = d.is_state;
    pb.filler_path = d.filler_path;
    pb.default_filler = d.default_filler;
    pb.default_value = d.default_value;
    if (!d.is_state && static_cast<int>(i) < param_.param_size()) {
      pb.lr_mult = param_.param(static_cast<int>(i)).lr_mult();
      pb.decay_mult = param_.param(static_cast<int>(i)).decay_mult();
    }
    if (d.is_state) pb.lr_mult = pb.decay_mult = 0;
    params_.push_back(pb);
  }
}

size_t LayerInstance::reshape(const std::vector<Tensor*>& bottom, const std::vector<Tensor*>& top,
                              const crema_exec& exec) {
  std::vector<crema_tensor> b, t, p;
  for (Tensor* x : bottom) b.push_back(x->view(CREMA_CPU, kNone, kNone));
  for (Tensor* x : top) t.push_back(x->view(CREMA_CPU, kNone, kNone));
  for (auto& x : params_) p.push_back(x.tensor->view(CREMA_CPU, kNone, kNone));
  // Every top must get its shape from this call: a top left as it was would be allocated with a
  // stale size (and written past its end) or, in place, silently keep the bottom's shape.
  for (crema_tensor& x : t) x.prev_ndim = x.ndim, x.ndim = -1;
  crema_io io = make_io(b, t, p);
  size_t ws = 0;
  LogSourceScope source(&param_.type(), &param_.name());
  FatalContextScope fatal(&fatal_context_);
  if (desc_->reshape(self_, &exec, &io, &ws) != CREMA_OK) fail("reshape", bottom);
  std::vector<Shape> shapes;
  for (size_t i = 0; i < top.size(); ++i) {
    const int32_t n = t[i].ndim;
    if (n < 0 || n > CREMA_MAX_DIMS)
      throw std::runtime_error(label() + " reshape: " + top_label(i) +
                               (n == -1 ? " got no shape" : " got ndim " + std::to_string(n)) +
                               ": reshape() must set every top's shape (c.top(i).set_shape(...))");
    Shape s(t[i].dims, t[i].dims + n);
    for (int64_t d : s)
      if (d < 0)
        throw std::runtime_error(label() + " reshape: " + top_label(i) + " got shape " +
                                 Tensor::format_shape(s) + " with a negative dimension");
    for (size_t j = 0; j < bottom.size(); ++j)
      if (top[i] == bottom[j] && s != bottom[j]->shape())
        throw std::runtime_error(label() + " reshape: " + top_label(i) +
                                 " runs in place on bottom " + std::to_string(j) +
                                 " but got shape " + Tensor::format_shape(s) +
                                 " instead of the bottom's " + bottom[j]->shape_string());
    shapes.push_back(std::move(s));
  }
  for (size_t i = 0; i < top.size(); ++i) {
    try {
      top[i]->reshape(shapes[i]);
    } catch (const std::exception& e) {  // a count past the limit
      throw std::runtime_error(label() + " reshape: " + top_label(i) + ": " + e.what());
    }
  }
  return ws;
}

std::string LayerInstance::top_label(size_t i) const {
  std::string out = "top " + std::to_string(i);
  const int k = static_cast<int>(i);
  if (k < param_.top_size()) out += " ('" + param_.top(k) + "')";
  return out;
}

std::string LayerInstance::in_place_refusal(const std::string& top) const {
  return label() + " cannot run in place (" + top +
         " is also its bottom): give the top another name, or, if the layer computes correctly "
         "with top and bottom one tensor, declare it in its plugin: LayerInfo.flags = "
         "CREMA_LAYER_IN_PLACE (crema_layer_desc.flags)";
}

void LayerInstance::call(crema_run_fn fn, const char* stage, crema_io& io, const crema_exec& exec,
                         const std::vector<Tensor*>& bottom) {
  LogSourceScope source(&param_.type(), &param_.name());
  FatalContextScope fatal(&fatal_context_);
  if (fn(self_, &exec, &io) != CREMA_OK) fail(stage, bottom);
}

bool LayerInstance::absorb(const LayerInstance& next) {
  if (desc_->struct_size < offsetof(crema_layer_desc, absorb) + sizeof(desc_->absorb) ||
      !desc_->absorb)
    return false;
  return desc_->absorb(self_, next.type().c_str(), &next.params_handle_) == 1;
}

const crema_onnx_graph* LayerInstance::onnx_export(const std::vector<Shape>& bottom,
                                                   const std::vector<Shape>& top) const {
  if (!type_->onnx_export) return nullptr;
  // Shapes only: the hook describes the layer, it computes nothing.
  auto views = [](const std::vector<Shape>& shapes) {
    std::vector<crema_tensor> v(shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
      v[i].dtype = CREMA_FLOAT32;
      v[i].device = CREMA_CPU;
      v[i].ndim = static_cast<int32_t>(std::min<size_t>(shapes[i].size(), CREMA_MAX_DIMS));
      for (int32_t d = 0; d < v[i].ndim; ++d) v[i].dims[d] = shapes[i][static_cast<size_t>(d)];
    }
    return v;
  };
  std::vector<crema_tensor> b = views(bottom), t = views(top), no_params;
  crema_io io = make_io(b, t, no_params);
  const crema_onnx_graph* graph = nullptr;
  take_plugin_error();  // clears an earlier call's message
  if (type_->onnx_export(self_, &io, &graph) != CREMA_OK || !graph)
    throw std::runtime_error(label() + ": its plugin gives no ONNX form: " + take_plugin_error());
  return graph;
}

void LayerInstance::forward(const std::vector<Tensor*>& bottom, const std::vector<Tensor*>& top,
                            const crema_exec& exec, const std::vector<LayerInstance*>& absorbed) {
  crema_exec ex = exec;
  crema_run_fn fn = desc_->forward_cpu;
  if (exec.device == CREMA_CUDA) {
    if (runs_on_gpu(false)) {
      fn = desc_->forward_cuda;
    } else {
      ex.device = CREMA_CPU;
      if (!warned_cpu_fallback_)
        CREMA_LOG(WARNING) << label() << " has no CUDA path: running it on the CPU";
      warned_cpu_fallback_ = true;
    }
  }
  auto dev = static_cast<crema_device>(ex.device);
  std::vector<crema_tensor> b, t, p;
  for (Tensor* x : bottom) b.push_back(x->view(dev, kRead, kNone));
  for (Tensor* x : top) t.push_back(x->view(dev, kWrite, kNone));
  for (auto& x : params_) p.push_back(x.tensor->view(dev, kWrite, kNone));
  if (dev == CREMA_CPU)
    for (LayerInstance* a : absorbed)
      for (auto& x : a->params_) p.push_back(x.tensor->view(dev, kWrite, kNone));
  crema_io io = make_io(b, t, p);
  if (dev == CREMA_CPU) io.n_absorbed = static_cast<int32_t>(absorbed.size());
  call(fn, "forward", io, ex, bottom);
}

void LayerInstance::backward(const std::vector<Tensor*>& top, const std::vector<Tensor*>& bottom,
                             const std::vector<int8_t>& propagate_down, bool params_need_grad,
                             const crema_exec& exec, const std::vector<LayerInstance*>& absorbed,
                             const std::vector<int8_t>& absorbed_need) {
  crema_exec ex = exec;
  crema_run_fn fn = desc_->backward_cpu;
  if (exec.device == CREMA_CUDA) {
    if (runs_on_gpu(true))
      fn = desc_->backward_cuda;
    else
      ex.device = CREMA_CPU;
  }
  if (!fn) throw std::runtime_error(label() + " has no backward pass but a gradient is needed");
  auto dev = static_cast<crema_device>(ex.device);
  std::vector<crema_tensor> b, t, p;
  for (Tensor* x : top) t.push_back(x->view(dev, kRead, kRead));
  for (size_t i = 0; i < bottom.size(); ++i)
    b.push_back(bottom[i]->view(dev, kRead, propagate_down[i] ? kWrite : kNone));
  for (auto& x : params_)
    p.push_back(x.tensor->view(dev, kRead, params_need_grad ? kWrite : kNone));
  if (dev == CREMA_CPU)
    for (size_t k = 0; k < absorbed.size(); ++k)
      for (auto& x : absorbed[k]->params_)
        p.push_back(x.tensor->view(dev, kRead, absorbed_need[k] ? kWrite : kNone));
  crema_io io = make_io(b, t, p);
  io.propagate_down = propagate_down.data();
  io.params_need_grad = params_need_grad;
  if (dev == CREMA_CPU) {
    io.n_absorbed = static_cast<int32_t>(absorbed.size());
    io.absorbed_params_need_grad = absorbed_need.data();
  }
  call(fn, "backward", io, ex, bottom);
}

void LayerInstance::fill_params(uint64_t seed, const std::vector<bool>& skip) {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (i < skip.size() && skip[i]) continue;
    ParamBlob& p = params_[i];
    Filler f = Filler::constant(p.default_value);
    if (!p.default_filler.empty()) f.type = p.default_filler;
    if (!p.filler_path.empty()) {
      int32_t has = 0;
      if (host_table()->param_has(&params_handle_, p.filler_path.c_str(), &has) != CREMA_OK)
        throw std::runtime_error(label() + ": " + take_plugin_error());
      if (has) f = Filler::from_params(&params_handle_, p.filler_path);
    }
    try {
      f.fill(*p.tensor, seed * 1000003ull + i);
    } catch (const std::exception& e) {
      throw std::runtime_error(label() + " param " + std::to_string(i) + ": " + e.what());
    }
  }
}

std::unique_ptr<LayerInstance> layer_from_text(const std::string& text, const std::string& where,
                                               Registry& registry) {
  return std::make_unique<LayerInstance>(parse_layer_text(text, where, registry), registry);
}

crema_exec cpu_exec(crema_phase phase) {
  crema_exec e{};
  e.struct_size = sizeof(e);
  e.phase = phase;
  e.device = CREMA_CPU;
  e.num_threads = num_threads();
  return e;
}

}  // namespace crema
