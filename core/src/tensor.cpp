// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/tensor.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "crema/core/device.hpp"
#include "crema/core/fp16.hpp"
#include "crema/core/gemm_bf16.hpp"
#include "crema/core/precision.hpp"

namespace crema {

std::string Tensor::format_shape(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + ")";
}

void Tensor::reshape(const Shape& shape) {
  if (shape.size() > CREMA_MAX_DIMS)
    throw std::runtime_error("tensor of " + std::to_string(shape.size()) + " dims; at most " +
                             std::to_string(CREMA_MAX_DIMS));
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::runtime_error("negative dimension in shape " + format_shape(shape));
    // 2^32 x 2^32 once wrapped to 0 elements and a layer read through a null pointer.
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxCount)
      throw std::runtime_error("shape " + format_shape(shape) + " has more than 2^" +
                               std::to_string(kMaxCountLog2) + " elements");
  }
  shape_ = shape;
  count_ = n;
  if (n > capacity_ || !data_) {
    capacity_ = n;
    allocate();
  }
}

void Tensor::allocate() {
  const size_t bytes = static_cast<size_t>(capacity_) * element_bytes();
  data_ = std::make_shared<SyncedMemory>(bytes);
  diff_ = std::make_shared<SyncedMemory>(bytes);
}

void Tensor::set_dtype(crema_dtype t) {
  if (t != CREMA_FLOAT32 && t != CREMA_BFLOAT16 && t != CREMA_FLOAT16)
    throw std::runtime_error("tensors are stored in fp32, bf16 or fp16, not type " +
                             std::to_string(t));
  if (t == dtype_) return;
  dtype_ = t;
  allocate();
}

const float* Tensor::checked_fp32(const void* p) const {
  if (dtype_ != CREMA_FLOAT32)
    throw std::runtime_error("a tensor of shape " + shape_string() + " is stored in " +
                             dtype_name(dtype_) +
                             " and was read as fp32 (read it with to_float())");
  return static_cast<const float*>(p);
}

const void* Tensor::host_raw(bool diff) const {
  return diff ? diff_->host_data() : data_->host_data();
}

void* Tensor::mutable_host_raw(bool diff) {
  return diff ? diff_->mutable_host_data() : data_->mutable_host_data();
}

void Tensor::set_channels_last(bool on) {
  if (on && dtype_ != CREMA_BFLOAT16)
    throw std::runtime_error("only bf16 tensors are stored channels-last (shape " + shape_string() +
                             ")");
  channels_last_ = on;
}

namespace {
// Where logical element i (N,C,H,W order) sits in a tensor of `shape` stored N,H,W,C.
struct ChannelsLastIndex {
  explicit ChannelsLastIndex(const Shape& s) {
    if (s.size() != 4)
      throw std::runtime_error("a channels-last tensor of shape " + Tensor::format_shape(s) +
                               " (only 4-D tensors are stored N,H,W,C)");
    channels = s[1];
    plane = s[2] * s[3];
  }
  int64_t channels, plane;
  int64_t operator()(int64_t i) const {
    const int64_t image = channels * plane, n = i / image, c = (i % image) / plane, p = i % plane;
    return (n * plane + p) * channels + c;
  }
};
}  // namespace

std::vector<float> Tensor::to_float(bool diff) const {
  std::vector<float> out(static_cast<size_t>(count_));
  if (count_ == 0) return out;
  if (dtype_ == CREMA_FLOAT32) {
    const float* p = diff ? host_diff() : host_data();
    std::copy(p, p + count_, out.begin());
  } else if (dtype_ == CREMA_FLOAT16) {  // never channels-last
    const auto* p = static_cast<const uint16_t*>(host_raw(diff));
    for (int64_t i = 0; i < count_; ++i) out[i] = fp16_to_float(p[i]);
  } else {
    const auto* p = static_cast<const uint16_t*>(host_raw(diff));
    if (channels_last()) {
      const ChannelsLastIndex at(shape_);
      for (int64_t i = 0; i < count_; ++i) out[i] = bf16_to_float(p[at(i)]);
    } else {
      for (int64_t i = 0; i < count_; ++i) out[i] = bf16_to_float(p[i]);
    }
  }
  return out;
}

void Tensor::from_float(const float* values, bool diff) {
  if (count_ == 0) return;
  if (dtype_ == CREMA_FLOAT32) {
    std::copy(values, values + count_, diff ? mutable_host_diff() : mutable_host_data());
    return;
  }
  auto* p = static_cast<uint16_t*>(mutable_host_raw(diff));
  if (dtype_ == CREMA_FLOAT16) {  // never channels-last
    for (int64_t i = 0; i < count_; ++i) p[i] = float_to_fp16(values[i]);
    return;
  }
  if (!channels_last()) return round_to_bf16(values, static_cast<size_t>(count_), p);
  std::vector<uint16_t> rounded(static_cast<size_t>(count_));
  round_to_bf16(values, rounded.size(), rounded.data());
  const ChannelsLastIndex at(shape_);
  for (int64_t i = 0; i < count_; ++i) p[at(i)] = rounded[i];
}

