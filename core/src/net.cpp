// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/net.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "crema/core/device.hpp"
#include "crema/core/host.hpp"
#include "crema/core/memory_budget.hpp"
#include "crema/core/net_wiring.hpp"
#include "crema/core/registry.hpp"

namespace crema {

Net::Net(const pb::NetParameter& param, const NetOptions& options, Registry& registry)
    : options_(options) {
  init(param, registry);
}

Net::Net(const pb::NetParameter& param, const NetOptions& options)
    : Net(param, options, Registry::global()) {}

Net::~Net() = default;

namespace {
// SplitMix64's next value from state x: well-spread per-layer seeds from one net seed.
uint64_t mix(uint64_t x) { return crema_splitmix64(x + CREMA_SPLITMIX64_GAMMA); }
}  // namespace

crema_exec Net::make_exec(int layer, bool backward) const {
  crema_exec e{};
  e.struct_size = sizeof(e);
  e.phase = options_.phase == pb::TRAIN ? CREMA_TRAIN : CREMA_TEST;
  e.device = device_;
  e.num_threads = num_threads();
  e.rng_seed = mix(options_.seed * 1315423911ull + static_cast<uint64_t>(layer));
  e.rng_counter =
      layer >= 0 && layer < static_cast<int>(rng_counters_.size()) ? rng_counters_[layer] : 0;
  if (layer >= 0 && layer < static_cast<int>(math_.size()))
    e.math = backward ? math_[layer].backward : math_[layer].forward;
  e.world_rank = options_.world_rank;
  e.world_size = options_.world_size;
  if (workspace_ && workspace_bytes_) {
    // A layer without a CUDA path for this pass runs on the CPU in a GPU net (LayerInstance):
    // its scratch is host memory of its own (workspace_'s host side would be synchronised
    // with the device side, a copy of the whole workspace each way, for nothing).
    const bool fallback = device_ == CREMA_CUDA && layer >= 0 && layer < num_layers() &&
                          !layers_[layer]->runs_on_gpu(backward);
    if (fallback) {
      const auto floats =
          static_cast<int64_t>((workspace_bytes_ + sizeof(float) - 1) / sizeof(float));
      if (host_workspace_.count() < floats) host_workspace_.reshape({floats});
      e.workspace = host_workspace_.mutable_host_data();
    } else {
      e.workspace = device_ == CREMA_CUDA ? static_cast<void*>(workspace_->mutable_device_data())
                                          : static_cast<void*>(workspace_->mutable_host_data());
    }
    e.workspace_size = workspace_bytes_;
  }
  if (device_ == CREMA_CUDA) {
    e.cuda_stream = device::stream();
    e.cublas_handle = device::cublas_handle();
    e.cudnn_handle = device::cudnn_handle();
  }
  return e;
}

LayerMath Net::resolve_math(int i) const {
  LayerMath m = requested_math_[i];
  auto usable = [&](crema_dtype t) {
    return layers_[i]->computes_in(t, device_) ? t : CREMA_FLOAT32;
  };
  return {usable(m.forward), usable(m.backward)};
}

std::string Net::precision_summary() const {
  const std::string storage = storage_summary();
  return math_summary() + (storage.empty() ? "" : "; " + storage);
}

std::string Net::math_summary() const {
  std::map<crema_dtype, std::pair<int, std::set<std::string>>> by_math;  // math -> count, types
  bool asked = false;
  std::set<crema_dtype> asked_types;  // the narrower types asked for, for the GPU's reasons
  for (int i = 0; i < num_layers(); ++i) {
    asked = asked || requested_math_[i].forward != CREMA_FLOAT32 ||
            requested_math_[i].backward != CREMA_FLOAT32;
    for (crema_dtype t : {requested_math_[i].forward, requested_math_[i].backward})
      if (t != CREMA_FLOAT32) asked_types.insert(t);
    const crema_dtype f = layer_math(i).forward;
    by_math[f].first += 1;
    if (f != CREMA_FLOAT32) by_math[f].second.insert(layers_[i]->type());
  }
  if (!asked) return "fp32";
  std::string out;
  for (const auto& [math, what] : by_math) {
    if (math == CREMA_FLOAT32) continue;
    std::string types;
    for (const std::string& t : what.second) types += (types.empty() ? "" : ", ") + t;
    out += std::string(out.empty() ? "" : "; ") + dtype_name(math) + " in " +
           std::to_string(what.first) + " of " + std::to_string(num_layers()) + " layers (" +
           types + ")";
  }
  if (out.empty()) {
    out = "fp32 in every layer: none of them computes in the precision asked";
    if (device_ == CREMA_CPU && !cpu_has_bf16())
      out += " (this CPU lacks AVX512_BF16, the bf16 dot products crema's CPU path needs)";
    if (device_ == CREMA_CUDA)
      for (crema_dtype t : asked_types)
        if (const std::string why = gpu_lacks_math(t); !why.empty()) out += " (" + why + ")";
    return out;
  }
  return out + ", fp32 in the rest (forward; backward likewise unless a layer says otherwise)";
}

void Net::init(const pb::NetParameter& param, Registry& registry) {
  name_ = param.name();
  pb::NetState state = param.state();
  state.set_phase(options_.phase);
  if (options_.level) state.set_level(options_.level);
  for (const auto& s : options_.stages) state.add_stage(s);
  pb::NetParameter filtered = filter_net(param, state);
  check_wiring(filtered, options_.source);
  definition_ = insert_splits(filtered);
  definition_.mutable_state()->CopyFrom(state);

  const int n = definition_.layer_size();
  bottom_vecs_.resize(n);
  top_vecs_.resize(n);
  bottom_ids_.resize(n);
  top_ids_.resize(n);
  top_loss_weights_.resize(n);
  param_owner_.resize(n);
  rng_counters_.assign(n, 0);
  std::map<std::string, std::pair<int, int>> shared_param_owner;  // name -> (layer, param)
  std::vector<std::vector<bool>> shared_from_earlier(n);          // filled by their owner
  for (int i = 0; i < n; ++i) {
    pb::LayerParameter lp = definition_.layer(i);
    lp.set_phase(options_.phase);
    layers_.push_back(std::make_unique<LayerInstance>(lp, registry));
    LayerInstance& layer = *layers_.back();
    // Caffe's AutoTopBlobs: a loss layer written without a top (old files) gets an anonymous one.
    if ((layer.desc().flags & CREMA_LAYER_LOSS) && lp.top_size() < layer.desc().min_tops) {
      while (lp.top_size() < layer.desc().min_tops)
        lp.add_top("(automatic) " + lp.name() + " top " + std::to_string(lp.top_size()));
      *definition_.mutable_layer(i) = lp;
    }
    requested_math_.push_back(requested_math(definition_, lp, options_.precision));
    requested_storage_.push_back(requested_storage(definition_, lp, options_.precision));
    math_.push_back(resolve_math(i));
    layer_names_.push_back(lp.name());
    for (const auto& b : lp.bottom()) {
      int id = blob_index_.at(b);
      bottom_ids_[i].push_back(id);
      bottom_vecs_[i].push_back(blobs_[id].get());
    }
    for (int j = 0; j < lp.top_size(); ++j) {
      const std::string& t = lp.top(j);
      auto in_place = std::find(lp.bottom().begin(), lp.bottom().end(), t);
      int id;
      if (in_place != lp.bottom().end()) {
        if (!layer.in_place_ok())
          throw std::runtime_error(layer.in_place_refusal("top '" + t + "'"));
        id = blob_index_.at(t);
      } else {
        id = static_cast<int>(blobs_.size());
        blobs_.push_back(std::make_shared<Tensor>());
        blob_names_.push_back(t);
        blob_loss_weights_.push_back(0.f);
        blob_index_[t] = id;
      }
      top_ids_[i].push_back(id);
      top_vecs_[i].push_back(blobs_[id].get());
      float w = j < lp.loss_weight_size()                             ? lp.loss_weight(j)
                : (j == 0 && (layer.desc().flags & CREMA_LAYER_LOSS)) ? 1.f
                                                                      : 0.f;
      top_loss_weights_[i].push_back(w);
      if (w != 0) blob_loss_weights_[id] = w;
    }
    crema_exec ex = make_exec(i);
    layer.setup(bottom_vecs_[i], top_vecs_[i], ex);
    workspace_bytes_ = std::max(workspace_bytes_, layer.reshape(bottom_vecs_[i], top_vecs_[i], ex));
    // Parameters: shared by `param { name }`, otherwise learnable unless running statistics.
    auto& params = layer.params();
    shared_from_earlier[i].assign(params.size(), false);
    for (size_t k = 0; k < params.size(); ++k) {
      std::string pname =
          static_cast<int>(k) < lp.param_size() ? lp.param(static_cast<int>(k)).name() : "";
      std::string label = lp.name() + "[" + std::to_string(k) + "]";
      if (!pname.empty() && shared_param_owner.count(pname)) {
        auto [ol, ok] = shared_param_owner[pname];
        ParamBlob& owner = layers_[ol]->params()[ok];
        if (owner.tensor->shape() != params[k].tensor->shape())
          throw std::runtime_error(layer.label() + " shares parameter '" + pname +
                                   "' with layer '" + layer_names_[ol] +
                                   "' but shapes differ: " + params[k].tensor->shape_string() +
                                   " vs " + owner.tensor->shape_string());
        params[k].tensor = owner.tensor;
        shared_from_earlier[i][k] = true;
        param_owner_[i].push_back(param_owner_[ol][ok]);
        continue;
      }
      if (!pname.empty()) shared_param_owner[pname] = {i, static_cast<int>(k)};
      if (params[k].is_state) {
        param_owner_[i].push_back(-1);
        continue;
      }
      param_owner_[i].push_back(static_cast<int>(learnable_.size()));
      learnable_.push_back(
          {params[k].tensor.get(), params[k].lr_mult, params[k].decay_mult, label});
    }
  }
  std::vector<int> consumers(blobs_.size(), 0);
  for (int i = 0; i < n; ++i)
    for (int id : bottom_ids_[i]) ++consumers[id];
  std::set<int> outputs;
  for (int i = 0; i < n; ++i)
    for (int id : top_ids_[i])
      if (consumers[id] == 0 ||
          std::count(bottom_ids_[i].begin(), bottom_ids_[i].end(), id) == consumers[id])
        outputs.insert(id);
  output_blobs_.assign(outputs.begin(), outputs.end());
  init_backward_needs(definition_);
  plan_absorption();
  // Layers plan for their tensors' storage types (a convolution's oneDNN primitives): once more
  // where some blob became narrower.
  if (plan_storage())
    for (int i = 0; i < n; ++i)
      workspace_bytes_ = std::max(workspace_bytes_,
                                  layers_[i]->reshape(bottom_vecs_[i], top_vecs_[i], make_exec(i)));
  plan_gradient_shares();
  share_or_own_aliases();
  workspace_ = std::make_shared<Tensor>(Shape{static_cast<int64_t>((workspace_bytes_ + 3) / 4)});
  if (options_.check_memory) check_memory_budget();
  // Filled only now, once the whole net is known to fit: each parameter from its own stream.
  if (options_.fill_params)
    for (int i = 0; i < n; ++i)
      layers_[i]->fill_params(mix(options_.seed + 7919ull * (i + 1)), shared_from_earlier[i]);
}

MemoryNeed Net::memory_needed() const {
  MemoryNeed need;
  std::set<const void*> seen;
  const bool diffs = options_.phase == pb::TRAIN || definition_.force_backward();
  auto add = [&](const Tensor& t, const std::string& what) {
    uint64_t bytes = 0;
    if (seen.insert(t.data_buffer()).second) bytes += t.buffer_bytes();
    if (diffs && seen.insert(t.diff_buffer()).second) bytes += t.buffer_bytes();
    need.bytes += bytes;
    if (bytes > need.largest_bytes) need.largest_bytes = bytes, need.largest = what;
  };
  for (int i = 0; i < num_layers(); ++i) {
    for (size_t j = 0; j < top_vecs_[i].size(); ++j)
      add(*top_vecs_[i][j], "top '" + blob_names_[top_ids_[i][j]] + "' of " + layers_[i]->label());
    const auto& params = layers_[i]->params();
    for (size_t k = 0; k < params.size(); ++k)
      add(*params[k].tensor, "parameter " + std::to_string(k) + " of " + layers_[i]->label());
  }
  need.bytes += workspace_bytes_;
  return need;
}

void Net::check_memory_budget() const {
  const MemoryNeed need = memory_needed();
  const MemoryLimit limit = memory_limit(options_.max_memory);
  if (limit.bytes == 0 || need.bytes <= limit.bytes) return;
  throw std::runtime_error(
      options_.source + ": the " + (name_.empty() ? "" : "net '" + name_ + "' in ") +
      pb::Phase_Name(options_.phase) + " needs " + format_bytes(need.bytes) + " but " +
      format_bytes(limit.bytes) + " may be used (" + limit.source + "); the largest part is " +
      need.largest + ", " + format_bytes(need.largest_bytes) +
      ". Reduce the batch size or the input, or set -max_memory");
}

void Net::init_backward_needs(const pb::NetParameter& def) {
  const int n = num_layers();
  std::vector<bool> blob_need_backward(blobs_.size(), false);
  layer_need_backward_.assign(n, false);
  layer_params_need_grad_.assign(n, false);
  bottom_need_backward_.assign(n, {});
  for (int i = 0; i < n; ++i) {
    const auto& lp = def.layer(i);
    const crema_layer_desc& d = layers_[i]->desc();
    bool need = false;
    for (size_t j = 0; j < bottom_ids_[i].size(); ++j) {
      bool b = blob_need_backward[bottom_ids_[i][j]];
      if (static_cast<int>(j) < lp.propagate_down_size() && !lp.propagate_down(static_cast<int>(j)))
        b = false;
      if (d.no_grad_bottoms & (1u << j)) b = false;
      bottom_need_backward_[i].push_back(static_cast<int8_t>(b));
      need = need || b;
    }
    bool params = false;
    for (const ParamBlob& p : layers_[i]->params())
      params = params || (!p.is_state && p.lr_mult != 0);
    layer_params_need_grad_[i] = params;
    need = (need || params) && !(d.flags & CREMA_LAYER_NO_BACKWARD);
    layer_need_backward_[i] = need;
    for (int id : top_ids_[i]) blob_need_backward[id] = blob_need_backward[id] || need;
  }
  // Walk back from the losses: only what a loss depends on needs a gradient.
  std::set<int> under_loss, skip;
  for (int i = n - 1; i >= 0; --i) {
    bool contributes = false, skip_all = true;
    for (size_t j = 0; j < top_ids_[i].size(); ++j) {
      int id = top_ids_[i][j];
      if (top_loss_weights_[i][j] != 0 || under_loss.count(id)) contributes = true;
      if (!skip.count(id)) skip_all = false;
    }
    if (layer_need_backward_[i] && skip_all && !layer_params_need_grad_[i]) {
      layer_need_backward_[i] = false;
      std::fill(bottom_need_backward_[i].begin(), bottom_need_backward_[i].end(), 0);
    }
    if (!contributes) {
      layer_need_backward_[i] = false;
      layer_params_need_grad_[i] = false;
    }
    for (size_t j = 0; j < bottom_ids_[i].size(); ++j) {
      if (contributes)
        under_loss.insert(bottom_ids_[i][j]);
      else
        bottom_need_backward_[i][j] = 0;
      if (!bottom_need_backward_[i][j]) skip.insert(bottom_ids_[i][j]);
    }
  }
  if (def.force_backward()) {
    for (int i = 0; i < n; ++i) {
      const crema_layer_desc& d = layers_[i]->desc();
      if (d.flags & CREMA_LAYER_NO_BACKWARD) continue;
      layer_need_backward_[i] = true;
      const auto& lp = def.layer(i);
      for (size_t j = 0; j < bottom_need_backward_[i].size(); ++j) {
        bool denied = static_cast<int>(j) < lp.propagate_down_size() &&
                      !lp.propagate_down(static_cast<int>(j));
        bottom_need_backward_[i][j] =
            static_cast<int8_t>(!(d.no_grad_bottoms & (1u << j)) && !denied);
      }
    }
  }
  // Layers with parameters keep computing their gradients only when someone learns them.
  for (int i = 0; i < n; ++i)
    if (!layer_need_backward_[i]) layer_params_need_grad_[i] = false;
}

// Layers that run in place right after a layer willing to absorb them (BatchNorm takes Scale and
// ReLU) are computed inside its CPU passes: one pass over the tensor instead of three. A layer
// qualifies when it reads and writes exactly the absorbing layer's only top, has no loss and no
// propagate_down settings. NetOptions::fuse = false turns this off; CREMA_FUSE (0 or 1), a
// debugging override, wins over it.
void Net::plan_absorption() {
  const int n = num_layers();
  absorbed_into_.assign(n, -1);
  absorbs_.assign(n, {});
  bool fuse = options_.fuse;
  if (const char* env = std::getenv("CREMA_FUSE"); env && *env) fuse = std::string(env) != "0";
  if (!fuse) return;
  for (int i = 0; i < n; ++i) {
    if (absorbed_into_[i] >= 0 || top_ids_[i].size() != 1) continue;
    const int t = top_ids_[i][0];
    for (int j = i + 1; j < n; ++j) {
      const bool in_place_on_t = bottom_ids_[j].size() == 1 && top_ids_[j].size() == 1 &&
                                 bottom_ids_[j][0] == t && top_ids_[j][0] == t;
      const pb::LayerParameter& lp = definition_.layer(j);
      if (!in_place_on_t || top_loss_weights_[j][0] != 0 || lp.propagate_down_size() > 0 ||
          !layers_[i]->absorb(*layers_[j]))
        break;
      absorbed_into_[j] = i;
      absorbs_[i].push_back(j);
    }
  }
}

// A blob is stored in a narrower type T (bf16; fp16 on the GPU) where every layer that reads or
// writes it asked for T storage and can take T on this device (crema_layer_ext.cpu_storage /
// cuda_storage), so that no layer sees a type it did not declare; anything else stays fp32,
// including a user's fp32-only plugin and its neighbours' blobs. Layers absorbed on the CPU do
// not touch the blob themselves. The net's outputs and loss tops stay fp32 (tools and the solver
// read them), and a layer whose tops alias its bottom (Split) keeps them all in one type. Each
// layer asks for one type, so no blob qualifies for two.
bool Net::plan_storage() {
  std::vector<bool> eligible(blobs_.size(), true);
  for (int id : output_blobs_) eligible[id] = false;
  for (size_t id = 0; id < blobs_.size(); ++id)
    if (blob_loss_weights_[id] != 0) eligible[id] = false;
  std::vector<crema_dtype> type(blobs_.size(), CREMA_FLOAT32);
  std::vector<bool> bf16;  // for the memory-order plan
  for (crema_dtype t : {CREMA_BFLOAT16, CREMA_FLOAT16}) {
    std::vector<bool> in_t = eligible;
    agree_per_layer(
        in_t,
        [&](int i) { return requested_storage_[i] == t && layers_[i]->stores_in(t, device_); },
        [&](int i) { return (layers_[i]->desc().flags & CREMA_LAYER_SHARES_DATA) != 0; },
        [](int) { return true; });
    for (size_t id = 0; id < blobs_.size(); ++id)
      if (in_t[id] && type[id] == CREMA_FLOAT32) type[id] = t;
    if (t == CREMA_BFLOAT16) bf16 = in_t;
  }
  bool narrowed = false;
  for (size_t id = 0; id < blobs_.size(); ++id) {
    blobs_[id]->set_dtype(type[id]);
    narrowed = narrowed || type[id] != CREMA_FLOAT32;
  }
  const std::vector<bool> last = plan_channels_last(bf16);
  for (size_t id = 0; id < blobs_.size(); ++id) blobs_[id]->set_channels_last(last[id]);
  return narrowed;
}

// Of the bf16 blobs, those stored N,H,W,C: 4-D ones whose every (non-absorbed) layer declared
// that order on the CPU (crema_layer_ext.cpu_layouts), so that convolutions and their neighbours
// pass activations without transposes. A layer without CREMA_LAYOUT_MIXED, and a Split's group,
// keep all their 4-D tensors in one order. CREMA_CHANNELS_LAST=0 keeps every blob N,C,H,W.
std::vector<bool> Net::plan_channels_last(const std::vector<bool>& bf16) const {
  std::vector<bool> last(blobs_.size(), false);
  const char* env = std::getenv("CREMA_CHANNELS_LAST");
  if (device_ != CREMA_CPU || (env && std::string(env) == "0")) return last;
  for (size_t id = 0; id < blobs_.size(); ++id) last[id] = bf16[id] && blobs_[id]->ndim() == 4;
  agree_per_layer(
      last, [&](int i) { return (layers_[i]->cpu_layouts() & CREMA_LAYOUT_CHANNELS_LAST) != 0; },
      [&](int i) {
        return (layers_[i]->desc().flags & CREMA_LAYER_SHARES_DATA) ||
               !(layers_[i]->cpu_layouts() & CREMA_LAYOUT_MIXED);
      },
      [&](int id) { return blobs_[id]->ndim() == 4; });
  return last;
}

// A per-blob choice (a storage type, a memory order) that every layer touching the blob must
// take: flag[id] is cleared for the blobs of each layer that does not `takes(i)`, then, until
// nothing changes, for all blobs of a layer that keeps them alike (`grouped(i)`) once one of its
// blobs that `counts(id)` is cleared. Layers absorbed on the CPU do not touch the blobs.
void Net::agree_per_layer(std::vector<bool>& flag, const std::function<bool(int)>& takes,
                          const std::function<bool(int)>& grouped,
                          const std::function<bool(int)>& counts) const {
  const int n = num_layers();
  auto active = [&](int i) { return !(device_ == CREMA_CPU && absorbed_into_[i] >= 0); };
  auto clear = [&](int i) {
    bool changed = false;
    for (const auto* ids : {&bottom_ids_[i], &top_ids_[i]})
      for (int id : *ids) changed = changed || flag[id], flag[id] = false;
    return changed;
  };
  for (int i = 0; i < n; ++i)
    if (active(i) && !takes(i)) clear(i);
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < n; ++i) {
      if (!active(i) || !grouped(i)) continue;
      bool all = true;
      for (const auto* ids : {&bottom_ids_[i], &top_ids_[i]})
        for (int id : *ids) all = all && (flag[id] || !counts(id));
      if (!all) changed = clear(i) || changed;
    }
  }
}

