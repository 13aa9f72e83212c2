// SPDX-License-Identifier: BSD-2-Clause
// Tensor (Caffe's Blob): an N-d array with data and diff, each a SyncedMemory held on host and
// device. Reshaping to fewer elements keeps the allocation; only growth reallocates. Elements are
// float32 unless the net stores the tensor in bf16 or fp16 (set_dtype; data and diff alike): the
// float accessors refuse such a tensor, and to_float() widens it for readers (tools, Python). A
// 4-D bf16 tensor may be stored N,H,W,C (set_channels_last) between layers that take that order;
// its shape stays N,C,H,W, and to_float() / from_float() speak that logical order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crema/core/synced_memory.hpp"
#include "crema/plugin_abi.h"

namespace crema {

using Shape = std::vector<int64_t>;  // the same type as the SDK's crema::Shape

class Tensor {
 public:
  // Element counts stay far from int64's end, so that count * sizeof(float) and the sums of
  // offsets layers compute cannot wrap.
  static constexpr int kMaxCountLog2 = 48;
  static constexpr int64_t kMaxCount = int64_t{1} << kMaxCountLog2;

  Tensor() = default;
  explicit Tensor(const Shape& shape) { reshape(shape); }

  void reshape(const Shape& shape);
  void reshape_like(const Tensor& other) { reshape(other.shape()); }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_.at(axis < 0 ? axis + ndim() : axis); }
  int64_t count() const { return count_; }
  int64_t count(int from, int to) const;
  std::string shape_string() const { return format_shape(shape_); }
  static std::string format_shape(const Shape& s);  // "(2,3,4)"

  // The storage type (CREMA_FLOAT32, CREMA_BFLOAT16 or CREMA_FLOAT16; IEEE binary16). Changing
  // it drops the contents.
  crema_dtype dtype() const { return dtype_; }
  void set_dtype(crema_dtype t);
  size_t element_bytes() const { return dtype_ == CREMA_FLOAT32 ? sizeof(float) : 2; }
  // Stored N,H,W,C: set only on 4-D bf16 tensors (the net's plan). Changing it drops the meaning
  // of the contents (the bytes stay).
  bool channels_last() const { return channels_last_ && dtype_ == CREMA_BFLOAT16; }
  void set_channels_last(bool on);
  // data (or diff) as fp32 values in N,C,H,W order, widened where the tensor stores bf16 or fp16;
  // from_float() writes count() such values back (rounded to nearest even and reordered as
  // stored).
  std::vector<float> to_float(bool diff = false) const;
  void from_float(const float* values, bool diff = false);

  const float* host_data() const;
  const float* host_diff() const;
  float* mutable_host_data();
  float* mutable_host_diff();
  const float* device_data() const;
  const float* device_diff() const;
  float* mutable_device_data();
  float* mutable_device_diff();

  // Make this tensor use other's memory (in-place views, shared parameters, Reshape layers).
  void share_data(const Tensor& other);
  void share_diff(const Tensor& other);
  bool shares_data_with(const Tensor& other) const { return data_ && data_ == other.data_; }
  // The buffers behind data and diff (allocated on first use), to count shared memory once.
  const void* data_buffer() const { return data_.get(); }
  const void* diff_buffer() const { return diff_.get(); }
  size_t buffer_bytes() const { return static_cast<size_t>(capacity_) * element_bytes(); }
  bool shares_diff_with(const Tensor& other) const { return diff_ && diff_ == other.diff_; }
  // Whether other's diff memory could serve as this tensor's: the same storage type, memory
  // order and element count (a gradient passed through, gradient_sharing.hpp).
  bool diff_fits(const Tensor& other) const {
    return dtype_ == other.dtype_ && channels_last() == other.channels_last() &&
           count_ == other.count_;
  }

  void zero_diff(crema_device where);
  // Raw buffers in the storage type, for the net's own conversions and views.
  const void* host_raw(bool diff = false) const;
  void* mutable_host_raw(bool diff = false);
  void copy_from(const Tensor& other, bool diff = false);  // on the host; shapes must match
  double sum_data_host() const;
  double sumsq_data_host() const;
  double sumsq_diff_host() const;

  // What a plugin call may do with data or diff: kNone hands no pointer, kRead a synced one,
  // kWrite one whose other copy (host or device) becomes stale.
  enum class Access { kNone, kRead, kWrite };
  // The view a plugin call receives.
  crema_tensor view(crema_device device, Access data, Access diff);

 private:
  void allocate();
  const float* checked_fp32(const void* p) const;
  Shape shape_;
  crema_dtype dtype_ = CREMA_FLOAT32;
  bool channels_last_ = false;
  int64_t count_ = 0;
  int64_t capacity_ = 0;
  std::shared_ptr<SyncedMemory> data_, diff_;
};

}  // namespace crema