int64_t Tensor::count(int from, int to) const {
  int64_t n = 1;
  for (int i = from; i < to; ++i) n *= shape_.at(i);
  return n;
}

const float* Tensor::host_data() const { return checked_fp32(data_->host_data()); }
const float* Tensor::host_diff() const { return checked_fp32(diff_->host_data()); }
float* Tensor::mutable_host_data() {
  return const_cast<float*>(checked_fp32(data_->mutable_host_data()));
}
float* Tensor::mutable_host_diff() {
  return const_cast<float*>(checked_fp32(diff_->mutable_host_data()));
}
const float* Tensor::device_data() const { return checked_fp32(data_->device_data()); }
const float* Tensor::device_diff() const { return checked_fp32(diff_->device_data()); }
float* Tensor::mutable_device_data() {
  return const_cast<float*>(checked_fp32(data_->mutable_device_data()));
}
float* Tensor::mutable_device_diff() {
  return const_cast<float*>(checked_fp32(diff_->mutable_device_data()));
}

void Tensor::share_data(const Tensor& other) {
  if (other.dtype_ != dtype_)
    throw std::runtime_error("share_data: storage types differ (" + shape_string() + ")");
  if (other.count_ > capacity_ && other.count_ != count_)
    throw std::runtime_error("share_data: sizes differ " + shape_string() + " vs " +
                             other.shape_string());
  data_ = other.data_;
}

void Tensor::share_diff(const Tensor& other) {
  if (other.dtype_ != dtype_)
    throw std::runtime_error("share_diff: storage types differ (" + shape_string() + ")");
  if (other.count_ > capacity_ && other.count_ != count_)
    throw std::runtime_error("share_diff: sizes differ " + shape_string() + " vs " +
                             other.shape_string());
  diff_ = other.diff_;
}

void Tensor::zero_diff(crema_device where) {
  if (count_ == 0) return;
  const size_t bytes = static_cast<size_t>(count_) * element_bytes();
  if (where == CREMA_CUDA) {
    device::memset_zero(diff_->mutable_device_data(), bytes);
  } else {
    std::memset(diff_->mutable_host_data(), 0, bytes);  // bf16 and fp16 zeros are zero bits too
  }
}

void Tensor::copy_from(const Tensor& other, bool diff) {
  if (other.count_ != count_)
    throw std::runtime_error("copy_from: counts differ " + shape_string() + " vs " +
                             other.shape_string());
  if (other.dtype_ != dtype_ || other.channels_last() != channels_last())
    throw std::runtime_error("copy_from: storage types or orders differ (" + shape_string() + ")");
  if (count_ == 0) return;
  std::memcpy(diff ? diff_->mutable_host_data() : data_->mutable_host_data(), other.host_raw(diff),
              static_cast<size_t>(count_) * element_bytes());
}

double Tensor::sum_data_host() const {
  double s = 0;
  const float* p = host_data();
  for (int64_t i = 0; i < count_; ++i) s += p[i];
  return s;
}

double Tensor::sumsq_data_host() const {
  double s = 0;
  const float* p = host_data();
  for (int64_t i = 0; i < count_; ++i) s += double(p[i]) * p[i];
  return s;
}

double Tensor::sumsq_diff_host() const {
  double s = 0;
  const float* p = host_diff();
  for (int64_t i = 0; i < count_; ++i) s += double(p[i]) * p[i];
  return s;
}

crema_tensor Tensor::view(crema_device device, Access data_access, Access diff_access) {
  crema_tensor t{};
  t.dtype = dtype_ | (channels_last() ? CREMA_CHANNELS_LAST : 0);
  t.device = device;
  t.ndim = ndim();
  for (int i = 0; i < t.ndim; ++i) t.dims[i] = shape_[i];
  if (count_ == 0) return t;
  const bool gpu = device == CREMA_CUDA;
  auto pointer = [gpu](SyncedMemory& m, Access a) -> void* {
    if (a == Access::kRead) return const_cast<void*>(gpu ? m.device_data() : m.host_data());
    if (a == Access::kWrite) return gpu ? m.mutable_device_data() : m.mutable_host_data();
    return nullptr;
  };
  t.data = pointer(*data_, data_access);
  t.diff = pointer(*diff_, diff_access);
  return t;
}

}  // namespace crema