std::string Net::storage_summary() const {
  uint64_t all_elements = 0;
  for (const auto& b : blobs_) all_elements += static_cast<uint64_t>(b->count());
  std::string out;
  for (crema_dtype t : {CREMA_BFLOAT16, CREMA_FLOAT16}) {
    int narrow = 0, last = 0;
    uint64_t narrow_elements = 0;
    for (const auto& b : blobs_) {
      if (b->dtype() != t) continue;
      ++narrow;
      narrow_elements += static_cast<uint64_t>(b->count());
      last += b->channels_last() ? 1 : 0;
    }
    if (narrow == 0) continue;
    const int percent = all_elements ? static_cast<int>(100 * narrow_elements / all_elements) : 0;
    // Only bf16 blobs on the CPU are ever N,H,W,C.
    const bool orders = t == CREMA_BFLOAT16 && device_ == CREMA_CPU;
    out += std::string(out.empty() ? "" : ", ") + dtype_name(t) + " storage for " +
           std::to_string(narrow) + " of " + std::to_string(blobs_.size()) + " blobs (" +
           std::to_string(percent) + "% of activation elements" +
           (orders ? ", " + std::to_string(last) + " of them N,H,W,C" : "") + ")";
  }
  return out.empty() ? "" : out + ", fp32 for the rest";
}

