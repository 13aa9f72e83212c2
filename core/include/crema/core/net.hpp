// SPDX-License-Identifier: BSD-2-Clause
// Net: a NetParameter built for one phase into layers and tensors, with shape inference, forward
// and backward over the whole graph or a range, losses, shared parameters, and weight I/O.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crema.pb.h"
#include "crema/core/gradient_sharing.hpp"
#include "crema/core/layer_instance.hpp"
#include "crema/core/precision.hpp"
#include "crema/core/tensor.hpp"

namespace crema {

class Registry;

struct NetOptions {
  pb::Phase phase = pb::TRAIN;
  int level = 0;
  std::vector<std::string> stages;
  uint64_t seed = 1701;     // parameter fillers and per-layer random streams
  bool fill_params = true;  // false when weights are loaded right after
  // Layers absorb the in-place layers after them into their CPU passes (plan_absorption);
  // false runs every layer alone (crema train/test/time -fuse=false). CREMA_FUSE=0 or 1
  // overrides it, as a debugging switch.
  bool fuse = true;
  std::string source = "<net>";
  // Memory the net may take (bytes; 0: what the machine and its cgroup have free). A net that
  // needs more is refused before anything is allocated.
  uint64_t max_memory = 0;
  bool check_memory = true;
  // Math type for every layer that does not set its own (crema train/test/time -precision),
  // replacing the NetParameter's default_forward_math ... (docs/PRECISION.md). Unset: the file's.
  std::optional<crema_dtype> precision;
  // Data-parallel training: this process is rank world_rank of world_size (crema_exec's fields;
  // the solver names each rank's batches through set_rng_counter).
  int world_rank = 0;
  int world_size = 1;
};

// What a built net will allocate on first use: every distinct data buffer, the diff buffers
// in training, and the workspace.
struct MemoryNeed {
  uint64_t bytes = 0;
  std::string largest;  // "top 'conv1' of layer 'conv1' (Convolution)"
  uint64_t largest_bytes = 0;
};

// A learnable parameter as the solver sees it (shared parameters appear once, at their owner).
struct LearnableParam {
  Tensor* tensor;
  float lr_mult, decay_mult;
  std::string label;  // "conv1[0]"
};

class Net {
 public:
  Net(const pb::NetParameter& param, const NetOptions& options, Registry& registry);
  explicit Net(const pb::NetParameter& param, const NetOptions& options = {});
  ~Net();

  const std::string& name() const { return name_; }
  pb::Phase phase() const { return options_.phase; }

  // Runs the layers [from, to] (inclusive); returns the weighted loss they produce.
  float forward(int from = 0, int to = -1);
  void backward(int from = -1, int to = 0);
  float forward_backward() {
    float loss = forward();
    backward();
    return loss;
  }
  // Re-infers every shape from the inputs (after an input tensor was reshaped).
  void reshape();
  void clear_param_diffs();
  // Names the random stream of the next forward for every layer (dropout masks, data order):
  // the solver sets it from the iteration so that resumed runs replay the same streams.
  void set_rng_counter(uint64_t counter) { rng_counters_.assign(rng_counters_.size(), counter); }
  // Loss scaling: backward() starts from loss_weight * scale instead of loss_weight, so every
  // gradient comes out multiplied by it (the solver divides it out; solver/loss_scaler.hpp).
  void set_loss_scale(float scale) { loss_scale_ = scale; }
  float loss_scale() const { return loss_scale_; }
  // Called during backward() after each layer index i it passes (computed, absorbed or
  // skipped), so that the gradients finished by then can be sent while the rest runs (the
  // data-parallel solver's bucketed allreduce). Empty: no calls.
  void set_backward_listener(std::function<void(int layer)> listener) {
    backward_listener_ = std::move(listener);
  }
  // Per learnable parameter: the layer index after which a full backward() has finished its
  // gradient (the lowest layer that adds to it; an absorbed layer's is its absorber's on the
  // CPU). Depends on the device.
  std::vector<int> param_grad_ready_layers() const;

  void set_device(crema_device device);
  crema_device device() const { return device_; }
  // The type layer i computes its forward / backward in on the current device: what the net
  // asks (NetOptions::precision, the prototxt's *_math and *_type fields) where the layer's
  // plugin offers it and the CPU can (AVX512_BF16 for bf16), else fp32.
  LayerMath layer_math(int i) const { return math_[i]; }
  // "bf16 in 53 of 170 layers (Convolution, InnerProduct), fp32 in the rest", or "fp32"; then the
  // storage_summary() where blobs are stored in bf16 or fp16.
  std::string precision_summary() const;
  // "bf16 storage for 96 of 110 blobs (86% of activation elements, 96 of them N,H,W,C), fp32 for
  // the rest" (on the GPU "fp16 storage for 40 of 53 blobs (97% of activation elements), fp32
  // for the rest"), or "" with fp32 blobs only.
  std::string storage_summary() const;

  int num_layers() const { return static_cast<int>(layers_.size()); }
  LayerInstance& layer(int i) { return *layers_[i]; }
  const std::vector<std::string>& layer_names() const { return layer_names_; }
  int layer_index(const std::string& name) const;
  bool layer_needs_backward(int i) const { return layer_need_backward_[i]; }
  // The layer whose CPU passes compute layer i (BatchNorm absorbing Scale and ReLU), or -1. On
  // the CPU, forward(from, to) and backward(from, to) compute an absorbed layer with its
  // absorber: a range holding the absorber covers them, one holding only them skips them.
  int absorbed_into(int i) const { return absorbed_into_[i]; }
  const std::vector<Tensor*>& bottoms(int i) const { return bottom_vecs_[i]; }
  const std::vector<Tensor*>& tops(int i) const { return top_vecs_[i]; }

