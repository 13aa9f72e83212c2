// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/synced_memory.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include "crema/core/device.hpp"

namespace crema {

namespace {
// 64-byte alignment: whole cache lines and AVX-512 loads.
void* host_alloc(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

SyncedMemory::~SyncedMemory() {
  std::free(host_);
  if (device_) device::release(device_);
}

void SyncedMemory::to_host() {
  switch (head_) {
    case Head::kUninitialized:
      host_ = host_alloc(size_);
      std::memset(host_, 0, size_);
      head_ = Head::kHost;
      break;
    case Head::kDevice:
      if (!host_) host_ = host_alloc(size_);
      device::copy_to_host(host_, device_, size_);
      head_ = Head::kSynced;
      break;
    case Head::kHost:
    case Head::kSynced:
      break;
  }
}

void SyncedMemory::to_device() {
  switch (head_) {
    case Head::kUninitialized:
      device_ = device::allocate(size_);
      device::memset_zero(device_, size_);
      head_ = Head::kDevice;
      break;
    case Head::kHost:
      if (!device_) device_ = device::allocate(size_);
      device::copy_to_device(device_, host_, size_);
      head_ = Head::kSynced;
      break;
    case Head::kDevice:
    case Head::kSynced:
      break;
  }
}

}  // namespace crema