std::vector<LayerInstance*> Net::absorbed_layers(int i) const {
  std::vector<LayerInstance*> out;
  if (device_ != CREMA_CPU) return out;  // GPU passes run every layer alone
  for (int j : absorbs_[i]) out.push_back(layers_[j].get());
  return out;
}

void Net::share_or_own_aliases() {
  // A top that aliases its bottom (Split, Flatten, Reshape) must not be overwritten by an
  // in-place consumer, or the other readers of the bottom would see the change: such tops keep
  // memory of their own and the layer copies.
  std::vector<bool> written_in_place(blobs_.size(), false);
  for (int i = 0; i < num_layers(); ++i)
    for (int id : top_ids_[i])
      if (std::count(bottom_ids_[i].begin(), bottom_ids_[i].end(), id)) written_in_place[id] = true;
  for (int i = 0; i < num_layers(); ++i) {
    uint32_t flags = layers_[i]->desc().flags;
    if (!(flags & (CREMA_LAYER_SHARES_DATA)) || bottom_vecs_[i].empty()) continue;
    for (size_t j = 0; j < top_vecs_[i].size(); ++j) {
      int id = top_ids_[i][j];
      if (written_in_place[id]) continue;  // an in-place consumer would corrupt the bottom
      if (top_vecs_[i][j]->count() != bottom_vecs_[i][0]->count()) continue;
      top_vecs_[i][j]->share_data(*bottom_vecs_[i][0]);
    }
  }
  // A tensor that grew has memory of its own again: share once more, in the plan's order.
  for (const GradientShare& s : gradient_shares_) blobs_[s.bottom]->share_diff(*blobs_[s.top]);
}

