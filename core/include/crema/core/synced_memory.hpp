// SPDX-License-Identifier: BSD-2-Clause
// Host/device memory with lazy synchronisation (Caffe's SyncedMemory): data moves between host
// and device only when the other side asks for it after a write.
#pragma once
#include <cstddef>

namespace crema {

class SyncedMemory {
 public:
  enum class Head { kUninitialized, kHost, kDevice, kSynced };

  explicit SyncedMemory(size_t bytes) : size_(bytes) {}
  ~SyncedMemory();
  SyncedMemory(const SyncedMemory&) = delete;
  SyncedMemory& operator=(const SyncedMemory&) = delete;

  const void* host_data() { to_host(); return host_; }
  void* mutable_host_data() { to_host(); head_ = Head::kHost; return host_; }
  const void* device_data() { to_device(); return device_; }
  void* mutable_device_data() { to_device(); head_ = Head::kDevice; return device_; }
  size_t size() const { return size_; }
  Head head() const { return head_; }

 private:
  void to_host();
  void to_device();
  void* host_ = nullptr;
  void* device_ = nullptr;
  size_t size_;
  Head head_ = Head::kUninitialized;
};

}  // namespace crema