  bool has_blob(const std::string& name) const { return blob_index_.count(name) > 0; }
  Tensor* blob(const std::string& name) const;
  const std::vector<std::string>& blob_names() const { return blob_names_; }
  // Tops no layer consumes: the net's outputs (loss, accuracy, probabilities).
  const std::vector<int>& output_blob_indices() const { return output_blobs_; }
  Tensor* blob_at(int i) const { return blobs_[i].get(); }
  float blob_loss_weight(int i) const { return blob_loss_weights_[i]; }
  // Blobs produced by no layer (never, after the Input upgrade, but kept for completeness).
  std::vector<LearnableParam>& learnable_params() { return learnable_; }
  // Every parameter blob of every layer, state included, in layer order (for snapshots).
  std::vector<Tensor*> all_params() const;

  // Weights: Caffe's .caffemodel is a binary NetParameter whose layers carry blobs.
  void to_proto(pb::NetParameter* out, bool write_diff = false) const;
  // Copies the blobs of every source layer whose name is in this net. Everything is checked
  // before anything is copied: a mismatch (blob count, shape, size) leaves the net unchanged.
  // Throws when this net has parameters and none of them was matched (weights of another net),
  // and with `require_all` (a snapshot of this net) when any layer would get none.
  struct WeightsCopy {
    std::vector<std::string> copied;      // layers that got weights
    std::vector<std::string> not_copied;  // layers with parameters that got none
    std::vector<std::string> unused;      // source layers with blobs this net does not have
    std::string summary() const;          // "copied 20 layers; no weights for: fc (...)"
  };
  WeightsCopy copy_trained_layers_from(const pb::NetParameter& weights, bool require_all = false);
  // Shares this net's parameter blobs with another built from the same definition (test net).
  void share_weights_from(const Net& other);

  MemoryNeed memory_needed() const;

  // The filtered, split-inserted definition this net was built from.
  const pb::NetParameter& definition() const { return definition_; }
  size_t workspace_bytes() const { return workspace_bytes_; }

 private:
  void init(const pb::NetParameter& param, Registry& registry);
  void init_backward_needs(const pb::NetParameter& def);
  void share_or_own_aliases();
  void plan_gradient_shares();  // gradient_shares_, once storage types are known
  void check_memory_budget() const;
  void plan_absorption();
  bool plan_storage();  // each blob's storage type on device_ (after plan_absorption); any narrow?
  std::vector<bool> plan_channels_last(const std::vector<bool>& bf16) const;  // which go N,H,W,C
  // What both plans share: clears flag[id] per layer (net.cpp).
  void agree_per_layer(std::vector<bool>& flag, const std::function<bool(int)>& takes,
                       const std::function<bool(int)>& grouped,
                       const std::function<bool(int)>& counts) const;
  std::string math_summary() const;  // precision_summary without the storage
  std::vector<LayerInstance*> absorbed_layers(int i) const;  // none off the CPU
  crema_exec make_exec(int layer, bool backward = false) const;
  LayerMath resolve_math(int i) const;  // requested_math_[i] where layer i can, else fp32

  // Bottoms that hold their gradient in their top's diff memory (gradient_sharing.hpp), applied
  // after every reshape; empty with CREMA_SHARE_GRADIENTS=0.
  std::vector<GradientShare> gradient_shares_;
  std::string name_;
  NetOptions options_;
  crema_device device_ = CREMA_CPU;
  pb::NetParameter definition_;
  std::vector<std::unique_ptr<LayerInstance>> layers_;
  std::vector<std::string> layer_names_;
  std::vector<std::shared_ptr<Tensor>> blobs_;
  std::vector<std::string> blob_names_;
  std::map<std::string, int> blob_index_;
  std::vector<float> blob_loss_weights_;
  std::vector<std::vector<Tensor*>> bottom_vecs_, top_vecs_;
  std::vector<std::vector<int>> bottom_ids_, top_ids_;
  std::vector<std::vector<float>> top_loss_weights_;
  std::vector<std::vector<int8_t>> bottom_need_backward_;
  std::vector<bool> layer_need_backward_, layer_params_need_grad_;
  std::vector<int> absorbed_into_;         // per layer: its absorber, or -1
  std::vector<std::vector<int>> absorbs_;  // per layer: the layers it absorbed, in order
  std::vector<int> output_blobs_;
  std::vector<LearnableParam> learnable_;
  std::vector<std::vector<int>> param_owner_;  // per layer, per param: -1 or index in learnable_
  std::shared_ptr<Tensor> workspace_;
  size_t workspace_bytes_ = 0;
  mutable Tensor host_workspace_;  // the scratch of CPU passes in a GPU net (make_exec)
  mutable std::vector<uint64_t> rng_counters_;
  std::vector<LayerMath> requested_math_;       // per layer, before support is checked
  std::vector<crema_dtype> requested_storage_;  // per layer (forward_type, -precision)
  // What each layer computes in on device_: resolved when it is built and on set_device, so
  // that the calls (make_exec) only read it.
  std::vector<LayerMath> math_;
  float loss_scale_ = 1.f;
  std::function<void(int)> backward_listener_;
};

}  // namespace crema