void Net::plan_gradient_shares() {
  gradient_shares_.clear();
  const char* env = std::getenv("CREMA_SHARE_GRADIENTS");
  if (env && std::string(env) == "0") return;
  std::vector<GradientLayer> layers(num_layers());
  for (int i = 0; i < num_layers(); ++i)
    layers[i] = {bottom_ids_[i], top_ids_[i], layers_[i]->passes_gradient(),
                 bottom_need_backward_[i]};
  gradient_shares_ =
      plan_gradient_sharing(layers, static_cast<int>(blobs_.size()),
                            [&](int b, int t) { return blobs_[b]->diff_fits(*blobs_[t]); });
}

void Net::reshape() {
  size_t ws = 0;
  for (int i = 0; i < num_layers(); ++i)
    ws = std::max(ws, layers_[i]->reshape(bottom_vecs_[i], top_vecs_[i], make_exec(i)));
  if (ws > workspace_bytes_) {
    workspace_bytes_ = ws;
    workspace_->reshape(Shape{static_cast<int64_t>((ws + 3) / 4)});
  }
  share_or_own_aliases();
}

float Net::forward(int from, int to) {
  if (to < 0) to = num_layers() - 1;
  float loss = 0;
  for (int i = from; i <= to; ++i) {
    crema_exec ex = make_exec(i);
    ++rng_counters_[i];  // a run of forwards without set_rng_counter still gets fresh streams
    if (device_ == CREMA_CPU && absorbed_into_[i] >= 0) continue;  // computed by its absorber
    layers_[i]->forward(bottom_vecs_[i], top_vecs_[i], ex, absorbed_layers(i));
    for (size_t j = 0; j < top_vecs_[i].size(); ++j)
      if (top_loss_weights_[i][j] != 0)
        loss += static_cast<float>(top_loss_weights_[i][j] * top_vecs_[i][j]->sum_data_host());
  }
  return loss;
}

