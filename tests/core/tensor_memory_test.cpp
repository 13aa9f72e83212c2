// SPDX-License-Identifier: BSD-2-Clause
// Host memory of tensors: zeroed on first use, 64-byte aligned, and buffers of 2 MB or more on
// a 2 MB boundary so that transparent huge pages can back them (synced_memory.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "crema/core/tensor.hpp"

namespace {
uintptr_t address(const float* p) { return reinterpret_cast<uintptr_t>(p); }
}  // namespace

TEST(TensorMemory, SmallBuffersAreZeroedAndCacheLineAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    crema::Tensor t({n});
    const float* d = t.host_data();
    EXPECT_EQ(address(d) % 64, 0u) << n;
    EXPECT_EQ(address(t.host_diff()) % 64, 0u) << n;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(d[i], 0.f) << n << " at " << i;
  }
}

TEST(TensorMemory, LargeBuffersStartOnAHugePageBoundary) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  // 2 MB exactly, 3 MB plus a bit, and a 25 MB activation of ResNet-50 (8 x 256 x 56 x 56).
  for (const crema::Shape& shape :
       {crema::Shape{1 << 19}, crema::Shape{3, 262147}, crema::Shape{8, 256, 56, 56}}) {
    crema::Tensor t(shape);
    float* d = t.mutable_host_data();
    const char* env = std::getenv("CREMA_HUGE_PAGES");  // "0" turns the 2 MB alignment off
    if (env == nullptr || std::string(env) != "0") {
      EXPECT_EQ(address(d) % kHuge, 0u) << t.shape_string();
      EXPECT_EQ(address(t.mutable_host_diff()) % kHuge, 0u) << t.shape_string();
    }
    for (int64_t i = 0; i < t.count(); i += 4099) ASSERT_EQ(d[i], 0.f) << i;
    d[t.count() - 1] = 1.f;  // the whole buffer is writable
    EXPECT_EQ(t.host_data()[t.count() - 1], 1.f);
  }
}

// Shapes whose element count wraps int64 (2^32 x 2^32 once gave 0 elements) or exceeds the
// limit are refused before anything is allocated.
TEST(TensorMemory, OverflowingShapesAreRefused) {
  crema::Tensor t;
  const int64_t big = int64_t{1} << 32;
  for (const crema::Shape& shape :
       {crema::Shape{big, big}, crema::Shape{1 << 25, 1 << 24}, crema::Shape{big, big, 0}}) {
    try {
      t.reshape(shape);
      if (shape.back() != 0) ADD_FAILURE() << "accepted " << crema::Tensor::format_shape(shape);
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("more than 2^48 elements"), std::string::npos)
          << e.what();
    }
  }
  t.reshape({int64_t{1} << 24, 16});  // 2^28: fine (not allocated until used)
  EXPECT_EQ(t.count(), int64_t{1} << 28);
}
