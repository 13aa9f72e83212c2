// SPDX-License-Identifier: BSD-2-Clause
// One layer of a net on the host side: a plugin's layer type, its instance, its parameters (read
// through the composed schema) and the parameter blobs it declared. Every plugin call goes
// through here, and every failure comes back as an exception naming the layer.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "crema.pb.h"
#include "crema/core/host.hpp"
#include "crema/core/tensor.hpp"

namespace google::protobuf {
class Message;
}

namespace crema {

struct LayerType;
class Registry;

struct ParamBlob {
  std::shared_ptr<Tensor> tensor;
  bool is_state = false;
  float lr_mult = 1.f, decay_mult = 1.f;
  std::string filler_path, default_filler;
  float default_value = 0;
};

class LayerInstance {
 public:
  LayerInstance(const pb::LayerParameter& param, Registry& registry);
  ~LayerInstance();
  LayerInstance(const LayerInstance&) = delete;
  LayerInstance& operator=(const LayerInstance&) = delete;

  const std::string& name() const { return param_.name(); }
  const std::string& type() const { return param_.type(); }
  const pb::LayerParameter& param() const { return param_; }
  const crema_layer_desc& desc() const { return *desc_; }
  const std::string& plugin_path() const;
  bool has_cuda() const { return runs_on_gpu(false); }
  // Whether this pass runs on the GPU in a GPU net (else on the CPU, the data moved to it; the
  // net's make_exec gives it host scratch then).
  bool runs_on_gpu(bool backward) const {
    return (backward ? desc_->backward_cuda : desc_->forward_cuda) != nullptr;
  }
  bool in_place_ok() const { return desc_->flags & CREMA_LAYER_IN_PLACE; }
  // Whether this layer's path on `device` computes in `math`: fp32 always; narrower types as the
  // plugin declared them (crema_layer_ext) and, for bf16 on the CPU, where the CPU has AVX512_BF16.
  bool computes_in(crema_dtype math, crema_device device) const;
  // Whether this layer's path on `device` takes bottoms and tops stored in `type`: fp32 always;
  // bf16 as the plugin declared it (crema_layer_ext.cpu_storage / cuda_storage) and, on the CPU,
  // where the CPU has AVX512_BF16 (without it bf16 would only add conversions to an fp32 net);
  // fp16 only on the GPU, as declared (cuda_storage).
  bool stores_in(crema_dtype type, crema_device device) const;
  // The memory orders besides N,C,H,W this layer's CPU path takes its 4-D bf16 tensors in
  // (CREMA_LAYOUT_* bits of crema_layer_ext.cpu_layouts; 0 for plugins before ABI 1.6).
  uint32_t cpu_layouts() const;
  // The bottoms (bit i) whose gradient is top 0's unchanged, which may share its diff memory
  // (crema_layer_ext.passes_gradient; 0 for plugins before ABI 1.8). After setup.
  uint32_t passes_gradient() const;

  // Declares and allocates the parameter blobs (not yet filled) and checks the blob counts.
  void setup(const std::vector<Tensor*>& bottom, const std::vector<Tensor*>& top,
             const crema_exec& exec);
  // Sets the top shapes from the bottom shapes; returns the workspace bytes wanted. Throws when
  // the plugin leaves a top without a shape or changes the shape of a top it computes in place.
  size_t reshape(const std::vector<Tensor*>& bottom, const std::vector<Tensor*>& top,
                 const crema_exec& exec);
  // Offers `next` (which runs in place on this layer's only top) to be computed inside this
  // layer's CPU passes (crema_layer_desc.absorb); true when the plugin accepted.
  bool absorb(const LayerInstance& next);
  // The layer's ONNX form from its plugin's export hook (ABI minor 3) for these shapes, or
  // nullptr when the plugin has none; throws with the plugin's message when it refuses.
  const crema_onnx_graph* onnx_export(const std::vector<Shape>& bottom,
                                      const std::vector<Shape>& top) const;
  // `absorbed`: layers this CPU call computes too (their parameters follow this layer's own),
  // with absorbed_need[k] whether absorbed layer k's parameters take gradients (backward).
  void forward(const std::vector<Tensor*>& bottom, const std::vector<Tensor*>& top,
               const crema_exec& exec, const std::vector<LayerInstance*>& absorbed = {});
  void backward(const std::vector<Tensor*>& top, const std::vector<Tensor*>& bottom,
                const std::vector<int8_t>& propagate_down, bool params_need_grad,
                const crema_exec& exec, const std::vector<LayerInstance*>& absorbed = {},
                const std::vector<int8_t>& absorbed_need = {});
  // Fills every parameter blob from its filler (fresh nets; not when loading weights).
  // `skip[k]` leaves parameter k alone (one shared with an earlier layer, filled there).
  void fill_params(uint64_t seed, const std::vector<bool>& skip = {});

  std::vector<ParamBlob>& params() { return params_; }
  // A message for errors: "layer 'conv1' (Convolution)".
  std::string label() const;
  // "top 0 ('prob')": the top's index and, when the parameters name it, its name.
  std::string top_label(size_t i) const;
  // Why this layer may not run in place on `top` (a top_label), and the flag that would allow it.
  std::string in_place_refusal(const std::string& top) const;

 private:
  [[noreturn]] void fail(const std::string& stage, const std::vector<Tensor*>& bottom) const;
  void call(crema_run_fn fn, const char* stage, crema_io& io, const crema_exec& exec,
            const std::vector<Tensor*>& bottom);
  static crema_io make_io(std::vector<crema_tensor>& b, std::vector<crema_tensor>& t,
                          std::vector<crema_tensor>& p);
  pb::LayerParameter param_;
  const crema_layer_desc* desc_;
  const LayerType* type_;
  std::unique_ptr<google::protobuf::Message> dynamic_param_;
  crema_params params_handle_;
  void* self_ = nullptr;
  std::vector<ParamBlob> params_;
  bool warned_cpu_fallback_ = false;
  std::string fatal_context_;  // "layer 'conv1' (Convolution) of plugin /p/x.so", for signals
};

// One layer run outside a net (benches, layer tests): made from its LayerParameter text, and the
// context of a CPU pass in `phase` on the process's threads, without a workspace.
std::unique_ptr<LayerInstance> layer_from_text(const std::string& text, const std::string& where,
                                               Registry& registry);
crema_exec cpu_exec(crema_phase phase = CREMA_TRAIN);

}  // namespace crema