void Net::backward(int from, int to) {
  if (from < 0) from = num_layers() - 1;
  for (int i = from; i >= to; --i) {
    if (backward_listener_ && i + 1 <= from) backward_listener_(i + 1);
    if (device_ == CREMA_CPU && absorbed_into_[i] >= 0) continue;  // computed by its absorber
    const std::vector<LayerInstance*> absorbed = absorbed_layers(i);
    bool need = layer_need_backward_[i];
    std::vector<int8_t> absorbed_need;
    if (!absorbed.empty())
      for (int j : absorbs_[i]) {
        need = need || layer_need_backward_[j];
        absorbed_need.push_back(layer_params_need_grad_[j] ? 1 : 0);
      }
    if (!need) continue;
    for (size_t j = 0; j < top_vecs_[i].size(); ++j) {
      float w = top_loss_weights_[i][j];
      if (w == 0) continue;
      Tensor* t = top_vecs_[i][j];
      float* d = t->mutable_host_diff();
      std::fill(d, d + t->count(), w * loss_scale_);
    }
    layers_[i]->backward(top_vecs_[i], bottom_vecs_[i], bottom_need_backward_[i],
                         layer_params_need_grad_[i], make_exec(i, true), absorbed, absorbed_need);
  }
  if (backward_listener_ && to <= from) backward_listener_(to);
}

