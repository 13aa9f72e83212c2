// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/synced_memory.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

#include "crema/core/device.hpp"

namespace crema {

namespace {
// 64-byte alignment: whole cache lines and AVX-512 loads. Buffers of 2 MB and more start on a
// 2 MB boundary and ask for transparent huge pages (Linux's default THP mode is "madvise"):
// with 4 KB pages a layer streaming several tensors of tens of MB misses the TLB every 4 KB
// and the prefetchers stop at every page boundary.
// CREMA_HUGE_PAGES=0 turns this off.
constexpr size_t kHugePage = size_t{2} << 20;
bool huge_pages() {
  static const bool on = [] {
    const char* env = std::getenv("CREMA_HUGE_PAGES");
    return !env || std::strcmp(env, "0") != 0;
  }();
  return on;
}
void* host_alloc(size_t bytes) {
  const size_t align = bytes >= kHugePage && huge_pages() ? kHugePage : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, bytes ? bytes : 64) != 0) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
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
