// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/tensor.hpp"

#include <cstring>
#include <stdexcept>

#include "crema/core/device.hpp"

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
    size_t bytes = static_cast<size_t>(n) * sizeof(float);
    data_ = std::make_shared<SyncedMemory>(bytes);
    diff_ = std::make_shared<SyncedMemory>(bytes);
  }
}

int64_t Tensor::count(int from, int to) const {
  int64_t n = 1;
  for (int i = from; i < to; ++i) n *= shape_.at(i);
  return n;
}

const float* Tensor::host_data() const { return static_cast<const float*>(data_->host_data()); }
const float* Tensor::host_diff() const { return static_cast<const float*>(diff_->host_data()); }
float* Tensor::mutable_host_data() { return static_cast<float*>(data_->mutable_host_data()); }
float* Tensor::mutable_host_diff() { return static_cast<float*>(diff_->mutable_host_data()); }
const float* Tensor::device_data() const { return static_cast<const float*>(data_->device_data()); }
const float* Tensor::device_diff() const { return static_cast<const float*>(diff_->device_data()); }
float* Tensor::mutable_device_data() { return static_cast<float*>(data_->mutable_device_data()); }
float* Tensor::mutable_device_diff() { return static_cast<float*>(diff_->mutable_device_data()); }

void Tensor::share_data(const Tensor& other) {
  if (other.count_ > capacity_ && other.count_ != count_)
    throw std::runtime_error("share_data: sizes differ " + shape_string() + " vs " +
                             other.shape_string());
  data_ = other.data_;
}

void Tensor::share_diff(const Tensor& other) {
  if (other.count_ > capacity_ && other.count_ != count_)
    throw std::runtime_error("share_diff: sizes differ " + shape_string() + " vs " +
                             other.shape_string());
  diff_ = other.diff_;
}

void Tensor::zero_diff(crema_device where) {
  if (count_ == 0) return;
  if (where == CREMA_CUDA) {
    device::memset_zero(mutable_device_diff(), count_ * sizeof(float));
  } else {
    std::memset(mutable_host_diff(), 0, count_ * sizeof(float));
  }
}

void Tensor::copy_from(const Tensor& other, bool diff) {
  if (other.count_ != count_)
    throw std::runtime_error("copy_from: counts differ " + shape_string() + " vs " +
                             other.shape_string());
  if (count_ == 0) return;
  std::memcpy(diff ? mutable_host_diff() : mutable_host_data(),
              diff ? other.host_diff() : other.host_data(), count_ * sizeof(float));
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
  t.dtype = CREMA_FLOAT32;
  t.device = device;
  t.ndim = ndim();
  for (int i = 0; i < t.ndim; ++i) t.dims[i] = shape_[i];
  if (count_ == 0) return t;
  bool gpu = device == CREMA_CUDA;
  if (data_access == Access::kRead) t.data = const_cast<float*>(gpu ? device_data() : host_data());
  if (data_access == Access::kWrite) t.data = gpu ? mutable_device_data() : mutable_host_data();
  if (diff_access == Access::kRead) t.diff = const_cast<float*>(gpu ? device_diff() : host_diff());
  if (diff_access == Access::kWrite) t.diff = gpu ? mutable_device_diff() : mutable_host_diff();
  return t;
}

}  // namespace crema