std::vector<int> Net::param_grad_ready_layers() const {
  std::vector<int> ready(learnable_.size(), num_layers());
  for (int i = 0; i < num_layers(); ++i) {
    const int computed_by = device_ == CREMA_CPU && absorbed_into_[i] >= 0 ? absorbed_into_[i] : i;
    for (int owner : param_owner_[i])
      if (owner >= 0) ready[owner] = std::min(ready[owner], computed_by);
  }
  return ready;
}

void Net::clear_param_diffs() {
  for (auto& p : learnable_) p.tensor->zero_diff(device_);
}

void Net::set_device(crema_device device) {
  if (device == CREMA_CUDA && device::count() == 0)
    throw std::runtime_error("GPU mode requested but " + device::unavailable_reason());
  if (device == device_) return;
  device_ = device;
  for (int i = 0; i < num_layers(); ++i) math_[i] = resolve_math(i);
  plan_storage();
  plan_gradient_shares();  // the storage types may differ on this device
  // Layers size device-specific state in reshape (cuDNN algorithms and their workspace).
  reshape();
}

int Net::layer_index(const std::string& name) const {
  auto it = std::find(layer_names_.begin(), layer_names_.end(), name);
  return it == layer_names_.end() ? -1 : static_cast<int>(it - layer_names_.begin());
}

Tensor* Net::blob(const std::string& name) const {
  auto it = blob_index_.find(name);
  if (it == blob_index_.end())
    throw std::runtime_error("net '" + name_ + "' has no blob '" + name + "'");
  return blobs_[it->second].get();
}

std::vector<Tensor*> Net::all_params() const {
  std::vector<Tensor*> out;
  for (const auto& l : layers_)
    for (const ParamBlob& p : l->params()) out.push_back(p.tensor.get());
  return out;
}

void Net::to_proto(pb::NetParameter* out, bool write_diff) const {
  out->Clear();
  out->set_name(name_);
  for (int i = 0; i < num_layers(); ++i) {
    if (layers_[i]->type() == "Split") continue;  // generated, not part of the definition
    pb::LayerParameter* lp = out->add_layer();
    *lp = layers_[i]->param();
    lp->clear_blobs();
    for (const ParamBlob& p : layers_[i]->params()) {
      pb::BlobProto* b = lp->add_blobs();
      for (int64_t d : p.tensor->shape()) b->mutable_shape()->add_dim(d);
      const float* x = p.tensor->host_data();
      b->mutable_data()->Add(x, x + p.tensor->count());
      if (write_diff) {
        const float* g = p.tensor->host_diff();
        b->mutable_diff()->Add(g, g + p.tensor->count());
      }
    }
  }
}

namespace {
Shape blob_shape(const pb::BlobProto& b) {
  Shape s;
  if (b.has_shape()) {
    for (int64_t d : b.shape().dim()) s.push_back(d);
  } else if (b.has_num() || b.has_channels() || b.has_height() || b.has_width()) {
    s = {b.num(), b.channels(), b.height(), b.width()};  // legacy 4-d blobs
  }
  return s;
}
// The element count of a shape read from a weights file; -1 when a dimension is negative or the
// count does not fit in 64 bits (four int32 legacy dimensions can claim 2^124 elements).
int64_t shape_count(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  return n;
}
}  // namespace

namespace {
std::string name_list(const std::vector<std::string>& names, size_t at_most = 8) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < at_most; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > at_most) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}
}  // namespace

std::string Net::WeightsCopy::summary() const {
  std::string s = "copied weights into " + std::to_string(copied.size()) + " layer(s)";
  if (!not_copied.empty()) s += "; no weights for: " + name_list(not_copied);
  if (!unused.empty()) s += "; not in this net: " + name_list(unused);
  return s;
}

Net::WeightsCopy Net::copy_trained_layers_from(const pb::NetParameter& weights, bool require_all) {
  WeightsCopy report;
  std::vector<std::pair<const pb::LayerParameter*, int>> matches;
  for (const auto& src : weights.layer()) {
    if (src.blobs_size() == 0) continue;
    int i = layer_index(src.name());
    if (i < 0) {
      report.unused.push_back(src.name());
      continue;
    }
    auto& params = layers_[i]->params();
    if (src.blobs_size() != static_cast<int>(params.size()))
      throw std::runtime_error("cannot copy weights into " + layers_[i]->label() + ": source has " +
                               std::to_string(src.blobs_size()) + " blobs, target has " +
                               std::to_string(params.size()));
    for (int k = 0; k < src.blobs_size(); ++k) {
      const pb::BlobProto& b = src.blobs(k);
      const Tensor& t = *params[k].tensor;
      Shape s = blob_shape(b);
      bool legacy_ok = !b.has_shape() && shape_count(s) == t.count();
      if (s != t.shape() && !legacy_ok)
        throw std::runtime_error("cannot copy param " + std::to_string(k) + " of " +
                                 layers_[i]->label() + ": source shape " + Tensor::format_shape(s) +
                                 ", target shape " + t.shape_string());
      if (b.data_size() != t.count() && b.double_data_size() != t.count())
        throw std::runtime_error("param " + std::to_string(k) + " of " + layers_[i]->label() +
                                 " holds " + std::to_string(b.data_size()) + " values, expected " +
                                 std::to_string(t.count()));
    }
    matches.emplace_back(&src, i);
  }
  std::vector<bool> got(layers_.size(), false);
  for (const auto& [src, i] : matches) got[i] = true;
  for (size_t i = 0; i < layers_.size(); ++i)
    if (!layers_[i]->params().empty() && !got[i]) report.not_copied.push_back(layer_names_[i]);
  if (matches.empty() && !report.not_copied.empty())
    throw std::runtime_error(
        "the weights match no layer of this net (" +
        (weights.layer_size() == 0 ? std::string("they hold no layers")
                                   : "their layers with blobs: " + name_list(report.unused)) +
        "; this net's layers with parameters: " + name_list(report.not_copied) + ")");
  if (require_all && !report.not_copied.empty())
    throw std::runtime_error(
        "the weights are of another net: no weights for layer(s) " + name_list(report.not_copied) +
        (report.unused.empty() ? "" : "; layers not in this net: " + name_list(report.unused)));
  for (const auto& [src, i] : matches) {
    auto& params = layers_[i]->params();
    for (int k = 0; k < src->blobs_size(); ++k) {
      const pb::BlobProto& b = src->blobs(k);
      Tensor& t = *params[k].tensor;
      float* x = t.mutable_host_data();
      if (b.data_size() == t.count())
        std::copy(b.data().begin(), b.data().end(), x);
      else
        std::copy(b.double_data().begin(), b.double_data().end(), x);
    }
    report.copied.push_back(layer_names_[i]);
  }
  return report;
}

void Net::share_weights_from(const Net& other) {
  for (int i = 0; i < num_layers(); ++i) {
    int j = other.layer_index(layer_names_[i]);
    if (j < 0) continue;
    auto& mine = layers_[i]->params();
    auto& theirs = other.layers_[j]->params();
    if (mine.size() != theirs.size()) continue;
    for (size_t k = 0; k < mine.size(); ++k) {
      if (mine[k].tensor->shape() != theirs[k].tensor->shape())
        throw std::runtime_error("cannot share weights of " + layers_[i]->label() +
                                 ": shapes differ " + mine[k].tensor->shape_string() + " vs " +
                                 theirs[k].tensor->shape_string());
      mine[k].tensor = theirs[k].tensor;
    }
  }
}

}  // namespace crema
